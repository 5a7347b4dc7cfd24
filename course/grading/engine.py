"""``course autograde``: nbgrader's scores, computed in parallel on warm execution servers.

The coordinating process (this module) is the only one that touches the gradebook and the
course directory. It reads nbgrader's configuration first (:mod:`course.grading.settings`:
a setting it cannot honour stops the run). For each submission it

1. prepares ``autograded/<student>/<assignment>/`` with nbgrader's own
   ``Autograde.init_assignment`` (submitted and source files, student and submission rows,
   zeros for the notebooks not handed in, unknown notebooks dropped);
2. for each notebook, in nbgrader's order: sanitizes it with nbgrader's own preprocessors
   (locked and test cells restored from the gradebook, missing grade cells put back,
   duplicate ids dropped), hands its JSON text and its folder's files to
   :func:`course.grading.executor.execute_notebook` on a local thread pool (each thread
   drives a warm fork-server process) or on a Dask cluster, and scores the executed
   notebook with nbgrader's own preprocessors (output limits, ``SaveAutoGrades``, late
   penalties); the notebook, without its hidden tests, and the files it wrote go to
   ``autograded/``;
3. sets nbgrader's permissions and, last, writes a marker that lets a later run skip the
   unchanged submission (and keeps what the gradebook does not: which run decided each
   test cell, and the grader's notes).

A run killed at any moment can be started again: submissions without a marker are graded
again, and nbgrader's gradebook rows are updated in place, never duplicated.
"""

import base64
import hashlib
import json
import os
import shutil
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor
from concurrent.futures import wait as local_wait
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import nbformat

from course.grading import executor, sandbox
from course.grading import nbgrader_driver as driver
from course.grading.nbgrader_driver import MARKER_SUFFIX
from course.grading.notebooks import UngradableNotebook, exercises, read_notebook, setup_cells
from course.grading.results import AssignmentResult, NotebookResult
from course.grading.settings import Settings, autograde_settings

__all__ = ["Summary", "autograde", "grade_notebook", "extra_files", "MARKER_SUFFIX"]


@dataclass
class Summary:
    """What a run did: results, unreadable submissions, skips and timings."""

    assignment: str
    results: dict = field(default_factory=dict)  # student -> AssignmentResult, skipped included
    errors: dict = field(default_factory=dict)  # student -> message
    missing: dict = field(default_factory=dict)  # student -> notebooks not handed in (0 points)
    graded: list = field(default_factory=list)  # students graded in this run
    skipped: list = field(default_factory=list)  # students already graded and unchanged
    own_seconds: dict = field(default_factory=dict)  # student -> time in their own cells
    wall_seconds: float = 0.0
    workers: int = 1


@dataclass
class _Submission:
    student: str
    folder: Path
    digest: str = ""
    todo: list = field(default_factory=list)  # notebook ids still to run, in nbgrader's order
    files: dict = field(default_factory=dict)  # the folder the next notebook runs in
    cells: dict = field(default_factory=dict)  # notebook -> grade_id -> {"decided", "note"}
    seconds: float = 0.0


def _digest(folder, source_digest):
    """Fingerprint of a submission folder and of the assignment version it is graded with."""
    h = hashlib.sha256(source_digest.encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _is_up_to_date(root, sub, assignment, notebooks):
    """Whether the marker says ``sub`` is graded as it is, and its notebooks are there."""
    marker = driver.marker_path(root, sub.student, assignment)
    graded = Path(root) / "autograded" / sub.student / assignment
    try:
        same = json.loads(marker.read_text())["digest"] == sub.digest
    except (OSError, ValueError, KeyError, TypeError):
        return False
    handed_in = {p.stem for p in driver.submitted_notebooks(sub.folder)} & set(notebooks)
    return same and all((graded / f"{name}.ipynb").is_file() for name in handed_in)


def _submissions(root, assignment, students, conf, source_digest):
    """The hand-ins to consider, and ``{student: why not}`` for asked-for ones nbgrader skips.

    As ``nbgrader autograde``: students of ``CourseDirectory.student_id_exclude`` are left
    out, and so is a folder without any notebook (an error only when asked for by name).
    """
    subs, errors = [], {}
    for student in driver.submitters(root, assignment, students):
        folder = Path(root) / "submitted" / student / assignment
        if student in conf.student_id_exclude:
            continue
        if not driver.submitted_notebooks(folder):
            if students:
                errors[student] = f"no notebook in {folder}: nbgrader skips this folder"
            continue
        subs.append(_Submission(student, folder, _digest(folder, source_digest)))
    return subs, errors


def _source_digest(root, assignment):
    """Fingerprint of what the grades depend on besides a submission: source/ and config."""
    h = hashlib.sha256((Path(root) / "nbgrader_config.py").read_bytes())
    source = Path(root) / "source" / assignment
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(source)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _resources(api, assignment, notebook_id, student):
    """The resources nbgrader's preprocessors read (as ``BaseConverter`` makes them)."""
    return {
        "unique_key": notebook_id,
        "output_files_dir": f"{notebook_id}_files",
        "nbgrader": {
            "student": student,
            "assignment": assignment,
            "notebook": notebook_id,
            "db_url": api.coursedir.db_url,
        },
    }


def _apply(steps, nb, resources):
    for step in steps:
        nb, resources = step(nb, resources)
    return nb


def extra_files(root, assignment, ignore=None, exclude=()):
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


def _folder_files(folder):
    """``{relative path: bytes}`` of every file under ``folder`` that is not a notebook."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix != ".ipynb"
    }


@cache
def _kernel_problem(name):
    """Why the kernel ``name`` is not this environment's Python, as nbgrader would find it.

    nbgrader runs the kernel named by ``Execute.kernel_name`` or by the notebook's
    kernelspec (the source's, which ``OverwriteKernelspec`` puts in every submission). A
    name jupyter does not know fails the submission in nbgrader too, with this message; a
    known kernel that is not Python's ``python3`` is one the engine cannot run.
    """
    from jupyter_client.kernelspec import NATIVE_KERNEL_NAME, NoSuchKernel
    from jupyter_client.manager import KernelManager

    manager = KernelManager(kernel_name=name) if name else KernelManager()
    try:
        spec = manager.kernel_spec
    except NoSuchKernel:
        return f"No such kernel named {name} (nbgrader cannot run this notebook either)"
    if manager.kernel_name != NATIVE_KERNEL_NAME or spec.language.lower() != "python":
        return (
            f"the notebook runs in the kernel {name!r} ({spec.language}); course autograde "
            "runs Python notebooks only: grade this assignment with `nbgrader autograde`"
        )
    return None


def _clear(dest):
    """Remove ``dest`` (nbgrader's read-only files included)."""
    if dest.exists():
        for path in dest.rglob("*"):
            if path.is_file():
                path.chmod(0o644)
        shutil.rmtree(dest)


def _prepare(api, conf, assignment, sub):
    """Start a student's autograded folder as ``nbgrader autograde`` does.

    nbgrader's own ``Autograde.init_assignment`` copies the submitted files (minus
    ``CourseDirectory.ignore`` and notebooks), records the student and the submission (with
    its timestamp), copies the source files over them (minus ``exclude_overwriting``), drops
    the notebooks the gradebook does not know (``p1 copy.ipynb``) and records 0 for every
    notebook not handed in.

    Returns:
        ``(notebooks to grade, notebooks not handed in)``, by name.
    """
    dest = Path(api.coursedir.root) / "autograded" / sub.student / assignment
    driver.marker_path(api.coursedir.root, sub.student, assignment).unlink(missing_ok=True)
    _clear(dest)
    converter = conf.converter
    converter.notebooks = [str(p) for p in driver.submitted_notebooks(sub.folder)]
    converter.init_assignment(assignment, sub.student)
    dest.mkdir(parents=True, exist_ok=True)  # nbgrader's writer makes it when no file did
    graded = [Path(p).stem for p in sorted(converter.notebooks)]
    missing = sorted(set(driver.gradebook_notebooks(api, assignment)) - set(graded))
    sub.todo, sub.files = graded, _folder_files(dest)
    return graded, missing


def _write_marker(root, assignment, sub):
    """Record that ``sub`` is graded (last: a run killed before it grades it again)."""
    marker = driver.marker_path(root, sub.student, assignment)
    marker.parent.mkdir(parents=True, exist_ok=True)
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps({"digest": sub.digest, "cells": sub.cells}))
    os.replace(tmp, marker)


class _LocalRunner:
    """The default: a thread pool whose threads each drive a warm fork server."""

    def __init__(self, workers):
        self.workers = workers
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grader")

    def prestart(self, prefix, timeout, sandboxed, files):
        executor.prestart(prefix, timeout, self.workers, sandboxed, files)

    def submit(self, task):
        return self.pool.submit(executor.execute_notebook, task)

    def wait(self, futures):
        """The futures of ``futures`` that are done, once at least one is."""
        return local_wait(futures, return_when=FIRST_COMPLETED).done

    def close(self):
        self.pool.shutdown(wait=True)
        executor.shutdown()


class _DaskRunner:
    """The same tasks on a ``dask.distributed`` cluster (workers need only this package)."""

    def __init__(self, address):
        try:
            from distributed import Client
        except ImportError as exc:  # pragma: no cover - distributed is a dependency
            raise driver.CourseError("--scheduler needs dask.distributed installed") from exc
        try:
            self.client = Client(address, timeout="5s")
        except OSError as exc:
            raise driver.CourseError(
                f"cannot reach the Dask scheduler at {address} ({exc}); check the address "
                "(tcp://HOST:PORT) and that the scheduler is running"
            ) from exc
        self.workers = max(1, sum(self.client.nthreads().values()))

    def prestart(self, prefix, timeout, sandboxed, files):
        for address, threads in self.client.nthreads().items():
            self.client.run(
                executor.prestart, prefix, timeout, threads, sandboxed, files, workers=[address]
            )

    def submit(self, task):
        return self.client.submit(executor.execute_notebook, task, pure=False)

    def wait(self, futures):
        """The futures of ``futures`` that are done, once at least one is."""
        from distributed import wait

        return wait(list(futures), return_when="FIRST_COMPLETED").done

    def close(self):
        self.client.run(executor.shutdown)
        self.client.close()


def autograde(
    root,
    assignment,
    students=None,
    *,
    workers=None,
    scheduler=None,
    timeout=None,
    force=False,
    progress=None,
    sandboxed=True,
):
    """Autograde the submissions of an assignment and record the grades in the gradebook.

    Every notebook of the assignment is graded, as ``nbgrader autograde`` grades them: a
    notebook not handed in scores 0, notebooks the gradebook does not know are ignored, a
    folder without any notebook is skipped. nbgrader's settings are honoured or, when the
    engine cannot honour one, the run stops (:mod:`course.grading.settings`).

    Args:
        root: the course directory.
        assignment: the assignment's name.
        students: student ids to grade (everyone who submitted when None or empty).
        workers: parallel executions on this machine (default: the number of cores).
        scheduler: address of a Dask scheduler (``tcp://HOST:PORT``) to run on instead.
        timeout: seconds each cell may run (default: ``Execute.timeout`` of the config).
        force: grade again submissions already graded and unchanged.
        sandboxed: run student code in the bubblewrap sandbox (:mod:`.sandbox`); without
            it, student code runs with the grader's rights.
        progress: optional callable ``progress(event, student)`` with ``event`` one of
            ``"start"`` (student is None, total known), ``"done"``, ``"skipped"``, ``"error"``.

    Returns:
        A :class:`Summary`.

    Raises:
        CourseError: the course, the assignment or a setting of nbgrader_config.py stops
            the run (the message says which and what to do).
    """
    started = time.perf_counter()
    root = Path(root)
    driver.check_assignment(root, assignment)
    if timeout is not None and timeout <= 0:
        raise driver.CourseError(f"--timeout must be a positive number of seconds, got {timeout}")
    if sandboxed and not scheduler:  # Dask workers check for themselves
        try:
            sandbox.available()
        except sandbox.SandboxUnavailable as exc:
            raise driver.CourseError(str(exc)) from exc
    summary = Summary(assignment=assignment)
    with driver.nbgrader_api(root) as api:  # the assignment's definitions, before grading
        if not driver.in_gradebook(api, assignment):
            driver.generate(api, root, assignment, f"recording {assignment} in the gradebook")
    with driver.nbgrader_api(root) as api, driver.fast_gradebook():
        conf = autograde_settings(api, assignment)
        if timeout is not None:
            conf.timeout = float(timeout)
        elif conf.timeout is not None and conf.timeout <= 0:  # nbclient: no limit
            conf.timeout = None
        notebooks = driver.gradebook_notebooks(api, assignment)
        subs, summary.errors = _submissions(
            root, assignment, students, conf, _source_digest(root, assignment)
        )
        todo = []
        for sub in subs:
            if not force and _is_up_to_date(root, sub, assignment, notebooks):
                try:
                    summary.results[sub.student] = driver.assignment_result(
                        api, assignment, sub.student
                    )
                    summary.skipped.append(sub.student)
                    continue
                except Exception:  # its grades or autograded/ were removed since: regrade
                    pass
            todo.append(sub)
        if progress:
            progress("start", None, len(subs))
            for student in summary.skipped:
                progress("skipped", student)
        if todo:
            runner = (
                _DaskRunner(scheduler)
                if scheduler
                else _LocalRunner(workers or os.cpu_count() or 1)
            )
            try:
                _grade(api, conf, notebooks, todo, summary, runner, progress, sandboxed)
            finally:
                runner.close()
    summary.wall_seconds = time.perf_counter() - started
    return summary


@dataclass
class _Notebook:
    """What every submission of one notebook shares: its set-up cells and exercises."""

    prefix: list
    exercises: list
    sandbox_types: set  # see executor.sandbox_types


def _notebooks(api, conf, assignment, notebooks):
    """``{notebook: _Notebook}``, read from the instructor's notebooks as nbgrader sanitizes."""
    root = Path(api.coursedir.root)
    found = {}
    for name in notebooks:
        source = read_notebook(root / "source" / assignment / f"{name}.ipynb")
        template = _apply(
            conf.before_execution, source, _resources(api, assignment, name, "__template__")
        )
        found[name] = _Notebook(
            [c.source for c in setup_cells(template)],
            exercises(template),
            executor.sandbox_types(source),
        )
    return found


def _grade(api, conf: Settings, notebooks, todo, summary, runner, progress, sandboxed):
    """Prepare, execute on ``runner`` and score the submissions ``todo``; fill ``summary``.

    A student's notebooks run one after the other, in nbgrader's order, each in the folder
    the ones before it left (files they wrote included); different students run in parallel.
    As in nbgrader, the first notebook that fails stops the student: its grades so far stay
    in the gradebook, and its autograded folder is removed.
    """
    root, assignment = Path(api.coursedir.root), summary.assignment
    shared = _notebooks(api, conf, assignment, notebooks)
    common = extra_files(root, assignment, conf.ignore, conf.exclude_overwriting)
    summary.workers = runner.workers
    for prefix in {tuple(nb.prefix) for nb in shared.values()}:
        try:
            runner.prestart(list(prefix), conf.timeout, sandboxed, common)
        except executor.WorkerLost as exc:
            raise driver.CourseError(
                f"the execution servers cannot start: {exc}. The assignment's set-up cells "
                "(before its first exercise) run in every server: check that they run in "
                "the instructor's notebook"
            ) from exc

    def fail(sub, message):
        summary.errors[sub.student] = message
        _clear(root / "autograded" / sub.student / assignment)
        if progress:
            progress("error", sub.student)

    def submit_next(sub):
        """Sanitize ``sub``'s next notebook and hand it to the runner; False when failed."""
        name = sub.todo[0]
        try:
            nb = read_notebook(sub.folder / f"{name}.ipynb")
            nb = _apply(conf.before_execution, nb, _resources(api, assignment, name, sub.student))
            kernel = conf.kernel_name or nb.metadata.get("kernelspec", {}).get("name", "")
            problem = _kernel_problem(kernel)
            if problem:
                raise driver.CourseError(f"{name}.ipynb: {problem}")
        except (UngradableNotebook, driver.CourseError) as exc:
            fail(sub, str(exc))
            return False
        except Exception as exc:  # nbgrader rejects some tampered metadata by raising
            fail(sub, f"{name}.ipynb cannot be graded: {type(exc).__name__}: {exc}")
            return False
        task = executor.make_task(
            json.dumps(nb),
            shared[name].prefix,
            conf.timeout,
            sub.files,
            sandboxed,
            shared[name].exercises,
            common_files=common,
            hidden_markers=conf.hidden_markers,
            sandbox_types=shared[name].sandbox_types,
        )
        pending[runner.submit(task)] = sub
        return True

    def finish(sub, answer):
        """Score and write the notebook ``answer`` ran; True when the student is done."""
        name = sub.todo.pop(0)
        executed = nbformat.from_dict(json.loads(answer["notebook"]))  # made by us
        resources = _resources(api, assignment, name, sub.student)
        executed = _apply(conf.after_execution, executed, resources)
        executed = _apply(conf.publish, executed, resources)
        dest = root / "autograded" / sub.student / assignment
        written = {n: base64.b64decode(data) for n, data in answer.get("files", {}).items()}
        for relative, data in written.items():
            target = dest / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                target.chmod(0o644)
            target.write_bytes(data)
        sub.files.update(written)
        nbformat.write(executed, dest / f"{name}.ipynb")
        sub.cells[name] = answer.get("cells", {})
        sub.seconds += answer["seconds"]
        return not sub.todo

    pending = {}
    for sub in todo:
        try:
            graded, missing = _prepare(api, conf, assignment, sub)
        except Exception as exc:  # nbgrader's own checks: no known notebook, bad timestamp
            found = ", ".join(p.name for p in driver.submitted_notebooks(sub.folder))
            fail(sub, f"{exc} (handed in: {found}; expected: {', '.join(notebooks)})")
            continue
        if missing:
            summary.missing[sub.student] = missing
        submit_next(sub)
    while pending:
        for future in runner.wait(pending):
            sub = pending.pop(future)
            try:
                done = finish(sub, future.result())
                if not done:
                    submit_next(sub)
                    continue
                conf.converter.set_permissions(assignment, sub.student)
                _write_marker(root, assignment, sub)
                result = driver.assignment_result(api, assignment, sub.student)
            except Exception as exc:  # one submission's failure never stops the others
                fail(sub, f"{type(exc).__name__}: {exc}")
                continue
            summary.results[sub.student] = result
            summary.graded.append(sub.student)
            summary.own_seconds[sub.student] = sub.seconds
            if progress:
                progress("done", sub.student)


def grade_notebook(path, assignment=None, root=None, timeout=None, sandboxed=True):
    """Grade one notebook with the full hidden tests, in a throwaway course directory.

    The notebook may be one of several of its assignment: it alone is handed in, and its
    score and maximum are nbgrader's for that notebook.

    Args:
        path: the notebook to grade.
        assignment: its assignment (found from the file name or its cells when None).
        root: the course directory holding ``source/`` (found when None).
        timeout: seconds each cell may run (default: the course's configuration).
        sandboxed: run the notebook in the bubblewrap sandbox.

    Returns:
        A :class:`NotebookResult`.

    Raises:
        UngradableNotebook: the file is not a notebook.
        CourseError: the course or the assignment cannot be found.
    """
    import tempfile

    submission = read_notebook(path)
    root = Path(root) if root else driver.find_course_root()
    assignment, notebook_id = driver.match_source(root, submission, path, assignment)
    with tempfile.TemporaryDirectory(prefix="course-grade-") as tmp:
        tmp = Path(tmp)
        shutil.copytree(root / "source" / assignment, tmp / "source" / assignment)
        shutil.copy2(root / "nbgrader_config.py", tmp / "nbgrader_config.py")
        folder = tmp / "submitted" / driver.SELF_STUDENT / assignment
        folder.mkdir(parents=True)
        shutil.copyfile(path, folder / f"{notebook_id}.ipynb")
        summary = autograde(
            tmp, assignment, [driver.SELF_STUDENT], workers=1, timeout=timeout, sandboxed=sandboxed
        )
        if driver.SELF_STUDENT in summary.errors:
            raise UngradableNotebook(f"{path}: {summary.errors[driver.SELF_STUDENT]}")
        graded: AssignmentResult = summary.results[driver.SELF_STUDENT]
        result: NotebookResult = graded.notebook(notebook_id)
        return result
