"""The execution servers of the grader: warm processes that fork one child per submission.

Run as ``python -m course.grading.server``; :mod:`course.grading.servers` starts it and
:mod:`course.grading.execution` drives it. The process started is a *zygote*: it imports
the heavy modules (numpy, matplotlib, IPython, ...) once and executes the cells every
submission shares (the locked cells before the first exercise), then forks the servers, one
per channel the grader gave it, and only waits. Each server, for each submission, forks a
child that inherits all of that, so a submission costs a fork instead of a kernel start, and
the servers of one zygote (the grader's parallel workers) share one start. A server has one
of two roles:

* ``student``: runs inside the sandbox and executes the submission's cells, and the calls the
  judge makes to the student's functions (:mod:`course.grading.wire`);
* ``judge``: executes the test cells, hidden tests included, with the student's functions
  replaced by :class:`~course.grading.wire.RemoteFunction` handles. It never runs student
  code; it only ever sees plain data coming out of the student's process.

Each child is the first process of its own user, pid and IPC namespaces: it cannot signal the
server, and when it ends, everything it started ends with it (:func:`_end_processes`). In the
sandbox it also gets a private world: a new, empty /tmp (the sandbox's only writable place,
and its home folder) holding a new working folder, so nothing one submission writes is seen
by the next (:func:`_private_tmp`).

The judge's calls of a test cell run in a *copy* of the student's process (a fork,
:class:`_Copy`), made just before the student's process runs that cell's visible part and
kept waiting: the judge runs the test cells only once the student's process has run every
cell of the notebook. So no hidden input reaches any process of the submission before every
output its own cells show is final, and whatever the student's code does with one (record
it, print it, write it to a file, even from a process that rewrote the grader's own code)
has no later cell left to show it in; the files the submission hands in are taken at that
point too. Each copy is killed when its cell ends. The copy also has its own view of the
files (the working folder's changes go to a private layer, every other place it could
write is read-only; a file it did not write is as the notebook's last cell left it), its
own network and IPC namespaces, its own memory (no mapping shared with the original) and no
descriptor of the original's but its pipes. The copies are forks of one process, and the
original passes the judge's calls on to them, so a submission built for it can pass what one
copy saw to a later one (a signal handler its copies inherit, signals from the copy of one
test cell): what a copy prints or returns is therefore never shown to the student as it is
(the cell shows the student's own run of its visible part, and the judge's verdict:
:mod:`course.grading.execution`).

Protocol (no pickle anywhere): messages are 4-byte big-endian lengths followed by UTF-8
JSON. The first message to the zygote (on its standard input; it answers on its standard
output) names the modules to import, which it does at once (the grader may send it before
it knows the rest, and work meanwhile), and the channels of the servers to fork (pairs of
inherited descriptors: what the server reads, what it writes)::

    {"warm": [module, ...], "servers": [[down, up], ...]}

The second sets the zygote up::

    {"role": "student" | "judge", "prefix": [source, ...],
     "timeout": seconds, "limits": {...} or null, "workdir": path or null,
     "files": {name: base64}, "tmp_bytes": n or null}

(the prefix runs in ``workdir``, a new folder when null, which holds ``files``: the files
every submission shares; ``tmp_bytes``: the size of each submission's private /tmp, null for
none)

and is answered with ``{"ready": true, "cells": [result, ...]}`` for the prefix cells,
then, once it forked the servers, with ``{"servers": [pid, ...]}`` (their pids as the zygote
sees them, in the order of the channels: the grader finds them, gives each a process limit
of its own and kills each alone). The zygote ends when its standard input closes, and its
servers with it. Then, on a server's channel, per submission::

    {"start": {"timeout": s, "cpu_seconds": s, "files": {name: base64}, "exercises": [...],
               "sandbox_types": [...]}}
        -> {"started": true}
    {"cell": source}                       (student) -> {"result": result}
        (with "keep": true, the student's process first makes the copy it keeps for the
        judge's run of that test cell)
    {"cell": {"source": s, "hidden": [line, ...]}}  (judge) -> {"result": result}
    {"call": ...}, {"return": ...}, {"raise": ...}   calls between the two (see wire)
        (with "copy": n, for the student: the n-th copy kept serves it, and the copy
        before it goes; a {"cell": source, "copy": n} runs a whole test cell there)
    {"freeze": true}  the files the child hands in are the ones it wrote until now (no answer)
    {"kill": true}   stop the child now -> {"dead": "wall"}
    {"end": true}    stop the child -> {"ended": true, "files": {name: base64}}
                     (the files the student's child created or changed in ``workdir``, as
                     of ``freeze`` when it came)

The server relays messages between the grader and the child. A child says only ``result``,
``call``, ``return`` and ``raise`` (:data:`CHILD_KEYS`, one per message), each the answer to
the server's last message (a call made while serving one is such an answer); every other
message comes from the server itself. When the child ends, or owes an answer for longer
than its timeout plus a grace period, or sends a message larger than
:data:`MAX_MESSAGE_BYTES` (or of more than :data:`MAX_MESSAGE_VALUES` values), or anything
else (not a JSON object, a message only the server sends, or a message when it owes none:
a copy of a test cell answering ahead for the cells after it), the server stops it and sends
``{"dead": why}`` with ``why`` one of ``died``, ``killed``, ``overflow``, ``protocol``, and
answers every later message with the same. A cell's result is ``{"outputs": [...],
"execution_count": n, "seconds": s}`` in nbformat's output format (the judge adds
``visible_ok``, ``ename``, ``undecidable`` and ``calls``). The child holds no descriptor
but its two pipes to the server (and /dev/null): it cannot write to the grader directly.
What it says is untrusted: the grader checks every message (:mod:`course.grading.protocol`).
"""

from __future__ import annotations

import errno
import gc
import os
import select
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from course.grading.server import judge, wire
from course.grading.server.files import (
    changed_files,
    fill_folder,
    produced_files,
    remove_folder,
    signatures,
    write_files,
)
from course.grading.server.framing import (
    MAX_MESSAGE_BYTES,
    Message,
    MessageReader,
    MessageTooLarge,
    ProtocolError,
    frame,
    write_message,
)
from course.grading.server.isolation import (
    apply_limits,
    become_subreaper,
    check_private_world,
    die_with_parent,
    drop_capabilities,
    forbid_tracing,
    isolate_copy,
    kept_under_tmp,
    new_namespaces,
    private_world,
)
from course.grading.server.shell import (
    Capture,
    StreamWriter,
    make_shell,
    on_alarm,
    run_cell,
    warm_errors,
)

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from course.grading.server.isolation import World

_KILL_GRACE = 5.0  # seconds past the per-cell timeout before the child is killed


# what a child may say (one of these keys per message); every other message is the server's
CHILD_KEYS = frozenset({"result", "call", "return", "raise"})


_LINGERING = 4  # killed copies the student's process may leave unwaited for a while


class _Copy:
    """A copy of the student's process kept for one test cell: it serves the judge's calls.

    The student's process makes a copy of itself (a fork) just before it runs a test cell's
    visible part, and the copy waits. Once the student's process has run every cell (so
    that every output a student sees is final before any hidden input reaches a process of
    theirs), the judge runs the test cells one after the other, each served by its copy: the
    original sends the copy the messages of its cell (:meth:`send`), the copy answers the
    grader itself, and the original kills it when the cell ends (:meth:`discard`).

    Args:
        peer: the student's :class:`~course.grading.wire.Peer` (the copy serves with it).
        shell: the student's shell (a test cell decided in the student's process runs there).
        up: the descriptor the student's process writes its messages to.
        folder: the submission's working folder.
        spare: the pids of the copies kept so far (see :func:`_fork_past_own_processes`).

    Raises:
        OSError: no copy could be made (its pipe is closed again).
    """

    made = 0  # copies made by this process: each numbers its function handles apart

    def __init__(
        self, peer: wire.Peer, shell: InteractiveShell, up: int, folder: str, spare: set[int]
    ) -> None:
        _Copy.made += 1
        forbid_tracing()  # the copy cannot reach the original's files through /proc/<pid>
        down_r, self.down = os.pipe()
        try:
            self.pid = _fork_past_own_processes(spare)
        except OSError:
            os.close(down_r)
            os.close(self.down)
            raise
        if self.pid == 0:
            status = 0
            try:
                die_with_parent()
                os.close(self.down)
                isolate_copy(folder, keep=(down_r, up))
                peer.reader = MessageReader(down_r)
                peer.number_handles_from(_Copy.made << 32)
                while True:
                    message = peer.reader.read()
                    if message is None:
                        break
                    if "call" in message:
                        peer.write(peer.serve(message["call"]))
                    elif "cell" in message:  # the whole test cell, decided here
                        result = run_cell(shell, str(message["cell"]), peer.timeout)
                        peer.write({"result": result})
                    # else: not the grader's (the original's code wrote it): nothing to do
            except BaseException:
                status = 70
            finally:
                os._exit(status)
        os.close(down_r)
        try:
            self.ended = os.pidfd_open(self.pid)  # readable once the copy has ended
        except (AttributeError, OSError):
            self.ended = None

    def send(self, message: Message) -> None:
        write_message(self.down, message)

    def discard(self, killed: list[_Copy]) -> None:
        """Kill the copy (once); it joins ``killed``, to be waited for later (:meth:`reap`),
        while the original works."""
        if self.down is None:
            return
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.close(self.down)
        if self.ended is not None:
            os.close(self.ended)
        self.down = self.ended = None
        killed.append(self)

    def reap(self, block: bool) -> bool:
        """Wait for the killed copy (``block``: until it is gone); True once it is."""
        try:
            return os.waitpid(self.pid, 0 if block else os.WNOHANG)[0] != 0
        except ChildProcessError:
            return True


def _fork_past_own_processes(spare):
    """``os.fork()``; when the submission's processes use up its limit, the first process
    of the submission's pid namespace (this one) ends the others but ``spare`` (the copies
    it keeps for the test cells), then forks."""
    try:
        return os.fork()
    except BlockingIOError:
        if os.getpid() != 1:  # not the first of a namespace of its own: pids are not ours
            raise
    with open("/proc/sys/kernel/ns_last_pid") as f:  # the last pid of this pid namespace
        last = int(f.read())
    for pid in range(2, last + 1):
        if pid not in spare:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    deadline = time.monotonic() + 2.0
    while True:
        try:  # the killed end as zombies of this process (the first of the namespace)
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        try:
            return os.fork()
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def _no_copy(why):
    """The answer to a test cell's message when no copy of the student's process serves it."""
    evalue = f"the grader has no copy of your notebook's process to run this test cell ({why})"
    if why.startswith("could not copy"):
        evalue += ": does your code start many processes or threads?"
    return {"ename": "NoCopyError", "evalue": evalue, "traceback": [f"NoCopyError: {evalue}"]}


def _next_message(reader, copy):
    """The next message for the student's process; None at end of file or when its copy
    ended by itself (the process died in the middle of a test cell, as under nbgrader)."""
    while True:
        message = reader.pop()
        if message is not None or reader.eof:
            return message
        watched = [reader.fd] if copy is None or copy.ended is None else [reader.fd, copy.ended]
        if copy is not None and copy.ended in select.select(watched, [], [])[0]:
            return None
        reader.fill()


def _keep_copy(copies, peer, shell, up, folder):
    """Make the copy of the student's process kept for the next test cell (``copies``: the
    copies kept so far, one per test cell, or why there is none)."""
    try:
        spare = {copy.pid for copy in copies if isinstance(copy, _Copy)}
        copies.append(_Copy(peer, shell, up, folder, spare))
    except OSError as exc:
        copies.append(f"could not copy it: {exc.strerror or exc}")


def _serve_student(shell, peer, up, timeout, folder):
    """The student's process: run cells, keeping a copy of itself for each test cell; serve
    each test cell's calls from its copy.

    ``{"cell": source, "keep": true}`` makes the copy of the next test cell, then runs the
    cell (the test cell's visible part); a message with ``"copy": n`` goes to the ``n``-th
    copy (counted from 0), the one the judge's run of that test cell talks to. ``up`` is the
    descriptor the student's process writes its messages to, ``folder`` its working folder.
    """
    copies, active, killed = [], None, []  # copies: a _Copy, or why there is none, per test
    while True:
        message = _next_message(peer.reader, active if isinstance(active, _Copy) else None)
        if message is None:
            return
        # killed copies are waited for while the original works (a few at most linger)
        killed = [old for old in killed if not old.reap(block=len(killed) > _LINGERING)]
        number = message.get("copy")
        if type(number) is int:  # for the copy of a test cell
            target = copies[number] if 0 <= number < len(copies) else "it was never made"
            if active is not target:  # a new test cell: the copies of those before it go
                for earlier, old in enumerate(copies[: max(0, number)]):
                    if isinstance(old, _Copy):
                        old.discard(killed)
                        copies[earlier] = "its test cell's turn had passed"
                if isinstance(active, _Copy):  # (a later test cell's)
                    active.discard(killed)
                active = target
            if isinstance(active, _Copy):
                try:
                    active.send(message)
                    continue
                except OSError:  # it ended while it waited
                    active.discard(killed)
                    active = copies[number] = "it ended before the cell ran"
            error = _no_copy(active)
            if "cell" in message:
                outputs = [{"output_type": "error", **error}]
                peer.write({"result": {"outputs": outputs, "execution_count": None}})
            else:
                peer.write({"raise": error})
            continue
        if isinstance(active, _Copy):  # back to the original: the copy goes
            active.discard(killed)
        active = None
        if "call" in message:
            peer.write(peer.serve(message["call"]))
        elif "cell" in message:
            if message.get("keep") is True:
                _keep_copy(copies, peer, shell, up, folder)
            peer.write({"result": run_cell(shell, str(message["cell"]), timeout)})
        else:
            return


def _child_main(role, shell, reader, up, start):
    """The submission's process: answer cells and calls until the server stops it.

    ``up`` is the descriptor it writes its messages to.
    """
    timeout = float(start["timeout"])
    peer = wire.Peer(reader, lambda m: write_message(up, m), timeout=timeout, capture=shell.capture)
    if role == "student":
        peer.namespace = shell.user_ns
        folder = os.getcwd()
        known = signatures(folder)
        peer.changed_files = lambda: changed_files(folder, known)
        sys.path.append(folder)  # the notebook's own modules, after the installed ones
        return _serve_student(shell, peer, up, timeout, folder)
    judge.install(shell, peer, start.get("exercises", []), start.get("sandbox_types", []))
    while True:
        message = reader.read()
        if message is None:
            return
        if "call" in message:
            peer.write(peer.serve(message["call"]))
        elif "cell" in message:
            cell = message["cell"]
            peer.write(
                {"result": judge.run_test_cell(shell, cell["source"], cell["hidden"], timeout)}
            )
        else:
            return


def _keep_only(keep, stderr):
    """Close every file descriptor but ``keep``, and the standard ones: 0 and 1 (and 2
    unless ``stderr``) become /dev/null.

    The server's own descriptors (its pipes to the grader above all) must not reach the
    submission's process: with one, it could write messages to the grader past the server.
    """
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1) if stderr else (0, 1, 2):
        os.dup2(devnull, fd)
    low = 3
    for fd in sorted(set(keep)):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))


def _supervise(role, shell, start, session, down_r, up_w, limits, server):
    """The forked supervisor: a child in new namespaces runs the submission; never returns.

    ``session`` is ``(folder, workdir, world)``: the submission's working folder, where the
    submission sees it, and ``world``: ``(bytes, kept paths)`` of the submission's private
    /tmp (see :func:`_private_tmp`), or None for none (the submission then works in
    ``folder`` itself). ``server``: the server's pid.
    """
    status = 70
    folder, workdir, world = session
    try:
        die_with_parent(server)
        os.setpgid(0, 0)
        if world is None:
            private = new_namespaces(private_tmp=False)
        else:
            private = private_world(world, folder, workdir)
        # the child keeps its two pipes; the judge's errors go to the server's log
        _keep_only((down_r, up_w), stderr=role == "judge")
        pid = os.fork()
        if pid == 0:  # pid 1 of its namespace when that worked
            die_with_parent()
            if private:
                drop_capabilities()
            os.chdir(workdir if world is not None else folder)
            apply_limits(limits, float(start["cpu_seconds"]))
            reader = MessageReader(down_r)
            try:
                _child_main(role, shell, reader, up_w, start)
            except BaseException:
                if role == "judge":  # the grader's own failure: its log says why
                    import traceback

                    os.write(2, traceback.format_exc().encode())
                os._exit(status)
            os._exit(0)
        os.close(down_r)
        os.close(up_w)
        _, wait_status = os.waitpid(pid, 0)
        status = os.waitstatus_to_exitcode(wait_status) & 0xFF
    except BaseException:  # the grader's own failure (no private world): its log says why
        import traceback

        os.write(2, traceback.format_exc().encode())
    finally:
        os._exit(status)


def _end_processes(group):
    """Kill every process of the submission and wait for each; ``group``: the supervisor's.

    The supervisor's process group holds the supervisor and the submission's first process,
    pid 1 of the submission's pid namespace: when it ends, the kernel ends every process of
    the namespace (double forks and new sessions included). A first process that left the
    group and cleared its death signal outlives the supervisor: its parent is then the
    server (a subreaper), which kills it here too. Until they are waited for, they still
    count against the process limit.
    """
    try:
        os.killpg(group, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    while True:
        for pid in _children():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return
        except InterruptedError:
            continue


def _children():
    """The pids of this process's children (read from /proc)."""
    me, found = os.getpid(), []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    stat_line = f.read()
            except OSError:
                continue  # gone
            if int(stat_line.rsplit(b")", 1)[1].split()[1]) == me:  # after "pid (name) state"
                found.append(int(name))
    return found


def _write_until(fd, data, deadline):
    """Write ``data`` to non-blocking ``fd`` before ``deadline``; False if it did not fit."""
    view = memoryview(data)
    while view:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([], [fd], [], left)[1]:
            return False
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            continue
        except OSError as exc:  # the child is gone
            if exc.errno in (errno.EPIPE, errno.EBADF):
                return False
            raise
    return True


def serve_submission(
    role: str,
    shell: InteractiveShell,
    start: dict[str, Any],
    protocol: tuple[MessageReader, Callable[[Message], None]],
    limits: dict[str, int] | None,
    place: tuple[str, World | None],
) -> bool:
    """Serve one submission: fork its child, relay messages, stop it at ``end``.

    Args:
        role: ``"student"`` or ``"judge"``.
        shell: the server's shell (its namespace holds the prefix's results).
        start: the ``start`` request.
        protocol: ``(reader, write)``: the server's own pipes to the grader.
        limits: resource limits of the child (see :func:`apply_limits`).
        place: ``(workdir, world)``: the server's working folder (where the set-up cells
            ran) and the submission's private /tmp (see :func:`_supervise`). The submission
            works in a new folder holding its files, seen at ``workdir`` when it has a
            private /tmp; what it wrote there is sent back at the end, and the folder goes.

    Returns:
        False when the grader went away (the server should stop), else True.
    """
    coord, send = protocol
    timeout = float(start["timeout"])
    workdir, world = place
    folder = tempfile.mkdtemp(prefix="submission-", dir=workdir)
    given = write_files(folder, start.get("files", {}))
    down_r, down_w = os.pipe()
    up_r, up_w = os.pipe()
    server = os.getpid()
    pid = os.fork()
    if pid == 0:
        os.close(down_w)
        os.close(up_r)
        session = (folder, workdir, world)
        _supervise(role, shell, start, session, down_r, up_w, limits, server)
    try:  # the supervisor does the same: whichever runs first, the group exists to be killed
        os.setpgid(pid, pid)
    except OSError:
        pass
    os.close(down_r)
    os.close(up_w)
    os.set_blocking(down_w, False)
    child = MessageReader(up_r, max_bytes=MAX_MESSAGE_BYTES)
    owed_since, dead, frozen = None, None, None

    def stop(why):
        nonlocal dead, owed_since
        _end_processes(pid)
        dead, owed_since = why, None
        send({"dead": why})

    send({"started": True})
    try:
        while True:
            message = coord.pop()
            if message is not None:
                if "freeze" in message:  # the files the submission hands in are these
                    frozen = produced_files(folder, given) if role == "student" else {}
                    continue
                if "end" in message:
                    _end_processes(pid)
                    if frozen is None:
                        frozen = produced_files(folder, given) if role == "student" else {}
                    send({"ended": True, "files": frozen})
                    return True
                if dead is not None:
                    send({"dead": dead})
                elif "kill" in message:
                    stop("wall")
                else:
                    framed = frame(message)
                    owed_since = time.monotonic()
                    if not _write_until(down_w, framed, owed_since + timeout + _KILL_GRACE):
                        stop("died" if not _alive(pid) else "killed")
                continue
            if dead is None:
                try:
                    message = child.pop()
                except MessageTooLarge:
                    stop("overflow")
                    continue
                except ProtocolError:
                    stop("protocol")
                    continue
                if message is not None and not (len(message) == 1 and set(message) <= CHILD_KEYS):
                    stop("protocol")  # what only the server says (dead, ended, ...) included
                    continue
                if message is not None and owed_since is None:
                    # nothing was asked: each message of the child answers the server's last
                    # (a call made while serving one included), so this one was written for
                    # a later question, by a copy of a test cell (which shares the pipe) for
                    # the cells after it
                    stop("protocol")
                    continue
                if message is not None:
                    owed_since = None
                    send(message)
                    continue
            wait = None
            if owed_since is not None:
                wait = max(0.0, owed_since + timeout + _KILL_GRACE - time.monotonic())
            fds = [coord.fd] + ([up_r] if dead is None else [])
            ready = select.select(fds, [], [], wait)[0]
            if not ready:
                stop("killed")
                continue
            if coord.fd in ready and not coord.fill():
                return False
            if up_r in ready and not child.fill():
                stop("died")
    finally:
        _end_processes(pid)
        remove_folder(folder)
        os.close(down_w)
        os.close(up_r)


def _alive(pid):
    try:
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return False


def serve() -> None:
    """The zygote's main loop: import, set up, fork the servers, then wait for the grader to go.

    The zygote never runs a submission: each server it forks serves its own channel
    (:func:`_serve_channel`), and the zygote only outlives them quietly, so that the
    servers die with it.
    """
    die_with_parent()
    forbid_tracing()
    become_subreaper()
    if not sys.flags.safe_path:  # Python put its working folder (/tmp, writable) first
        del sys.path[0]
    protocol_in, protocol_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)  # code writing to fd 1 directly must not corrupt the protocol
    reader = MessageReader(protocol_in)
    warm = reader.read()
    if warm is None:
        return
    channels = [(int(down), int(up)) for down, up in warm.get("servers", [])]
    capture = Capture()
    sys.stdout, sys.stderr = StreamWriter("stdout", capture), StreamWriter("stderr", capture)
    signal.signal(signal.SIGALRM, on_alarm)
    gc.disable()  # imports make many objects and free few: collecting meanwhile is wasted
    for module in warm["warm"]:
        __import__(module)
    gc.enable()
    setup = reader.read()
    if setup is None:
        return
    # the set-up cells run where the notebooks will: in a folder holding the shared files
    workdir = setup.get("workdir") or tempfile.mkdtemp(prefix="notebook-")
    os.makedirs(workdir, exist_ok=True)
    fill_folder(workdir, setup.get("files", {}))
    os.chdir(workdir)
    modules = []
    if setup["role"] == "judge":  # a test may import the instructor's modules, never others
        modules.append(tempfile.mkdtemp(prefix="course-modules-"))
        shared = setup.get("files", {})
        write_files(modules[0], {k: v for k, v in shared.items() if k.endswith(".py")})
        sys.path.append(modules[0])
    world = None  # each submission's private /tmp, when the sandbox asks for one
    if setup.get("tmp_bytes"):
        world = (int(setup["tmp_bytes"]), kept_under_tmp(modules))
        check_private_world(world, workdir)
    if setup["role"] == "judge":
        shell = make_shell(capture, judge=True, user_ns=judge.Namespace())
    else:
        shell = make_shell(capture)
    prefix = [run_cell(shell, source, float(setup["timeout"])) for source in setup["prefix"]]
    warm_errors(shell)
    # what the zygote holds now is never collected in a submission's process: its garbage
    # collections skip it, instead of copying every page of the zygote's heap to read it
    gc.collect()
    gc.freeze()
    write_message(protocol_out, {"ready": True, "cells": prefix})
    zygote, servers = os.getpid(), []
    for channel in channels:
        pid = os.fork()
        if pid == 0:
            status = 0
            try:
                die_with_parent(zygote)
                for fd in {protocol_in, protocol_out, *(fd for c in channels for fd in c)}:
                    if fd not in channel:
                        os.close(fd)
                _serve_channel(setup, shell, channel, (workdir, world))
            except BaseException:  # the server's own failure: the zygote's log says why
                import traceback

                os.write(2, traceback.format_exc().encode())
                status = 70
            finally:
                os._exit(status)
        servers.append(pid)
    for fd in {fd for channel in channels for fd in channel}:
        os.close(fd)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the servers that end are reaped at once
    write_message(protocol_out, {"servers": servers})
    while reader.read() is not None:  # until the grader closes the channel
        pass


def _serve_channel(setup, shell, channel, place):
    """A server: serve submissions on ``channel`` (``(down, up)`` descriptors) until the
    grader goes away."""
    reader = MessageReader(channel[0])

    def send(message):
        write_message(channel[1], message)

    while True:
        request = reader.read()
        if request is None or "start" not in request:
            return
        protocol = (reader, send)
        limits = setup.get("limits")
        if not serve_submission(setup["role"], shell, request["start"], protocol, limits, place):
            return
