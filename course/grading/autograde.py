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
   :func:`course.grading.execution.execute_notebook` on a runner
   (:mod:`course.grading.runners`: a local thread pool, each thread driving warm servers, or a
   Dask cluster), and scores the executed notebook with nbgrader's own preprocessors (output
   limits, ``SaveAutoGrades``, late penalties); the notebook, without its hidden tests, and the
   files it wrote go to ``autograded/``;
3. sets nbgrader's permissions and, last, writes a marker that lets a later run skip the
   unchanged submission (and keeps what the gradebook does not: which run decided each
   test cell, and the grader's notes).

A local run starts its execution servers first, so that they import their modules while
nbgrader's configuration and gradebook are read; a class's submissions then start largest
first (:func:`_expected_work`), and the results come from what the run holds (the notebooks it
wrote, the scores ``SaveAutoGrades`` recorded), not read back.

Before anything of a hand-in is read, its folder is checked: a symbolic link or a special
file anywhere in it refuses the submission with an error row (nothing is followed or
copied). A submission counts as unchanged only when everything that decides its grade is:
its own files, ``source/`` (hidden tests included), what the last release recorded in the
gradebook, the configuration, the grader itself, and the run's timeout and sandbox (the
marker keeps each of them); a later run grades again what a change affects, and says why.

A run killed at any moment can be started again: submissions without a marker are graded
again, and nbgrader's gradebook rows are updated in place, never duplicated.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath

import nbformat

from course.grading import execution, sandbox, servers
from course.grading import nbgrader_driver as driver
from course.grading.nbgrader_driver import MARKER_SUFFIX
from course.grading.notebooks import UngradableNotebook, exercises, prefix_cells, read_notebook
from course.grading.results import Summary
from course.grading.runners import DaskRunner, LocalRunner
from course.grading.settings import SCORES, Settings, autograde_settings

__all__ = ["Summary", "autograde", "MARKER_SUFFIX"]


@dataclass
class _Submission:
    student: str
    folder: Path
    keys: dict = field(default_factory=dict)  # what decides its grade: see _grading_keys
    todo: list = field(default_factory=list)  # notebook ids still to run, in nbgrader's order
    files: dict = field(default_factory=dict)  # the folder the next notebook runs in
    cells: dict = field(default_factory=dict)  # notebook -> grade_id -> {"decided", "note"}
    graded: dict = field(default_factory=dict)  # notebook -> driver.Graded, for its result
    handed_in: dict = field(default_factory=dict)  # the next notebook's cells as handed in
    seconds: float = 0.0


def _tree_digest(folder):
    """Fingerprint of the files under ``folder``: their relative paths and bytes."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if "__pycache__" not in path.parts:
            data = path.read_bytes()
            h.update(f"{path.relative_to(folder)}\0{len(data)}\0".encode() + data)
    return h.hexdigest()


def _source_digest(root, assignment):
    """Fingerprint of ``source/<assignment>/``: the notebooks, hidden tests and data files."""
    return _tree_digest(Path(root) / "source" / assignment)


@cache
def _grader_digest():
    """Fingerprint of the grader: the ``course`` package's files, and nbgrader's version."""
    import nbgrader

    import course

    return _tree_digest(Path(course.__file__).parent) + f" nbgrader {nbgrader.__version__}"


def _grading_keys(api, conf, assignment, sandboxed):
    """What decides the grade of every submission of ``assignment`` besides its own files.

    ``{key: value}``, each key explained by :func:`_why`: ``source/``, the release the
    gradebook recorded, the configuration, the grader, the per-cell timeout and the
    sandbox. A submission's marker keeps them with the fingerprint of its own files.
    """
    root = Path(api.coursedir.root)
    return {
        "source": _source_digest(root, assignment),
        "release": driver.release_digest(api, assignment),
        "config": driver.config_digest(root),
        "grader": _grader_digest(),
        "timeout": conf.timeout,
        "sandbox": sandboxed,
    }


def _seconds(timeout):
    return "no limit" if timeout is None else f"{timeout:g} s"


def _why(key, assignment, then, now):
    """Why a graded submission is graded again: its key ``key`` was ``then``, is ``now``."""
    if key == "timeout":
        return (
            f"the per-cell timeout changed since these grades ({_seconds(then)}, now "
            f"{_seconds(now)})"
        )
    if key == "sandbox":
        return "these grades were made " + ("in the sandbox" if then else "without the sandbox")
    return {
        "submission": "handed in again since these grades",
        "source": f"source of {assignment} changed since these grades",
        "release": f"{assignment} was released again since these grades",
        "config": "nbgrader_config.py (or a file it loads) changed since these grades",
        "grader": "the grader (the course package or nbgrader) changed since these grades",
        "lost": "these grades are no longer all in the gradebook and autograded/",
    }[key]


def _changes(root, sub, assignment, notebooks):
    """What changed since ``sub`` was graded: ``{key: its value then}`` (empty: nothing).

    None when the submission was never graded (no marker: a run stopped before the end of
    it counts as never). A marker of a grader that did not record the keys counts as a
    change of the grader; autograded notebooks gone since count as ``lost``.
    """
    try:
        marker = json.loads(driver.marker_path(root, sub.student, assignment).read_text())
        then = marker.get("keys")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(then, dict):
        return {"grader": None}
    changed = {key: then.get(key) for key, now in sub.keys.items() if then.get(key) != now}
    graded = Path(root) / "autograded" / sub.student / assignment
    handed_in = {p.stem for p in driver.submitted_notebooks(sub.folder)} & set(notebooks)
    if not all((graded / f"{name}.ipynb").is_file() for name in handed_in):
        changed["lost"] = None
    return changed


def _submissions(root, assignment, students, conf, keys):
    """The hand-ins to consider, and ``{student: why not}`` for those that are not graded.

    As ``nbgrader autograde``: students of ``CourseDirectory.student_id_exclude`` are left
    out, and so is a folder without any notebook (an error only when asked for by name). A
    hand-in holding a symbolic link or a special file is refused (an error row, and what
    an earlier run left in ``autograded/`` for it removed) before anything in it is read.
    ``keys`` are the assignment's grading keys (:func:`_grading_keys`).
    """
    subs, errors = [], {}
    for student in driver.submitters(root, assignment, students):
        folder = Path(root) / "submitted" / student / assignment
        if student in conf.student_id_exclude:
            continue
        refused = driver.refused_entry(root, student, assignment)
        if refused:
            errors[student] = refused
            _forget(root, assignment, student)
            continue
        if not driver.submitted_notebooks(folder):
            if students:
                errors[student] = f"no notebook in {folder}: nbgrader skips this folder"
            continue
        subs.append(_Submission(student, folder, {"submission": _tree_digest(folder), **keys}))
    return subs, errors


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


def _forget(root, assignment, student):
    """Remove what ``autograded/`` holds of a submission: its marker, then its folder."""
    driver.marker_path(root, student, assignment).unlink(missing_ok=True)
    _clear(Path(root) / "autograded" / student / assignment)


def _prepare(api, conf, assignment, notebooks, sub):
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
    _forget(api.coursedir.root, assignment, sub.student)
    converter = conf.converter
    converter.notebooks = [str(p) for p in driver.submitted_notebooks(sub.folder)]
    converter.init_assignment(assignment, sub.student)
    dest.mkdir(parents=True, exist_ok=True)  # nbgrader's writer makes it when no file did
    graded = [Path(p).stem for p in sorted(converter.notebooks)]
    missing = sorted(set(notebooks) - set(graded))
    sub.todo, sub.files = graded, _folder_files(dest)
    return graded, missing


def _write_produced(dest, files):
    """Write the files a notebook wrote in its folder (``{relative path: bytes}``) in ``dest``.

    Their names come from the sandbox: a name that is not a plain relative path inside the
    folder (absolute, or climbing out with ``..``) is refused, nothing of it written.

    Raises:
        CourseError: such a name (the submission is not graded).
    """
    for relative in files:
        path = PurePosixPath(relative)
        if not path.parts or path.is_absolute() or ".." in path.parts:
            raise driver.CourseError(
                f"the notebook's process named a file outside its folder: {relative!r}"
            )
    for relative, data in files.items():
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target.chmod(0o644)
        target.write_bytes(data)


def _write_marker(root, assignment, sub):
    """Record that ``sub`` is graded (last: a run killed before it grades it again)."""
    marker = driver.marker_path(root, sub.student, assignment)
    marker.parent.mkdir(parents=True, exist_ok=True)
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps({"keys": sub.keys, "cells": sub.cells}))
    os.replace(tmp, marker)


def autograde(
    root: Path | str,
    assignment: str,
    students: Sequence[str] | None = None,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    timeout: float | None = None,
    force: bool = False,
    progress: Callable[..., None] | None = None,
    sandboxed: bool = True,
) -> Summary:
    """Autograde the submissions of an assignment and record the grades in the gradebook.

    Every notebook of the assignment is graded, as ``nbgrader autograde`` grades them: a
    notebook not handed in scores 0, notebooks the gradebook does not know are ignored, a
    folder without any notebook is skipped. nbgrader's settings are honoured or, when the
    engine cannot honour one, the run stops (:mod:`course.grading.settings`).

    Args:
        root: the course directory.
        assignment: the assignment's name.
        students: student ids to grade, in this order (everyone who submitted when None or
            empty, the largest hand-ins first).
        workers: parallel executions on this machine (default: the number of cores; never
            more than the submissions to grade).
        scheduler: address of a Dask scheduler (``tcp://HOST:PORT``) to run on instead.
        timeout: seconds each cell may run (default: ``Execute.timeout`` of the config).
        force: grade again submissions already graded and unchanged.
        sandboxed: run student code in the bubblewrap sandbox (:mod:`.sandbox`); without
            it, student code runs with the grader's rights.
        progress: optional callable ``progress(event, student, total=None)`` with
            ``event`` one of ``"start"`` (student None, ``total`` submissions),
            ``"regrading"`` (once per reason, before any grading: ``student`` is why graded
            submissions are graded again, ``total`` how many), ``"done"``, ``"skipped"``,
            ``"error"``.

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
    runner = None
    warm = _warm_modules(root, assignment)
    if not scheduler:  # the servers start now: they import their modules while we read
        handed_in = len(students) if students else _hand_in_count(root, assignment)
        # no more local workers than hand-ins: each starts its pair of servers at once
        runner = LocalRunner(min(workers or os.cpu_count() or 1, max(handed_in, 1)))
        if handed_in:
            runner.launch(sandboxed, warm, most=handed_in)
    try:
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
            keys = _grading_keys(api, conf, assignment, sandboxed)
            subs, summary.errors = _submissions(root, assignment, students, conf, keys)
            todo = []
            for sub in subs:
                changed = None if force else _changes(root, sub, assignment, notebooks)
                if changed == {}:
                    try:
                        summary.results[sub.student] = driver.assignment_result(
                            api, assignment, sub.student
                        )
                        summary.skipped.append(sub.student)
                        continue
                    except Exception:  # its grades were removed from the gradebook since
                        changed = {"lost": None}
                for key, then in (changed or {}).items():
                    why = _why(key, assignment, then, sub.keys.get(key))
                    summary.regraded.setdefault(why, []).append(sub.student)
                todo.append(sub)
            if not students:  # (students asked for by name are graded in the order given)
                todo.sort(key=_expected_work, reverse=True)
            if progress:
                progress("start", None, len(subs))
                for why, regraded in summary.regraded.items():
                    progress("regrading", why, len(regraded))
                for student in summary.skipped:
                    progress("skipped", student)
            if todo:
                runner = runner or DaskRunner(scheduler)
                run = _Run(runner, sandboxed, warm, started)
                _grade(api, conf, notebooks, todo, summary, run, progress)
    finally:
        if runner is not None:
            runner.close()
    summary.wall_seconds = time.perf_counter() - started
    return summary


def _warm_modules(root, assignment):
    """What the servers import before the set-up cells: what the code cells of the
    assignment's source notebooks import (:func:`servers.warm_modules`; None, all their
    modules, when a notebook cannot be read: the run says why later)."""
    sources = []
    for path in sorted((Path(root) / "source" / assignment).glob("*.ipynb")):
        try:
            cells = read_notebook(path).cells
        except UngradableNotebook:
            return None
        sources += [cell.source for cell in cells if cell.cell_type == "code"]
    return servers.warm_modules(sources)


def _hand_in_count(root, assignment):
    """How many hand-in folders ``submitted/*/<assignment>`` holds (not read: counted)."""
    return sum(1 for path in (Path(root) / "submitted").glob(f"*/{assignment}") if path.is_dir())


@dataclass
class _Notebook:
    """What every submission of one notebook shares: its set-up cells and exercises."""

    prefix: list
    exercises: list
    sandbox_types: set  # see execution.sandbox_types


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
            [c.source for c in prefix_cells(template)],
            exercises(template),
            execution.sandbox_types(source),
        )
    return found


def _expected_work(sub):
    """How long ``sub`` should take to run, roughly: the bytes of its notebooks.

    A notebook with more of the work done runs longer (the cells of a blank one fail at
    once). A class's submissions start longest first, so that it does not end with one
    worker running a long notebook while the others wait: the order changes nothing else.
    """
    return sum(path.stat().st_size for path in driver.submitted_notebooks(sub.folder))


@dataclass
class _Run:
    """Where and how a class run executes its notebooks."""

    runner: LocalRunner | DaskRunner
    sandboxed: bool
    warm: dict[str, list[str]] | None  # what new servers import first, per role
    started: float  # the run's start, a ``time.perf_counter()`` reading


def _grade(api, conf: Settings, notebooks, todo, summary, run: _Run, progress):
    """Prepare, execute on ``run.runner`` and score the submissions ``todo``; fill
    ``summary``.

    A student's notebooks run one after the other, in nbgrader's order, each in the folder
    the ones before it left (files they wrote included); different students run in parallel.
    As in nbgrader, the first notebook that fails stops the student: its grades so far stay
    in the gradebook, and its autograded folder is removed.
    """
    root, assignment = Path(api.coursedir.root), summary.assignment
    shared = _notebooks(api, conf, assignment, notebooks)
    common = driver.extra_files(root, assignment, conf.ignore, conf.exclude_overwriting)
    runner, sandboxed = run.runner, run.sandboxed
    summary.workers = runner.workers
    for prefix in {tuple(nb.prefix) for nb in shared.values()}:
        try:
            runner.prestart(list(prefix), conf.timeout, sandboxed, common, run.warm, len(todo))
        except servers.WorkerLost as exc:
            raise driver.CourseError(
                f"the execution servers cannot start: {exc}. The assignment's set-up cells "
                "(before its first exercise) run in every server: check that they run in "
                "the instructor's notebook"
            ) from exc
    summary.start_seconds = time.perf_counter() - run.started

    def fail(sub, message):
        summary.errors[sub.student] = message
        _forget(root, assignment, sub.student)
        if progress:
            progress("error", sub.student)

    def submit_next(sub):
        """Sanitize ``sub``'s next notebook and hand it to the runner; False when failed."""
        name = sub.todo[0]
        try:
            nb = read_notebook(sub.folder / f"{name}.ipynb")
            sub.handed_in = driver.handed_in_cells(nb)  # before the sanitizing changes it
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
        task = execution.make_task(
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
        executed = json.loads(answer["notebook"], object_hook=nbformat.NotebookNode)  # made by us
        resources = _resources(api, assignment, name, sub.student)
        executed = _apply(conf.after_execution, executed, resources)
        executed = _apply(conf.publish, executed, resources)
        scores = resources["nbgrader"].get(SCORES)  # None when SaveAutoGrades is not configured
        dest = root / "autograded" / sub.student / assignment
        written = {n: base64.b64decode(data) for n, data in answer.get("files", {}).items()}
        _write_produced(dest, written)
        sub.files.update(written)
        nbformat.write(executed, dest / f"{name}.ipynb")
        if scores is not None:
            sub.graded[name] = driver.Graded(executed, sub.handed_in, scores)
        sub.cells[name] = answer.get("cells", {})
        sub.seconds += answer["seconds"]
        return not sub.todo

    pending = {}
    for sub in todo:
        try:
            graded, missing = _prepare(api, conf, assignment, notebooks, sub)
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
                result = driver.assignment_result(
                    api, assignment, sub.student, sub.graded, notebooks
                )
            except Exception as exc:  # one submission's failure never stops the others
                fail(sub, f"{type(exc).__name__}: {exc}")
                continue
            summary.results[sub.student] = result
            summary.graded.append(sub.student)
            summary.own_seconds[sub.student] = sub.seconds
            if progress:
                progress("done", sub.student)
