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

from pathlib import Path

from course.grading import nbgrader_driver as driver
from course.grading import pages
from course.grading.notebooks import nbgrader_meta, read_notebook
from course.grading.results import revisit, status_label

__all__ = ["write_feedback", "feedback_page", "PAGE_CHARS"]

PAGE_CHARS = 10_000_000  # the most a page shows; what would come after is cut, with a note
_MESSAGE_CHARS = 1000  # the most a page shows of one test's message


def _label(cells):
    """The result of some test cells as HTML: ``passed``, or the first failing one's status."""
    failing = next((c for c in cells if c.status != "passed"), None)
    label = "passed" if failing is None else status_label(failing.status, failing.message)
    return f'<span class="{label.replace(" ", "")}">{pages.escape(label)}</span>'


def _first_line(message):
    return pages.escape(pages.clip(message.splitlines()[0], _MESSAGE_CHARS)) if message else ""


def _within(parts, limit):
    """``parts`` (HTML) up to ``limit`` characters in all, then a note saying the rest is cut."""
    kept, size = [], 0
    for part in parts:
        size += len(part)
        if size > limit:
            kept.append(
                f'<p class="meta">[cut: the rest of this page is not shown: it would be more '
                f"than {limit // 10**6} MB]</p>"
            )
            break
        kept.append(part)
    return kept


def _exercise_section(name, points, cells, solution):
    score, top = points
    parts = [f'<h2 id="{pages.escape(name)}">{pages.escape(name)}: {score:g} / {top:g}</h2>']
    if solution is not None:
        parts += ["<h3>Your answer</h3>", pages.code(solution.source)]
        parts.append(pages.outputs(solution.get("outputs", [])))
    rows = [
        [
            pages.escape(cell.grade_id),
            _label([cell]),
            f"{cell.score:g} / {cell.max_score:g}",
            _first_line(cell.message),
        ]
        for cell in cells
    ]
    parts += ["<h3>Tests</h3>", pages.table(["test", "result", "points", "message"], rows)]
    return "\n".join(parts)


def feedback_page(student, result, autograded):
    """The HTML feedback page of one student.

    Args:
        student: the student's id.
        result: their :class:`~course.grading.results.NotebookResult` (nbgrader's score
            and maximum for the notebook).
        autograded: their autograded notebook (hidden tests already removed from it).

    Returns:
        The page as a string.
    """
    title = f"{result.assignment} / {result.notebook}: feedback for {student}"
    cells_of, per = result.cells_by_exercise(), result.by_exercise()
    summary = [
        [
            f'<a href="#{pages.escape(name)}">{pages.escape(name)}</a>',
            f"{per[name][0]:g} / {per[name][1]:g}",
            _label(cells),
        ]
        for name, cells in cells_of.items()
    ]
    todo = revisit(result)
    body = [
        f"<h1>{pages.escape(title)}</h1>",
        '<p class="meta">Graded with the hidden tests; their code and expected values are '
        "not shown, their messages are.</p>",
        f'<p class="total">Score: {result.score:g} / {result.max_score:g}</p>',
        pages.table(["exercise", "points", "result"], summary),
        f"<p>To revisit: {pages.escape(', '.join(todo))}</p>"
        if todo
        else "<p>Nothing to revisit: every test passed.</p>",
    ]
    by_id = {nbgrader_meta(c).get("grade_id"): c for c in autograded.cells}
    for name, cells in cells_of.items():
        body.append(_exercise_section(name, per[name], cells, by_id.get(name)))
    own, shown = [], []
    for cell in autograded.cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type != "code" or meta.get("grade") or meta.get("solution"):
            continue
        if not meta.get("locked"):
            own += [pages.code(cell.source), pages.outputs(cell.get("outputs", []))]
        elif cell.get("outputs"):
            label = pages.escape(meta.get("grade_id", "a cell"))
            shown += [f"<h3>{label}</h3>", pages.outputs(cell.outputs)]
    if own:
        body += ["<h2>Your other cells</h2>", *own]
    if shown:
        body += ["<h2>What your notebook showed</h2>", *shown]
    return pages.page(title, "\n".join(_within(body, PAGE_CHARS)))


def write_feedback(root, assignment, students=None, progress=None):
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
