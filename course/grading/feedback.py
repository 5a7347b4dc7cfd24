"""``course feedback``: one HTML page per student, without the hidden tests.

nbgrader's own feedback is the autograded notebook converted to HTML: every test cell's
source and traceback, so hidden tests and their expected values, unless they were removed
first. This page is built from the grades instead: per exercise, the points, the result and
message of each test cell (the first line only: a hidden test's message names the mistake,
never the expected values), the student's own code and its outputs, and the outputs the
notebook's other cells showed. Test cells' source and outputs are never shown.

Pages are written where nbgrader writes its feedback, ``feedback/<student>/<assignment>/
<notebook>.html``, so ``nbgrader release_feedback`` and formgrader find them.
"""

from collections.abc import Callable
from pathlib import Path

from nbformat import NotebookNode

from course.grading import nbgrader_driver as driver
from course.grading import pages
from course.grading.notebooks import nbgrader_meta, read_notebook
from course.grading.results import NotebookResult, revisit, status_label

__all__ = ["write_feedback", "feedback_page", "PAGE_CHARS"]

PAGE_CHARS = 10_000_000  # the most a page shows; what would come after is cut, with a note
_MESSAGE_CHARS = 1000  # the most a page shows of one test's message


def _label(cells):
    """The result of some test cells: ``passed``, or the first failing one's status."""
    failing = next((c for c in cells if c.status != "passed"), None)
    return "passed" if failing is None else status_label(failing.status, failing.message)


def _within(parts, limit):
    """``parts`` (HTML, made as they are taken) up to ``limit`` characters in all.

    Returns:
        ``(kept, cut)``: the parts kept, and whether the rest is cut.
    """
    kept, size = [], 0
    for part in parts:
        size += len(part)
        if size > limit:
            return kept, True
        kept.append(part)
    return kept, False


def _exercise(name, points, cells, solution):
    """The data of an exercise's part (``feedback_parts.html``'s ``exercise``)."""
    answer = None
    if solution is not None:
        answer = {"source": solution.source, "outputs": pages.outputs(solution.get("outputs", []))}
    tests = [
        {
            "grade_id": cell.grade_id,
            "label": _label([cell]),
            "score": cell.score,
            "max_score": cell.max_score,
            "message": cell.message.splitlines()[0] if cell.message else "",
        }
        for cell in cells
    ]
    score, top = points
    return {"name": name, "score": score, "max_score": top, "answer": answer, "tests": tests}


def _parts(result, autograded):
    """The parts of the page after its scores, one by one: the exercises, then the student's
    other cells with their outputs, then the outputs of the notebook's locked cells.

    Test cells are never shown: their source is the tests', and their outputs may be what
    the student's code printed in the hidden tests.
    """
    make = pages.macros("feedback_parts.html")
    by_id = {nbgrader_meta(c).get("grade_id"): c for c in autograded.cells}
    per = result.by_exercise()
    for name, cells in result.cells_by_exercise().items():
        yield make.exercise(_exercise(name, per[name], cells, by_id.get(name)), _MESSAGE_CHARS)
    own, shown = [], []
    for cell in autograded.cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type != "code" or meta.get("grade") or meta.get("solution"):
            continue
        if not meta.get("locked"):
            own.append((None, cell.source, cell.get("outputs", [])))
        elif cell.get("outputs"):
            shown.append((meta.get("grade_id", "a cell"), None, cell.outputs))
    for heading, cells in (("Your other cells", own), ("What your notebook showed", shown)):
        for i, (name, source, outputs) in enumerate(cells):
            cell = {"name": name, "source": source, "outputs": pages.outputs(outputs)}
            yield make.cell(heading if i == 0 else None, cell)


def feedback_page(student: str, result: NotebookResult, autograded: NotebookNode) -> str:
    """The HTML feedback page of one student.

    Args:
        student: the student's id.
        result: their :class:`~course.grading.results.NotebookResult` (nbgrader's score
            and maximum for the notebook).
        autograded: their autograded notebook (hidden tests already removed from it).

    Returns:
        The page as a string.
    """
    per = result.by_exercise()
    parts, cut = _within(_parts(result, autograded), PAGE_CHARS)
    return pages.render(
        "feedback.html",
        title=f"{result.assignment} / {result.notebook}: feedback for {student}",
        score=result.score,
        max_score=result.max_score,
        exercises=[
            {"name": name, "score": per[name][0], "max_score": per[name][1], "label": _label(cells)}
            for name, cells in result.cells_by_exercise().items()
        ],
        revisit=", ".join(revisit(result)),
        parts=parts,
        cut=cut,
        page_mb=PAGE_CHARS // 10**6,
    )


def write_feedback(
    root: Path | str,
    assignment: str,
    students: list[str] | None = None,
    progress: Callable[..., None] | None = None,
) -> tuple[dict[str, list[Path]], dict[str, str]]:
    """Write the feedback pages of every autograded student of ``assignment``.

    One page per notebook the student handed in, where nbgrader writes its feedback.

    Args:
        root: the course directory.
        assignment: the assignment's name.
        students: only these students (default: everyone autograded).
        progress: optional callable ``progress(event, student, total=None)`` with ``event``
            one of ``"start"``, ``"done"``, ``"error"``.

    Returns:
        ``(written, errors)``: ``{student: [page paths]}`` and ``{student: why not}``.

    Raises:
        CourseError: the assignment is unknown or nothing of it is autograded.
    """
    root = Path(root)
    driver.check_assignment(root, assignment)
    chosen = driver.autograded_students(root, assignment, students)
    written, errors = {}, {}
    if progress:
        progress("start", None, len(chosen))
    with driver.nbgrader_api(root) as api:
        for student in chosen:
            try:
                paths = []
                for result in driver.assignment_result(api, assignment, student).notebooks:
                    graded = root / "autograded" / student / assignment / f"{result.notebook}.ipynb"
                    if not graded.is_file():  # not handed in: nothing to give feedback on
                        continue
                    path = root / "feedback" / student / assignment / f"{result.notebook}.html"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    page = feedback_page(student, result, read_notebook(graded))
                    path.write_text(page, encoding="utf-8")
                    paths.append(path)
            except Exception as exc:  # one student's odd files never stop the others
                errors[student] = f"{type(exc).__name__}: {exc}"
                if progress:
                    progress("error", student)
                continue
            written[student] = paths
            if progress:
                progress("done", student)
    return written, errors
