"""A test cell's status and message (``results.cell_status``), beside nbgrader's points.

nbgrader decides the points from the cell's outputs (``determine_grade``); the grader reads
the same outputs to say what happened. Each nbgrader outcome is checked here on outputs as
the grader writes them, with nbgrader's own verdict on the same cell: a cell nbgrader gives
no point for an error or a write to stderr is never ``passed``, and a cell it gives every
point is. Cells graded by hand are the model's business (``manual``), tested at the end.
"""

import nbformat
import pytest
from nbgrader.utils import determine_grade

from course.grading import protocol, session
from course.grading.results import (
    AssignmentResult,
    CellResult,
    NotebookResult,
    cell_status,
    revisit,
    status_label,
)
from course.grading.server.judge import HIDDEN_STDERR

POINTS = 3.0


def stream(text, name="stdout"):
    return {"output_type": "stream", "name": name, "text": text}


def error(ename, evalue=""):
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": []}


def result(text):
    return {
        "output_type": "execute_result",
        "data": {"text/plain": text},
        "metadata": {},
        "execution_count": 4,
    }


def nbgrader_points(outputs):
    """What nbgrader gives a test cell worth :data:`POINTS` with these outputs."""
    cell = nbformat.v4.new_code_cell(outputs=[nbformat.from_dict(o) for o in outputs])
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "points": POINTS}
    cell.metadata["nbgrader"]["grade_id"] = "test_f"
    return determine_grade(cell)[0]


# outputs -> (status, start of the message, nbgrader's points)
OUTCOMES = {
    "no output": ([], "passed", "", POINTS),
    "printed": ([stream("f(2) = 4\n")], "passed", "", POINTS),
    "a grader's note": ([protocol.note("output cut")], "passed", "", POINTS),
    "check failed": (
        [stream("x\n"), error("AssertionError", "f(2) should be 4")],
        "failed",
        "f(2) should be 4",
        0,
    ),
    "course check failed": ([error("CheckFailed", "dW has wrong values")], "failed", "dW", 0),
    "bare assert": ([error("AssertionError")], "failed", "a check failed", 0),
    "stderr": (
        [stream("first line\nsecond\n", "stderr")],
        "failed",
        "the cell wrote to stderr, which counts as a failure: first line",
        0,
    ),
    "stderr in a hidden test": (
        [stream(HIDDEN_STDERR, "stderr")],
        "failed",
        "the cell wrote to stderr, which counts as a failure: [your code wrote to stderr",
        0,
    ),
    "not done": ([error("NotImplementedError")], "error", "not done yet: write your code", 0),
    "error": ([error("ValueError", "shapes (2,3) and (2,3)")], "error", "ValueError: shapes", 0),
    "error without a message": ([error("KeyError")], "error", "KeyError", 0),
    "cell timeout": ([error("CellTimeoutError", "ran out")], "timeout", "the cell ran out", 0),
    "nbclient's timeout": ([error("TimeoutError")], "timeout", "the cell ran out of time", 0),
    "interrupted": ([error("KeyboardInterrupt")], "timeout", "the cell ran out of time", 0),
    "the last error decides": (
        [error("ValueError", "first"), error("AssertionError", "last")],
        "failed",
        "last",
        0,
    ),
    "an error after stderr": (
        [stream("warning\n", "stderr"), error("ZeroDivisionError", "division by zero")],
        "error",
        "ZeroDivisionError: division by zero",
        0,
    ),
    # partial credit: the cell's value is its points; no error, so the cell passed
    "partial credit": ([result("1.5")], "passed", "", 1.5),
    "partial credit of nothing": ([result("0")], "passed", "", 0),
    "a value that is no number": ([result("'done'")], "passed", "", POINTS),
}


@pytest.mark.parametrize("outputs, status, message, points", OUTCOMES.values(), ids=OUTCOMES)
def test_each_outcome_has_its_status_and_nbgraders_points(outputs, status, message, points):
    got_status, got_message = cell_status(outputs)
    assert got_status == status
    assert got_message.startswith(message) and (message or not got_message)
    assert nbgrader_points(outputs) == points
    # never a status that contradicts nbgrader: no point unless passed, every point passed
    assert status == "passed" or points == 0
    assert points != POINTS or status == "passed"


@pytest.mark.parametrize("why", sorted(session.STOPPED))
def test_a_stopped_process_reads_as_a_timeout_or_an_error_saying_why(why):
    ename, what = session.STOPPED[why]
    status, message = cell_status([error(ename, what)])
    assert status == ("timeout" if why in ("killed", "wall") else "error")
    assert status == "timeout" or message == f"DeadKernelError: {what}"


def test_a_stub_still_raising_reads_as_not_done():
    status, message = cell_status([error("NotImplementedError")])
    assert status_label(status, message) == "not done"
    assert status_label("error", "ValueError: x") == "error"
    assert status_label("failed", message) == "failed"


def manual_notebook():
    """Two exercises: one graded by a test cell, one by hand (not graded yet: 0 points)."""
    return NotebookResult(
        assignment="a",
        notebook="nb",
        exercises=["auto", "essay"],
        cells=[
            CellResult("test_auto", 1.0, 2.0, "failed", "f(1) should be 1"),
            CellResult("essay", 0.0, 5.0, "manual", "graded by the instructor"),
        ],
    )


def test_a_cell_graded_by_hand_counts_in_the_maximum_but_is_never_to_revisit():
    nb = manual_notebook()
    assert nb.by_exercise() == {"auto": (1.0, 2.0), "essay": (0.0, 5.0)}
    assert (nb.score, nb.max_score) == (1.0, 7.0)
    assert revisit(nb) == ["auto (1/2)"]
    both = AssignmentResult(assignment="a", notebooks=[nb, manual_notebook()])
    both.notebooks[1].notebook = "nb2"
    assert revisit(both) == ["nb/auto (1/2)", "nb2/auto (1/2)"]


def test_a_status_outside_the_known_ones_is_refused():
    with pytest.raises(ValueError, match="status must be one of"):
        CellResult("t", 0.0, 1.0, "partial")
    with pytest.raises(ValueError, match="decided must be one of"):
        CellResult("t", 0.0, 1.0, "passed", decided="student")
