"""``course grade NOTEBOOK``: one notebook graded with the full hidden tests, for self-study."""

import errno
import os
import shutil
import stat
from pathlib import Path

from course.grading import nbgrader_driver as driver
from course.grading.autograde import autograde
from course.grading.notebooks import UngradableNotebook, read_notebook
from course.grading.results import AssignmentResult, NotebookResult

__all__ = ["grade_notebook"]


def _notebook_bytes(path):
    """The bytes of the notebook file at ``path``, read without following a link.

    Raises:
        UngradableNotebook: ``path`` is a symbolic link (to ``source/``, say), a special
            file (a named pipe, a device), a folder, missing or unreadable.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UngradableNotebook(f"{path} is a symbolic link: grade the file itself") from None
        if exc.errno == errno.ENOENT:
            raise UngradableNotebook(f"{path}: no such file; check the path") from None
        raise UngradableNotebook(f"{path}: cannot be read ({exc.strerror})") from None
    mode = os.fstat(fd).st_mode
    kind = "a folder" if stat.S_ISDIR(mode) else driver.special_file(mode)
    if kind:
        os.close(fd)
        raise UngradableNotebook(f"{path} is {kind}: grade a notebook file")
    with os.fdopen(fd, "rb") as f:
        return f.read()


def grade_notebook(
    path: Path | str,
    assignment: str | None = None,
    root: Path | str | None = None,
    timeout: float | None = None,
    sandboxed: bool = True,
) -> NotebookResult:
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
        UngradableNotebook: the file is not a notebook (a symbolic link or a special file
            is not read).
        CourseError: the course or the assignment cannot be found.
    """
    import tempfile

    data = _notebook_bytes(path)
    submission = read_notebook(data, name=str(path))
    root = Path(root) if root else driver.find_course_root()
    assignment, notebook_id = driver.match_source(root, submission, path, assignment)
    with tempfile.TemporaryDirectory(prefix="course-grade-") as tmp:
        tmp = Path(tmp)
        shutil.copytree(root / "source" / assignment, tmp / "source" / assignment)
        shutil.copy2(root / "nbgrader_config.py", tmp / "nbgrader_config.py")
        folder = tmp / "submitted" / driver.SELF_STUDENT / assignment
        folder.mkdir(parents=True)
        (folder / f"{notebook_id}.ipynb").write_bytes(data)
        summary = autograde(
            tmp, assignment, [driver.SELF_STUDENT], workers=1, timeout=timeout, sandboxed=sandboxed
        )
        if driver.SELF_STUDENT in summary.errors:
            raise UngradableNotebook(f"{path}: {summary.errors[driver.SELF_STUDENT]}")
        graded: AssignmentResult = summary.results[driver.SELF_STUDENT]
        result: NotebookResult = graded.notebook(notebook_id)
        return result
