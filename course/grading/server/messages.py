"""The messages between the grader and its servers' children, as types.

One definition per message body, shared by the side that writes it (the servers, the
judge, the wire) and the side that checks it (:mod:`course.grading.protocol`, which accepts
exactly these fields and checks their types before it keeps anything). Every message is a
JSON object with one key (``result``, ``call``, ``return`` or ``raise`` from a child; see
:mod:`.forkserver` for the server's own) whose value is one of these bodies.
"""

from typing import Any, TypedDict

__all__ = ["Output", "CellResult", "JudgeResult", "Call", "Return", "Raise", "fields"]

Output = dict[str, Any]  # one output in nbformat's format (stream, display, result, error)


# what stands in a test cell's outputs for what the student's code wrote to stderr, and for the
# message of an error it raised, during a hidden test's call
HIDDEN_STDERR = "[your code wrote to stderr during a hidden test: the text is not shown]\n"
HIDDEN_ERROR = "during a hidden test (its message is not shown: it could quote the test's inputs)"


class CellResult(TypedDict):
    """``{"result": ...}``: a cell's outputs (the grader counts and times cells itself)."""

    outputs: list[Output]
    execution_count: int | None
    seconds: float


class JudgeResult(CellResult, total=False):
    """The judge's result of a test cell: the cell's outcome as the judge saw it."""

    visible_ok: bool  # the cell's error (if any) was raised by a hidden line
    line: int | None  # the line of the cell whose statement raised the error
    ename: str | None  # the error the cell ended with
    undecidable: str | None  # a type whose values cannot leave the student's process
    calls: list[list[Any]]  # [function name, [names the test rebound]] per call
    hidden_output: str  # what the student's code printed in the hidden calls (instructor's)


class Call(TypedDict, total=False):
    """``{"call": ...}``: call a function of the other side (or look a name up)."""

    fn: dict[str, Any]  # the handle ({"mine"/"yours": id} or {"get": name} or {"names": true})
    args: list[Any]
    kwargs: dict[str, Any]
    overrides: dict[str, Any]  # globals the call sees rebound (a test's correct blocks)
    deleted: list[str]  # globals the call sees deleted
    rng: Any  # NumPy's global random state, which the call continues


class Return(TypedDict, total=False):
    """``{"return": ...}``: a call's value, and the final state of its mutable arguments."""

    value: Any
    args: list[Any]
    kwargs: dict[str, Any]
    rng: Any
    outputs: list[Output]  # what the call printed or displayed
    files: dict[str, str]  # files the call wrote (relative path: base64)


class Raise(TypedDict, total=False):
    """``{"raise": ...}``: a call's exception."""

    ename: str
    evalue: str
    traceback: list[str]
    type: str
    rng: Any
    outputs: list[Output]
    files: dict[str, str]


def fields(message_type: type) -> frozenset[str]:
    """The fields a message body of ``message_type`` may have."""
    return frozenset(message_type.__annotations__)
