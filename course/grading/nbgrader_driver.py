"""nbgrader's side of the grader: its API, releases, gradebook reads, and its own autograde.

A *course directory* holds ``nbgrader_config.py`` and ``source/<assignment>/*.ipynb``; the
repository root is one. nbgrader writes ``release/``, ``autograded/`` and ``gradebook.db``
in it. All functions take the course directory explicitly, so tests and ``course grade``
can work in a throwaway copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from course.grading.notebooks import (
    UngradableNotebook,
    exercises,
    nbgrader_meta,
    read_notebook,
    tested_exercises,
)
from course.grading.results import AssignmentResult, CellResult, NotebookResult, cell_status

if TYPE_CHECKING:
    from nbformat import NotebookNode
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

__all__ = [
    "CourseError",
    "find_course_root",
    "assignments",
    "release",
    "load_config",
    "config_digest",
    "release_digest",
    "refused_entry",
    "special_file",
    "nbgrader_api",
    "fast_gradebook",
    "generate",
    "source_notebooks",
    "check_assignment",
    "submitters",
    "submitted_notebooks",
    "autograded_students",
    "in_gradebook",
    "match_source",
    "nbgrader_autograde",
    "marker_path",
    "gradebook_notebooks",
    "Graded",
    "handed_in_cells",
    "notebook_result",
    "assignment_result",
    "gradebook_scores",
    "SELF_STUDENT",
    "TIMESTAMP_FORMAT",
]

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"
SELF_STUDENT = "self"
MARKER_SUFFIX = ".graded.json"


class CourseError(Exception):
    """A problem with the course directory or the request; the message says what to do."""


def _is_course_root(path):
    return (path / "nbgrader_config.py").is_file() and (path / "source").is_dir()


def find_course_root(start: Path | str | None = None) -> Path:
    """Locate the course directory.

    Looks at ``$COURSE_ROOT``, then ``start`` (default: the current directory) and its
    parents, then the folder the ``course`` package was installed from.

    Raises:
        CourseError: none of them holds ``nbgrader_config.py`` and ``source/``.
    """
    env = os.environ.get("COURSE_ROOT")
    if env:
        if not _is_course_root(Path(env)):
            raise CourseError(
                f"COURSE_ROOT={env} is not a course directory (it needs nbgrader_config.py "
                "and source/); unset it or point it at the course folder"
            )
        return Path(env).resolve()
    here = Path(start or Path.cwd()).resolve()
    for candidate in (here, *here.parents, Path(__file__).resolve().parents[2]):
        if _is_course_root(candidate):
            return candidate
    raise CourseError(
        "cannot find the course directory (a folder with nbgrader_config.py and source/); "
        "run this command inside the course folder or set COURSE_ROOT"
    )


def assignments(root: Path | str) -> list[str]:
    """Names of the assignments in ``root/source``, sorted."""
    return sorted(p.name for p in (Path(root) / "source").iterdir() if p.is_dir())


def _read_config(root):
    """The course's configuration as its file says, and the files it was read from.

    Returns:
        ``(config, files)``: the ``Config`` of ``nbgrader_config.py`` (``CourseDirectory.root``
        not set yet), and the paths of that file and of every file it loaded with
        ``load_subconfig``, in the order they were read.
    """
    from traitlets.config.loader import PyFileConfigLoader

    files = []

    class Recording(PyFileConfigLoader):  # load_subconfig makes its loader of this class
        def _read_file_as_dict(self):
            files.append(Path(self.full_filename))
            super()._read_file_as_dict()

    return Recording("nbgrader_config.py", path=str(root)).load_config(), files


def load_config(root: Path | str) -> Config:
    """The course's ``nbgrader_config.py``, loaded, with ``CourseDirectory.root`` set."""
    config, _ = _read_config(root)
    config.CourseDirectory.root = str(root)
    plugin = config.AssignLatePenalties.get("plugin_class")
    if isinstance(plugin, str):
        config.AssignLatePenalties.plugin_class = _course_class(root, plugin)
    return config


def _described(value):
    """A configuration value JSON cannot write, named the same way in every run."""
    if hasattr(value, "to_dict"):  # traitlets' deferred list and dict operations
        return value.to_dict()
    if isinstance(value, (set, frozenset)):
        return sorted(map(repr, value))
    if callable(value):
        return f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', '')}"
    return type(value).__qualname__


def config_digest(root: Path | str) -> str:
    """Fingerprint of the configuration that decides how the course is graded.

    It covers ``nbgrader_config.py`` and the files it loads (``load_subconfig``), the
    source of the late-penalty plugin it names, and the values they set (a value read from
    the environment or from another file included).
    """
    config, files = _read_config(root)
    h = hashlib.sha256(json.dumps(config, sort_keys=True, default=_described).encode())
    plugin = config.AssignLatePenalties.get("plugin_class")
    if isinstance(plugin, str):
        module_name = plugin.rpartition(".")[0]
        files.append(_local_module(root, module_name) or _installed_module(module_name))
    for path in filter(None, files):  # contents, not names: the course may move
        data = path.read_bytes()
        h.update(f"{len(data)}:".encode() + data)
    return h.hexdigest()


def _local_module(root, module_name):
    """The course's own file of the module ``module_name``, or None.

    The ``nbgrader`` command puts the folder it runs in on Python's path, so a course's
    own plugin (``late_plugin.py`` next to ``nbgrader_config.py``) is found there first.
    """
    path = Path(root, *module_name.split(".")).with_suffix(".py")
    return path if module_name and path.is_file() else None


def _installed_module(module_name):
    """The source file of the installed module ``module_name``, or None."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(module_name) if module_name else None
    except (ImportError, ValueError):
        return None
    origin = Path(spec.origin) if spec and spec.origin else None
    return origin if origin and origin.is_file() else None


def _course_class(root, dotted):
    """The class ``module.Class`` named in the configuration.

    A course's own module (:func:`_local_module`) is loaded from the course directory by
    its file, without changing Python's path.
    """
    import importlib
    import importlib.util

    module_name, _, name = dotted.rpartition(".")
    path = _local_module(root, module_name)
    if path:
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise CourseError(
                f"nbgrader_config.py names the class {dotted}, which cannot be imported "
                f"({exc}); put {module_name}.py in the course directory or install it"
            ) from exc
    try:
        return getattr(module, name)
    except AttributeError:
        raise CourseError(
            f"nbgrader_config.py names the class {dotted}, but {module_name} has no {name}"
        ) from None


@contextmanager
def nbgrader_api(root: Path | str) -> Iterator[NbGraderAPI]:
    """An ``NbGraderAPI`` working in the course directory ``root``, with its configuration.

    (The kernel nbgrader runs is this environment's: ``make install`` installs its python3
    kernelspec, which a virtual environment prefers over a user-wide one.)
    """
    from nbgrader import api as gradebook_api
    from nbgrader.apps import AutogradeApp, NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    # a new gradebook records the head revision of nbgrader's migrations: read it here
    saved_version = gradebook_api.get_alembic_version
    gradebook_api.get_alembic_version = _alembic_head
    try:
        with warnings.catch_warnings():
            # nbgrader's gradebook trips SQLAlchemy autoflush warnings on every submission.
            warnings.filterwarnings("ignore", module="nbgrader.api")
            config = load_config(root)
            # the `nbgrader autograde` command moves outdated setting names to their current
            # homes as it loads them (AutogradeApp.permissions is Autograde.permissions):
            # its application object does it, in place
            AutogradeApp(config=config)
            coursedir = CourseDirectory(config=config)
            yield NbGraderAPI(coursedir=coursedir, config=config)
    finally:
        gradebook_api.get_alembic_version = saved_version


@cache
def _alembic_head():
    """What nbgrader's ``get_alembic_version`` answers, without its second process.

    nbgrader runs the ``alembic heads`` command (a new Python process, which imports
    alembic and reads nbgrader's migration scripts: about a second) and keeps the first
    word it prints; this runs the same command of alembic's in this process.
    """
    import io

    from alembic import command
    from alembic.config import Config
    from nbgrader.dbutil import _temp_alembic_ini

    with _temp_alembic_ini("sqlite:////tmp/gradebook.db") as alembic_ini:
        printed = io.StringIO()
        command.heads(Config(alembic_ini, stdout=printed))
    return printed.getvalue().split("\n")[0].split(" ")[0]


@dataclass(frozen=True)
class _Definition:
    """A read-only copy of a gradebook cell definition (a source cell or a graded cell)."""

    name: str
    cell_type: str
    locked: bool = False
    source: str = ""
    checksum: str = ""
    max_score: float = 0.0

    @classmethod
    def of(cls, cell: Any) -> _Definition:
        return cls(
            name=cell.name,
            cell_type=getattr(cell, "cell_type", ""),
            locked=bool(getattr(cell, "locked", False)),
            source=getattr(cell, "source", "") or "",
            checksum=getattr(cell, "checksum", "") or "",
            max_score=float(getattr(cell, "max_score", 0.0) or 0.0),
        )


@contextmanager
def fast_gradebook() -> Iterator[None]:
    """Make nbgrader's gradebook and metadata checks cheap while the block runs; same results.

    nbgrader opens a new ``Gradebook`` for every step of every notebook (a dozen per
    submission), and each makes a new SQLAlchemy engine (whose cache of compiled queries
    starts empty), checks every table and the course; and it validates each cell's metadata
    with ``jsonschema.validate``, which checks the schema itself every time. That was most of
    ``course autograde``'s own time per submission. Inside this block a gradebook reuses
    the engine of the first one opened on its database (which made the tables), and checks
    the course once (nbgrader checks that its row exists at every opening, and makes it when
    it does not: after the first, it does), the assignment's cell definitions (source cells,
    graded cells: what ``OverwriteCells`` looks up for every cell of every submission) are
    read once per notebook, as read-only records (``OverwriteCells`` putting back missing
    cells reads them there too), and nbgrader's validation reuses one validator per schema
    and validates each distinct value once (every submission holds the same cell metadata;
    a value's JSON text decides its validity): the same answers, the same errors. The block
    must not change the assignment's definitions (release it before); the plain ``nbgrader
    autograde`` reference (:func:`nbgrader_autograde`) runs without it.
    """
    import jsonschema
    from nbgrader import api as nbapi
    from nbgrader.nbgraderformat import common
    from nbgrader.preprocessors import OverwriteCells
    from sqlalchemy.orm import scoped_session, sessionmaker

    engines, validators, cells, checked, valid = {}, {}, {}, set(), set()
    init, close = nbapi.Gradebook.__init__, nbapi.Gradebook.close
    find_source, find_graded = nbapi.Gradebook.find_source_cell, nbapi.Gradebook.find_graded_cell
    add_grade_cells = OverwriteCells.add_missing_grade_cells
    add_task_cells = OverwriteCells.add_missing_task_cells

    def shared_init(self, db_url, course_id="default_course", authenticator=None):
        if db_url not in engines:
            init(self, db_url, course_id, authenticator)
            engines[db_url] = self.engine
            checked.add((db_url, course_id))
            return
        self.engine = engines[db_url]
        self.db = scoped_session(sessionmaker(autoflush=True, bind=self.engine, future=True))
        if (db_url, course_id) not in checked:
            self.check_course(course_id=course_id)
            checked.add((db_url, course_id))
        self.course_id = course_id
        self.authenticator = authenticator

    def shared_close(self):
        self.db.remove()

    def definitions(self, notebook, assignment):
        """``({name: source cell}, {name: graded cell}, notebook)`` of a notebook, read once
        per run; ``notebook`` holds its ``source_cells``, ``grade_cells``, ``solution_cells``
        and ``task_cells`` (in the gradebook's order)."""
        key = (self.engine.url, notebook, assignment)
        if key not in cells:
            nb = self.find_notebook(notebook, assignment)
            found = SimpleNamespace(
                **{
                    kind: [_Definition.of(c) for c in getattr(nb, kind)]
                    for kind in ("source_cells", "grade_cells", "solution_cells", "task_cells")
                }
            )
            cells[key] = (
                {c.name: c for c in found.source_cells},
                {c.name: c for c in [*found.grade_cells, *found.task_cells]},
                found,
            )
        return cells[key]

    def from_definitions(add_missing):
        """``OverwriteCells``' ``add_missing_*_cells``, reading the notebook's definitions."""

        def run(self, nb, resources):
            gradebook = self.gradebook
            gradebook.find_notebook = lambda notebook, assignment: definitions(
                gradebook, notebook, assignment
            )[2]
            try:
                return add_missing(self, nb, resources)
            finally:
                del gradebook.find_notebook

        return run

    def cached_source(self, name, notebook, assignment):
        found = definitions(self, notebook, assignment)[0].get(name)
        return found if found is not None else find_source(self, name, notebook, assignment)

    def cached_graded(self, name, notebook, assignment):
        found = definitions(self, notebook, assignment)[1].get(name)
        return found if found is not None else find_graded(self, name, notebook, assignment)

    class CachedSchemas:
        """``jsonschema`` as nbgrader's metadata validator calls it, one validator per schema."""

        def __getattr__(self, name):
            return getattr(jsonschema, name)

        @staticmethod
        def validate(instance, schema):
            key = json.dumps(schema, sort_keys=True)
            if key not in validators:
                cls = jsonschema.validators.validator_for(schema)
                cls.check_schema(schema)
                validators[key] = cls(schema)
            value = (key, json.dumps(instance, sort_keys=True))
            if value in valid:
                return
            error = jsonschema.exceptions.best_match(validators[key].iter_errors(instance))
            if error is not None:
                raise error
            valid.add(value)

    nbapi.Gradebook.__init__, nbapi.Gradebook.close = shared_init, shared_close
    nbapi.Gradebook.find_source_cell = cached_source
    nbapi.Gradebook.find_graded_cell = cached_graded
    OverwriteCells.add_missing_grade_cells = from_definitions(add_grade_cells)
    OverwriteCells.add_missing_task_cells = from_definitions(add_task_cells)
    common.jsonschema = CachedSchemas()
    try:
        yield
    finally:
        nbapi.Gradebook.__init__, nbapi.Gradebook.close = init, close
        nbapi.Gradebook.find_source_cell = find_source
        nbapi.Gradebook.find_graded_cell = find_graded
        OverwriteCells.add_missing_grade_cells = add_grade_cells
        OverwriteCells.add_missing_task_cells = add_task_cells
        common.jsonschema = jsonschema
        for engine in engines.values():
            engine.dispose()


def _check(result, what):
    if not result.get("success"):
        detail = (result.get("error") or result.get("log") or "").strip().splitlines()
        raise CourseError(f"{what} failed: {detail[-1] if detail else 'no details'}")


def generate(api: NbGraderAPI, root: Path | str, assignment: str, what: str) -> list[Path]:
    """Run ``generate_assignment``, keeping a copy of release notebooks it changes.

    nbgrader deletes ``release/<assignment>/`` before writing it again. A student who did
    the work in ``release/`` would lose it, so every notebook whose content changes is first
    copied to ``backups/release/<assignment>/``.

    Returns:
        Paths of the copies made (empty when nothing changed).
    """
    folder = Path(root) / "release" / assignment
    before = {p.name: p.read_bytes() for p in folder.glob("*.ipynb")}
    _check(api.generate_assignment(assignment, force=True, create=True), what)
    kept = []
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    for name, data in before.items():
        new = folder / name
        if not new.is_file() or new.read_bytes() != data:
            backup = Path(root) / "backups" / "release" / assignment / f"{stamp}-{name}"
            backup.parent.mkdir(parents=True, exist_ok=True)
            backup.write_bytes(data)
            kept.append(backup)
    return kept


def release(root: Path | str, names: Iterable[str] | None = None) -> tuple[list[Path], list[Path]]:
    """Generate ``release/<assignment>/`` from ``source/`` and record it in the gradebook.

    Args:
        root: the course directory.
        names: assignments to release (all when None or empty).

    Returns:
        ``(released, kept)``: the released notebook paths, and the copies kept of release
        notebooks that changed (see :func:`generate`).
    """
    root = Path(root)
    known = assignments(root)
    names = list(names or known)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise CourseError(
            f"no assignment {', '.join(unknown)} in {root / 'source'}; "
            f"known: {', '.join(known) or 'none'}"
        )
    released, kept = [], []
    with nbgrader_api(root) as api:
        for name in names:
            kept += generate(api, root, name, f"releasing {name}")
            released += sorted((root / "release" / name).glob("*.ipynb"))
    return released, kept


def check_assignment(root: Path | str, assignment: str) -> None:
    """Raise :class:`CourseError` unless ``source/<assignment>/`` exists."""
    if assignment not in assignments(root):
        raise CourseError(
            f"no assignment {assignment!r} in {Path(root) / 'source'}; "
            f"known: {', '.join(assignments(root)) or 'none'}"
        )


def extra_files(
    root: Path | str,
    assignment: str,
    ignore: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
) -> dict[str, bytes]:
    """The source folder's non-notebook files, as nbgrader copies them over every hand-in.

    Args:
        root: the course directory.
        assignment: the assignment.
        ignore: ``CourseDirectory.ignore`` (nbgrader's default when None).
        exclude: ``Autograde.exclude_overwriting`` of the assignment: files not copied.

    Returns:
        ``{relative path: bytes}``.
    """
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.utils import find_all_files

    ignore = list(CourseDirectory().ignore if ignore is None else ignore)
    source = Path(root) / "source" / assignment
    found = {
        str(Path(p).relative_to(source)): Path(p)
        for p in find_all_files(str(source), ignore + ["*.ipynb"])
    }
    excluded = {os.path.normpath(name) for name in exclude}
    return {
        name: path.read_bytes()
        for name, path in sorted(found.items())
        if os.path.normpath(name) not in excluded
    }


def submitters(
    root: Path | str, assignment: str, students: Sequence[str] | None = None
) -> list[str]:
    """The students to grade: those asked for, or everyone with a hand-in folder.

    Raises:
        CourseError: an asked-for student handed nothing in, or nobody did.
    """
    submitted = Path(root) / "submitted"
    present = sorted(p.parent.name for p in submitted.glob(f"*/{assignment}") if p.is_dir())
    if students:
        absent = [s for s in students if s not in present]
        if absent:
            raise CourseError(
                f"no submission of {assignment} for {', '.join(absent)} in "
                f"{submitted}/<student>/{assignment}/"
            )
        present = list(dict.fromkeys(students))
    if not present:
        raise CourseError(
            f"no submissions of {assignment}: expected {submitted}/<student>/{assignment}/*.ipynb"
        )
    return present


def special_file(mode: int) -> str | None:
    """What a file of mode ``mode`` (``os.lstat``'s) is when it is neither a regular file
    nor a folder (``"a symbolic link"``, ``"a named pipe (FIFO)"``, ...), else None."""
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return None if stat.S_ISREG(mode) or stat.S_ISDIR(mode) else "not a regular file"


def refused_entry(root: Path | str, student: str, assignment: str) -> str | None:
    """Why ``submitted/<student>/<assignment>/`` cannot be graded as it is, or None.

    A symbolic link (to a file only root may read, to ``source/``, to another student's
    hand-in) and a special file (a named pipe, a socket, a device) are refused wherever
    they are in the hand-in, the student's folders included: nothing in it is followed,
    opened or copied before this check, which looks at every entry without following any.

    Returns:
        None, or one line naming the first such entry (``submitted/<student>/<assignment>/x
        is a symbolic link: hand in the file itself``) and how many others there are.
    """
    root = Path(root)
    found = []

    def look(path, what_it_should_be):
        """``path``'s mode, or None after noting why it is refused."""
        name = path.relative_to(root).as_posix()
        try:
            mode = os.lstat(path).st_mode
        except OSError as exc:
            found.append(f"{name} cannot be read ({exc.strerror})")
            return None
        kind = special_file(mode)
        if kind:
            fix = f"{what_it_should_be} itself" if kind == "a symbolic link" else "files only"
            found.append(f"{name} is {kind}: hand in {fix}")
            return None
        return mode

    top = root / "submitted" / student
    if not (look(top, "the folder") and look(top / assignment, "the folder")):
        return found[0]
    pending = [top / assignment]
    while pending:
        folder = pending.pop()
        try:
            entries = list(folder.iterdir())
        except OSError as exc:
            found.append(f"{folder.relative_to(root).as_posix()} cannot be read ({exc.strerror})")
            continue
        for path in entries:
            mode = look(path, "the file")
            if mode is not None and stat.S_ISDIR(mode):
                pending.append(path)
    if not found:
        return None
    found.sort()
    more = len(found) - 1
    return found[0] + (f" (and {more} more such entr{'y' if more == 1 else 'ies'})" if more else "")


def submitted_notebooks(folder: Path | str) -> list[Path]:
    """The notebooks of a hand-in folder, as nbgrader finds them (``*.ipynb``), sorted."""
    return sorted(Path(folder).glob("*.ipynb"))


def autograded_students(
    root: Path | str, assignment: str, students: Sequence[str] | None = None
) -> list[str]:
    """The students with an autograded notebook of ``assignment``, sorted.

    Raises:
        CourseError: an asked-for student has none, or nobody has.
    """
    names = source_notebooks(root, assignment)
    found = sorted(
        {
            p.parents[1].name
            for name in names
            for p in (Path(root) / "autograded").glob(f"*/{assignment}/{name}.ipynb")
        }
    )
    if students:
        absent = [s for s in students if s not in found]
        if absent:
            raise CourseError(
                f"no autograded {assignment} for {', '.join(absent)}: run "
                f"`course autograde {assignment} --student ID` first"
            )
        return list(dict.fromkeys(students))
    if not found:
        raise CourseError(
            f"nothing of {assignment} is autograded yet (no notebook in autograded/<student>/"
            f"{assignment}/): run `course autograde {assignment}` first"
        )
    return found


def source_notebooks(root: Path | str, assignment: str) -> list[str]:
    """The names (without ``.ipynb``) of the notebooks of ``source/<assignment>/``, sorted.

    Raises:
        CourseError: the folder holds no notebook.
    """
    found = sorted(p.stem for p in (Path(root) / "source" / assignment).glob("*.ipynb"))
    if not found:
        raise CourseError(
            f"source/{assignment} holds no notebook: put the assignment's .ipynb files there"
        )
    return found


def in_gradebook(api: NbGraderAPI, assignment: str) -> bool:
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        try:
            gb.find_assignment(assignment)
        except MissingEntry:
            return False
    return True


def marker_path(root: Path | str, student: str, assignment: str) -> Path:
    """Where ``course autograde`` records that a submission is graded, and how.

    The marker (``autograded/<student>/.<assignment>.graded.json``) holds the digest of
    the graded submission and what the gradebook does not: per notebook and test cell,
    which run decided it, the grader's notes, and what the student's code printed, displayed
    or raised in the hidden tests' calls (``hidden_output``, for the instructor only).
    """
    return Path(root) / "autograded" / student / f".{assignment}{MARKER_SUFFIX}"


def _marker_cells(root, student, assignment):
    """``{notebook: {grade_id: {"decided", "note"}}}`` from the marker (empty without one)."""
    try:
        return json.loads(marker_path(root, student, assignment).read_text()).get("cells", {})
    except (OSError, ValueError, AttributeError):
        return {}


_EDITED = "the submission changed this test cell; it was graded as the instructor wrote it"
_DELETED = "this test cell was deleted from the notebook; it was put back"
_NOT_HANDED_IN = "the notebook was not handed in"
_BY_HAND = "graded by the instructor, not by the autograder"


_HASHED = re.compile(r'(b?")[0-9a-f]+(")')


def _comparable(source):
    """A test cell's source as compared for edits: hashed autotests' salts and digests,
    which nbgrader draws anew at every release, do not count."""
    if source is None:
        return None
    return "\n".join(
        _HASHED.sub(r"\1...\2", line) if "hexdigest()" in line else line
        for line in source.split("\n")
    )


def _read_if_present(path):
    return read_notebook(path) if path.is_file() else None


@dataclass(frozen=True)
class Graded:
    """What ``course autograde`` holds of a notebook it has just graded (nothing read back).

    Attributes:
        notebook: the autograded notebook, as written to ``autograded/``.
        handed_in: ``{grade_id: (cell type, source)}`` of the notebook as handed in.
        scores: ``(grade_id, score, max_score, needs_manual_grade)`` of every grade
            nbgrader recorded for it (see ``SaveAutoGradesAtOnce``).
    """

    notebook: NotebookNode
    handed_in: dict[str, tuple[str, str]]
    scores: list[tuple[str, float, float, bool]]


def handed_in_cells(nb: NotebookNode) -> dict[str, tuple[str, str]]:
    """``{grade_id: (cell type, source)}`` of a notebook's cells (see :func:`notebook_result`)."""
    return {nbgrader_meta(c).get("grade_id"): (c.cell_type, c.source) for c in nb.cells}


def notebook_result(
    api: NbGraderAPI,
    assignment: str,
    student: str,
    notebook_id: str,
    details: dict[str, dict[str, str]] | None = None,
    graded: Graded | None = None,
) -> NotebookResult:
    """The grades of one notebook of a student, read from the gradebook and the notebooks.

    Every grade nbgrader records is a row, so the maximum is nbgrader's: test cells get
    their status and message from the autograded notebook's outputs (``missing`` when the
    submission had deleted the cell, or did not hand the notebook in); cells nbgrader
    leaves to the instructor (manually graded answers, tasks) are ``manual``. A locked
    test cell the student edited keeps its status, with a note for the instructor.

    Args:
        api: the ``NbGraderAPI`` of the course directory (from :func:`nbgrader_api`).
        assignment, student, notebook_id: which notebook.
        details: ``{grade_id: {"decided", "note"}}`` from the grader's run (the marker's);
            a non-empty ``note`` explains the result to the student and is the message.
        graded: a :class:`Graded` when the caller holds the notebook it has just graded:
            the same result, without reading the notebooks and the grades back.

    Returns:
        A :class:`NotebookResult`.
    """
    from nbgrader.api import Gradebook

    root = Path(api.coursedir.root)
    details = details or {}
    if graded is not None:
        autograded, handed_in = graded.notebook, graded.handed_in
    else:
        autograded = _read_if_present(
            root / "autograded" / student / assignment / f"{notebook_id}.ipynb"
        )
        submitted = _read_if_present(
            root / "submitted" / student / assignment / f"{notebook_id}.ipynb"
        )
    layout = autograded or read_notebook(root / "source" / assignment / f"{notebook_id}.ipynb")
    if graded is None:
        handed_in = handed_in_cells(submitted or layout)
    cells = {nbgrader_meta(c).get("grade_id"): c for c in layout.cells}
    result = NotebookResult(
        assignment=assignment,
        notebook=notebook_id,
        exercises=exercises(layout),
        tested=tested_exercises(layout),
    )
    order = {grade_id: i for i, grade_id in enumerate(cells)}
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        if graded is not None:
            scores = graded.scores
        else:
            found = gb.find_submission_notebook(notebook_id, assignment, student).grades
            scores = [(g.name, g.score, g.max_score, g.needs_manual_grade) for g in found]
        for name, score, max_score, needs_manual_grade in sorted(
            scores, key=lambda grade: order.get(grade[0], len(order))
        ):
            cell = cells.get(name)
            meta = nbgrader_meta(cell) if cell else {}
            is_test = (
                cell is not None
                and cell.cell_type == "code"
                and bool(meta.get("grade"))
                and not meta.get("solution")
                and not meta.get("task")
            )
            decided = details.get(name, {}).get("decided") or "judge"
            note = ""
            if autograded is None:
                status, message = "missing", _NOT_HANDED_IN
            elif not is_test:
                status = "manual"
                message = _BY_HAND if needs_manual_grade else ""
            else:
                status, message = cell_status(cell.get("outputs", []))
                original = handed_in.get(name)
                source = gb.find_source_cell(name, notebook_id, assignment)
                if original is None:
                    status, message = "missing", _DELETED
                elif source.locked and (
                    original[0] != "code"
                    or (
                        _comparable(original[1]) != _comparable(source.source)
                        and _comparable(original[1])
                        != _comparable(_released_source(root, assignment, notebook_id, name))
                    )
                ):
                    note = _EDITED
                message = details.get(name, {}).get("note") or message
            result.cells.append(
                CellResult(
                    grade_id=name,
                    score=float(score),
                    max_score=float(max_score),
                    status=status,
                    message=message,
                    decided=decided,
                    note=note,
                )
            )
    return result


def _released_source(root, assignment, notebook_id, grade_id):
    """The source of a cell as students got it in ``release/`` (None when not there)."""
    path = Path(root) / "release" / assignment / f"{notebook_id}.ipynb"
    try:
        stat = path.stat()
    except OSError:
        return None
    return _released_sources(path, stat.st_mtime_ns, stat.st_size).get(grade_id)


@lru_cache(maxsize=16)
def _released_sources(path, mtime_ns, size):
    """``{grade_id: source}`` of a release notebook (read again when the file changes)."""
    return {nbgrader_meta(c).get("grade_id"): c.source for c in read_notebook(path).cells}


def release_digest(api: NbGraderAPI, assignment: str) -> str:
    """Fingerprint of ``assignment`` as its last release recorded it in the gradebook.

    nbgrader grades with what ``generate_assignment`` (``course release``) recorded, not
    with ``source/`` as it is now: the locked and test cells it puts back (hidden tests
    included), the points of every graded cell, the kernelspec, and the due date that late
    penalties count from. A release that changes any of them changes this fingerprint.
    """
    from nbgrader.api import Gradebook

    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        record = gb.find_assignment(assignment)
        parts = [str(record.duedate)]
        for nb in sorted(record.notebooks, key=lambda nb: nb.name):
            parts.append([nb.name, nb.kernelspec])
            cells = [
                *([c.name, c.cell_type, c.locked, c.source, c.checksum] for c in nb.source_cells),
                *(
                    [type(c).__name__, c.name, c.cell_type, c.max_score]
                    for c in [*nb.grade_cells, *nb.task_cells]
                ),
                *(["solution", c.name] for c in nb.solution_cells),
            ]
            parts += sorted(cells, key=json.dumps)
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def gradebook_notebooks(api: NbGraderAPI, assignment: str) -> list[str]:
    """The names of the notebooks the gradebook knows for ``assignment``, sorted."""
    from nbgrader.api import Gradebook

    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        return sorted(nb.name for nb in gb.find_assignment(assignment).notebooks)


def assignment_result(
    api: NbGraderAPI,
    assignment: str,
    student: str,
    graded: dict[str, Graded] | None = None,
    notebooks: list[str] | None = None,
) -> AssignmentResult:
    """A student's grades on every notebook of ``assignment`` (see :func:`notebook_result`).

    Args:
        graded: ``{notebook: Graded}`` of the notebooks the caller has just graded (the
            others are read from the gradebook and ``autograded/``).
        notebooks: the assignment's notebooks in the gradebook, when the caller knows them.

    Returns:
        An :class:`AssignmentResult`, notebooks sorted by name as nbgrader grades them.
    """
    details = _marker_cells(api.coursedir.root, student, assignment)
    graded = graded or {}
    return AssignmentResult(
        assignment=assignment,
        notebooks=[
            notebook_result(api, assignment, student, name, details.get(name), graded.get(name))
            for name in notebooks or gradebook_notebooks(api, assignment)
        ],
    )


def nbgrader_autograde(
    root: Path | str,
    assignment: str,
    students: Sequence[str] | None = None,
    progress: Callable[[int, int, str | None], None] | None = None,
) -> tuple[dict[str, AssignmentResult], dict[str, str]]:
    """Autograde with plain ``nbgrader autograde``, one student after the other.

    This is the reference that ``course autograde`` (:mod:`course.grading.autograde`) must
    match score for score; the benchmark and the parity tests run both.

    Reads ``submitted/<student>/<assignment>/*.ipynb``; a student folder without a notebook,
    and the students of ``CourseDirectory.student_id_exclude``, are skipped, as ``nbgrader
    autograde`` skips them. A submission that cannot be graded does
    not stop the others: it is reported in the second return value.

    Args:
        root: the course directory.
        assignment: the assignment's name.
        students: student ids to grade (all who submitted when None or empty).
        progress: optional callable ``progress(done, total, student)``.

    Returns:
        ``(results, errors)``: ``{student: AssignmentResult}`` and ``{student: message}``.
    """
    root = Path(root)
    check_assignment(root, assignment)
    results, errors = {}, {}
    with nbgrader_api(root) as api:
        excluded = api.coursedir.student_id_exclude.split(",")
        present = [
            student
            for student in submitters(root, assignment, students)
            if student not in excluded
            and submitted_notebooks(root / "submitted" / student / assignment)
        ]
        if not in_gradebook(api, assignment):
            generate(api, root, assignment, f"recording {assignment} in the gradebook")
        for done, student in enumerate(present):
            if progress:
                progress(done, len(present), student)
            try:
                _check(
                    api.autograde(assignment, student, force=True, create=True),
                    f"autograding {student}",
                )
                results[student] = assignment_result(api, assignment, student)
            except (UngradableNotebook, CourseError) as exc:
                errors[student] = str(exc)
            except Exception as exc:  # one odd submission must not stop the class
                errors[student] = f"unexpected {type(exc).__name__}: {exc}"
        if progress:
            progress(len(present), len(present), None)
    return results, errors


def match_source(
    root: Path, submission: NotebookNode, path: Path | str, assignment: str | None
) -> tuple[str, str]:
    """The ``(assignment, notebook_id)`` a submitted notebook belongs to."""
    names = [assignment] if assignment else assignments(root)
    if assignment and assignment not in assignments(root):
        raise CourseError(f"no assignment {assignment!r}; known: {', '.join(assignments(root))}")
    candidates = [(a, p.stem) for a in names for p in (root / "source" / a).glob("*.ipynb")]
    by_name = [c for c in candidates if c[1] == Path(path).stem]
    if len(by_name) == 1:
        return by_name[0]
    # Renamed copy: pick the source notebook that shares the most grade ids.
    ids = {nbgrader_meta(c).get("grade_id") for c in submission.cells} - {None}
    scored = []
    for a, nb_id in candidates:
        source = read_notebook(root / "source" / a / f"{nb_id}.ipynb")
        overlap = len(ids & {nbgrader_meta(c).get("grade_id") for c in source.cells})
        scored.append((overlap, a, nb_id))
    scored.sort(reverse=True)
    if scored and scored[0][0] > 0 and (len(scored) == 1 or scored[0][0] > scored[1][0]):
        return scored[0][1], scored[0][2]
    raise CourseError(
        f"{path}: cannot tell which assignment this notebook belongs to; pass --assignment "
        f"(one of {', '.join(assignments(root))})"
    )


def gradebook_scores(root: Path | str, assignment: str) -> dict[str, dict[str, list[float]]]:
    """Every autograded score of an assignment, read from the course's gradebook.

    Returns:
        ``{student: {grade_id: [auto_score, max_score]}}``, for comparing two gradebooks.
    """
    from nbgrader.api import Gradebook

    scores = {}
    with nbgrader_api(root) as api:
        with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
            for submission in gb.assignment_submissions(assignment):
                for notebook in submission.notebooks:
                    scores.setdefault(submission.student.id, {}).update(
                        {g.name: [g.auto_score, g.max_score] for g in notebook.grades}
                    )
    return scores
