"""One submission's run on a student server and a judge server (:class:`Session`).

The session routes the calls between the student's process and the judge, reads what the
student's side sends within the budgets of :mod:`course.grading.protocol` and checks it
there, and keeps its own clock, its own count of the cells run, and why the student's
process stopped (from the servers' own reports and its own).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from course.grading import protocol
from course.grading.server.framing import (
    MessageTooLarge,
)
from course.grading.servers import (
    PROTOCOL_BROKEN,
    SILENCE_SECONDS,
    ProtocolViolation,
    WorkerLost,
)

if TYPE_CHECKING:
    from course.grading.server.framing import Message
    from course.grading.server.messages import Output, Raise
    from course.grading.servers import ServerProcess

# why a child stopped -> (error name, what the cells it did not run say)
STOPPED = {
    "killed": ("CellTimeoutError", "the cell ran past its timeout and would not stop"),
    "died": ("DeadKernelError", "the notebook's process ended (os._exit, a crash, out of memory)"),
    "overflow": ("DeadKernelError", "the notebook's process sent more than the grader accepts"),
    "wall": ("CellTimeoutError", "the notebook used up the time the grader gives one submission"),
}


class ProcessStopped(Exception):
    """The student's process stopped; ``why`` is a key of ``STOPPED``."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why if why in STOPPED else "died"


_DRAIN_BYTES = 4096  # while a process is stopped: larger messages are thrown away unread


class Session:
    """One submission on a student server and a judge server: cells, and calls between them.

    Everything that comes from the student's side is read within the budgets of
    :mod:`course.grading.protocol` and checked there; the session keeps its own clock
    (``seconds``), its own count of the cells the student's process ran (``count``), and
    decides why that process stopped (``dead``) from the servers' own reports and its own.
    """

    def __init__(
        self,
        student: ServerProcess,
        judge: ServerProcess | None,
        timeout: float,
        wall_seconds: float,
        count: int = 0,
    ) -> None:
        self.servers = {"student": student, "judge": judge}
        self.timeout = timeout
        self.deadline = time.monotonic() + wall_seconds
        self.dead = None  # why the student's process stopped
        self.count = count  # the execution count of the last cell the student's process ran
        self.seconds = 0.0  # time spent in the submission's cells (the judge's included)
        self.read_left = protocol.NOTEBOOK_BYTES  # what the student's side may still send
        self.cell_left = protocol.CELL_BYTES  # ... during the current cell
        self.kept_left = protocol.NOTEBOOK_OUTPUT_BYTES  # outputs the notebook may still keep
        self.copy = None  # which kept copy of the student's process the judge's calls go to

    def new_cell(self) -> None:
        """Start the budget of a new cell."""
        self.cell_left = protocol.CELL_BYTES

    def keep(self, outputs: list[Output]) -> list[Output]:
        """``outputs`` capped to what the cell and the notebook may still keep."""
        kept, size = protocol.cap_outputs(
            outputs, min(protocol.CELL_OUTPUT_BYTES, max(0, self.kept_left))
        )
        self.kept_left -= size
        return kept

    def counted(self, source: str) -> int | None:
        """The execution count of ``source``, which the student's process just ran."""
        if not source.strip():
            return None  # an empty cell runs nothing, as in a kernel
        self.count += 1
        return self.count

    def cell(self, side: str, request: Message) -> dict[str, Any]:
        """Run one cell on ``side`` (timed here); its checked result (see :meth:`run`)."""
        start = time.perf_counter()
        try:
            return self.run(side, request)
        finally:
            self.seconds += time.perf_counter() - start

    def _send(self, side, message):
        """Send ``message`` to ``side``; to the current test cell's copy when the student's."""
        if side == "student" and self.copy is not None:
            message = {**message, "copy": self.copy}
        self.servers[side].send(message)

    def _kill_student(self, why):
        server = self.servers["student"]
        server.send({"kill": True})
        while True:
            try:
                if "dead" in server.receive(self.timeout + SILENCE_SECONDS, _DRAIN_BYTES):
                    break
            except MessageTooLarge:
                continue  # what the child said before it was stopped
        self.dead = why

    def _receive(self, side, expected):
        """The next message of ``side``, read within the budgets and checked: ``(key, body)``.

        Raises:
            ProtocolViolation: the student's side sent something else than ``expected``.
            WorkerLost: the judge did, or a server is lost.
        """
        wait = self.timeout + SILENCE_SECONDS
        server = self.servers[side]
        if side == "judge":
            try:
                return protocol.check(server.receive(wait), expected, _REASONS, judge=True)
            except (MessageTooLarge, protocol.Invalid) as exc:
                raise WorkerLost(f"the judge sent {exc}") from None
        try:
            message = server.receive(wait, min(self.read_left, self.cell_left))
        except MessageTooLarge:
            self._kill_student("overflow")
            return "dead", "overflow"
        self.read_left -= server.reader.last_size
        self.cell_left -= server.reader.last_size
        try:
            key, body = protocol.check(message, expected, _REASONS)
        except protocol.Invalid as exc:
            raise ProtocolViolation(str(exc)) from None
        if key == "dead" and body == "protocol":  # the server saw the child break it
            raise ProtocolViolation(PROTOCOL_BROKEN)
        return key, body

    def run(self, side: str, message: Message) -> dict[str, Any]:
        """Send ``message`` to ``side``, route the calls it makes, return its checked result.

        Raises:
            ProcessStopped: the student's process stopped before answering (``side`` is the
                student).
            ProtocolViolation: the student's side broke the protocol.
        """
        if side == "student" and self.dead:
            raise ProcessStopped(self.dead)
        self._send(side, message)
        active, waiting = side, []  # waiting: sides that wait for an answer, innermost last
        while True:
            answers = {"return", "raise"} if waiting else {"result"}
            if active == "student" and time.monotonic() > self.deadline and not self.dead:
                self._kill_student("wall")
                key, body = "dead", "wall"
            else:
                key, body = self._receive(active, {"call", "dead", *answers})
            if key == "dead":
                if active == "judge":
                    raise WorkerLost(
                        f"the judge's process stopped ({body}): "
                        + (self.servers["judge"].log_tail() or "no message")
                    )
                self.dead = self.dead or body
                if not waiting:
                    raise ProcessStopped(self.dead)
                key, body = "raise", stopped_error(self.dead)
            elif key == "call":
                target = "judge" if active == "student" else "student"
                if target == "student" and self.dead:
                    self._send(active, {"raise": stopped_error(self.dead)})
                    continue
                waiting.append(active)
                self._send(target, {"call": body})
                active = target
                continue
            if not waiting:
                return body
            active = waiting.pop()
            self._send(active, {key: body})


_REASONS = (*STOPPED, "protocol")  # why a server may say a child stopped


def stopped_error(why: str) -> Raise:
    """The exception a caller gets when the student's process stopped (``why``)."""
    ename, what = STOPPED.get(why, STOPPED["died"])
    return {"ename": ename, "evalue": what, "traceback": []}
