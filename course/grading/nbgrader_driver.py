"""nbgrader's side of the grader: its API, releases, gradebook reads, and its own autograde.

A *course directory* holds ``nbgrader_config.py`` and ``source/<assignment>/*.ipynb``; the
repository root is one. nbgrader writes ``release/``, ``autograded/`` and ``gradebook.db``
in it. All functions take the course directory explicitly, so tests and ``course grade``
can work in a throwaway copy.
"""

import os
import sys
import warnings
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from course.grading.notebooks import (
    UngradableNotebook,
    exercises,
    graded_cells,
    nbgrader_meta,
    read_notebook,
)
from course.grading.results import CellResult, NotebookResult, cell_status

__all__ = [
    "CourseError",
    "find_course_root",
    "assignments",
    "release",
    "nbgrader_api",
    "generate",
    "notebook_of",
    "check_assignment",
    "submitters",
    "autograded_students",
    "in_gradebook",
    "match_source",
    "nbgrader_autograde",
    "submission_result",
    "gradebook_scores",
    "SELF_STUDENT",
    "TIMESTAMP_FORMAT",
]

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"
SELF_STUDENT = "self"


class CourseError(Exception):
    """A problem with the course directory or the request; the message says what to do."""


def _is_course_root(path):
    return (path / "nbgrader_config.py").is_file() and (path / "source").is_dir()


def find_course_root(start=None):
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


def assignments(root):
    """Names of the assignments in ``root/source``, sorted."""
    return sorted(p.name for p in (Path(root) / "source").iterdir() if p.is_dir())


@contextmanager
def nbgrader_api(root):
    """An ``NbGraderAPI`` working in the course directory ``root``, with its configuration."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    # nbgrader runs `alembic` from PATH when it creates a gradebook: use this environment's.
    # (The kernel is this environment's too: `make install` installs its python3 kernelspec,
    # which a virtual environment prefers over a user-wide one.)
    saved_path = os.environ.get("PATH")
    os.environ["PATH"] = os.pathsep.join(
        p for p in (str(Path(sys.executable).parent), saved_path) if p
    )
    try:
        with warnings.catch_warnings():
            # nbgrader's gradebook trips SQLAlchemy autoflush warnings on every submission.
            warnings.filterwarnings("ignore", module="nbgrader.api")
            config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
            config.CourseDirectory.root = str(root)
            coursedir = CourseDirectory(config=config)
            yield NbGraderAPI(coursedir=coursedir, config=config)
    finally:
        if saved_path is None:
            os.environ.pop("PATH", None)
        else:
            os.environ["PATH"] = saved_path


def _check(result, what):
    if not result.get("success"):
        detail = (result.get("error") or result.get("log") or "").strip().splitlines()
        raise CourseError(f"{what} failed: {detail[-1] if detail else 'no details'}")


def generate(api, root, assignment, what):
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


def release(root, names=None):
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


def check_assignment(root, assignment):
    """Raise :class:`CourseError` unless ``source/<assignment>/`` exists."""
    if assignment not in assignments(root):
        raise CourseError(
            f"no assignment {assignment!r} in {Path(root) / 'source'}; "
            f"known: {', '.join(assignments(root)) or 'none'}"
        )


def submitters(root, assignment, students=None):
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


def autograded_students(root, assignment, students=None):
    """The students with an autograded notebook of ``assignment``, sorted.

    Raises:
        CourseError: an asked-for student has none, or nobody has.
    """
    notebook_id = notebook_of(root, assignment)
    found = sorted(
        p.parents[1].name
        for p in (Path(root) / "autograded").glob(f"*/{assignment}/{notebook_id}.ipynb")
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
            f"nothing of {assignment} is autograded yet (no autograded/<student>/{assignment}/"
            f"{notebook_id}.ipynb): run `course autograde {assignment}` first"
        )
    return found


def notebook_of(root, assignment):
    """The one notebook of an assignment (each assignment of this course has exactly one)."""
    found = sorted(p.stem for p in (Path(root) / "source" / assignment).glob("*.ipynb"))
    if len(found) != 1:
        raise CourseError(
            f"source/{assignment} must hold exactly one notebook, found "
            f"{len(found)}: {', '.join(found) or 'none'}"
        )
    return found[0]


def in_gradebook(api, assignment):
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        try:
            gb.find_assignment(assignment)
        except MissingEntry:
            return False
    return True


def submission_result(api, assignment, student, notebook_id):
    """The grades of one autograded notebook, read from the gradebook and the notebook.

    Scores come from nbgrader's gradebook; each cell's status and message come from the
    autograded notebook's outputs, and ``missing`` or ``tampered`` from comparing the
    submitted notebook's test cells with the released (or instructor's) ones.

    Args:
        api: the ``NbGraderAPI`` of the course directory (from ``_nbgrader``).
        assignment, student, notebook_id: which notebook.

    Returns:
        A :class:`NotebookResult`.
    """
    from nbgrader.api import Gradebook

    root = Path(api.coursedir.root)
    autograded = read_notebook(root / "autograded" / student / assignment / f"{notebook_id}.ipynb")
    submitted = read_notebook(root / "submitted" / student / assignment / f"{notebook_id}.ipynb")
    released = read_notebook(root / "release" / assignment / f"{notebook_id}.ipynb")
    submitted_cells = {nbgrader_meta(c).get("grade_id"): c for c in submitted.cells}
    released_cells = {nbgrader_meta(c).get("grade_id"): c for c in released.cells}
    result = NotebookResult(
        assignment=assignment, notebook=notebook_id, exercises=exercises(autograded)
    )
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        grades = {
            g.name: g for g in gb.find_submission_notebook(notebook_id, assignment, student).grades
        }
        for cell in graded_cells(autograded):
            grade_id = nbgrader_meta(cell)["grade_id"]
            grade = grades.get(grade_id)
            if grade is None:
                continue
            status, message = cell_status(cell.get("outputs", []))
            original = submitted_cells.get(grade_id)
            if original is None:
                status = "missing"
                message = "this test cell was deleted from the notebook; it was put back"
            elif original.cell_type != "code" or original.source not in (
                released_cells.get(grade_id, {}).get("source"),  # what students get
                gb.find_source_cell(grade_id, notebook_id, assignment).source,  # with hidden
            ):
                status = "tampered"
                message = "this test cell was edited; it was graded with the original"
            result.cells.append(
                CellResult(
                    grade_id=grade_id,
                    score=float(grade.score),
                    max_score=float(grade.max_score),
                    status=status,
                    message=message,
                )
            )
    return result


def nbgrader_autograde(root, assignment, students=None, progress=None):
    """Autograde with plain ``nbgrader autograde``, one student after the other.

    This is the reference that ``course autograde`` (:mod:`course.grading.engine`) must
    match score for score; the benchmark and the parity tests run both.

    Reads ``submitted/<student>/<assignment>/*.ipynb``. A submission that cannot be graded
    does not stop the others: it is reported in the second return value.

    Args:
        root: the course directory.
        assignment: the assignment's name.
        students: student ids to grade (all who submitted when None or empty).
        progress: optional callable ``progress(done, total, student)``.

    Returns:
        ``(results, errors)``: ``{student: NotebookResult}`` and ``{student: message}``.
    """
    root = Path(root)
    check_assignment(root, assignment)
    present = submitters(root, assignment, students)
    submitted = root / "submitted"
    notebook_id = notebook_of(root, assignment)
    results, errors = {}, {}
    with nbgrader_api(root) as api:
        if not in_gradebook(api, assignment):
            generate(api, root, assignment, f"recording {assignment} in the gradebook")
        for done, student in enumerate(present):
            if progress:
                progress(done, len(present), student)
            try:
                read_notebook(submitted / student / assignment / f"{notebook_id}.ipynb")
                _check(
                    api.autograde(assignment, student, force=True, create=True),
                    f"autograding {student}",
                )
                results[student] = submission_result(api, assignment, student, notebook_id)
            except (UngradableNotebook, CourseError) as exc:
                errors[student] = str(exc)
            except Exception as exc:  # one odd submission must not stop the class
                errors[student] = f"unexpected {type(exc).__name__}: {exc}"
        if progress:
            progress(len(present), len(present), None)
    return results, errors


def match_source(root, submission, path, assignment):
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


def gradebook_scores(root, assignment):
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
