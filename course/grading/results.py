"""Grading results: per test cell, per notebook, and how they are shown."""

from dataclasses import asdict, dataclass, field

from course.grading.notebooks import exercise_of
from course.grading.untrusted import printable
from course.testing import colour as paint

__all__ = [
    "STATUSES",
    "CellResult",
    "NotebookResult",
    "AssignmentResult",
    "ExerciseCheck",
    "CheckResult",
    "cell_status",
    "status_label",
    "revisit",
    "exercise_names",
    "format_result",
    "format_check",
    "format_class_table",
    "format_summary",
    "submissions",
]

# "manual": a cell nbgrader leaves to the instructor (a manually graded answer or a task)
STATUSES = ("passed", "failed", "error", "timeout", "missing", "manual")
DECIDERS = ("judge", "sandbox")  # which side's run of a test cell decided its result

_NOT_IMPLEMENTED = (
    "not done yet: write your code where it says # YOUR CODE HERE and delete the line "
    "raise NotImplementedError()"
)


@dataclass
class CellResult:
    """The outcome of one graded cell (a test cell, or a cell graded by hand).

    ``message`` is for the student; ``note`` is for the instructor (a locked cell the
    student edited, which was graded as the instructor wrote it); ``decided`` says which
    run of a test cell decided its result, the judge's or the sandboxed student's.
    """

    grade_id: str
    score: float
    max_score: float
    status: str
    message: str = ""
    decided: str = "judge"
    note: str = ""

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        if self.decided not in DECIDERS:
            raise ValueError(f"decided must be one of {DECIDERS}, got {self.decided!r}")


class _Totals:
    """Scores of a result made of cells: totals, and per exercise (``cells_by_exercise``)."""

    @property
    def score(self):
        return sum(c.score for c in self.cells)

    @property
    def max_score(self):
        return sum(c.max_score for c in self.cells)

    def by_exercise(self):
        """``{exercise: (score, max_score)}`` in exercise order."""
        return {
            name: (sum(c.score for c in cells), sum(c.max_score for c in cells))
            for name, cells in self.cells_by_exercise().items()
        }


@dataclass
class NotebookResult(_Totals):
    """The outcome of one notebook: its graded cells in notebook order.

    ``tested`` maps a test cell's grade_id to the exercise it tests
    (:func:`~course.grading.notebooks.tested_exercises`); without an entry, a test cell
    named ``test_<f>`` belongs to ``f``.
    """

    assignment: str
    notebook: str
    cells: list[CellResult] = field(default_factory=list)
    exercises: list[str] = field(default_factory=list)
    tested: dict[str, str] = field(default_factory=dict)

    def cells_by_exercise(self):
        """``{exercise: [CellResult, ...]}`` in exercise order.

        A test cell that belongs to no exercise is an exercise of its own, named by its id.
        """
        groups = {name: [] for name in self.exercises}
        for cell in self.cells:
            name = (
                self.tested.get(cell.grade_id)
                or exercise_of(cell.grade_id, self.exercises)
                or cell.grade_id
            )
            groups.setdefault(name, []).append(cell)
        return groups

    def to_json(self):
        """The object ``course grade --json`` prints (DESIGN.md section 5)."""
        return {
            "assignment": self.assignment,
            "notebook": self.notebook,
            "score": self.score,
            "max_score": self.max_score,
            "cells": [asdict(c) for c in self.cells],
        }


@dataclass
class AssignmentResult(_Totals):
    """One student's outcome on an assignment: one :class:`NotebookResult` per notebook.

    Scores and maxima are nbgrader's: the sum over the assignment's notebooks, a notebook
    not handed in included (its cells are ``missing``, worth 0). Exercises are named
    ``notebook/exercise`` when the assignment has several notebooks.
    """

    assignment: str
    notebooks: list[NotebookResult] = field(default_factory=list)

    @property
    def cells(self):
        """Every notebook's cells, in notebook order."""
        return [cell for nb in self.notebooks for cell in nb.cells]

    def notebook(self, notebook_id):
        """The result of the notebook ``notebook_id``."""
        return next(nb for nb in self.notebooks if nb.notebook == notebook_id)

    def cells_by_exercise(self):
        """``{exercise: [CellResult, ...]}`` over every notebook, in notebook order."""
        several = len(self.notebooks) > 1
        return {
            f"{nb.notebook}/{name}" if several else name: cells
            for nb in self.notebooks
            for name, cells in nb.cells_by_exercise().items()
        }

    def to_json(self):
        """``{"assignment", "score", "max_score", "notebooks": [notebook objects]}``."""
        return {
            "assignment": self.assignment,
            "score": self.score,
            "max_score": self.max_score,
            "notebooks": [nb.to_json() for nb in self.notebooks],
        }


@dataclass
class ExerciseCheck:
    """The verdict of one exercise's visible checks (``course check``)."""

    exercise: str
    status: str
    points: float  # what the exercise's test cells, hidden ones included, are worth
    message: str = ""

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")


@dataclass
class CheckResult:
    """The outcome of ``course check`` on one notebook: its exercises in notebook order."""

    assignment: str
    notebook: str
    exercises: list[ExerciseCheck] = field(default_factory=list)

    @property
    def passed(self):
        """How many exercises pass their visible checks."""
        return sum(ex.status == "passed" for ex in self.exercises)

    def to_json(self):
        """The object ``course check --json`` prints."""
        return {
            "assignment": self.assignment,
            "notebook": self.notebook,
            "passed": self.passed,
            "exercises": [asdict(ex) for ex in self.exercises],
        }


def cell_status(outputs):
    """Status and message of an executed test cell, from its outputs.

    Args:
        outputs: the cell's nbformat outputs after execution.

    Returns:
        ``(status, message)``: ``passed`` with an empty message when no error was raised;
        otherwise ``failed`` (a check failed, or the cell wrote to stderr), ``timeout``, or
        ``error`` (any other exception), with the exception's message.
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


def status_label(status, message):
    """How a status reads in a table: ``not done`` for code still raising the stub's error."""
    return "not done" if status == "error" and message == _NOT_IMPLEMENTED else status


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
            cells.append(paint(text, name) if colour and name else text)
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def _message_lines(message, first_only):
    """A message under its table row: ``-> first line``, then the others indented."""
    lines = printable(message, lines=True).splitlines()  # only "\n" is left to split on
    lines = lines[:1] if first_only else lines
    return [f"    -> {lines[0]}", *(f"       {line}" for line in lines[1:])] if lines else []


def revisit(result):
    """The exercises of ``result`` that lost points, as ``name (score/max)`` strings.

    Exercises graded only by hand are not listed: their points are not decided yet.

    Args:
        result: a :class:`NotebookResult` or an :class:`AssignmentResult`.
    """
    cells_of = result.cells_by_exercise()
    return [
        f"{name} ({_fmt_points(score)}/{_fmt_points(top)})"
        for name, (score, top) in result.by_exercise().items()
        if score < top and any(c.status != "manual" for c in cells_of[name])
    ]


def format_result(result, colour=False):
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
        points = f"{_fmt_points(score)}/{_fmt_points(top)}"
        rows.append([(name, "bold"), "", (points, _points_colour(score, top))])
        messages.append("")
        for cell in cells_of[name]:
            label = status_label(cell.status, cell.message)
            cell_points = f"{_fmt_points(cell.score)}/{_fmt_points(cell.max_score)}"
            rows.append([f"  {cell.grade_id}", (label, _label_colour(label)), cell_points])
            messages.append(cell.message)
    title = f"{result.assignment} / {result.notebook}: graded with the hidden tests"
    lines = [printable(title), ""]
    table = _columns(rows, colour)
    lines += table[:2]
    for line, message in zip(table[2:], messages[1:]):
        lines += [line, *_message_lines(message, first_only=True)]
    total = f"total: {_fmt_points(result.score)}/{_fmt_points(result.max_score)}"
    by_hand = sum(c.max_score for c in result.cells if c.status == "manual")
    if by_hand:
        total += (
            f" ({_fmt_points(by_hand)} of these points are graded by the instructor, "
            "not by the autograder)"
        )
    lines += ["", paint(total, "bold") if colour else total]
    todo = revisit(result)
    lines.append(
        printable(f"revisit: {', '.join(todo)}")
        if todo
        else "nothing to revisit: every test cell passed"
    )
    return "\n".join(lines)


def format_check(result, colour=False):
    """The table ``course check`` prints: per exercise, its visible checks' verdict.

    Args:
        result: a :class:`CheckResult`.
        colour: use terminal colours.
    """
    rows = [["exercise", "result", "points"]]
    for ex in result.exercises:
        label = _check_label(ex.status, ex.message)
        rows.append([ex.exercise, (label, _label_colour(label)), _fmt_points(ex.points)])
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
    lines += ["", paint(summary, "green" if done else "bold") if colour else summary]
    return "\n".join(lines)


def exercise_names(results):
    """The exercises of some results (``{student: AssignmentResult}``), in notebook order."""
    names = []
    for result in results.values():
        names += [n for n in result.by_exercise() if n not in names]
    return names


def format_class_table(results):
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
            f"{_fmt_points(per[n][0])}/{_fmt_points(per[n][1])}" if n in per else "-" for n in names
        ]
        rows.append(
            [student, *cells, f"{_fmt_points(result.score)}/{_fmt_points(result.max_score)}"]
        )
    return "\n".join(_columns(rows))


def submissions(count):
    """``1 submission``, ``3 submissions``."""
    return f"{count} submission{'' if count == 1 else 's'}"


def format_summary(summary):
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
