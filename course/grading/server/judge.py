"""The judge: runs the test cells, hidden tests included, outside the student's process.

The judge is a fork-server child (:mod:`course.grading.forkserver`, role ``judge``) that
starts from the notebook's shared prefix (imports, set-up) as the instructor wrote it. A test
cell may use any name the notebook defines before it, as under nbgrader: the judge's
namespace (:class:`Namespace`) holds the prefix's names and what earlier test cells
defined, and looks every other name up in the student's process when the cell first uses
it: plain data crosses as data, functions as handles (calling one runs the student's
function in the sandbox on the arguments the test chose, and only plain data comes back),
modules by name (the judge imports its own copy of an installed module). The checks
(``numpy``, ``course.testing``, the reference code in hidden regions) run here, where the
student's code cannot reach them.

Files the student's code writes in its folder come with every answer from the student's
process and are written in the judge's folder, so a test that reads such a file finds it,
as in nbgrader's single folder (the judge never imports from that folder).

What a test cell does to the student's names reaches the student's process for the duration
of each call it makes: a name it rebinds (``my_dense = _reference_dense``, to test
``my_sequential`` without counting a wrong ``my_dense`` twice) is bound there to the test's
value, and a name it deletes (``del squares``, to check that ``sum_of_squares`` uses
``squares``) is missing there. The rebinding ends with the cell: afterwards every student
name is looked up afresh, so a check that failed before the cell could restore a name
cannot make later cells test the reference.

A value that cannot cross (an instance of a class the notebook defines, a generator, an
open file) stops the judge's run of the cell with :class:`Undecidable` when the instructor's
own notebook defines such a type (the coordinator then runs the cell in the student's
process, as nbgrader would, and says so); otherwise the test fails with a message saying
what could not be checked.

Hidden tests must not draw from NumPy's global random state after calling student code (use
a local ``np.random.default_rng(seed)``): the global state comes back from the student's
process, which could choose it.

The calls of a test cell run in a throwaway copy of the student's process (see
:mod:`course.grading.forkserver`), and a function a call lends the student's code (a
reference a test rebinds a name to) works only while that call runs (see
:mod:`course.grading.wire`). What the student's code prints or displays during a call made by
a hidden line, and the message of an error it raises there, are kept out of the cell's
outputs (they could quote the hidden inputs): they go to the instructor's log of the cell
(``hidden_output`` in the cell's result), and a line saying the code wrote to stderr stands
for what it wrote there, which fails the cell as under nbgrader.
"""

from __future__ import annotations

import builtins
import os
import sys
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from course.grading.server.files import write_files
from course.grading.server.messages import HIDDEN_ERROR, HIDDEN_STDERR, JudgeResult, Output
from course.grading.server.shell import run_cell
from course.grading.server.wire import DeadKernelError, RemoteError

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from course.grading.server.wire import Peer

__all__ = ["Namespace", "Undecidable", "CannotCheck", "install", "run_test_cell"]


class Undecidable(BaseException):  # noqa: N818 - not an error of the test: a verdict
    """A value the test needs cannot leave the student's process: decide the cell there.

    A BaseException, so that a test's ``except Exception`` cannot swallow it.
    """


class CannotCheck(RemoteError):
    """A value the test needs cannot leave the student's process, and need not (the
    instructor's notebook has no such type): the test fails with this error."""

    ename = "CannotCheck"


_MISSING = object()
_LOG_CHARS = 20_000  # of the instructor's log of one cell


class Namespace(dict):
    """The judge's globals: names it does not hold are looked up in the student's process.

    Attributes:
        peer: the wire to the student's process (None until a submission starts).
        student_names: what the student's namespace defines, as of the cell's start.
        exercises: the graded functions' names (rebinding one always reaches the student).
        fetched: ``{name: value}`` looked up during the current cell.
        assigned: names the current cell bound.
        deleted: student names the current cell deleted.
        undecidable: the type that stopped the current cell, or None.
        hidden: the lines of the current cell's hidden regions.
        hidden_log: what the student's code said during the current cell's hidden calls.
        streams: the current cell's own ``sys.stdout`` and ``sys.stderr`` (a test may
            redirect them to read what a call prints).
        unreachable: why the student's process could not be asked for its names at the
            start of the current cell, or None.
    """

    def __init__(self) -> None:
        super().__init__()
        self.peer = None
        self.exercises = frozenset()
        self.sandbox_types = frozenset()
        self.student_names = frozenset()
        self.in_cell = False
        self.fetched, self.assigned, self.deleted = {}, set(), set()
        self.undecidable = None
        self.hidden, self.hidden_log = frozenset(), []
        self.streams = {}
        self.unreachable = None

    def __missing__(self, name):
        if self.unreachable is not None and self.in_cell and not hasattr(builtins, name):
            raise self.unreachable  # a clearer error than the NameError of an empty namespace
        if (
            self.peer is None
            or not self.in_cell
            or name in self.deleted
            or name not in self.student_names
            or hasattr(builtins, name)
        ):
            raise KeyError(name)
        try:
            value = self.peer.lookup(name)
        except NameError:
            raise KeyError(name) from None
        dict.__setitem__(self, name, value)
        self.fetched[name] = value
        return value

    def __setitem__(self, name, value):
        if self.in_cell:
            self.assigned.add(name)
            self.deleted.discard(name)
        dict.__setitem__(self, name, value)

    def __delitem__(self, name):
        if self.in_cell and name in self.student_names and name not in self.deleted:
            self.deleted.add(name)
            self.assigned.discard(name)
            dict.pop(self, name, None)
            return
        dict.__delitem__(self, name)

    def _shadows(self, name):
        """Whether ``name``, bound by the cell, stands for one of the student's names."""
        return name in self.student_names or name in self.exercises

    def overrides(self) -> tuple[dict[str, Any], list[str]]:
        """``({name: value}, [deleted])``: the cell's changes to the student's names."""
        changed = {}
        for name in self.assigned:
            value = dict.get(self, name, _MISSING)
            if self._shadows(name) and value is not _MISSING:
                if value is not self.fetched.get(name, _MISSING):
                    changed[name] = value
        return changed, sorted(self.deleted)

    def start_cell(self, hidden: Iterable[int] = ()) -> None:
        """Before a test cell (``hidden``: its hidden lines): learn the student's names (and
        random state); the student's process forks the copy that serves the cell's calls."""
        self.fetched, self.assigned, self.deleted = {}, set(), set()
        self.undecidable = None
        self.hidden, self.hidden_log = frozenset(hidden), []
        self.streams = {"stdout": sys.stdout, "stderr": sys.stderr}  # the cell's outputs
        self.student_names, self.unreachable = frozenset(), None
        if self.peer is not None:
            try:
                self.student_names = self.peer.names()
            except Exception as exc:  # the student's process is gone, or has no copy for it
                self.unreachable = exc
        self.in_cell = True

    def end_cell(self) -> None:
        """After a test cell: forget the student's values, end the cell's rebindings.

        A name the cell rebound that it had read from the student (``squares =
        orig_squares``), or an exercise's name (``my_dense = _reference_dense``), is the
        student's again afterwards. Any other name the cell bound stays the judge's, as a
        test's assignment wins under nbgrader: a student who defines a global of the same
        name cannot make a later cell read theirs instead.
        """
        self.in_cell = False
        for name, value in self.fetched.items():
            if dict.get(self, name, _MISSING) is value:
                dict.pop(self, name)
        for name in self.assigned:
            if name in self.exercises or name in self.fetched:
                dict.pop(self, name, None)

    def _in_hidden_test(self):
        """Whether the call under way comes from a hidden line of the cell: the line of the
        cell's statement running now (the outermost frame whose globals are these)."""
        if not self.hidden:
            return False
        line, frame = None, sys._getframe(1)
        while frame is not None:
            if frame.f_globals is self:
                line = frame.f_lineno
            frame = frame.f_back
        return line is None or line in self.hidden

    def _log(self, text):
        left = _LOG_CHARS - sum(map(len, self.hidden_log))
        if len(text) > left > 0:
            text = text[:left] + f"\n[cut: the log of a cell keeps {_LOG_CHARS} characters]\n"
        if left > 0:
            self.hidden_log.append(text)

    def take_outputs(self, outputs: list[Output]) -> None:
        """What the student's code printed or displayed during a call: shown, unless a hidden
        line made the call (then it goes to the instructor's log; a test that redirected
        ``sys.stdout`` to read it still gets it)."""
        if not self._in_hidden_test():
            self.peer.print_outputs(outputs)
            return
        for output in outputs:
            if not isinstance(output, dict):
                continue
            name = output.get("name")
            if output.get("output_type") == "stream" and name in ("stdout", "stderr"):
                stream, text = getattr(sys, name), str(output.get("text", ""))
                if stream is not self.streams[name]:
                    stream.write(text)  # the test redirected the stream to read it
                    continue
                self._log(f"[{name}] {text}")
                if name == "stderr" and text:
                    stream.write(HIDDEN_STDERR)
            elif output.get("output_type") == "display_data":
                data = output.get("data") if type(output.get("data")) is dict else {}
                self._log(f"[displayed {', '.join(sorted(map(str, data)))}]\n")

    def take_error(self, error: BaseException) -> None:
        """An error the student's code raised during a call: a hidden line's shows neither
        its message nor its traceback (both are the student's text, as is the name of a
        class the student defined: a built-in exception's name is shown, any other reads
        ``Exception``)."""
        if not isinstance(error, Exception) or not self._in_hidden_test():
            return
        name = type(error).__name__
        frames = getattr(error, "remote_traceback", ())
        lines = [*(f"{line.rstrip()}\n" for line in frames), f"[error] {name}: {error}\n"]
        self._log("".join(lines))
        error.remote_traceback = []
        error.shown = HIDDEN_ERROR
        student_named = isinstance(error, RemoteError) and not isinstance(
            error, (DeadKernelError, CannotCheck)
        )
        error.shown_ename = "Exception" if student_named else name

    def cannot_cross(self, type_name: str, message: str) -> Undecidable | CannotCheck:
        """The exception for a value of ``type_name`` that could not leave the student."""
        if type_name in self.sandbox_types:
            self.undecidable = type_name
            return Undecidable(type_name)
        return CannotCheck(
            f"a value of type {type_name} cannot be checked outside your notebook's process "
            "(the grader checks plain data: numbers, strings, NumPy arrays, and lists, "
            "tuples and dicts of them)"
        )


def install(
    shell: InteractiveShell,
    peer: Peer,
    exercises: Iterable[str],
    sandbox_types: Iterable[str] = (),
) -> None:
    """Connect the judge's namespace to the student's process through ``peer``.

    Args:
        shell: the judge's shell, whose ``user_ns`` is a :class:`Namespace`.
        peer: the :class:`~course.grading.wire.Peer` to the student's process.
        exercises: the graded functions' names.
        sandbox_types: names of the types the instructor's notebook defines, whose values
            make a cell be decided in the student's process.
    """
    namespace = shell.user_ns
    namespace.peer = peer
    namespace.exercises = frozenset(exercises)
    namespace.sandbox_types = frozenset(sandbox_types)
    peer.overrides = namespace.overrides
    peer.uncrossable = namespace.cannot_cross
    peer.take_outputs = namespace.take_outputs
    peer.take_error = namespace.take_error
    # what the student's code writes in its folder comes with every answer and lands in the
    # judge's, as in nbgrader's single folder (the judge never imports from it)
    folder = os.getcwd()
    peer.take_files = lambda files: write_files(folder, files)


def _statement_line(error):
    """The line of the test cell whose top-level statement raised ``error`` (or None)."""
    tb = getattr(error, "__traceback__", None)
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "<module>":
            return tb.tb_lineno
        tb = tb.tb_next
    return None


def run_test_cell(
    shell: InteractiveShell, source: str, hidden: list[int], timeout: float
) -> JudgeResult:
    """Run one test cell in full; say whether its visible part passed.

    Args:
        shell: the judge's shell.
        source: the cell as the instructor wrote it (hidden regions included).
        hidden: line numbers (1-based) of the hidden regions.
        timeout: seconds the judge's own work in the cell may take.

    Returns:
        The cell's result (as :func:`course.grading.forkserver.run_cell`) plus
        ``visible_ok`` (no error was raised by a visible line), ``line`` (the line of the
        cell whose statement raised the error, or None), ``ename`` (the error's class name,
        or None), ``undecidable`` (the type that kept the cell from being
        decided here, or None), ``calls`` (``[name, [names the test had rebound or
        deleted]]`` for each call of a student function) and ``hidden_output`` (what the
        student's code said during the hidden lines' calls, for the instructor).
    """
    start = time.perf_counter()
    namespace, peer = shell.user_ns, shell.user_ns.peer
    calls = []
    if peer is not None:
        peer.log = calls
    try:
        namespace.start_cell(hidden)
        result = run_cell(shell, source, timeout)
    finally:
        namespace.end_cell()
        if peer is not None:
            peer.log = None
    error = shell.last_error
    line = _statement_line(error)
    result["visible_ok"] = error is None or (line is not None and line in set(hidden))
    result["line"] = line if error is not None else None
    result["ename"] = None if error is None else type(error).__name__
    result["undecidable"] = namespace.undecidable
    result["calls"] = [[name, names] for name, names in calls]
    result["hidden_output"] = "".join(namespace.hidden_log)
    result["seconds"] = time.perf_counter() - start
    return result
