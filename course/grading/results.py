"""Grading results: per test cell, per notebook, and how they are shown."""

from dataclasses import asdict, dataclass, field

from course.grading.notebooks import exercise_of

__all__ = [
    "STATUSES",
    "CellResult",
    "NotebookResult",
    "cell_status",
    "format_result",
    "format_class_table",
    "format_summary",
]

STATUSES = ("passed", "failed", "error", "timeout", "missing", "tampered")

_NOT_IMPLEMENTED = (
    "not done yet: write your code where it says # YOUR CODE HERE and delete the line "
    "raise NotImplementedError()"
)


@dataclass
class CellResult:
    """The outcome of one test cell."""

    grade_id: str
    score: float
    max_score: float
    status: str
    message: str = ""

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")


@dataclass
class NotebookResult:
    """The outcome of one notebook: its test cells in notebook order."""

    assignment: str
    notebook: str
    cells: list[CellResult] = field(default_factory=list)
    exercises: list[str] = field(default_factory=list)

    @property
    def score(self):
        return sum(c.score for c in self.cells)

    @property
    def max_score(self):
        return sum(c.max_score for c in self.cells)

    def by_exercise(self):
        """``{exercise: (score, max_score)}`` in exercise order."""
        totals = {name: [0.0, 0.0] for name in self.exercises}
        for cell in self.cells:
            name = exercise_of(cell.grade_id, self.exercises) or cell.grade_id
            total = totals.setdefault(name, [0.0, 0.0])
            total[0] += cell.score
            total[1] += cell.max_score
        return {name: tuple(t) for name, t in totals.items()}

    def to_json(self):
        """The object ``course grade --json`` prints (DESIGN.md section 5)."""
        return {
            "assignment": self.assignment,
            "notebook": self.notebook,
            "score": self.score,
            "max_score": self.max_score,
            "cells": [asdict(c) for c in self.cells],
        }


def cell_status(outputs):
    """Status and message of an executed test cell, from its outputs.

    Args:
        outputs: the cell's nbformat outputs after execution.

    Returns:
        ``(status, message)``: ``passed`` with an empty message when no error was raised;
        otherwise ``tampered`` (the grader's own run of the visible checks failed where the
        notebook's passed), ``failed`` (a check failed), ``timeout``, or ``error`` (any other
        exception), with the exception's message.
    """
    errors = [o for o in outputs if o.get("output_type") == "error"]
    if not errors:
        stderr = [
            o for o in outputs if o.get("output_type") == "stream" and o.get("name") == "stderr"
        ]
        if stderr:  # nbgrader gives 0 to a test cell that writes to stderr
            first = (str(stderr[0].get("text", "")).strip().splitlines() or [""])[0]
            return "failed", f"the cell wrote to stderr, which counts as a failure: {first}"
        return "passed", ""
    if errors[0].get("ename") == "TamperingDetected":  # course.grading.executor.TAMPERED
        return "tampered", str(errors[0].get("evalue", ""))
    ename, evalue = errors[-1].get("ename", ""), str(errors[-1].get("evalue", "")).strip()
    if ename in ("CellTimeoutError", "TimeoutError", "KeyboardInterrupt"):
        return "timeout", "the cell ran out of time: look for an endless loop or huge arrays"
    if ename in ("AssertionError", "CheckFailed"):
        return "failed", evalue or "a check failed"
    if ename == "NotImplementedError":
        return "error", _NOT_IMPLEMENTED
    return "error", f"{ename}: {evalue}" if evalue else ename


def _fmt_points(x):
    return f"{x:g}"


def format_result(result):
    """A readable table of one notebook's test cells, their messages and the total."""
    rows = [("test cell", "status", "points")]
    for c in result.cells:
        rows.append((c.grade_id, c.status, f"{_fmt_points(c.score)}/{_fmt_points(c.max_score)}"))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{result.assignment} / {result.notebook}"]
    for i, row in enumerate(rows):
        lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
        if i and result.cells[i - 1].message:
            first = result.cells[i - 1].message.splitlines()[0]
            lines.append(f"    -> {first}")
    lines.append(f"total: {_fmt_points(result.score)}/{_fmt_points(result.max_score)}")
    return "\n".join(lines)


def format_class_table(results):
    """A table with one row per student and one column per exercise, plus the total.

    Args:
        results: dict ``{student: NotebookResult}``.

    Returns:
        The table as a string.
    """
    names = []
    for result in results.values():
        names += [n for n in result.by_exercise() if n not in names]
    header = ["student", *names, "total"]
    rows = []
    for student, result in sorted(results.items()):
        per = result.by_exercise()
        cells = [
            f"{_fmt_points(per[n][0])}/{_fmt_points(per[n][1])}" if n in per else "-" for n in names
        ]
        rows.append(
            [student, *cells, f"{_fmt_points(result.score)}/{_fmt_points(result.max_score)}"]
        )
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip() for r in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_summary(summary):
    """The closing lines of a class run: counts, time, and each submission not graded."""
    graded, skipped, errors = len(summary.graded), len(summary.skipped), summary.errors
    lines = [
        f"{summary.assignment}: {graded} graded now, {skipped} unchanged since their last "
        f"grading (--force grades them again), {len(errors)} could not be graded; "
        f"{summary.wall_seconds:.1f} s" + (f" on {summary.workers} workers" if graded else "")
    ]
    lines += [f"  not graded: {student}: {message}" for student, message in sorted(errors.items())]
    return "\n".join(lines)
