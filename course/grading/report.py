"""``course report``: what a class did on one assignment, in ``reports/<assignment>/``.

* ``grades.csv``: written by nbgrader's own CSV exporter, so it has the columns (and rows)
  of ``nbgrader export``, with the students' own text (ids from folder names, names,
  emails) made safe: no control character, no formula for a spreadsheet, commas quoted;
* ``scores.png``: a histogram of the autograded students' total scores;
* ``pass_rates.png``: for each exercise, the share of students with all of its points;
* ``index.html``: links to the similarity page (``course similarity``) and to the files
  ``course export`` wrote that hold the assignment, with their paths; both figures, the
  numbers behind them, the most common failure messages of each exercise with how many
  students got them (the mistakes the class makes), and a table of every student's points
  per exercise.

Only the first line of a message is counted and shown: a hidden test's message names the
mistake without its expected values.
"""

import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from statistics import mean, median

from course.grading import nbgrader_driver as driver
from course.grading import pages, similarity
from course.grading.results import AssignmentResult, exercise_names

__all__ = ["write_report", "failure_messages", "pass_rates", "TOP_MESSAGES", "MESSAGE_CHARS"]

TOP_MESSAGES = 5  # failure messages listed per exercise
MESSAGE_CHARS = 300  # the most shown of a message: longer ones are cut, with a note


def pass_rates(results: dict[str, AssignmentResult]) -> dict[str, float]:
    """``{exercise: share of students with all its points}``, in exercise order.

    Args:
        results: ``{student: AssignmentResult}`` (not empty).
    """
    rates = {}
    for name in exercise_names(results):
        points = [r.by_exercise()[name] for r in results.values() if name in r.by_exercise()]
        rates[name] = sum(score >= top for score, top in points) / len(points)
    return rates


def failure_messages(results: dict[str, AssignmentResult]) -> dict[str, Counter]:
    """``{exercise: Counter({message: students})}``: who got which message, per exercise.

    A student counts once per distinct message of an exercise, however many of its test
    cells say it. Messages are cut to :data:`MESSAGE_CHARS` (:func:`pages.clip`).
    """
    counts = {}
    for result in results.values():
        for name, cells in result.cells_by_exercise().items():
            said = {
                pages.clip(c.message.splitlines()[0], MESSAGE_CHARS)
                for c in cells
                if c.status != "passed" and c.message
            }
            counts.setdefault(name, Counter()).update(said)
    return counts


def _figures(folder, results, rates):
    """Write ``scores.png`` and ``pass_rates.png``; return their file names."""
    import numpy as np
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, nothing global

    totals = [r.score for r in results.values()]
    top = max(r.max_score for r in results.values())
    fig = Figure(figsize=(6.4, 3.4), layout="constrained")
    ax = fig.subplots()
    ax.hist(totals, bins=np.arange(-0.5, top + 1.5, 1.0), color="#4878d0", edgecolor="white")
    ax.set(xlabel=f"total score (out of {top:g})", ylabel="students", title="Total scores")
    ax.set_xlim(-0.5, top + 0.5)
    ax.yaxis.get_major_locator().set_params(integer=True)
    fig.savefig(folder / "scores.png", dpi=100)

    names = list(rates)
    fig = Figure(figsize=(6.4, 0.45 * len(names) + 1.2), layout="constrained")
    ax = fig.subplots()
    shares = [100 * rates[n] for n in names]
    ax.barh(names, shares, color="#6acc64")
    for y, share in enumerate(shares):
        ax.text(min(share + 1, 88), y, f"{share:.0f}%", va="center")
    ax.set(xlim=(0, 100), xlabel="students with all the exercise's points (%)")
    ax.set_title("Pass rate per exercise")
    ax.invert_yaxis()  # the first exercise on top
    fig.savefig(folder / "pass_rates.png", dpi=100)
    return "scores.png", "pass_rates.png"


def _html(assignment, notebooks, results, rates, messages, errors, links):
    """``index.html``: the page ``report.html`` shows for the class's results."""
    totals = [r.score for r in results.values()]
    names = list(rates)
    exercises = []
    for name, rate in rates.items():
        points = [r.by_exercise()[name] for r in results.values() if name in r.by_exercise()]
        exercises.append(
            {
                "name": name,
                "points": points[0][1],
                "rate": rate,
                "mean": mean(score for score, _ in points),
                "messages": messages.get(name, Counter()).most_common(TOP_MESSAGES),
            }
        )
    students = []
    for student, result in sorted(results.items()):
        per = result.by_exercise()
        students.append(
            {
                "id": student,
                "points": [per[n][0] if n in per else None for n in names],
                "total": result.score,
            }
        )
    return pages.render(
        "report.html",
        title=f"{assignment} / {', '.join(notebooks)}: class report",
        autograded=len(results),
        top=max(r.max_score for r in results.values()),  # nbgrader's: the same for everyone
        totals={
            "mean": mean(totals),
            "median": median(totals),
            "lowest": min(totals),
            "highest": max(totals),
        },
        exercises=exercises,
        students=students,
        errors=sorted(errors.items()),
        message_chars=MESSAGE_CHARS,
        links=links,
    )


def _links(root, folder, assignment):
    """``[{"href", "what", "path"}]``: the similarity page (when written) and the export
    files that hold ``assignment``, for ``index.html`` to link to."""
    from course.grading import export  # nbgrader's exporters: imported when used

    items = []
    page = similarity.page_path(root, assignment)
    if page.is_file():
        items.append({"href": "similarity.html", "what": "code similarity", "path": page})
    for path in export.recorded_exports(root, assignment):
        href = Path(os.path.relpath(path, folder)).as_posix()
        href = href if href.startswith("../") else f"./{href}"  # a path, never a URL scheme
        items.append({"href": href, "what": "grades export", "path": path})
    return items


def write_report(
    root: Path | str, assignment: str, progress: Callable[..., None] | None = None
) -> tuple[Path, dict[str, str]]:
    """Write ``reports/<assignment>/``: grades.csv, two figures and index.html.

    Args:
        root: the course directory.
        assignment: the assignment's name.
        progress: optional callable ``progress(event, student, total=None)`` with ``event``
            one of ``"start"``, ``"done"``, ``"error"``.

    Returns:
        ``(folder, errors)``: the report's folder, and ``{student: why they are not in
        it}`` for autograded students whose grades could not be read.

    Raises:
        CourseError: the assignment is unknown or nothing of it is autograded.
    """
    root = Path(root)
    driver.check_assignment(root, assignment)
    students = driver.autograded_students(root, assignment)
    folder = root / "reports" / assignment
    folder.mkdir(parents=True, exist_ok=True)
    results, errors = {}, {}
    if progress:
        progress("start", None, len(students))
    with driver.nbgrader_api(root) as api:
        for student in students:
            try:
                results[student] = driver.assignment_result(api, assignment, student)
            except Exception as exc:  # one student's odd files never stop the report
                errors[student] = f"{type(exc).__name__}: {exc}"
                if progress:
                    progress("error", student)
                continue
            if progress:
                progress("done", student)
        if not results:
            raise driver.CourseError(
                f"no grades of {assignment} could be read: run `course autograde {assignment}`"
            )
        from nbgrader.api import Gradebook

        from course.grading import export  # nbgrader's exporters: imported when used

        with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
            export.nbgrader_csv(gb, [assignment], folder / "grades.csv")
        notebooks = driver.gradebook_notebooks(api, assignment)
    rates = pass_rates(results)
    _figures(folder, results, rates)
    messages = failure_messages(results)
    links = _links(root, folder, assignment)
    page = _html(assignment, notebooks, results, rates, messages, errors, links)
    (folder / "index.html").write_text(page, encoding="utf-8")
    return folder, errors
