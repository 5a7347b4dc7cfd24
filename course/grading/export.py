"""``course export``: grades from nbgrader's gradebook into a file the LMS imports.

Two formats, both read from the gradebook (``nbgrader.api.Gradebook``) and both usable as
nbgrader exporters, so an nbgrader user gets them without our command::

    nbgrader export --exporter=course.grading.export.CanvasExportPlugin --to canvas.csv

* ``canvas`` (:class:`CanvasExportPlugin`): the CSV file Canvas's gradebook import reads.
  The header is ``Student,ID,SIS User ID,SIS Login ID,Section`` then one column per
  assignment; the second row is ``    Points Possible`` (four leading spaces) with each
  assignment's maximum; then one row per student of nbgrader's student table.

  - *Student* is the name as Canvas writes it, ``Last, First``; *ID* is the student's
    ``lms_user_id`` (Canvas's user id) when the gradebook has one: Canvas matches a row by
    *ID* first, then by *SIS User ID* (left empty: nbgrader does not hold it), then by *SIS
    Login ID* (nbgrader's student id: on a JupyterHub run from the LMS, the login), then
    by the name. Canvas shows the matches for the instructor to confirm before it imports.
  - An assignment's column is titled ``<name> (<maximum> pts)``. Canvas reads a title that
    ends with a number in parentheses, ``week1 (30)``, as the Canvas id of an existing
    assignment (``Assignment.title_and_id`` in canvas-lms): ``pts`` keeps ours a title, so
    the first import creates the assignment (its points from the Points Possible row) and
    the next ones, with the same title, update it.
  - A student without a submission has an empty cell (Canvas leaves the grade as it is; a
    0 would grade the work as handed in and worth nothing). A late submission's score has
    its late penalty taken off as nbgrader's own exporter does it: ``max(0, score -
    late_submission_penalty)``, the penalty the gradebook recorded at autograding
    (``LateSubmissionPlugin`` or the course's own).
* ``csv`` (:func:`nbgrader_csv`): ``nbgrader export``'s own columns, by nbgrader's
  ``CsvExportPlugin``, every assignment asked for.

In both, a student's own text (names, ids) is made safe for a spreadsheet (no control
character, no formula, commas quoted: :func:`~course.grading.untrusted.csv_field`). The
files are UTF-8. Each ``course export`` records what it wrote in ``reports/exports.json``,
so that ``course report`` can list the export files that hold an assignment.
"""

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import CsvExportPlugin, ExportPlugin

from course.grading import nbgrader_driver as driver
from course.grading.untrusted import csv_field

__all__ = [
    "CanvasExportPlugin",
    "FORMATS",
    "CANVAS_HEADER",
    "POINTS_POSSIBLE",
    "canvas_title",
    "csv_safe",
    "nbgrader_csv",
    "export",
    "default_output",
    "recorded_exports",
]

FORMATS = ("canvas", "csv")
CANVAS_HEADER = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
POINTS_POSSIBLE = "    Points Possible"  # Canvas finds this row by "Points Possible" in it
_RECORD = Path("reports") / "exports.json"


def _number(value: float) -> str:
    """A score as Canvas reads it: plain decimal, up to 4 places (``27.5``, ``30``)."""
    return f"{value:.4f}".rstrip("0").rstrip(".")


def canvas_title(name: str, max_score: float) -> str:
    """An assignment's column title: ``week1 (30 pts)`` (see the module's docstring)."""
    return f"{name} ({_number(max_score)} pts)"


def _student_name(student: Any) -> str:
    """``Last, First`` as Canvas writes a name (one of them alone when the other is unset;
    nbgrader's id when both are)."""
    parts = [p for p in (student.last_name, student.first_name) if p]
    return ", ".join(parts) if parts else student.id


def _chosen(items: list[Any], wanted: Iterable[str], what: str) -> list[Any]:
    """The items named in ``wanted`` (in that order), or all of them when it is empty."""
    wanted = [str(name) for name in wanted]
    if not wanted:
        return items
    by_name = {item.name if what == "assignment" else item.id: item for item in items}
    unknown = [name for name in wanted if name not in by_name]
    if unknown:
        raise ValueError(
            f"no {what} {', '.join(unknown)} in the gradebook (known: "
            f"{', '.join(by_name) or 'none'}); release the assignment (course release) and "
            f"autograde it first"
        )
    return [by_name[name] for name in dict.fromkeys(wanted)]


class CanvasExportPlugin(ExportPlugin):
    """nbgrader's exporter of a Canvas gradebook import file (``--to``, default canvas.csv).

    ``--assignment`` and ``--student`` narrow it, as they narrow nbgrader's CSV exporter.
    """

    def export(self, gradebook: Gradebook) -> None:
        dest = self.to or "canvas.csv"
        assignments = _chosen(gradebook.assignments, self.assignment, "assignment")
        students = _chosen(gradebook.students, self.student, "student")
        rows = [
            [*CANVAS_HEADER, *(canvas_title(a.name, a.max_score) for a in assignments)],
            [POINTS_POSSIBLE, "", "", "", "", *(_number(a.max_score) for a in assignments)],
        ]
        for student in students:
            cells = [_student_name(student), student.lms_user_id or "", "", student.id, ""]
            for assignment in assignments:
                try:
                    submission = gradebook.find_submission(assignment.name, student.id)
                except MissingEntry:
                    cells.append("")
                    continue
                penalty = submission.late_submission_penalty or 0.0
                cells.append(_number(max(0.0, submission.score - penalty)))
            rows.append(cells)
        self.log.info("Exporting grades for Canvas to %s", dest)
        with open(dest, "w", encoding="utf-8", newline="") as out:
            out.writelines(",".join(csv_field(cell) for cell in row) + "\r\n" for row in rows)


class _CsvText(str):
    """A student's own text (an id, a name), itself, that formats as a safe CSV field.

    nbgrader's exporter writes ``",".join`` of its fields formatted with ``str.format``,
    unquoted: a student id ``=HYPERLINK(...)`` would be a formula, one holding a comma or
    a line break would add columns or rows. As a value this is the text itself (the
    exporter looks the student's submission up with it); formatted, it is
    :func:`csv_field`'s.
    """

    def __format__(self, spec):
        return format(csv_field(str(self)), spec)


def csv_safe(gradebook: Gradebook) -> SimpleNamespace:
    """The gradebook as nbgrader's CSV exporter reads it, its students' text made safe."""
    students = [
        SimpleNamespace(
            **{
                key: None if getattr(s, key) is None else _CsvText(getattr(s, key))
                for key in ("id", "last_name", "first_name", "email")
            }
        )
        for s in gradebook.students
    ]
    return SimpleNamespace(
        assignments=gradebook.assignments,
        students=students,
        find_submission=gradebook.find_submission,
    )


def nbgrader_csv(gradebook: Gradebook, assignments: list[str], path: Path | str) -> None:
    """Write ``nbgrader export``'s CSV of ``assignments`` (nbgrader's exporter) to ``path``."""
    CsvExportPlugin(to=str(path), assignment=list(assignments)).export(csv_safe(gradebook))


def default_output(root: Path | str, fmt: str) -> Path:
    """Where ``course export`` writes without ``--output``: ``reports/<canvas|grades>.csv``."""
    return Path(root) / "reports" / ("canvas.csv" if fmt == "canvas" else "grades.csv")


def _record(root, path, fmt, assignments):
    """Note in ``reports/exports.json`` that ``path`` now holds ``assignments``."""
    record = Path(root) / _RECORD
    try:
        known = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    known[str(path)] = {
        "format": fmt,
        "assignments": list(assignments),
        "written": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(known, indent=2) + "\n", encoding="utf-8")


def recorded_exports(root: Path | str, assignment: str) -> list[Path]:
    """The files ``course export`` wrote that hold ``assignment`` and are still there."""
    try:
        known = json.loads((Path(root) / _RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(known, dict):
        return []
    return sorted(
        Path(path)
        for path, entry in known.items()
        if isinstance(entry, dict)
        and assignment in entry.get("assignments", [])
        and Path(path).is_file()
    )


def export(
    root: Path | str, assignments: list[str], fmt: str = "canvas", output: Path | str | None = None
) -> Path:
    """Write the grades of ``assignments`` from the gradebook in format ``fmt``.

    Args:
        root: the course directory.
        assignments: assignment names (at least one), in the order of the file's columns.
        fmt: ``"canvas"`` or ``"csv"`` (see the module's docstring).
        output: the file to write (default: :func:`default_output`).

    Returns:
        The path written (absolute).

    Raises:
        CourseError: an unknown format or assignment, or one not in the gradebook yet.
    """
    root = Path(root)
    if fmt not in FORMATS:
        raise driver.CourseError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    for assignment in assignments:
        driver.check_assignment(root, assignment)
    path = Path(output).resolve() if output else default_output(root, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    with driver.nbgrader_api(root) as api:
        missing = [a for a in assignments if not driver.in_gradebook(api, a)]
        if missing:
            raise driver.CourseError(
                f"{', '.join(missing)} not in the gradebook yet: run `course release` and "
                f"`course autograde ASSIGNMENT` first"
            )
        with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
            if fmt == "canvas":
                CanvasExportPlugin(to=str(path), assignment=list(assignments)).export(gb)
            else:
                nbgrader_csv(gb, assignments, path)
    _record(root, path, fmt, assignments)
    return path
