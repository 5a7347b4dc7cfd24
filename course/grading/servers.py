"""The coordinator's execution servers: start them (in the sandbox or not), talk to them, keep
warm ones.

A :class:`ServerProcess` is one ``python -m course.grading.server`` process (see
:mod:`course.grading.server.forkserver`) and its pipes: it sends messages and reads the
server's answers within byte budgets. Each process of the grader keeps idle servers per
shared prefix of cells (:func:`prestart`, :func:`checkout`, :func:`checkin`,
:func:`shutdown`), so a submission costs a fork, not a start; and it can start servers
before it knows their prefix (:func:`launch`): they import their modules while the grader
reads the course, and the first checkouts set them up.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable
from typing import Any

from course.grading import protocol, sandbox
from course.grading.server.framing import (
    MAX_MESSAGE_BYTES,
    Message,
    MessageReader,
    MessageTooLarge,
    ProtocolError,
    write_message,
)

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


# a line that imports: ``from PACKAGE[.x] import ...`` or ``import a[.x] [as b], ...``
_IMPORT = re.compile(r"^\s*(?:from\s+(\w+)[\w.]*\s+import\b|import\s+([\w.,\s]+?)\s*(?:#.*)?$)")


# the course's functions that import a package the first time they run (the data sets drawn
# with scikit-learn): a notebook that calls one needs the package as if it imported it
_IMPORTED_WHEN_CALLED = {"load_2d_datasets": "sklearn"}


def warm_modules(sources: Iterable[str]) -> dict[str, list[str]]:
    """``{role: modules}``: what a server of each role imports before it runs the cells
    ``sources`` (code), its warm modules whose package the cells import.

    IPython, the servers' shell, is always among them. Nothing else is: importing a package
    no cell needs (scikit-learn takes more than a second) would only delay the first
    submission; one left out is imported by the cell that needs it.
    """
    packages = {"IPython"}
    for source in sources:
        for line in source.splitlines():
            found = _IMPORT.match(line)
            if found and found.group(1):
                packages.add(found.group(1))
            elif found:
                packages.update(n.split()[0].split(".")[0] for n in found.group(2).split(","))
            elif line.lstrip().startswith("%matplotlib"):
                packages.add("matplotlib")
        packages.update(p for name, p in _IMPORTED_WHEN_CALLED.items() if name in source)
    return {
        role: [module for module in modules if module.split(".")[0] in packages]
        for role, modules in ROLE_WARM_MODULES.items()
    }


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

    def __init__(self, what: str) -> None:
        super().__init__(
            f"the notebook's process broke the grader's protocol ({what}); it was stopped and "
            "this notebook is not graded"
        )
        self.what = what

    def __reduce__(self):  # as it comes back from a Dask worker
        return type(self), (self.what,)


# what the student's side sent when its server stopped it with {"dead": "protocol"}
PROTOCOL_BROKEN = (
    "a message that is not a JSON object, one only the server sends, or one nobody asked for"
)


_STARTUP_SECONDS = 120  # most a server may take to import everything and answer


SILENCE_SECONDS = 15  # past a cell's timeout, how long a silent server is waited for


_SANDBOX_END_SECONDS = 10  # how long a killed server's sandbox is waited for


# What one submission may use (on top of what the server itself already uses).
LIMITS = {"memory_bytes": 2 * 1024**3, "file_bytes": 64 * 1024**2, "processes": 64}


NO_TIMEOUT = 24 * 3600.0  # what "no per-cell timeout" (nbgrader's None) means here


def seconds(timeout: float | None) -> float:
    """A per-cell timeout as a number of seconds (None: :data:`NO_TIMEOUT`)."""
    return NO_TIMEOUT if timeout is None else float(timeout)


def encode_files(files: dict[str, bytes] | None) -> dict[str, str]:
    """``{name: bytes}`` as the plain data a task and a server's ``start`` carry."""
    return {name: base64.b64encode(data).decode() for name, data in (files or {}).items()}


class _Family:
    """One zygote: a ``python -m course.grading.server`` process (sandboxed or not) that
    imports ``warm``, runs the set-up cells once, then forks ``count`` servers
    (:attr:`servers`), each with its own pipes.

    The servers of a family share what the zygote imported and computed, and its sandbox;
    each still has its own process limit (a cgroup of its own, when the machine has them)
    and is killed alone, and each submission runs in namespaces and a /tmp of its own.
    """

    def __init__(self, role: str, sandboxed: bool, warm: list[str] | None, count: int) -> None:
        self.role, self.sandboxed = role, sandboxed
        self.prefix: list[str] | None = None
        self.timeout: float | None = None
        self.files: dict[str, str] = {}
        self.prefix_results: list[dict[str, Any]] | None = None
        self.lost: str | None = None  # why the zygote is gone, once it is
        self.lock = threading.Lock()
        self.log = tempfile.TemporaryFile()
        argv = [sys.executable, "-m", "course.grading.server"]
        self.ipython_dir = tempfile.mkdtemp(prefix="ipython-")
        # a sandboxed zygote makes its own, in the sandbox's /tmp
        self.workdir = None if sandboxed else tempfile.mkdtemp(prefix="notebook-")
        env = {**os.environ, **SERVER_ENV, "IPYTHONDIR": self.ipython_dir}
        # the zygote, bubblewrap's processes, the set-up cells' and the servers until each
        # moves to a group of its own
        self.group = sandbox.process_group(LIMITS["processes"] + 8 + count)
        ours, theirs = [], []  # per server: (down, up) on our side, and on the server's
        for _ in range(count):
            down_r, down_w = os.pipe()
            up_r, up_w = os.pipe()
            ours.append((down_w, up_r))
            theirs.append((down_r, up_w))
        passed = [fd for channel in theirs for fd in channel]
        info_r, info_w = os.pipe() if sandboxed else (None, None)
        try:
            self.process = subprocess.Popen(
                sandbox.command(argv, info_fd=info_w) if sandboxed else argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self.log,
                env=env,
                preexec_fn=(lambda: sandbox.join_process_group(self.group)) if self.group else None,
                pass_fds=passed + ([info_w] if sandboxed else []),
            )
        finally:
            for fd in passed + ([info_w] if sandboxed else []):
                os.close(fd)
        self.sandbox = None  # a pidfd of the sandbox's first process: it ends after all others
        if sandboxed:
            self.sandbox = _first_process(info_r)
        self.reader = MessageReader(self.process.stdout.fileno(), max_bytes=MAX_MESSAGE_BYTES)
        self.servers = [ServerProcess(self, down, up) for down, up in ours]
        self.running = self.open = len(self.servers)
        self._send({"warm": warm if warm is not None else ROLE_WARM_MODULES[role],
                    "servers": [list(channel) for channel in theirs]})  # fmt: skip

    def _send(self, message):
        try:
            write_message(self.process.stdin.fileno(), message)
        except (BrokenPipeError, OSError):
            self._lose()

    def set_up(self, prefix: list[str], timeout: float, files: dict[str, str] | None) -> None:
        """Give the zygote its set-up cells (once: every server of the family has them)."""
        with self.lock:
            if self.prefix is not None:
                if (self.prefix, self.timeout, self.files) != (prefix, timeout, files or {}):
                    raise ValueError("the servers of a family share their set-up cells")
                return
            self.prefix, self.timeout, self.files = prefix, timeout, files or {}
        self._send(
            {
                "role": self.role,
                "prefix": prefix,
                "timeout": timeout,
                "limits": LIMITS,
                "workdir": self.workdir,
                "files": files or {},
                # each submission's own /tmp: in the sandbox, where nothing else is writable
                "tmp_bytes": sandbox.TMP_BYTES if self.sandboxed else None,
            }
        )

    def ready(self) -> list[dict[str, Any]]:
        """Wait until the zygote has run the prefix and forked the servers; return the
        prefix's cell results.

        Raises:
            WorkerLost: the zygote stopped, or sent what it should not.
        """
        with self.lock:
            if self.prefix_results is None and self.lost is None:
                try:
                    self.prefix_results = self._wait_ready()
                except WorkerLost as exc:
                    self.lost = str(exc)
            if self.lost is not None:
                raise WorkerLost(self.lost)
            return self.prefix_results

    def _wait_ready(self):
        budget = _STARTUP_SECONDS + self.timeout * len(self.prefix)
        message = self._receive(budget)
        cells = message.get("cells")
        try:  # the zygote's own run, before any submission: checked all the same
            if set(message) != {"ready", "cells"} or type(cells) is not list:
                raise protocol.Invalid(f"fields {sorted(message)[:4]} instead of its results")
            if len(cells) != len(self.prefix):
                raise protocol.Invalid("results that do not match the set-up cells")
            results = [protocol.check_result(cell) for cell in cells]
            pids = self._receive(_STARTUP_SECONDS).get("servers")
            if type(pids) is not list or len(pids) != len(self.servers):
                raise protocol.Invalid("a list of servers that does not match their channels")
        except protocol.Invalid as exc:
            self._lose()
            raise WorkerLost(f"{self._why()} (its set-up sent {exc})") from None
        found = _host_pids(self.process.pid, pids)
        for server, pid in zip(self.servers, pids, strict=True):
            server.adopt(found.get(pid))
        return results

    def _receive(self, timeout):
        try:
            message = self.reader.read(timeout=timeout)
        except (TimeoutError, MessageTooLarge, ProtocolError):
            message = None
        if message is None:
            self._lose()
            raise WorkerLost(self._why())
        return message

    def _why(self):
        return f"the {self.role} execution server stopped (exit {self.process.returncode}): " + (
            self.log_tail() or "no message"
        )

    def log_tail(self, lines: int = 3) -> str:
        """The last lines the zygote and its servers wrote to standard error, on one line."""
        self.log.seek(0)
        return " | ".join(self.log.read().decode(errors="replace").strip().splitlines()[-lines:])

    def _lose(self):
        """Kill the zygote (its servers die with it); return once its sandbox is empty."""
        self.process.kill()
        self.process.wait()
        if self.sandbox is not None:  # bubblewrap's first process ends, killing the rest
            select.select([self.sandbox], [], [], _SANDBOX_END_SECONDS)
            os.close(self.sandbox)
            self.sandbox = None
        if self.group:
            sandbox.remove_process_group(self.group)
            self.group = None

    def release(self, closed: bool) -> None:
        """One of the family's servers has ended (``closed``: and is closed): when none is
        left running, the zygote ends too; when none is left open, its files go."""
        with _LOCK:
            if closed:
                self.open -= 1
            else:
                self.running -= 1
            last_running, last_open = not self.running, not self.open
        if last_running and not closed:
            self._lose()
        if last_open and closed:
            for pipe in (self.process.stdin, self.process.stdout):
                pipe.close()
            self.log.close()
            shutil.rmtree(self.ipython_dir, ignore_errors=True)
            if self.workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)


def _host_pids(root: int, inner: list[int]) -> dict[int, int]:
    """``{pid: host pid}`` for the processes under ``root`` (ours) known by the pids
    ``inner`` in the pid namespace the zygote sees (the sandbox's, or ours)."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue  # gone
            children.setdefault(ppid, []).append(int(name))
    wanted, found, todo = set(inner), {}, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            with open(f"/proc/{pid}/status") as f:
                spaces = next(line for line in f if line.startswith("NSpid:")).split()[1:]
        except (OSError, StopIteration):
            continue
        if int(spaces[-1]) in wanted and pid != root:
            found.setdefault(int(spaces[-1]), pid)
    return found


class ServerProcess:
    """One execution server, a fork of its :class:`_Family`'s zygote, and its pipes.

    Made by :func:`start_servers`; :meth:`set_up` gives it (its family) the set-up cells,
    :meth:`ready` waits for them, then it serves one submission at a time.
    """

    def __init__(self, family: _Family, down: int, up: int) -> None:
        self.family, self.role, self.sandboxed = family, family.role, family.sandboxed
        self.down = down
        self.reader = MessageReader(up, max_bytes=MAX_MESSAGE_BYTES)
        self.process: int | None = None  # a pidfd of the server, once forked
        self.pid: int | None = None  # its pid here
        self.group = None  # its own pids cgroup, when the machine has them
        self.produced = {}  # files the last submission wrote (student servers)
        self.ended_, self.closed = False, False

    @property
    def prefix(self) -> list[str] | None:
        return self.family.prefix

    @property
    def timeout(self) -> float | None:
        return self.family.timeout

    def adopt(self, pid: int | None) -> None:
        """The server runs as ``pid`` here: hold it (a pidfd) and give it its own process
        limit, before it forks any submission (None: it was not found, it is gone)."""
        if pid is None:
            return
        try:
            self.process, self.pid = os.pidfd_open(pid), pid
        except OSError:
            return
        self.group = sandbox.process_group(LIMITS["processes"] + 8)
        if self.group:
            try:
                sandbox.move_to_process_group(self.group, pid)
            except OSError:  # it stays in its family's group
                sandbox.remove_process_group(self.group, patience=0)
                self.group = None

    def set_up(
        self, prefix: list[str], timeout: float, files: dict[str, str] | None = None
    ) -> None:
        """Give the server the set-up cells ``prefix`` (run among ``files``) and the
        per-cell ``timeout`` (its family's zygote runs them once its modules are imported;
        every server of the family gets the same)."""
        self.family.set_up(prefix, timeout, files)

    def send(self, message: Message) -> None:
        try:
            write_message(self.down, message)
        except (BrokenPipeError, OSError) as exc:
            raise WorkerLost(self._why()) from exc

    def receive(self, timeout: float | None = None, limit: int | None = None) -> Message:
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
        return f"the {self.role} execution server stopped: " + (self.log_tail() or "no message")

    def log_tail(self, lines: int = 3) -> str:
        """The last lines the server (and its family) wrote to standard error, on one line."""
        self.family.log.seek(0)
        text = self.family.log.read().decode(errors="replace")
        return " | ".join(text.strip().splitlines()[-lines:])

    def ready(self) -> list[dict[str, Any]]:
        """Wait until the server's family has run the prefix; return the prefix's cell
        results."""
        return self.family.ready()

    def start(
        self,
        timeout: float,
        cpu_seconds: float,
        files: dict[str, str],
        exercises: Iterable[str] = (),
        sandbox_types: Iterable[str] = (),
    ) -> None:
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

    def started(self, timeout: float) -> None:
        """Wait until the child asked for by :meth:`start` runs."""
        self._until("started", timeout)

    def freeze(self) -> None:
        """Tell the server that the files the child hands in are the ones it wrote so far
        (:meth:`ended` gets them)."""
        self.send({"freeze": True})

    def end(self) -> None:
        """Ask the server to stop the submission's child (see :meth:`ended`)."""
        self.send({"end": True})

    def ended(self, timeout: float) -> None:
        """Wait until the server is ready for the next submission; keep what it wrote."""
        try:
            self.produced = protocol.check_files(self._until("ended", timeout).get("files", {}))
        except protocol.Invalid as exc:
            raise ProtocolViolation(f"the files it wrote: {exc}") from None

    def _until(self, key, timeout):
        while True:
            try:
                message = self.receive(timeout=timeout + SILENCE_SECONDS)
            except MessageTooLarge:
                continue  # what the child said before it was stopped, thrown away
            if key in message:
                return message
            if message.get("dead") == "protocol":  # the server stopped the child for it
                raise ProtocolViolation(PROTOCOL_BROKEN)
            # else: what the child said before it was stopped

    def _end(self):
        """Kill the server; return once it and its submission's processes have ended (and
        its family's zygote, when no other server of the family runs)."""
        if self.ended_:
            return
        self.ended_ = True
        if self.process is not None:
            try:
                signal.pidfd_send_signal(self.process, signal.SIGKILL)
            except ProcessLookupError:
                pass
            select.select([self.process], [], [], _SANDBOX_END_SECONDS)
            os.close(self.process)
            self.process = None
        if self.group:  # its submission's processes end with it: the group then empties
            sandbox.remove_process_group(self.group)
            self.group = None
        self.family.release(closed=False)

    def close(self) -> None:
        """Stop the server (it holds nothing worth a graceful exit) and remove its traces."""
        if self.closed:
            return
        self.closed = True
        self._end()
        os.close(self.down)
        os.close(self.reader.fd)
        self.family.release(closed=True)


def start_servers(
    role: str, sandboxed: bool, warm: list[str] | None = None, count: int = 1
) -> list[ServerProcess]:
    """Start ``count`` servers of ``role``: one zygote that imports ``warm`` (default: the
    role's modules) at once, and forks them once set up (see :class:`ServerProcess`)."""
    return _Family(role, sandboxed, warm, count).servers


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


# which servers can serve a submission: (role, prefix key, timeout, sandboxed)
PoolKey = tuple[str, str, float, bool]


_IDLE: dict[PoolKey, list[ServerProcess]] = {}  # the idle servers of this process


# (role, sandboxed) -> the families of this process started but not set up yet
_LAUNCHED: dict[tuple[str, bool], list[_Family]] = {}


_LOCK = threading.Lock()


ROLES = ("student", "judge")  # a submission runs on a server of each


def launch(count: int, sandboxed: bool = True, warm: dict[str, list[str]] | None = None) -> None:
    """Start ``count`` servers of each role now (a zygote per role), to be set up by the
    first checkouts.

    They import their modules (``warm``: per role, see :func:`warm_modules`; None: all the
    role's) while the caller works (reads the course, the configuration, the gradebook),
    before it knows the set-up cells they will run.
    """
    for role in ROLES:
        _launch(role, sandboxed, warm, count)


def _launch(role, sandboxed, warm, count):
    family = _Family(role, sandboxed, warm[role] if warm is not None else None, count)
    with _LOCK:
        _LAUNCHED.setdefault((role, sandboxed), []).append(family)


def _key(role, prefix, timeout, sandboxed, files):
    digest = hashlib.sha256(json.dumps([prefix, files or {}], sort_keys=True).encode())
    return (role, digest.hexdigest(), timeout, sandboxed)


def checkout(
    role: str,
    prefix: list[str],
    timeout: float,
    sandboxed: bool,
    files: dict[str, str] | None = None,
    warm: dict[str, list[str]] | None = None,
) -> tuple[PoolKey, ServerProcess]:
    """An idle server of this process for ``prefix`` run among ``files``, or one of a
    family launched and not set up yet (:func:`launch`), set up now (its other servers
    become idle ones), or a new one (importing ``warm``, as :func:`launch`)."""
    key = _key(role, prefix, timeout, sandboxed, files)
    with _LOCK:
        idle = _IDLE.setdefault(key, [])
        server = idle.pop() if idle else None
        launched = _LAUNCHED.get((role, sandboxed))
        family = launched.pop() if server is None and launched else None
    if server is not None:
        return key, server
    if family is None:
        family = _Family(role, sandboxed, warm[role] if warm is not None else None, 1)
    family.set_up(prefix, timeout, files)
    first, *others = family.servers
    with _LOCK:
        _IDLE[key].extend(others)
    return key, first


def checkin(key: PoolKey, server: ServerProcess) -> None:
    with _LOCK:
        _IDLE.setdefault(key, []).append(server)


def prestart(
    prefix: list[str],
    timeout: float | None,
    count: int,
    sandboxed: bool = True,
    common_files: dict[str, bytes] | None = None,
    warm: dict[str, list[str]] | None = None,
) -> None:
    """Start ``count`` pairs of servers for ``prefix`` in this process; wait for one pair.

    The servers this process lacks start as one family per role (one zygote's imports and
    set-up for all of them). The first server of each role to run the set-up cells shows
    that they run; the others are idle servers still warming up, which a checkout takes as
    they are (a submission on one waits for it).

    Args:
        prefix: the set-up cells' sources.
        timeout: seconds each cell may run (None: no limit).
        count: how many pairs.
        sandboxed: start them in the sandbox.
        common_files: ``{relative path: bytes}`` the set-up cells run among.
        warm: the modules new servers import first, per role (:func:`warm_modules`; None:
            all the role's).

    Raises:
        WorkerLost: no server of a role could start (a server that stops before the first
            of its role is ready is left out: the first submission to need it starts a
            new one).
    """
    timeout, files = seconds(timeout), encode_files(common_files)
    for role in ROLES:
        key = _key(role, prefix, timeout, sandboxed, files)
        with _LOCK:
            have = len(_IDLE.get(key, [])) + sum(
                len(family.servers) for family in _LAUNCHED.get((role, sandboxed), [])
            )
        if have < count:
            _launch(role, sandboxed, warm, count - have)
    started = [
        checkout(role, prefix, timeout, sandboxed, files, warm)
        for _ in range(count)
        for role in ROLES
    ]
    lost, missing = None, False
    for role in ROLES:
        mine = [(key, server) for key, server in started if server.role == role]
        for i, (_, server) in enumerate(mine):
            try:
                server.ready()
            except WorkerLost as exc:
                server.close()
                lost = lost or exc
                continue
            for warming in mine[i:]:  # the ready one, and the others as they are
                checkin(*warming)
            break
        else:
            missing = True
    if missing:
        raise lost


def shutdown() -> None:
    """Stop every idle server of this process, and those launched and never set up."""
    with _LOCK:
        servers = [s for idle in _IDLE.values() for s in idle]
        servers += [s for families in _LAUNCHED.values() for f in families for s in f.servers]
        _IDLE.clear()
        _LAUNCHED.clear()
    for server in servers:
        server.close()
