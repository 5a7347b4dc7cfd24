"""``course autograde``: nbgrader's scores, computed in parallel on warm execution servers.

The coordinating process (this module) is the only one that touches the gradebook and the
course directory. For each submission it

1. sanitizes the notebook with nbgrader's own preprocessors (locked and test cells restored
   from the gradebook, missing grade cells put back, duplicate ids dropped);
2. hands the notebook's JSON text to :func:`course.grading.executor.execute_notebook` on a
   local thread pool (each thread drives a warm fork-server process) or on a Dask cluster;
3. scores the executed notebook with nbgrader's own preprocessors (output limits,
   ``SaveAutoGrades``, late penalties), removes the hidden tests from it, writes
   ``autograded/<student>/<assignment>/`` and, last, a marker that lets a later run skip the
   unchanged submission.

A run killed at any moment can be started again: submissions without a marker are graded
again, and nbgrader's gradebook rows are updated in place, never duplicated.
"""

import hashlib
import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import as_completed as local_as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course.grading import executor, sandbox
from course.grading import nbgrader_driver as driver
from course.grading.notebooks import UngradableNotebook, exercises, read_notebook, setup_cells
from course.grading.results import NotebookResult

__all__ = ["Summary", "autograde", "grade_notebook", "extra_files", "MARKER_SUFFIX"]

MARKER_SUFFIX = ".graded.json"


@dataclass
class Summary:
    """What a run did: results, unreadable submissions, skips and timings."""

    assignment: str
    results: dict = field(default_factory=dict)  # student -> NotebookResult, skipped included
    errors: dict = field(default_factory=dict)  # student -> message
    graded: list = field(default_factory=list)  # students graded in this run
    skipped: list = field(default_factory=list)  # students already graded and unchanged
    own_seconds: dict = field(default_factory=dict)  # student -> time in their own cells
    wall_seconds: float = 0.0
    workers: int = 1


@dataclass
class _Submission:
    student: str
    folder: Path
    notebook: Path
    digest: str = ""


def _digest(folder, source_digest):
    """Fingerprint of a submission folder and of the assignment version it is graded with."""
    h = hashlib.sha256(source_digest.encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _marker(root, student, assignment):
    return Path(root) / "autograded" / student / f".{assignment}{MARKER_SUFFIX}"


def _is_up_to_date(root, sub, assignment):
    marker = _marker(root, sub.student, assignment)
    try:
        return json.loads(marker.read_text())["digest"] == sub.digest
    except (OSError, ValueError, KeyError):
        return False


def _submissions(root, assignment, notebook_id, students, source_digest):
    submitted = Path(root) / "submitted"
    present = driver.submitters(root, assignment, students)
    subs = []
    for student in present:
        folder = submitted / student / assignment
        sub = _Submission(student, folder, folder / f"{notebook_id}.ipynb")
        sub.digest = _digest(folder, source_digest)
        subs.append(sub)
    return subs


def _drop_emptied_metadata(nb, resources):
    """Remove the empty nbgrader metadata DeduplicateIds leaves on a duplicated cell.

    nbgrader itself then crashes in ``OverwriteCells`` (KeyError 'grade_id') and grades
    nothing for that student; without the empty dict the copy is an ordinary cell and the
    original is graded.
    """
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nbgrader") == {}:
            del cell.metadata["nbgrader"]
    return nb, resources


def _save_auto_grades_class():
    """nbgrader's ``SaveAutoGrades``, writing one notebook's grades in one transaction.

    nbgrader commits after every cell; here a notebook's grades reach the gradebook all
    together or not at all (an interrupted run never leaves a notebook half-graded), with
    one disk sync instead of dozens.
    """
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import SaveAutoGrades

    class SaveAutoGradesAtOnce(SaveAutoGrades):
        def preprocess(self, nb, resources):
            info = resources["nbgrader"]
            self.notebook_id, self.assignment_id = info["notebook"], info["assignment"]
            self.student_id, self.db_url = info["student"], info["db_url"]
            self.gradebook = Gradebook(self.db_url)
            with self.gradebook:
                session = self.gradebook.db
                session.commit = session.flush  # the per-cell commits only flush
                try:
                    nb, resources = super(SaveAutoGrades, self).preprocess(nb, resources)
                finally:
                    del session.commit
                session.commit()
            return nb, resources

    return SaveAutoGradesAtOnce


class _Pipeline:
    """nbgrader's preprocessors, instantiated once per run, applied per notebook."""

    def __init__(self, api, assignment, notebook_id):
        from nbconvert.preprocessors import ClearMetadataPreprocessor
        from nbgrader.preprocessors import (
            AssignLatePenalties,
            CheckCellMetadata,
            ClearHiddenTests,
            ClearOutput,
            DeduplicateIds,
            IgnorePattern,
            LimitOutput,
            OverwriteCells,
            OverwriteKernelspec,
        )

        config = api.config
        self.api = api
        self.assignment = assignment
        self.notebook_id = notebook_id
        self.sanitize_steps = [
            ClearOutput(config=config),
            DeduplicateIds(config=config),
            _drop_emptied_metadata,
            OverwriteKernelspec(config=config),
            OverwriteCells(config=config),
            CheckCellMetadata(config=config),
        ]
        # nbgrader checks the metadata again after execution; here execution only ever adds
        # outputs to the coordinator's own copy of the sanitized notebook, so once is enough
        self.score_steps = [
            cls(config=config)
            for cls in (
                IgnorePattern,
                ClearMetadataPreprocessor,
                LimitOutput,
                _save_auto_grades_class(),
                AssignLatePenalties,
            )
        ]
        # what is written to autograded/ (and feedback is made from): no hidden tests
        self.publish_steps = [ClearHiddenTests(config=config)]

    def resources(self, student):
        return {
            "unique_key": self.notebook_id,
            "nbgrader": {
                "student": student,
                "assignment": self.assignment,
                "notebook": self.notebook_id,
                "db_url": self.api.coursedir.db_url,
            },
        }

    def _apply(self, steps, nb, student):
        resources = self.resources(student)
        for step in steps:
            nb, resources = step(nb, resources)
        return nb

    def sanitize(self, nb, student):
        return self._apply(self.sanitize_steps, nb, student)

    def score(self, nb, student):
        """Record the scores of an executed notebook; return it without its hidden tests."""
        nb = self._apply(self.score_steps, nb, student)
        return self._apply(self.publish_steps, nb, student)


def extra_files(root, assignment):
    """The assignment's non-notebook files in source/, which every execution folder gets."""
    source = Path(root) / "source" / assignment
    return {
        str(p.relative_to(source)): p.read_bytes()
        for p in sorted(source.rglob("*"))
        if p.is_file() and p.suffix != ".ipynb" and ".ipynb_checkpoints" not in p.parts
    }


def _record_submission(api, assignment, student, folder):
    """Create or update the student and the submission rows, as ``nbgrader autograde`` does."""
    from nbgrader.api import Gradebook

    timestamp = api.coursedir.get_existing_timestamp(str(folder))
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        gb.update_or_create_student(student)
        if timestamp:
            gb.update_or_create_submission(assignment, student, timestamp=timestamp)
        else:
            gb.update_or_create_submission(assignment, student)


def _zero_missing_notebook(api, assignment, student, notebook_id):
    """No notebook handed in: every grade is 0, as nbgrader records it."""
    from nbgrader.api import Gradebook

    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        notebook = gb.find_submission_notebook(notebook_id, assignment, student)
        for grade in notebook.grades:
            grade.auto_score = 0
            grade.needs_manual_grade = False
        gb.db.commit()


def _write_autograded(root, assignment, sub, nb, files, permissions):
    """Write ``autograded/<student>/<assignment>/`` like nbgrader: files, then the notebook."""
    dest = Path(root) / "autograded" / sub.student / assignment
    if dest.exists():
        for path in dest.rglob("*"):
            if path.is_file():
                path.chmod(0o644)
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for path in sub.folder.rglob("*"):
        if path.is_file() and path.suffix != ".ipynb":
            target = dest / path.relative_to(sub.folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    for name, data in files.items():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    nbformat.write(nb, dest / sub.notebook.name)
    for path in dest.rglob("*"):
        if path.is_file():
            path.chmod(permissions)


def _write_marker(root, assignment, sub, result):
    marker = _marker(root, sub.student, assignment)
    marker.parent.mkdir(parents=True, exist_ok=True)
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps({"digest": sub.digest, "score": result.score}))
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

    def as_completed(self, futures):
        return local_as_completed(futures)

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

    def as_completed(self, futures):
        from distributed import as_completed

        return as_completed(list(futures))

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
    """
    started = time.perf_counter()
    root = Path(root)
    driver.check_assignment(root, assignment)
    if sandboxed and not scheduler:  # Dask workers check for themselves
        try:
            sandbox.available()
        except sandbox.SandboxUnavailable as exc:
            raise driver.CourseError(str(exc)) from exc
    summary = Summary(assignment=assignment)
    notebook_id = driver.notebook_of(root, assignment)
    with driver.nbgrader_api(root) as api:
        if not driver.in_gradebook(api, assignment):
            driver.generate(api, root, assignment, f"recording {assignment} in the gradebook")
        timeout = float(timeout or api.config.Execute.get("timeout", 30))
        if timeout <= 0:
            raise driver.CourseError(
                f"--timeout must be a positive number of seconds, got {timeout}"
            )
        released_path = root / "release" / assignment / f"{notebook_id}.ipynb"
        released = read_notebook(released_path)
        source_digest = hashlib.sha256(
            released_path.read_bytes() + (root / "nbgrader_config.py").read_bytes()
        ).hexdigest()
        subs = _submissions(root, assignment, notebook_id, students, source_digest)
        todo = []
        for sub in subs:
            if not force and _is_up_to_date(root, sub, assignment):
                try:
                    summary.results[sub.student] = driver.submission_result(
                        api, assignment, sub.student, notebook_id
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
                _grade(
                    api, notebook_id, released, todo, summary, runner, timeout, progress, sandboxed
                )
            finally:
                runner.close()
    summary.wall_seconds = time.perf_counter() - started
    return summary


def _grade(api, notebook_id, released, todo, summary, runner, timeout, progress, sandboxed):
    """Sanitize, execute on ``runner`` and score the submissions ``todo``; fill ``summary``."""
    root, assignment = Path(api.coursedir.root), summary.assignment
    pipeline = _Pipeline(api, assignment, notebook_id)
    template = pipeline.sanitize(
        nbformat.from_dict(json.loads(json.dumps(released))), "__template__"
    )
    prefix, names = [c.source for c in setup_cells(template)], exercises(template)
    extra = extra_files(root, assignment)
    permissions = 0o664 if api.coursedir.groupshared else 0o444  # nbgrader's defaults
    summary.workers = runner.workers

    def fail(sub, message):
        summary.errors[sub.student] = message
        if progress:
            progress("error", sub.student)

    source_nb = read_notebook(root / "source" / assignment / f"{notebook_id}.ipynb")
    types = executor.sandbox_types(source_nb)
    runner.prestart(prefix, timeout, sandboxed, extra)
    futures = {}
    for sub in todo:
        try:
            _record_submission(api, assignment, sub.student, sub.folder)
            if not sub.notebook.is_file():
                _zero_missing_notebook(api, assignment, sub.student, notebook_id)
                found = sorted(p.name for p in sub.folder.glob("*.ipynb"))
                fail(
                    sub,
                    f"no {sub.notebook.name} in {sub.folder} (found: "
                    f"{', '.join(found) or 'no notebook'}); every grade is 0",
                )
                continue
            nb = read_notebook(sub.notebook)
            nb = pipeline.sanitize(nb, sub.student)
        except (UngradableNotebook, driver.CourseError) as exc:
            fail(sub, str(exc))
            continue
        except Exception as exc:  # nbgrader rejects some tampered metadata by raising
            fail(sub, f"cannot be graded: {type(exc).__name__}: {exc}")
            continue
        task = executor.make_task(
            json.dumps(nb),
            prefix,
            timeout,
            extra,
            sandboxed,
            names,
            common_files=extra,
            sandbox_types=types,
        )
        futures[runner.submit(task)] = sub
    for future in runner.as_completed(futures):
        sub = futures[future]
        try:
            answer = future.result()
            executed = nbformat.from_dict(json.loads(answer["notebook"]))  # made by us
            executed = pipeline.score(executed, sub.student)
            _write_autograded(root, assignment, sub, executed, extra, permissions)
            result = driver.submission_result(api, assignment, sub.student, notebook_id)
            _write_marker(root, assignment, sub, result)
        except Exception as exc:  # one submission's failure never stops the others
            fail(sub, f"{type(exc).__name__}: {exc}")
            continue
        summary.results[sub.student] = result
        summary.graded.append(sub.student)
        summary.own_seconds[sub.student] = answer["seconds"]
        if progress:
            progress("done", sub.student)


def grade_notebook(path, assignment=None, root=None, timeout=None, sandboxed=True):
    """Grade one notebook with the full hidden tests, in a throwaway course directory.

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
        result: NotebookResult = summary.results[driver.SELF_STUDENT]
        return result
