"""The cell runner of an execution server: an IPython shell whose outputs are captured.

Every output a cell makes (streams, displays, results, errors) goes to the shell's
:class:`Capture` in nbformat's output format, capped in size; :func:`run_cell` runs one cell
with a timeout (:class:`CellTimeoutError`) and returns its result.
"""

from __future__ import annotations

import io
import json
import signal
import sys
import time
import traceback
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

from course.grading.server.messages import CellResult, Output

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

_MAX_OUTPUT_CHARS = 5_000_000  # per cell: a cell printing gigabytes is cut here


class CellTimeoutError(BaseException):
    """Raised inside a cell that runs past its timeout (a BaseException, like Ctrl+C)."""


class Capture:
    """Collects the outputs of the cell being run, in nbformat's output format."""

    def __init__(self) -> None:
        self.outputs: list[Output] = []
        self.chars = 0

    def reset(self) -> None:
        self.outputs = []
        self.chars = 0

    def stream(self, name: str, text: str) -> None:
        if not text:
            return
        if self.chars >= _MAX_OUTPUT_CHARS:
            return
        text = text[: _MAX_OUTPUT_CHARS - self.chars]
        self.chars += len(text)
        if self.chars >= _MAX_OUTPUT_CHARS:
            text += "\n[output cut: the cell printed more than the grader keeps]\n"
        last = self.outputs[-1] if self.outputs else None
        if last and last["output_type"] == "stream" and last["name"] == name:
            last["text"] += text
        else:
            self.outputs.append({"output_type": "stream", "name": name, "text": text})

    def add(self, output: Output) -> None:
        """Add a rich output (a figure, an error); figures past the cell's quota are dropped."""
        if output.get("output_type") == "display_data":
            size = len(json.dumps(output.get("data", {})))
            if self.chars + size > _MAX_OUTPUT_CHARS:
                self.stream("stderr", "[a figure was dropped: the cell displayed too much]\n")
                return
            self.chars += size
        self.outputs.append(output)


class StreamWriter(io.TextIOBase):
    """``sys.stdout`` / ``sys.stderr`` of executed code: text goes to the cell's outputs."""

    def __init__(self, name: str, capture: Capture) -> None:
        self.name = name
        self.capture = capture

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self.capture.stream(self.name, text)
        return len(text)

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return "utf-8"


def _json_safe(data):
    """Display data as JSON (numbers and strings only), like a kernel sends it."""
    return json.loads(json.dumps(data, default=str))


def make_shell(
    capture: Capture, judge: bool = False, user_ns: dict[str, Any] | None = None
) -> InteractiveShell:
    """An IPython shell whose outputs (streams, displays, results, errors) go to ``capture``
    (a :class:`Capture`, also the shell's ``capture``).

    Args:
        capture: where the outputs of the cells go (``sys.stdout`` and ``sys.stderr`` should
            be :class:`StreamWriter` objects writing to it too).
        judge: the judge's shell: an error's traceback is its one-line summary (plus the
            student's own traceback when the error came from the student's code), never
            lines of the test cell, which may be hidden tests (nor the message of an error
            the student's code raised in a hidden test's call: :mod:`.judge`).
        user_ns: the namespace the cells run in (None: a new dict).
    """
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    class Hook(DisplayHook):
        def write_output_prompt(self):
            pass

        def write_format_data(self, format_dict, md_dict=None):
            capture.add(
                {
                    "output_type": "execute_result",
                    "execution_count": self.shell.execution_count,
                    "data": _json_safe(format_dict),
                    "metadata": _json_safe(md_dict or {}),
                }
            )

        def finish_displayhook(self):
            pass

    class Publisher(DisplayPublisher):
        def publish(self, data, metadata=None, source=None, *, transient=None, update=False):
            capture.add(
                {
                    "output_type": "display_data",
                    "data": _json_safe(data),
                    "metadata": _json_safe(metadata or {}),
                }
            )

        def clear_output(self, wait=False):
            capture.reset()

    class Shell(InteractiveShell):
        displayhook_class = Hook
        display_pub_class = Publisher

        def enable_gui(self, gui=None):
            pass  # figures are rendered inline, as in a kernel

        def _format_exception_for_storage(self, exception, *args, **kwargs):
            # IPython 9 formats a failing cell's error a second time, frame by frame with
            # syntax highlighting, to keep it for the %notebook magic's export; a grader
            # never exports, and that second formatting was most of a failing cell's time
            # (in the judge, which shows its own short traceback, all of it)
            return {"ename": type(exception).__name__, "evalue": "", "traceback": []}

        def showtraceback(self, exc_tuple=None, *args, **kwargs):
            if not judge:
                return super().showtraceback(exc_tuple, *args, **kwargs)
            etype, evalue, _ = sys.exc_info() if exc_tuple is None else exc_tuple
            if etype is None:
                return None
            # an error of the student's code in a hidden test's call: neither its message
            # nor the name of a class the student defined is shown
            message = getattr(evalue, "shown", evalue)
            name = getattr(evalue, "shown_ename", etype.__name__)
            stb = [*getattr(evalue, "remote_traceback", ()), f"{name}: {message}"]
            return self._showtraceback(name, message, stb)

        def _showtraceback(self, etype, evalue, stb):
            capture.add(
                {
                    "output_type": "error",
                    "ename": etype if isinstance(etype, str) else str(etype.__name__),
                    "evalue": str(evalue),
                    "traceback": stb,
                }
            )

    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "linux"
    shell = Shell.instance(config=config, user_ns=user_ns)
    shell.capture = capture
    shell.last_error = None  # the exception the last cell run by run_cell ended with, if any
    shell.enable_matplotlib("inline")
    return shell


def warm_errors(shell: InteractiveShell) -> None:
    """Show one error, as a failing cell does, and forget it.

    A process's first traceback costs it a tenth of a second (IPython's formatting and
    Python's load their modules and fill their caches as they first need them); a fork
    server does it once, so that every submission's process, forked later, starts warm: a
    blank notebook's failing cells run several times faster. Nothing of it stays: no output,
    no name, no history, no last error.
    """
    name = "__course_warm_up"
    shell.capture.reset()  # the last cell's result holds the list it filled: leave it be
    result = shell.run_cell(f"def {name}():\n    raise RuntimeError\n{name}()", store_history=False)
    if result.error_in_exec is not None:
        traceback.format_exception(result.error_in_exec)  # as the student's answers to calls
    shell.user_ns.pop(name, None)
    for attribute in ("last_type", "last_value", "last_traceback", "last_exc"):
        if hasattr(sys, attribute):
            delattr(sys, attribute)
    shell.capture.reset()


def on_alarm(signum: int, frame: FrameType | None) -> NoReturn:
    raise CellTimeoutError("the cell ran out of time")


def run_cell(shell: InteractiveShell, source: str, timeout: float) -> CellResult:
    """Run one cell; return its result dict (outputs, execution_count, seconds).

    The exception it ended with, if any, is ``shell.last_error`` afterwards.
    """
    capture = shell.capture
    capture.reset()
    count = shell.execution_count
    start = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, timeout)
    shell.last_error = None
    try:
        shell.last_error = shell.run_cell(source, store_history=True).error_in_exec
    except CellTimeoutError as exc:
        shell.last_error = exc
        capture.add(
            {
                "output_type": "error",
                "ename": "CellTimeoutError",
                "evalue": str(exc),
                "traceback": [f"CellTimeoutError: the cell ran longer than {timeout:g} s"],
            }
        )
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    return {
        "outputs": capture.outputs,
        "execution_count": count,
        "seconds": time.perf_counter() - start,
    }
