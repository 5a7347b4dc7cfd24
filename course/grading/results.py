"""Grading results: per test cell, notebook, assignment and class run (the grader's model).

How they are shown is elsewhere: :mod:`course.grading.text` (terminal) and
:mod:`course.grading.pages` (HTML).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from course.grading.notebooks import exercise_of

if TYPE_CHECKING:
    from collections.abc import Mapping

    from course.grading.server.messages import Output

__all__ = [
    "STATUSES",
    "CellResult",
    "NotebookResult",
    "AssignmentResult",
    "ExerciseCheck",
    "CheckResult",
    "Summary",
    "cell_status",
    "status_label",
    "revisit",
    "exercise_names",
    "points_text",
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

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        if self.decided not in DECIDERS:
            raise ValueError(f"decided must be one of {DECIDERS}, got {self.decided!r}")


class _Totals:
    """Scores of a result made of cells: totals, and per exercise (``cells_by_exercise``)."""

    @property
    def score(self) -> float:
        return sum(c.score for c in self.cells)

    @property
    def max_score(self) -> float:
        return sum(c.max_score for c in self.cells)

    def by_exercise(self) -> dict[str, tuple[float, float]]:
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

    def cells_by_exercise(self) -> dict[str, list[CellResult]]:
        """``{exercise: [CellResult, ...]}`` in exercise order.

        A test cell that belongs to no exercise is an exercise of its own, named by its id.
        """
        groups: dict[str, list[CellResult]] = {name: [] for name in self.exercises}
        for cell in self.cells:
            name = (
                self.tested.get(cell.grade_id)
                or exercise_of(cell.grade_id, self.exercises)
                or cell.grade_id
            )
            groups.setdefault(name, []).append(cell)
        return groups

    def to_json(self) -> dict[str, Any]:
        """The object ``course grade --json`` prints (its fields are a public format: keep them)."""
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
    def cells(self) -> list[CellResult]:
        """Every notebook's cells, in notebook order."""
        return [cell for nb in self.notebooks for cell in nb.cells]

    def notebook(self, notebook_id: str) -> NotebookResult:
        """The result of the notebook ``notebook_id``."""
        return next(nb for nb in self.notebooks if nb.notebook == notebook_id)

    def cells_by_exercise(self) -> dict[str, list[CellResult]]:
        """``{exercise: [CellResult, ...]}`` over every notebook, in notebook order."""
        several = len(self.notebooks) > 1
        return {
            f"{nb.notebook}/{name}" if several else name: cells
            for nb in self.notebooks
            for name, cells in nb.cells_by_exercise().items()
        }

    def to_json(self) -> dict[str, Any]:
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

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")


@dataclass
class CheckResult:
    """The outcome of ``course check`` on one notebook: its exercises in notebook order."""

    assignment: str
    notebook: str
    exercises: list[ExerciseCheck] = field(default_factory=list)

    @property
    def passed(self) -> int:
        """How many exercises pass their visible checks."""
        return sum(ex.status == "passed" for ex in self.exercises)

    def to_json(self) -> dict[str, Any]:
        """The object ``course check --json`` prints."""
        return {
            "assignment": self.assignment,
            "notebook": self.notebook,
            "passed": self.passed,
            "exercises": [asdict(ex) for ex in self.exercises],
        }


@dataclass
class Summary:
    """What a class run (``course autograde``) did: results, unreadable submissions, skips
    and timings."""

    assignment: str
    # student -> their result, the skipped students' included
    results: dict[str, AssignmentResult] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # student -> message
    # student -> notebooks not handed in (0 points)
    missing: dict[str, list[str]] = field(default_factory=dict)
    graded: list[str] = field(default_factory=list)  # students graded in this run
    skipped: list[str] = field(default_factory=list)  # students already graded and unchanged
    regraded: dict[str, list[str]] = field(default_factory=dict)  # why -> students graded again
    own_seconds: dict[str, float] = field(default_factory=dict)  # student -> their cells' time
    wall_seconds: float = 0.0
    # from the start of the run until the first servers were ready to take a submission
    start_seconds: float = 0.0
    workers: int = 1


def cell_status(outputs: list[Output]) -> tuple[str, str]:
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


def points_text(x: float) -> str:
    """Points as the grader writes them: ``1``, ``2.5``."""
    return f"{x:g}"


def status_label(status: str, message: str) -> str:
    """How a status reads in a table: ``not done`` for code still raising the stub's error."""
    return "not done" if status == "error" and message == _NOT_IMPLEMENTED else status


def revisit(result: NotebookResult | AssignmentResult) -> list[str]:
    """The exercises of ``result`` that lost points, as ``name (score/max)`` strings.

    Exercises graded only by hand are not listed: their points are not decided yet.

    Args:
        result: a :class:`NotebookResult` or an :class:`AssignmentResult`.
    """
    cells_of = result.cells_by_exercise()
    return [
        f"{name} ({points_text(score)}/{points_text(top)})"
        for name, (score, top) in result.by_exercise().items()
        if score < top and any(c.status != "manual" for c in cells_of[name])
    ]


def exercise_names(results: Mapping[str, NotebookResult | AssignmentResult]) -> list[str]:
    """The exercises of some results (``{student: AssignmentResult}``), in notebook order."""
    names: list[str] = []
    for result in results.values():
        names += [n for n in result.by_exercise() if n not in names]
    return names
