"""Running notebooks on warm fork servers: the task every worker executes.

:func:`execute_notebook` is the one task of the grader. It takes and returns plain data
(the notebook as JSON text, numbers, strings), so it runs the same in a local thread pool
and on a Dask worker, and needs no shared filesystem. In each worker process it keeps fork
servers (:mod:`course.grading.server.forkserver`) started ahead of time, one pair per shared prefix
of cells, and reuses them for every submission: a *student* server, sandboxed, that runs the
submission's code, and a *judge* server that runs the test cells and calls the student's
functions through the student server (:mod:`course.grading.server.wire`).

For each test cell the judge runs the whole cell first (the *outside* run), on the state the
student's cells left, and its outputs are the ones graded (its calls are served by a
throwaway copy of the student's process, see :mod:`course.grading.server.forkserver`); then the
student's process runs the cell's visible part, as the student's own kernel would (the
*inside* run). A cell whose
visible checks pass inside but fail outside is graded by the judge, with a note that
explains the difference in plain words (a wrong building block the student's own function
compensates for, randomness, ...): honest causes exist, so it is never called cheating.
Where a value the test needs cannot leave the student's process (an instance of a class the
notebook defines, ...), the whole cell runs there instead, as nbgrader would run it, and the
cell's verdict says it was decided in the sandbox.

Nothing the student's process says decides anything: what comes from it is read within byte
budgets and checked (:mod:`course.grading.protocol`); times, execution counts and why the
process stopped are the coordinator's and the servers' own observations.
"""

import base64
import hashlib
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from course.grading import protocol, sandbox
from course.grading.notebooks import HIDDEN_DELIMITERS, has_code, split_hidden
from course.grading.server.framing import (
    MAX_MESSAGE_BYTES,
    MessageReader,
    MessageTooLarge,
    ProtocolError,
    write_message,
)

__all__ = [
    "WorkerLost",
    "ProtocolViolation",
    "execute_notebook",
    "run_cells",
    "cells_server",
    "prestart",
    "make_task",
    "shutdown",
    "sandbox_types",
    "NO_TIMEOUT",
]

# Imported once per server, before any submission: numpy, matplotlib and the course.
WARM_MODULES = [
    "numpy",
    "matplotlib",
    "matplotlib.pyplot",
    "matplotlib_inline.backend_inline",
    "IPython",
    "networkx",
    "sklearn.datasets",
    "course.activations",
    "course.datasets",
    "course.plots",
    "course.testing",
]

# The judge runs only the set-up cells and the tests: what they import is enough (the data
# sets' scikit-learn, the slowest import, is left to the student's side).
JUDGE_WARM_MODULES = ["numpy", "IPython", "course.activations", "course.testing"]
ROLE_WARM_MODULES = {"student": WARM_MODULES, "judge": JUDGE_WARM_MODULES}

SERVER_ENV = {
    # one thread per submission: submissions run in parallel instead
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    "NBGRADER_EXECUTION": "autograde",  # what nbgrader sets while it executes notebooks
    "PYTHONHASHSEED": "0",
}


class WorkerLost(RuntimeError):
    """A fork server ended unexpectedly (killed, crashed, or out of memory)."""


class ProtocolViolation(WorkerLost):
    """The submission's process broke the protocol: its servers were stopped, it is not graded.

    Unlike other lost servers, the notebook is not run again: it would do the same.
    """

    def __init__(self, what):
        super().__init__(
            f"the notebook's process broke the grader's protocol ({what}); it was stopped and "
            "this notebook is not graded"
        )
        self.what = what

    def __reduce__(self):  # as it comes back from a Dask worker
        return type(self), (self.what,)


_STARTUP_SECONDS = 120  # most a server may take to import everything and answer
_SILENCE_SECONDS = 15  # past a cell's timeout, how long a silent server is waited for
_SANDBOX_END_SECONDS = 10  # how long a killed server's sandbox is waited for

# What one submission may use (on top of what the server itself already uses).
LIMITS = {"memory_bytes": 2 * 1024**3, "file_bytes": 64 * 1024**2, "processes": 64}


# why a child stopped -> (error name, what the cells it did not run say)
_STOPPED = {
    "killed": ("CellTimeoutError", "the cell ran past its timeout and would not stop"),
    "died": ("DeadKernelError", "the notebook's process ended (os._exit, a crash, out of memory)"),
    "overflow": ("DeadKernelError", "the notebook's process sent more than the grader accepts"),
    "wall": ("CellTimeoutError", "the notebook used up the time the grader gives one submission"),
}


class ForkServer:
    """A running ``python -m course.grading.server`` (sandboxed or not) and its pipes.

    ``warm`` lists the modules it imports before running anything (default: the role's).
    """

    def __init__(self, role, prefix, timeout, sandboxed, warm=None, files=None):
        self.role, self.prefix, self.timeout = role, prefix, timeout
        self.log = tempfile.TemporaryFile()
        argv = [sys.executable, "-m", "course.grading.server"]
        self.ipython_dir = tempfile.mkdtemp(prefix="ipython-")
        # a sandboxed server makes its own, in the sandbox's /tmp
        self.workdir = None if sandboxed else tempfile.mkdtemp(prefix="notebook-")
        env = {**os.environ, **SERVER_ENV, "IPYTHONDIR": self.ipython_dir}
        # the server, its supervisor and bubblewrap's own processes, plus the submission's
        self.group = sandbox.process_group(LIMITS["processes"] + 8)
        info_r, info_w = os.pipe() if sandboxed else (None, None)
        self.process = subprocess.Popen(
            sandbox.command(argv, info_fd=info_w) if sandboxed else argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=env,
            preexec_fn=(lambda: sandbox.join_process_group(self.group)) if self.group else None,
            pass_fds=(info_w,) if sandboxed else (),
        )
        self.sandbox = None  # a pidfd of the sandbox's first process: it ends after all others
        if sandboxed:
            os.close(info_w)
            self.sandbox = _first_process(info_r)
        self.reader = MessageReader(self.process.stdout.fileno(), max_bytes=MAX_MESSAGE_BYTES)
        self.send(
            {
                "role": role,
                "prefix": prefix,
                "warm": warm if warm is not None else ROLE_WARM_MODULES[role],
                "timeout": timeout,
                "limits": LIMITS,
                "workdir": self.workdir,
                "files": files or {},
                # each submission's own /tmp: in the sandbox, where nothing else is writable
                "tmp_bytes": sandbox.TMP_BYTES if sandboxed else None,
            }
        )
        self.prefix_results = None
        self.produced = {}  # files the last submission wrote (student servers)

    def send(self, message):
        try:
            write_message(self.process.stdin.fileno(), message)
        except (BrokenPipeError, OSError) as exc:
            raise WorkerLost(self._why()) from exc

    def receive(self, timeout=None, limit=None):
        """The next message.

        Raises:
            MessageTooLarge: it is larger than ``limit`` bytes (it is skipped unread).
            WorkerLost: the server is silent past ``timeout``, gone, or sent what is not a
                message.
        """
        try:
            message = self.reader.read(timeout=timeout, limit=limit)
        except TimeoutError:  # a stopped or wedged server: give up on it
            raise WorkerLost(self._why()) from None
        except MessageTooLarge:
            raise
        except ProtocolError as exc:
            raise WorkerLost(f"{self._why()} ({exc})") from None
        if message is None:
            raise WorkerLost(self._why())
        return message

    def _why(self):
        self._end()
        return f"the {self.role} execution server stopped (exit {self.process.returncode}): " + (
            self.log_tail() or "no message"
        )

    def log_tail(self, lines=3):
        """The last lines the server wrote to its standard error, on one line."""
        self.log.seek(0)
        return " | ".join(self.log.read().decode(errors="replace").strip().splitlines()[-lines:])

    def ready(self):
        """Wait until the server has run the prefix; return the prefix's cell results."""
        if self.prefix_results is None:
            budget = _STARTUP_SECONDS + self.timeout * len(self.prefix)
            message = self.receive(timeout=budget)
            cells = message.get("cells")
            try:  # the server's own run, before any submission: checked all the same
                if set(message) != {"ready", "cells"} or type(cells) is not list:
                    raise protocol.Invalid(f"fields {sorted(message)[:4]} instead of its results")
                if len(cells) != len(self.prefix):
                    raise protocol.Invalid("results that do not match the set-up cells")
                self.prefix_results = [protocol.check_result(cell) for cell in cells]
            except protocol.Invalid as exc:
                raise WorkerLost(f"{self._why()} (its set-up sent {exc})") from None
        return self.prefix_results

    def start(self, timeout, cpu_seconds, files, exercises=(), sandbox_types=()):
        """Ask the server to fork the child of a new submission (see :meth:`started`)."""
        self.ready()
        self.send(
            {
                "start": {
                    "timeout": timeout,
                    "cpu_seconds": cpu_seconds,
                    "files": files,
                    "exercises": list(exercises),
                    "sandbox_types": list(sandbox_types),
                }
            }
        )

    def started(self, timeout):
        """Wait until the child asked for by :meth:`start` runs."""
        self._until("started", timeout)

    def end(self):
        """Ask the server to stop the submission's child (see :meth:`ended`)."""
        self.send({"end": True})

    def ended(self, timeout):
        """Wait until the server is ready for the next submission; keep what it wrote."""
        try:
            self.produced = protocol.check_files(self._until("ended", timeout).get("files", {}))
        except protocol.Invalid as exc:
            raise ProtocolViolation(f"the files it wrote: {exc}") from None

    def _until(self, key, timeout):
        while True:
            try:
                message = self.receive(timeout=timeout + _SILENCE_SECONDS)
            except MessageTooLarge:
                continue  # what the child said before it was stopped, thrown away
            if key in message:
                return message
            # else: what the child said before it was stopped

    def _end(self):
        """Kill the server; return once every process of its sandbox has ended too."""
        self.process.kill()
        self.process.wait()
        if self.sandbox is not None:  # bubblewrap's first process ends, killing the rest
            select.select([self.sandbox], [], [], _SANDBOX_END_SECONDS)
            os.close(self.sandbox)
            self.sandbox = None
        if self.group:
            sandbox.remove_process_group(self.group)

    def close(self):
        """Stop the server (it holds nothing worth a graceful exit) and remove its traces."""
        self._end()
        for pipe in (self.process.stdin, self.process.stdout):
            pipe.close()
        self.log.close()
        shutil.rmtree(self.ipython_dir, ignore_errors=True)
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _first_process(info):
    """A pidfd of the sandbox's first process, from bubblewrap's ``--info-fd`` pipe ``info``.

    That process is the sandbox's pid 1: it ends only once every other process in the sandbox
    (the server, the submissions and whatever they started) has ended. None when bubblewrap
    failed before starting it, or it ended already.
    """
    with os.fdopen(info, "rb") as pipe:
        data = pipe.read()
    try:
        return os.pidfd_open(json.loads(data)["child-pid"])
    except (ValueError, KeyError, TypeError, OSError):
        return None


_IDLE = {}  # (role, prefix key, timeout, sandboxed) -> idle servers of this process
_LOCK = threading.Lock()


def _checkout(role, prefix, timeout, sandboxed, files=None):
    """An idle server of this process for ``prefix`` run among ``files``, or a new one."""
    digest = hashlib.sha256(json.dumps([prefix, files or {}], sort_keys=True).encode())
    key = (role, digest.hexdigest(), timeout, sandboxed)
    with _LOCK:
        idle = _IDLE.setdefault(key, [])
        server = idle.pop() if idle else None
    return key, server or ForkServer(role, prefix, timeout, sandboxed, files=files)


def _checkin(key, server):
    with _LOCK:
        _IDLE.setdefault(key, []).append(server)


def prestart(prefix, timeout, count, sandboxed=True, common_files=None):
    """Start ``count`` pairs of servers for ``prefix`` in this process, and wait for them.

    Args:
        prefix: the set-up cells' sources.
        timeout: seconds each cell may run (None: no limit).
        count: how many pairs.
        sandboxed: start them in the sandbox.
        common_files: ``{relative path: bytes}`` the set-up cells run among.

    Returns:
        The number of pairs started.

    Raises:
        WorkerLost: no server of a role could start (a server that stops while others
            start is left out: the first submission to need it starts a new one).
    """
    timeout, files = _seconds(timeout), _encode(common_files)
    started = [
        _checkout(role, prefix, timeout, sandboxed, files)
        for _ in range(count)
        for role in ("student", "judge")
    ]
    ready, lost = {"student": 0, "judge": 0}, None
    for key, server in started:
        try:
            server.ready()
        except WorkerLost as exc:
            server.close()
            lost = lost or exc
            continue
        ready[server.role] += 1
        _checkin(key, server)
    if lost is not None and not all(ready.values()):
        raise lost
    return min(ready.values())


def shutdown():
    """Stop every idle server of this process."""
    with _LOCK:
        servers = [s for idle in _IDLE.values() for s in idle]
        _IDLE.clear()
    for server in servers:
        server.close()


def _code_cells(nb):
    return [cell for cell in nb["cells"] if cell.get("cell_type") == "code"]


def _source(cell):
    """A cell's source as one string (nbformat files may store it as a list of lines)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _is_test(cell):
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return isinstance(meta, dict) and bool(meta.get("grade")) and not meta.get("solution")


def make_task(
    notebook_json,
    prefix,
    timeout,
    files=None,
    sandboxed=True,
    exercises=(),
    *,
    common_files=None,
    hidden_markers=HIDDEN_DELIMITERS,
    sandbox_types=(),
):
    """The plain-data task for :func:`execute_notebook`.

    Args:
        notebook_json: the sanitized notebook, as JSON text (test cells as the instructor
            wrote them: nbgrader restores them from the gradebook).
        prefix: sources of the locked code cells every submission starts with (may be
            empty); the judge always starts from them.
        timeout: seconds each cell may run, or None for no per-cell limit (nbgrader's
            ``Execute.timeout = None``; the submission's wall-clock limit still holds).
        files: ``{relative path: bytes}``: the whole folder the notebook runs in, as
            nbgrader prepares ``autograded/<student>/<assignment>/`` (without notebooks).
        sandboxed: run the student's code inside the bubblewrap sandbox.
        exercises: names of the graded functions, which the judge calls in the sandbox.
        common_files: the part of ``files`` that every submission shares (the source
            folder's files): the warm servers run the prefix in a folder holding them.
        hidden_markers: ``(begin, end)`` of the hidden-test regions (``ClearHiddenTests``'
            ``begin_test_delimeter`` and ``end_test_delimeter``).
        sandbox_types: the types the instructor's notebook defines (see
            :func:`sandbox_types`): a test cell that needs a value of one of them is decided
            in the student's process; any other value that cannot cross fails the test.
    """
    return {
        "notebook": notebook_json,
        "prefix": list(prefix),
        "timeout": None if timeout is None else float(timeout),
        "sandboxed": bool(sandboxed),
        "exercises": list(exercises),
        "files": _encode(files),
        "common_files": _encode(common_files),
        "hidden_markers": list(hidden_markers),
        "sandbox_types": sorted(sandbox_types),
    }


def sandbox_types(source_nb):
    """Types whose values a test cell of ``source_nb`` may need that cannot cross the wall.

    The classes the instructor's notebook defines outside its test cells (a student writes
    their own version of them), ``generator`` when it defines a generator function, and
    open files when it opens one. Only these make a cell be decided in the student's
    process: a submission cannot choose to be judged there by returning odd objects.

    Args:
        source_nb: the instructor's notebook (solutions in place).

    Returns:
        A set of type names.
    """
    import ast

    found = set()
    for cell in source_nb["cells"]:
        if cell.get("cell_type") != "code" or _is_test(cell):
            continue
        try:
            tree = ast.parse(_source(cell))
        except SyntaxError:
            continue  # IPython syntax (magics): no class definitions worth finding
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                found.add(node.name)
            elif isinstance(node, (ast.Yield, ast.YieldFrom)):
                found.add("generator")
            elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "open":
                found.update({"TextIOWrapper", "BufferedReader", "BufferedWriter"})
    return found


NO_TIMEOUT = 24 * 3600.0  # what "no per-cell timeout" (nbgrader's None) means here


def _seconds(timeout):
    """A per-cell timeout as a number of seconds (None: :data:`NO_TIMEOUT`)."""
    return NO_TIMEOUT if timeout is None else float(timeout)


def _encode(files):
    """``{name: bytes}`` as the plain data a task and a server's ``start`` carry."""
    return {name: base64.b64encode(data).decode() for name, data in (files or {}).items()}


def _error(ename, evalue):
    return {
        "output_type": "error",
        "ename": ename,
        "evalue": evalue,
        "traceback": [f"{ename}: {evalue}"],
    }


def _not_run(cell, why, first):
    """Error outputs for a cell the child never finished (``first``) or never started."""
    ename, what = _STOPPED.get(why, _STOPPED["died"])
    if not first:
        ename, what = "DeadKernelError", f"not run: {what}"
    cell["outputs"] = [_error(ename, what)]
    if first and why == "overflow":
        cell["outputs"].append(
            protocol.note(
                f"output cut: the grader reads at most {MAX_MESSAGE_BYTES // 2**20} MB per "
                f"message, {protocol.CELL_BYTES // 2**20} MB per cell and "
                f"{protocol.NOTEBOOK_BYTES // 2**20} MB per notebook from a notebook's process"
            )
        )
    cell["execution_count"] = None


class _Dead(Exception):
    """The student's process stopped; ``why`` is a key of ``_STOPPED``."""

    def __init__(self, why):
        super().__init__(why)
        self.why = why if why in _STOPPED else "died"


_DRAIN_BYTES = 4096  # while a process is stopped: larger messages are thrown away unread


class _Session:
    """One submission on a student server and a judge server: cells, and calls between them.

    Everything that comes from the student's side is read within the budgets of
    :mod:`course.grading.protocol` and checked there; the session keeps its own clock
    (``seconds``), its own count of the cells the student's process ran (``count``), and
    decides why that process stopped (``dead``) from the servers' own reports and its own.
    """

    def __init__(self, student, judge, timeout, wall_seconds, count=0):
        self.servers = {"student": student, "judge": judge}
        self.timeout = timeout
        self.deadline = time.monotonic() + wall_seconds
        self.dead = None  # why the student's process stopped
        self.count = count  # the execution count of the last cell the student's process ran
        self.seconds = 0.0  # time spent in the submission's cells (the judge's included)
        self.read_left = protocol.NOTEBOOK_BYTES  # what the student's side may still send
        self.cell_left = protocol.CELL_BYTES  # ... during the current cell
        self.kept_left = protocol.NOTEBOOK_OUTPUT_BYTES  # outputs the notebook may still keep

    def new_cell(self):
        """Start the budget of a new cell."""
        self.cell_left = protocol.CELL_BYTES

    def keep(self, outputs):
        """``outputs`` capped to what the cell and the notebook may still keep."""
        kept, size = protocol.cap_outputs(
            outputs, min(protocol.CELL_OUTPUT_BYTES, max(0, self.kept_left))
        )
        self.kept_left -= size
        return kept

    def counted(self, source):
        """The execution count of ``source``, which the student's process just ran."""
        if not source.strip():
            return None  # an empty cell runs nothing, as in a kernel
        self.count += 1
        return self.count

    def cell(self, side, request):
        """Run one cell on ``side`` (timed here); its checked result (see :meth:`run`)."""
        start = time.perf_counter()
        try:
            return self.run(side, request)
        finally:
            self.seconds += time.perf_counter() - start

    def _kill_student(self, why):
        server = self.servers["student"]
        server.send({"kill": True})
        while True:
            try:
                if "dead" in server.receive(self.timeout + _SILENCE_SECONDS, _DRAIN_BYTES):
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
        wait = self.timeout + _SILENCE_SECONDS
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
            raise ProtocolViolation("a message that is not a JSON object, or only the server's")
        return key, body

    def run(self, side, message):
        """Send ``message`` to ``side``, route the calls it makes, return its checked result.

        Raises:
            _Dead: the student's process stopped before answering (``side`` is the student).
            ProtocolViolation: the student's side broke the protocol.
        """
        if side == "student" and self.dead:
            raise _Dead(self.dead)
        self.servers[side].send(message)
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
                    raise _Dead(self.dead)
                key, body = "raise", _stopped(self.dead)
            elif key == "call":
                target = "judge" if active == "student" else "student"
                if target == "student" and self.dead:
                    self.servers[active].send({"raise": _stopped(self.dead)})
                    continue
                waiting.append(active)
                self.servers[target].send({"call": body})
                active = target
                continue
            if not waiting:
                return body
            active = waiting.pop()
            self.servers[active].send({key: body})


_REASONS = (*_STOPPED, "protocol")  # why a server may say a child stopped


def _stopped(why):
    """The exception a caller gets when the student's process stopped (``why``)."""
    ename, what = _STOPPED.get(why, _STOPPED["died"])
    return {"ename": ename, "evalue": what, "traceback": []}


def _passed(outputs):
    return not any(o["output_type"] == "error" for o in outputs)


def _summaries(outputs):
    """Outputs with each error's traceback cut to its one-line summary.

    A cell decided in the student's process ran with its hidden tests: its tracebacks would
    quote their lines.
    """
    return [
        {**o, "traceback": [f"{o['ename']}: {o['evalue']}"]} if o["output_type"] == "error" else o
        for o in outputs
    ]


def _disagreement(outside, exercises):
    """Why a cell whose visible checks pass in the student's run fails in the judge's."""
    first = next((o for o in outside["outputs"] if o["output_type"] == "error"), {})
    why = f"{first.get('ename', '')}: {first.get('evalue', '')}".strip(": ").splitlines()
    lead = "this cell's visible checks pass in your notebook but not when the grader runs them"
    for name, replaced in outside["calls"]:
        others = [n for n in replaced if n in exercises and n != name]
        if others:
            blocks = ", ".join(others)
            detail = f" - {why[0]}" if why else ""
            return (
                f"{lead}: your {name} passes with your own {blocks} but not with a correct "
                f"{blocks} (check what {name} expects of {blocks}){detail}"
            )
    return (
        f"{lead} ({why[0] if why else 'no detail'}): the grader runs them on the state your "
        "notebook's earlier cells left, with its own copy of every check; look for randomness "
        "or for values that depend on the order the cells ran in"
    )


def _run_test_cell(session, cell, visible, hidden, exercises):
    """Run one test cell: the judge decides; the student's process keeps its state.

    The judge runs the whole cell first, on the state the student's cells left: its outputs
    are the cell's. Then the student's process runs the cell's visible part, as the
    student's own kernel would (names a test cell defines may be used by later cells); what
    that run says only decides whether the cell gets a note explaining why the judge's run
    failed where the student's passed, never a status or a score. When a value the judge
    needs cannot leave the student's process, the student's process runs the whole cell
    instead, as nbgrader would, and that run decides.

    Returns:
        ``{"decided": "judge" | "sandbox", "note": str, "hidden_output": str}``
        (``hidden_output``: what the student's code printed, displayed or raised in the
        calls of the judge's hidden lines, kept for the instructor only).
    """
    request = {"cell": {"source": _source(cell), "hidden": sorted(hidden)}}
    outside = session.cell("judge", request)
    verdict = {"decided": "judge", "note": "", "hidden_output": outside["hidden_output"]}
    if outside["undecidable"]:
        inside = session.cell("student", {"cell": _source(cell)})
        cell["outputs"] = session.keep(_summaries(inside["outputs"]))
        cell["execution_count"] = session.counted(_source(cell))
        return verdict | {"decided": "sandbox"}
    cell["outputs"] = session.keep(outside["outputs"])
    cell["execution_count"] = None
    stopped = outside["ename"] in ("CellTimeoutError", "DeadKernelError")
    if has_code(visible) and not stopped and not session.dead:
        inside = session.cell("student", {"cell": visible})
        cell["execution_count"] = session.counted(visible)
        if not _passed(outside["outputs"]) and _passed(inside["outputs"]):
            verdict["note"] = _disagreement(outside, exercises)
            note = {"output_type": "stream", "name": "stdout", "text": f"{verdict['note']}\n"}
            cell["outputs"] = [*cell["outputs"], note]
    return verdict


def _grade_id(cell):
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return str(meta.get("grade_id", "")) if isinstance(meta, dict) else ""


def _run_session(session, cells, tests, first_cell, exercises=()):
    """Run ``cells`` (from index ``first_cell`` on) in ``session``; fill their outputs.

    Returns:
        ``{grade_id: {"decided", "note", "hidden_output"}}`` for the test cells (see
        :func:`_run_test_cell`; the time spent is ``session.seconds``).

    Raises:
        ProtocolViolation: the student's side broke the protocol (the cells are left as
            they are: the notebook is not graded).
    """
    verdicts = {}
    for i, cell in enumerate(cells[first_cell:], start=first_cell):
        if session.dead:
            _not_run(cell, session.dead, first=False)
            continue
        session.new_cell()
        try:
            if i in tests:
                visible, hidden = tests[i]
                verdict = _run_test_cell(session, cell, visible, hidden, exercises)
                verdicts[_grade_id(cell)] = verdict
            else:
                result = session.cell("student", {"cell": _source(cell)})
                cell["outputs"] = session.keep(result["outputs"])
                cell["execution_count"] = session.counted(_source(cell))
        except _Dead as dead:
            _not_run(cell, dead.why, first=True)
    return verdicts


def execute_notebook(task):
    """Execute a sanitized notebook on a warm pair of fork servers of this process.

    Everything in the answer is the grader's own: the test cells' outputs are the judge's,
    the other cells' outputs are checked and capped (:mod:`course.grading.protocol`), and
    times, execution counts and the status come from the coordinator's clocks and counts
    and from the servers' own observations.

    Args:
        task: a dict from :func:`make_task`.

    Returns:
        ``{"notebook": JSON text with outputs, "seconds": time spent in the submission's
        cells, "status": "ok" or why the student's process stopped, "cells": {grade_id:
        {"decided": "judge" or "sandbox", "note": why the student's run and the judge's
        disagree, or "", "hidden_output": what the student's code said in hidden tests}},
        "files": {relative path: base64} the notebook wrote}``.

    Raises:
        ProtocolViolation: the submission's process broke the protocol (its servers are
            stopped, and replaced for the next submission).
        WorkerLost: a server died twice in a row.
    """
    nb = json.loads(task["notebook"])
    cells = _code_cells(nb)
    prefix, timeout = task["prefix"], _seconds(task["timeout"])
    files, common = task["files"], task.get("common_files", {})
    markers = tuple(task.get("hidden_markers", HIDDEN_DELIMITERS))
    # the warm set-up ran among the shared files: it stands for this submission's only if
    # the submission's folder holds the same files there
    shares_prefix = [_source(c) for c in cells[: len(prefix)]] == prefix and all(
        files.get(name) == data for name, data in common.items()
    )
    first = len(prefix) if shares_prefix else 0
    tests = {
        i: split_hidden(_source(c), markers)
        for i, c in enumerate(cells)
        if _is_test(c) and i >= first
    }
    limit = timeout * (len(cells) + len(tests))
    exercises, sandbox_types = task["exercises"], task.get("sandbox_types", [])
    for attempt in (1, 2):
        student_key, student = _checkout(
            "student", prefix if shares_prefix else [], timeout, task["sandboxed"], common
        )
        judge_key, judge = _checkout("judge", prefix, timeout, task["sandboxed"], common)
        ran = sum(1 for source in prefix if source.strip()) if shares_prefix else 0
        session = _Session(student, judge, timeout, wall_seconds=limit, count=ran)
        try:
            prefix_results = student.ready() if shares_prefix else []
            prefix_outputs = [session.keep(result["outputs"]) for result in prefix_results]
            judge.ready()
            student.start(timeout, limit, files)  # both fork at the same time
            judge.start(timeout, limit, files, exercises, sandbox_types)
            student.started(timeout)
            judge.started(timeout)
            verdicts = _run_session(session, cells, tests, first, exercises)
            student.end()
            judge.end()
            student.ended(timeout)
            judge.ended(timeout)
        except WorkerLost as exc:
            for server in (student, judge):
                server.close()
            if attempt == 2 or isinstance(exc, ProtocolViolation):
                raise
            continue
        except BaseException:  # the servers' state is unknown: they are never reused
            for server in (student, judge):
                server.close()
            raise
        _checkin(student_key, student)
        _checkin(judge_key, judge)
        break
    counts = iter(range(1, len(prefix) + 1))
    for cell, outputs in zip(cells, prefix_outputs):
        cell["outputs"] = outputs
        cell["execution_count"] = next(counts) if _source(cell).strip() else None
    return {
        "notebook": json.dumps(nb),
        "seconds": session.seconds,
        "status": session.dead or "ok",
        "cells": verdicts,
        "files": student.produced,
    }


def cells_server(timeout, warm=()):
    """Start the process :func:`run_cells` runs in; it imports ``warm`` while the caller works.

    Args:
        timeout: seconds each cell may run.
        warm: installed modules the cells will import (imported now, before any cell).
    """
    return ForkServer("student", [], timeout, sandboxed=False, warm=list(warm))


def run_cells(sources, timeout, files=None, server=None):
    """Run code cells one after the other in a fresh process, without a sandbox.

    This is ``course check``: a student runs their own code, as their kernel would, in a
    process of its own (so that an endless loop or ``exit()`` ends only that process). Cells
    after one that ended the process get an error saying they were not run.

    Args:
        sources: the cells' code, in order.
        timeout: seconds each cell may run.
        files: ``{relative path: bytes}`` the cells' working folder holds.
        server: a process from :func:`cells_server` (started with the same ``timeout``);
            a new one when None. It is closed at the end.

    Returns:
        One ``{"source", "outputs", "execution_count"}`` dict per cell (nbformat outputs).

    Raises:
        WorkerLost: the process could not be started, or broke the protocol.
    """
    cells = [{"cell_type": "code", "source": source, "outputs": []} for source in sources]
    limit = timeout * max(1, len(cells))
    server = server or cells_server(timeout)
    try:
        server.start(timeout, limit, _encode(files))
        server.started(timeout)
        _run_session(_Session(server, None, timeout, wall_seconds=limit), cells, {}, 0)
    finally:
        server.close()
    return cells
