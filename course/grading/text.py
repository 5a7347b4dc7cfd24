"""Grading results as terminal text: tables, summaries, colours.

Every string that came from a submission is shown :func:`printable` (control characters
escaped).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from course import terminal
from course.grading.results import (
    exercise_names,
    points_text,
    revisit,
    status_label,
)
from course.grading.untrusted import printable

if TYPE_CHECKING:
    from course.grading.results import AssignmentResult, CheckResult, NotebookResult, Summary

__all__ = [
    "format_result",
    "format_check",
    "format_class_table",
    "format_summary",
    "submissions",
]


def _check_label(status, message):
    """How ``course check`` shows an exercise: its visible checks only decide ``passed``."""
    return "visible checks passed" if status == "passed" else status_label(status, message)


def _label_colour(label):
    return {
        "passed": "green",
        "visible checks passed": "green",
        "not done": "yellow",
        "manual": "yellow",
    }.get(label, "red")


def _points_colour(score, max_score):
    return "green" if score >= max_score else ("red" if score == 0 else "yellow")


def _columns(rows, colour=False):
    """Rows as lines of left-aligned columns, the first row a header underlined with dashes.

    Args:
        rows: lists of cells; a cell is a string or ``(string, colour name or None)``; its
            string is shown :func:`printable`.
        colour: paint the coloured cells (and the header in bold) for a terminal.
    """
    plain = [[printable(c if isinstance(c, str) else c[0]) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in plain) for i in range(len(plain[0]))]
    lines = []
    for i, (row, texts) in enumerate(zip(rows, plain)):
        cells = []
        for cell, text, width in zip(row, texts, widths):
            text = text.ljust(width)
            name = "bold" if i == 0 else (None if isinstance(cell, str) else cell[1])
            cells.append(terminal.colour(text, name) if colour and name else text)
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def _message_lines(message, first_only):
    """A message under its table row: ``-> first line``, then the others indented."""
    lines = printable(message, lines=True).splitlines()  # only "\n" is left to split on
    lines = lines[:1] if first_only else lines
    return [f"    -> {lines[0]}", *(f"       {line}" for line in lines[1:])] if lines else []


def format_result(result: NotebookResult, colour: bool = False) -> str:
    """A readable table of one notebook's grade: per exercise, its test cells and messages.

    Shows each test cell's status, points and the first line of its message (never a test's
    source: hidden tests' messages name the mistake without the expected values), the total,
    and the exercises to revisit.

    Args:
        result: a :class:`NotebookResult`.
        colour: use terminal colours.
    """
    rows, messages = [["exercise / test cell", "result", "points"]], [""]
    cells_of = result.cells_by_exercise()
    for name, (score, top) in result.by_exercise().items():
        points = f"{points_text(score)}/{points_text(top)}"
        rows.append([(name, "bold"), "", (points, _points_colour(score, top))])
        messages.append("")
        for cell in cells_of[name]:
            label = status_label(cell.status, cell.message)
            cell_points = f"{points_text(cell.score)}/{points_text(cell.max_score)}"
            rows.append([f"  {cell.grade_id}", (label, _label_colour(label)), cell_points])
            messages.append(cell.message)
    title = f"{result.assignment} / {result.notebook}: graded with the hidden tests"
    lines = [printable(title), ""]
    table = _columns(rows, colour)
    lines += table[:2]
    for line, message in zip(table[2:], messages[1:]):
        lines += [line, *_message_lines(message, first_only=True)]
    total = f"total: {points_text(result.score)}/{points_text(result.max_score)}"
    by_hand = sum(c.max_score for c in result.cells if c.status == "manual")
    if by_hand:
        total += (
            f" ({points_text(by_hand)} of these points are graded by the instructor, "
            "not by the autograder)"
        )
    lines += ["", terminal.colour(total, "bold") if colour else total]
    todo = revisit(result)
    lines.append(
        printable(f"revisit: {', '.join(todo)}")
        if todo
        else "nothing to revisit: every test cell passed"
    )
    return "\n".join(lines)


def format_check(result: CheckResult, colour: bool = False) -> str:
    """The table ``course check`` prints: per exercise, its visible checks' verdict.

    Args:
        result: a :class:`CheckResult`.
        colour: use terminal colours.
    """
    rows = [["exercise", "result", "points"]]
    for ex in result.exercises:
        label = _check_label(ex.status, ex.message)
        rows.append([ex.exercise, (label, _label_colour(label)), points_text(ex.points)])
    lines = [
        printable(
            f"{result.assignment} / {result.notebook}: the visible checks (the hidden tests "
            "decide the grade: `course grade` runs them)"
        ),
        "",
    ]
    table = _columns(rows, colour)
    lines += table[:2]
    said = set()
    for line, ex in zip(table[2:], result.exercises):
        lines.append(line)
        if ex.message not in said:  # "not done yet: ..." once, not under every exercise
            lines += _message_lines(ex.message, first_only=False)
            said.add(ex.message)
    done = result.passed == len(result.exercises)
    summary = f"{result.passed} of {len(result.exercises)} exercises pass their visible checks" + (
        "." if done else "; the message under an exercise names the first check it fails."
    )
    lines += ["", terminal.colour(summary, "green" if done else "bold") if colour else summary]
    return "\n".join(lines)


def format_class_table(results: Mapping[str, AssignmentResult | NotebookResult]) -> str:
    """A table with one row per student and one column per exercise, plus the total.

    Args:
        results: dict ``{student: AssignmentResult}`` (or ``NotebookResult``).

    Returns:
        The table as a string.
    """
    names = exercise_names(results)
    rows = [["student", *names, "total"]]
    for student, result in sorted(results.items()):
        per = result.by_exercise()
        cells = [
            f"{points_text(per[n][0])}/{points_text(per[n][1])}" if n in per else "-" for n in names
        ]
        rows.append(
            [student, *cells, f"{points_text(result.score)}/{points_text(result.max_score)}"]
        )
    return "\n".join(_columns(rows))


def submissions(count: int) -> str:
    """``1 submission``, ``3 submissions``."""
    return f"{count} submission{'' if count == 1 else 's'}"


def format_summary(summary: Summary) -> str:
    """The closing lines of a class run: counts, time, why submissions graded before were
    graded again, and each submission not graded (one line each, :func:`printable`)."""
    graded, skipped, errors = len(summary.graded), len(summary.skipped), summary.errors
    lines = [
        f"{summary.assignment}: {graded} graded now, {skipped} unchanged since their last "
        f"grading (--force grades them again), {len(errors)} could not be graded; "
        f"{summary.wall_seconds:.1f} s" + (f" on {summary.workers} workers" if graded else "")
    ]
    lines += [
        f"  graded again, {why}: {submissions(len(students))}"
        for why, students in summary.regraded.items()
    ]
    lines += [f"  not graded: {student}: {message}" for student, message in sorted(errors.items())]
    lines += [
        f"  not handed in: {student}: {', '.join(f'{nb}.ipynb' for nb in notebooks)} (0 points)"
        for student, notebooks in sorted(summary.missing.items())
    ]
    return "\n".join(printable(line) for line in lines)
