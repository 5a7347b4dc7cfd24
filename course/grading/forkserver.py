"""The execution servers of the grader: warm processes that fork one child per submission.

Run as ``python -m course.grading.forkserver``; :mod:`course.grading.executor` starts and
drives it. A server imports the heavy modules (numpy, matplotlib, IPython, ...) once and
executes the cells every submission shares (the locked cells before the first exercise).
Then, for each submission, it forks a child that inherits all of that, so a submission costs
a fork instead of a kernel start. A server has one of two roles:

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

The judge's calls of a test cell run in a *throwaway copy* of the student's process (a fork,
:class:`_Copy`), killed when the cell ends, so what the student's functions do during them
(record the hidden tests' arguments in a global, a closure or a file) never reaches a later
cell. The copy has its own view of the files (the working folder's changes go to a private
layer, every other place it could write is read-only), its own network and IPC namespaces,
its own memory (no mapping shared with the original) and no descriptor of the original's
but its pipes. It does not close every channel between two processes a submission runs:
one that changes the grader's own code in its process, or prepares a process or a thread to
watch the copy (signals, timing), can still tell a later cell what a copy saw.

Protocol (no pickle anywhere): messages are 4-byte big-endian lengths followed by UTF-8
JSON. The first message sets the server up::

    {"role": "student" | "judge", "prefix": [source, ...], "warm": [module, ...],
     "timeout": seconds, "limits": {...} or null, "workdir": path or null,
     "files": {name: base64}, "tmp_bytes": n or null}

(the prefix runs in ``workdir``, a new folder when null, which holds ``files``: the files
every submission shares; ``tmp_bytes``: the size of each submission's private /tmp, null for
none)

and is answered with ``{"ready": true, "cells": [result, ...]}`` for the prefix cells. Then,
per submission::

    {"start": {"timeout": s, "cpu_seconds": s, "files": {name: base64}, "exercises": [...],
               "sandbox_types": [...]}}
        -> {"started": true}
    {"cell": source}                       (student) -> {"result": result}
    {"cell": {"source": s, "hidden": [line, ...]}}  (judge) -> {"result": result}
    {"call": ...}, {"return": ...}, {"raise": ...}   calls between the two (see wire)
        (the judge starts each test cell with {"call": {"fn": {"names": true}}}: the student's
        process forks a copy that answers it and every call until its next other message)
    {"kill": true}   stop the child now -> {"dead": "wall"}
    {"end": true}    stop the child -> {"ended": true, "files": {name: base64}}
                     (the files the student's child created or changed in ``workdir``)

The server relays messages between the grader and the child. A child says only ``result``,
``call``, ``return`` and ``raise`` (:data:`CHILD_KEYS`, one per message); every other
message comes from the server itself. When the child ends, or owes an answer for longer
than its timeout plus a grace period, or sends a message larger than
:data:`MAX_MESSAGE_BYTES` (or of more than :data:`MAX_MESSAGE_VALUES` values), or anything
else (not a JSON object, or a message only the server sends), the server stops it and sends
``{"dead": why}`` with ``why`` one of ``died``, ``killed``, ``overflow``, ``protocol``, and
answers every later message with the same. A cell's result is ``{"outputs": [...],
"execution_count": n, "seconds": s}`` in nbformat's output format (the judge adds
``visible_ok``, ``ename``, ``undecidable`` and ``calls``). The child holds no descriptor
but its two pipes to the server (and /dev/null): it cannot write to the grader directly.
What it says is untrusted: the grader checks every message (:mod:`course.grading.protocol`).
"""

import base64
import ctypes
import errno
import gc
import io
import json
import json.decoder
import json.scanner
import os
import re
import resource
import select
import shutil
import signal
import stat
import struct
import sys
import tempfile
import time

from course.grading.sandbox import TMP_BYTES

_HEADER = struct.Struct(">I")
MAX_MESSAGE_BYTES = 24 * 1024 * 1024  # the most one message may hold (a child's, or a server's)
MAX_MESSAGE_VALUES = 500_000  # the most JSON values one message may hold (each costs memory)
_MAX_OUTPUT_CHARS = 5_000_000  # per cell: a cell printing gigabytes is cut here
_KILL_GRACE = 5.0  # seconds past the per-cell timeout before the child is killed
# what a child may say (one of these keys per message); every other message is the server's
CHILD_KEYS = frozenset({"result", "call", "return", "raise"})


class ProtocolError(RuntimeError):
    """A message that breaks the framing: too large, or not a JSON object."""


class MessageTooLarge(ProtocolError):
    """A message past the reader's limit (in bytes, or in JSON values); it was not kept."""


class _TooManyValues(Exception):
    pass


class _CountingDecoder(json.JSONDecoder):
    """A JSON decoder that stops past ``limit`` values, before it has built them all.

    Python's own decoder builds every list before anything can count it: ``[[],[],...]``
    turns each three bytes into a 64-byte list. This one counts each value as it is read.
    """

    def __init__(self, limit):
        super().__init__()
        self.left = limit
        self.parse_array = lambda s_and_end, scan_once: json.decoder.JSONArray(
            s_and_end, self._counted(scan_once)
        )
        self.parse_object = lambda s_and_end, strict, scan_once, *rest: json.decoder.JSONObject(
            s_and_end, strict, self._counted(scan_once), *rest
        )
        self.scan_once = json.scanner.py_make_scanner(self)

    def _counted(self, scan_once):
        def scan(string, idx):
            self.left -= 1
            if self.left < 0:
                raise _TooManyValues
            return scan_once(string, idx)

        return scan


def parse_message(text):
    """The JSON object ``text`` holds; raises :class:`ProtocolError` for anything else.

    Messages of many values (past :data:`MAX_MESSAGE_VALUES`) raise :class:`MessageTooLarge`:
    their parsing stops there, so that no message costs more memory than about its size.
    """
    # every value but the first of a container follows a ',' or a ':': an upper bound, so
    # only a message that may hold too many values is read by the slower, counting decoder
    bound = text.count(",") + text.count(":") + text.count("[") + 1
    try:
        if bound <= MAX_MESSAGE_VALUES:
            message = json.loads(text)
        else:
            message = _CountingDecoder(MAX_MESSAGE_VALUES).decode(text)
    except _TooManyValues:
        raise MessageTooLarge(f"a message of more than {MAX_MESSAGE_VALUES} values") from None
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"a message that is not JSON ({str(exc)[:200]})") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message that is not a JSON object")
    return message


def write_message(fd, obj):
    """Send one framed JSON message on file descriptor ``fd`` (blocking)."""
    data = memoryview(json.dumps(obj).encode("utf-8"))
    header = memoryview(_HEADER.pack(len(data)))
    while header or data:  # header and data in one system call, without joining them
        sent = os.writev(fd, [header, data])
        head = min(sent, len(header))
        header, data = header[head:], data[sent - head :]


class MessageReader:
    """Reads framed messages from a file descriptor.

    A message larger than the limit is refused from its header on: its bytes are thrown
    away as they arrive, never held, and reading goes on with the next message.

    Args:
        fd: the file descriptor.
        max_bytes: larger messages raise :class:`MessageTooLarge` (None: no limit).
    """

    def __init__(self, fd, max_bytes=None):
        self.fd = fd
        self.max_bytes = max_bytes
        self.buffer = bytearray()
        self.eof = False
        self.skipping = 0  # bytes of a refused message still to throw away
        self.last_size = 0  # bytes of the last message popped, its header included

    def _skip(self):
        if self.skipping and self.buffer:
            count = min(self.skipping, len(self.buffer))
            del self.buffer[:count]
            self.skipping -= count

    def pop(self, limit=None):
        """The next complete buffered message, or None.

        Args:
            limit: refuse a message larger than this many bytes (on top of ``max_bytes``).

        Raises:
            MessageTooLarge: the next message is past the limit (it is skipped).
            ProtocolError: the next message is not a JSON object.
        """
        self._skip()
        if self.skipping or len(self.buffer) < _HEADER.size:
            return None
        (size,) = _HEADER.unpack_from(self.buffer)
        limits = [n for n in (limit, self.max_bytes) if n is not None]
        if limits and size > min(limits):
            del self.buffer[: _HEADER.size]
            self.skipping = size
            self._skip()
            raise MessageTooLarge(f"a message of {size} bytes (the limit is {min(limits)})")
        end = _HEADER.size + size
        if len(self.buffer) < end:
            return None
        try:
            with memoryview(self.buffer) as view:
                text = str(view[_HEADER.size : end], "utf-8")
        except UnicodeDecodeError:
            text = None
        self.buffer = self.buffer[end:]  # a new buffer: a large message's memory is freed
        self.last_size = end
        if text is None:
            raise ProtocolError("a message that is not UTF-8 text")
        return parse_message(text)

    def fill(self):
        """Read what is available (one read); False at end of file."""
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            self.eof = True
            return False
        self.buffer += chunk
        self._skip()
        return True

    def read(self, timeout=None, limit=None):
        """The next message; None at end of file; raises TimeoutError past ``timeout``.

        Raises:
            MessageTooLarge, ProtocolError: as :meth:`pop` (``limit`` is passed on).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            message = self.pop(limit)
            if message is not None:
                return message
            if self.eof:
                return None
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                    raise TimeoutError
            self.fill()


class CellTimeoutError(BaseException):
    """Raised inside a cell that runs past its timeout (a BaseException, like Ctrl+C)."""


class _Capture:
    """Collects the outputs of the cell being run, in nbformat's output format."""

    def __init__(self):
        self.outputs = []
        self.chars = 0

    def reset(self):
        self.outputs = []
        self.chars = 0

    def stream(self, name, text):
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

    def add(self, output):
        """Add a rich output (a figure, an error); figures past the cell's quota are dropped."""
        if output.get("output_type") == "display_data":
            size = len(json.dumps(output.get("data", {})))
            if self.chars + size > _MAX_OUTPUT_CHARS:
                self.stream("stderr", "[a figure was dropped: the cell displayed too much]\n")
                return
            self.chars += size
        self.outputs.append(output)


CAPTURE = _Capture()


class _StreamWriter(io.TextIOBase):
    """``sys.stdout`` / ``sys.stderr`` of executed code: text goes to the cell's outputs."""

    def __init__(self, name):
        self.name = name

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        CAPTURE.stream(self.name, text)
        return len(text)

    def writable(self):
        return True

    def isatty(self):
        return False

    @property
    def encoding(self):
        return "utf-8"


def _json_safe(data):
    """Display data as JSON (numbers and strings only), like a kernel sends it."""
    return json.loads(json.dumps(data, default=str))


def make_shell(judge=False):
    """An IPython shell whose outputs (streams, displays, results, errors) are captured.

    Args:
        judge: the judge's shell: an error's traceback is its one-line summary (plus the
            student's own traceback when the error came from the student's code), never
            lines of the test cell, which may be hidden tests (nor the message of an error
            the student's code raised in a hidden test's call: :mod:`course.grading.judge`).
    """
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    class Hook(DisplayHook):
        def write_output_prompt(self):
            pass

        def write_format_data(self, format_dict, md_dict=None):
            CAPTURE.add(
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
            CAPTURE.add(
                {
                    "output_type": "display_data",
                    "data": _json_safe(data),
                    "metadata": _json_safe(metadata or {}),
                }
            )

        def clear_output(self, wait=False):
            CAPTURE.reset()

    class Shell(InteractiveShell):
        displayhook_class = Hook
        display_pub_class = Publisher

        def enable_gui(self, gui=None):
            pass  # figures are rendered inline, as in a kernel

        def showtraceback(self, exc_tuple=None, *args, **kwargs):
            if not judge:
                return super().showtraceback(exc_tuple, *args, **kwargs)
            etype, evalue, _ = sys.exc_info() if exc_tuple is None else exc_tuple
            if etype is None:
                return None
            # an error of the student's code in a hidden test's call: its message is not shown
            message = getattr(evalue, "shown", evalue)
            stb = [*getattr(evalue, "remote_traceback", ()), f"{etype.__name__}: {message}"]
            return self._showtraceback(etype, message, stb)

        def _showtraceback(self, etype, evalue, stb):
            CAPTURE.add(
                {
                    "output_type": "error",
                    "ename": str(etype.__name__),
                    "evalue": str(evalue),
                    "traceback": stb,
                }
            )

    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "Linux"
    if judge:
        from course.grading.judge import Namespace

        shell = Shell.instance(config=config, user_ns=Namespace())
    else:
        shell = Shell.instance(config=config)
    shell.enable_matplotlib("inline")
    return shell


def _on_alarm(signum, frame):
    raise CellTimeoutError("the cell ran out of time")


LAST_ERROR = None  # the exception the last cell run by run_cell ended with, if any


def run_cell(shell, source, timeout):
    """Run one cell; return its result dict (outputs, execution_count, seconds)."""
    CAPTURE.reset()
    count = shell.execution_count
    start = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, timeout)
    global LAST_ERROR
    LAST_ERROR = None
    try:
        LAST_ERROR = shell.run_cell(source, store_history=True).error_in_exec
    except CellTimeoutError as exc:
        LAST_ERROR = exc
        CAPTURE.add(
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
        "outputs": CAPTURE.outputs,
        "execution_count": count,
        "seconds": time.perf_counter() - start,
    }


def _prctl(option, value):
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(option, value)
    except (OSError, AttributeError):
        pass  # not Linux: the parent's cleanup still kills the child's process group


def _die_with_parent(parent=None):
    """Ask Linux to kill this process when its parent ends, so nothing outlives a run.

    Args:
        parent: the parent's pid, when known: if it ended already, this process ends now.
    """
    _prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if parent is not None and os.getppid() != parent:
        os._exit(70)


def _become_subreaper():
    """Orphans among this process's descendants come back to it, to be waited for."""
    _prctl(36, 1)  # PR_SET_CHILD_SUBREAPER


def _forbid_tracing():
    """Make this process (and its forks) non-dumpable: a submission running as the same
    user can then neither ptrace the server nor open its /proc/<pid>/mem or fds."""
    _prctl(4, 0)  # PR_SET_DUMPABLE


def apply_limits(limits, cpu_seconds):
    """Resource limits of one submission's process (inherited by anything it starts).

    Args:
        limits: dict with ``memory_bytes`` (address space on top of what the server
            already uses), ``file_bytes`` (largest file it may write) and ``processes`` (how
            many processes its user may run; Linux does not count this for root, see
            :mod:`course.grading.sandbox`); None for none.
        cpu_seconds: CPU time the process may use.
    """
    if not limits:
        return
    with open("/proc/self/statm") as statm:
        in_use = int(statm.read().split()[0]) * resource.getpagesize()
    memory = in_use + int(limits["memory_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # too big a file: an OSError, not a kill
    files = int(limits["file_bytes"])
    resource.setrlimit(resource.RLIMIT_FSIZE, (files, files))
    cpu = int(cpu_seconds) + 5
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    processes = int(limits["processes"])
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))


_LIBC = None


def _libc():
    global _LIBC
    if _LIBC is None:
        _LIBC = ctypes.CDLL(None, use_errno=True)
    return _LIBC


_CLONE_NEWNS, _CLONE_NEWIPC = 0x00020000, 0x08000000
_CLONE_NEWUSER, _CLONE_NEWPID = 0x10000000, 0x20000000
_CLONE_NEWNET = 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_REMOUNT, _MS_BIND, _MS_REC = 1, 2, 4, 32, 4096, 16384
_MS_PRIVATE = 1 << 18
_MNT_DETACH = 2
# the per-mount options a read-only remount repeats (a mount from a more privileged
# namespace is locked to them)
_MOUNT_OPTIONS = {
    "nosuid": 2,
    "nodev": 4,
    "noexec": 8,
    "noatime": 1024,
    "nodiratime": 2048,
    "relatime": 1 << 21,
    "strictatime": 1 << 24,
}
# file systems that hold no files a process writes (device nodes, terminals, /proc)
_NOT_STORAGE = {"proc", "sysfs", "devpts", "devtmpfs", "mqueue", "cgroup", "cgroup2"}
_SYS_OPEN_TREE, _SYS_MOVE_MOUNT = 428, 429  # the same numbers on every architecture
_OPEN_TREE_CLONE, _AT_RECURSIVE, _MOVE_MOUNT_F_EMPTY_PATH = 1, 0x8000, 4
_AT_FDCWD = -100
_LINGERING = 4  # killed copies the student's process may leave unwaited for a while


def _write_id_maps(uid, gid):
    """Map ``uid`` and ``gid`` (this process's ids in the parent user namespace) to
    themselves in the new one: without a mapping, a file system mounted there cannot hold
    files (a throwaway copy of the student's process mounts one, see :func:`_isolate`)."""
    for name, text in (("uid_map", f"{uid} {uid} 1"), ("setgroups", "deny")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{gid} {gid} 1")


def _new_namespaces(private_tmp):
    """Put this process in new user and IPC namespaces, and its next child first in a new pid
    namespace; with ``private_tmp``, in a new mount namespace too, ready for mounts.

    Returns:
        True when it worked (it needs unprivileged user namespaces, as bubblewrap does).
    """
    uid, gid = os.getuid(), os.getgid()
    flags = _CLONE_NEWUSER | _CLONE_NEWPID | _CLONE_NEWIPC | (_CLONE_NEWNS if private_tmp else 0)
    try:
        if _libc().unshare(flags) != 0:
            return False
    except (OSError, AttributeError):
        return False
    try:  # the ids stay what they were: a file system mounted here needs them
        _write_id_maps(uid, gid)
    except OSError:
        if private_tmp:
            raise
        # else the submission runs; its copies just cannot have files of their own
    return True


def _private_tmp(size, folder, workdir, keep):
    """Cover /tmp with an empty file system of the submission's own (the mount namespace is new).

    It holds the submission's working ``folder`` at ``workdir``, writable, and each path of
    ``keep`` at its own place, read-only. Nothing written there outlives the submission.

    Args:
        size: bytes the new /tmp may hold.
        folder: the working folder the server filled for this submission.
        workdir: where the submission sees it (where the set-up cells ran).
        keep: paths under /tmp the submission still needs (see :func:`_kept_under_tmp`).
    """
    kept = [(path, os.open(path, os.O_PATH | os.O_CLOEXEC)) for path in keep]
    work = os.open(folder, os.O_PATH | os.O_CLOEXEC)
    _mount("tmpfs", "/tmp", "tmpfs", _MS_NOSUID | _MS_NODEV, f"size={int(size)},mode=755")
    for path, fd in kept:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            os.makedirs(path, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            open(path, "x").close()
        _mount(f"/proc/self/fd/{fd}", path, None, _MS_BIND | _MS_REC)
        _remount_read_only(path, [o for p, o, _ in _mounts() if p == path][-1])
        os.close(fd)
    os.makedirs(workdir, exist_ok=True)
    _mount(f"/proc/self/fd/{work}", workdir, None, _MS_BIND | _MS_REC)
    os.close(work)


def _kept_under_tmp(extra=()):
    """What a submission's private /tmp must still show of the server's, read-only.

    The sandbox's read-only folders that live under /tmp (an environment checked out there)
    and ``extra`` (the server's own folders its submissions read), outermost first.
    """
    found = sorted({p for p, _, _ in _mounts() if p.startswith("/tmp/")} | set(extra))
    kept = []
    for path in found:
        if not any(path.startswith(outer + "/") for outer in kept):
            kept.append(path)
    return kept


def _private_world(world, folder, workdir):
    """New namespaces for this process and its children, and the submission's private /tmp.

    Args:
        world: ``(bytes, kept paths)`` (see :func:`_private_tmp`).

    Returns:
        True; raises OSError when this machine does not allow it.
    """
    if not _new_namespaces(private_tmp=True):
        code = ctypes.get_errno()
        raise OSError(code, f"cannot create new user and mount namespaces: {os.strerror(code)}")
    _private_tmp(world[0], folder, workdir, world[1])
    return True


def _check_private_world(world, workdir):
    """Raise now, saying why, when a submission could not get a private /tmp here."""
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            _private_world(world, workdir, workdir)
            status = 0
        except BaseException as exc:
            os.write(2, f"{type(exc).__name__}: {exc}\n".encode())
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        raise RuntimeError(
            "the sandbox cannot give each submission a private /tmp (see the error above): "
            "it needs user and mount namespaces inside bubblewrap's (sysctl "
            "user.max_user_namespaces above 0); or pass --unsafe-no-sandbox"
        )


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint32) for name in ("effective", "permitted", "inheritable")]


def _drop_capabilities():
    """Give up the capabilities a new user namespace gave: the submission must not undo the
    mounts of its private world (unmounting its /tmp would show the server's), nor a copy
    those that isolate it (unmount its layer, make a read-only place writable again)."""
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    if _libc().capset(ctypes.byref(header), (_CapData * 2)()) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"cannot drop capabilities: {os.strerror(code)}")


def _check(result, what):
    """Raise OSError (errno and ``what``) when a libc call returned -1."""
    if result == -1:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")
    return result


def _mount(source, target, fstype, flags, data=None):
    def text(value):
        return None if value is None else value.encode()

    libc = _libc()
    if libc.mount(text(source), text(target), text(fstype), ctypes.c_ulong(flags), text(data)):
        code = ctypes.get_errno()
        raise OSError(code, f"cannot mount {source} on {target}: {os.strerror(code)}")


def _remount_read_only(point, options):
    """Make the mount at ``point`` read-only, repeating its per-mount ``options`` (from
    ``/proc/self/mountinfo``: a mount from a more privileged namespace is locked to them)."""
    flags = _MS_REMOUNT | _MS_BIND | _MS_RDONLY
    _mount(None, point, None, flags | sum(_MOUNT_OPTIONS.get(o, 0) for o in options))


def _private_folder(folder):
    """Cover ``folder`` with a layer of this process's own: it sees the files there, and what
    it writes goes to the layer (an overlay file system on a new tmpfs), gone when it ends."""
    libc = _libc()
    flags = _OPEN_TREE_CLONE | _AT_RECURSIVE | os.O_CLOEXEC
    tree = _check(libc.syscall(_SYS_OPEN_TREE, _AT_FDCWD, folder.encode(), flags), "open_tree")
    try:
        _mount("tmpfs", folder, "tmpfs", 0, f"size={TMP_BYTES},mode=755")
        try:
            os.chdir(folder)  # into the new tmpfs: the layers are made there, by relative paths
            for name in ("lower", "upper", "work"):
                os.mkdir(name)
            where = (_AT_FDCWD, b"lower", _MOVE_MOUNT_F_EMPTY_PATH)
            _check(libc.syscall(_SYS_MOVE_MOUNT, tree, b"", *where), "move_mount")
            layers = "lowerdir=lower,upperdir=upper,workdir=work,userxattr"  # no root here
            _mount("overlay", ".", "overlay", 0, layers)
        except OSError:
            libc.umount2(folder.encode(), _MNT_DETACH)  # back to the folder as it was
            raise
    finally:
        os.close(tree)


def _mounts():
    """``(mount point, per-mount options, file system type)`` of this process's mounts."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields, _, rest = line.partition(" - ")
            fields = fields.split()
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), fields[4])
            found.append((point, fields[5].split(","), rest.split()[0]))
    return found


def _read_only_elsewhere(folder):
    """Make every other place this process could write files read-only (for it alone)."""
    failed = []
    for point, options, fstype in _mounts():
        inside = point == folder or point.startswith(folder.rstrip("/") + "/")
        if "rw" not in options or fstype in _NOT_STORAGE or inside:
            continue
        try:
            _remount_read_only(point, options)
        except OSError as exc:
            failed.append(f"{point} ({exc.strerror})")
    if failed:
        raise OSError(errno.EPERM, f"writable still: {', '.join(failed)}")


class _MappingQuery(ctypes.Structure):
    """``struct procmap_query`` of Linux 6.11 (``<linux/fs.h>``)."""

    _fields_ = [
        *((name, ctypes.c_uint64) for name in ("size", "query_flags", "query_addr")),
        *((name, ctypes.c_uint64) for name in ("vma_start", "vma_end", "vma_flags")),
        *((name, ctypes.c_uint64) for name in ("vma_page_size", "vma_offset", "inode")),
        *((name, ctypes.c_uint32) for name in ("dev_major", "dev_minor")),
        *((name, ctypes.c_uint32) for name in ("vma_name_size", "build_id_size")),
        *((name, ctypes.c_uint64) for name in ("vma_name_addr", "build_id_addr")),
    ]


# _IOWR('f', 17, struct procmap_query); its flags: the next shared mapping from an address
_PROCMAP_QUERY = 3 << 30 | ctypes.sizeof(_MappingQuery) << 16 | ord("f") << 8 | 17
_QUERY_NEXT_SHARED = 0x10 | 0x08


def _shared_mappings():
    """``[(start, end, "rwx" permissions)]`` of this process's shared memory mappings."""
    import fcntl

    found = []
    with open("/proc/self/maps", "rb") as maps:
        query = _MappingQuery(size=ctypes.sizeof(_MappingQuery), query_flags=_QUERY_NEXT_SHARED)
        while True:  # asked of the kernel one by one: much faster than reading the listing
            try:
                fcntl.ioctl(maps.fileno(), _PROCMAP_QUERY, query)
            except OSError as exc:
                if exc.errno == errno.ENOENT:  # no more
                    return found
                if exc.errno not in (errno.ENOTTY, errno.EINVAL):  # else: Linux before 6.11
                    raise
                break
            perms = "".join(c if query.vma_flags & bit else "-" for c, bit in zip("rwx", (1, 2, 4)))
            found.append((query.vma_start, query.vma_end, perms))
            query.query_addr = query.vma_end
        for line in maps.read().decode().splitlines():
            fields = line.split()
            if fields[1][3] == "s":
                start, end = (int(x, 16) for x in fields[0].split("-"))
                found.append((start, end, fields[1][:3]))
    return found


def _private_mappings():
    """Give this process its own copy of the memory it shares with others (an ``mmap``,
    multiprocessing's shared memory, a file mapped for writing): what it writes there
    reaches nobody else."""
    libc = _libc()
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t] + [ctypes.c_int] * 3 + [ctypes.c_long]
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    for start, end, perms in _shared_mappings():
        prot = (perms[0] == "r") | (perms[1] == "w") << 1 | (perms[2] == "x") << 2
        data = ctypes.string_at(start, end - start) if perms[0] == "r" else b""
        private = 0x02 | 0x10 | 0x20  # MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS
        if libc.mmap(start, end - start, prot | 3, private, -1, 0) != start:
            raise OSError(ctypes.get_errno(), "cannot make a shared mapping private")
        ctypes.memmove(start, data, len(data))
        _check(libc.mprotect(start, end - start, prot), "mprotect")


def _only_descriptors(keep):
    """Point every descriptor of this process but ``keep`` at /dev/null (the standard ones
    too: the student's code may have put a file there): a file, pipe or socket the original
    process opened reaches nothing from here (and a stale object that closes its descriptor
    later closes nothing this process uses)."""
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep and fd != null:
            try:
                os.dup2(null, fd, inheritable=False)
            except OSError:
                pass  # the descriptor of the listing itself, closed by now
    os.close(null)


def _isolate(folder, keep):
    """Cut a throwaway copy of the student's process off from the original.

    Its descriptors but ``keep`` go to /dev/null, its shared memory becomes its own, and it
    gets new user, mount, network and IPC namespaces in which ``folder`` (the working
    folder) is covered by a layer of its own and every other place it could write files is
    read-only; then it gives up the capabilities that would let it undo that. What it cannot
    get (no user namespaces on this machine) is written to the server's log; the copy still
    runs.

    Returns:
        What could not be done, as a list of messages (empty when all went well).
    """
    where = os.getcwd()
    uid, gid = os.getuid(), os.getgid()
    problems = []
    try:
        _private_mappings()
    except OSError as exc:
        problems.append(str(exc))
    try:
        flags = _CLONE_NEWUSER | _CLONE_NEWNS | _CLONE_NEWNET | _CLONE_NEWIPC
        _check(_libc().unshare(flags), "unshare")
        _write_id_maps(uid, gid)
        _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
        _private_folder(folder)
        _read_only_elsewhere(folder)
    except OSError as exc:
        problems.append(str(exc))
    try:
        _drop_capabilities()
    except OSError as exc:
        problems.append(str(exc))
    if problems:
        os.write(2, f"a copy of the student's process: {'; '.join(problems)}\n".encode())
    _only_descriptors(keep)
    os.chdir(where)
    return problems


class _Copy:
    """A throwaway copy of the student's process: it serves the judge's calls of one test cell.

    The copy is a fork of the student's process made when the judge starts a test cell; the
    original sends it the messages of the cell (:meth:`send`), the copy answers the grader
    itself, and the original kills it when the cell ends (:meth:`discard`).

    Args:
        peer: the student's :class:`~course.grading.wire.Peer` (the copy serves with it).
        up: the descriptor the student's process writes its messages to.
        folder: the submission's working folder.

    Raises:
        OSError: no copy could be made (its pipe is closed again).
    """

    made = 0  # copies made by this process: each numbers its function handles apart

    def __init__(self, peer, up, folder):
        _Copy.made += 1
        _forbid_tracing()  # the copy cannot reach the original's files through /proc/<pid>
        down_r, self.down = os.pipe()
        try:
            self.pid = _fork_past_own_processes()
        except OSError:
            os.close(down_r)
            os.close(self.down)
            raise
        if self.pid == 0:
            status = 0
            try:
                _die_with_parent()
                os.close(self.down)
                _isolate(folder, keep=(down_r, up))
                peer.reader = MessageReader(down_r)
                peer.number_handles_from(_Copy.made << 32)
                while True:
                    message = peer.reader.read()
                    if message is None or "call" not in message:
                        break
                    peer.write(peer.serve(message["call"]))
            except BaseException:
                status = 70
            finally:
                os._exit(status)
        os.close(down_r)
        try:
            self.ended = os.pidfd_open(self.pid)  # readable once the copy has ended
        except (AttributeError, OSError):
            self.ended = None

    def send(self, message):
        write_message(self.down, message)

    def discard(self):
        """Kill the copy; it is waited for later (:meth:`reap`), while the original works."""
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.close(self.down)
        if self.ended is not None:
            os.close(self.ended)

    def reap(self, block):
        """Wait for the killed copy (``block``: until it is gone); True once it is."""
        try:
            return os.waitpid(self.pid, 0 if block else os.WNOHANG)[0] != 0
        except ChildProcessError:
            return True


def _fork_past_own_processes():
    """``os.fork()``; when the submission's processes use up its limit, the first process
    of the submission's pid namespace (this one) ends the others, then forks."""
    try:
        return os.fork()
    except BlockingIOError:
        if os.getpid() != 1:  # not the first of a namespace of its own: -1 is everyone's
            raise
    os.kill(-1, signal.SIGKILL)  # every other process of the namespace
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
    return os.fork()


def _cannot_copy(error):
    """The answer to a test cell's first request when no copy could serve it."""
    why = f"{error.strerror or error}" if isinstance(error, OSError) else str(error)
    evalue = (
        f"the grader could not copy your notebook's process to run this test cell ({why}): "
        "does your code start many processes or threads?"
    )
    return {"raise": {"ename": "RuntimeError", "evalue": evalue, "traceback": []}}


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


def _serve_student(shell, peer, up, timeout, folder):
    """The student's process: run cells; serve each test cell's calls from a new copy.

    ``up`` is the descriptor it writes its messages to, ``folder`` its working folder.
    """
    copy, killed, failed = None, [], None  # failed: why the test cell under way has no copy
    while True:
        message = _next_message(peer.reader, copy)
        if message is None:
            return
        call = message.get("call")
        if type(call) is dict and type(call.get("fn")) is dict and "names" in call["fn"]:
            if copy is not None:  # a test cell with no visible part ended
                copy.discard()
                killed.append(copy)
            try:
                copy, failed = _Copy(peer, up, folder), None
            except OSError as exc:
                copy, failed = None, exc
        if failed is not None and call is not None:  # never served here instead
            peer.write(_cannot_copy(failed))
            continue
        if copy is not None and any(key in message for key in ("call", "return", "raise")):
            copy.send(message)
            continue
        failed = None
        if copy is not None:  # the test cell ended: what its calls did goes with the copy
            copy.discard()
            killed.append(copy)
            copy = None
        # killed copies are waited for while the original works (a few at most linger)
        killed = [old for old in killed if not old.reap(block=len(killed) > _LINGERING)]
        if "call" in message:
            peer.write(peer.serve(message["call"]))
        elif "cell" in message:
            peer.write({"result": run_cell(shell, str(message["cell"]), timeout)})
        else:
            return


def _child_main(role, shell, reader, up, start):
    """The submission's process: answer cells and calls until the server stops it.

    ``up`` is the descriptor it writes its messages to.
    """
    from course.grading import wire

    timeout = float(start["timeout"])
    peer = wire.Peer(reader, lambda m: write_message(up, m), timeout=timeout, capture=CAPTURE)
    if role == "student":
        peer.namespace = shell.user_ns
        folder = os.getcwd()
        known = _signatures(folder)
        peer.changed_files = lambda: _changed_files(folder, known)
        sys.path.append(folder)  # the notebook's own modules, after the installed ones
        return _serve_student(shell, peer, up, timeout, folder)
    from course.grading import judge

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
        _die_with_parent(server)
        os.setpgid(0, 0)
        if world is None:
            private = _new_namespaces(private_tmp=False)
        else:
            private = _private_world(world, folder, workdir)
        # the child keeps its two pipes; the judge's errors go to the server's log
        _keep_only((down_r, up_w), stderr=role == "judge")
        pid = os.fork()
        if pid == 0:  # pid 1 of its namespace when that worked
            _die_with_parent()
            if private:
                _drop_capabilities()
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


def _fill_folder(folder, files):
    """Empty ``folder``, then write ``files`` (``{relative path: base64}``) into it.

    Returns:
        ``{relative path: bytes}`` of what was written.
    """
    for entry in os.scandir(folder):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            os.unlink(entry.path)
    return write_files(folder, files)


def _remove(folder):
    """Remove a submission's working folder, also where it made folders read-only."""
    os.chmod(folder, 0o700)
    for path, dirs, _ in os.walk(folder):  # top-down: a folder is fixed before it is read
        for name in dirs:
            inner = os.path.join(path, name)
            if not os.path.islink(inner):
                os.chmod(inner, 0o700)
    # what is left (nothing, unless the file system failed) is never seen again: each
    # submission works in a new folder
    shutil.rmtree(folder, ignore_errors=True)


_MAX_PRODUCED_BYTES = 16 * 1024 * 1024  # files a notebook writes that the grader keeps


def _signatures(folder):
    """``{relative path: (size, modification time)}`` of the regular files in ``folder``."""
    found = {}
    for path, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in (".ipynb_checkpoints", "__pycache__")]
        for name in names:
            full = os.path.join(path, name)
            try:
                info = os.lstat(full)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                found[os.path.relpath(full, folder)] = (info.st_size, info.st_mtime_ns)
    return found


def _changed_files(folder, known):
    """Files of ``folder`` changed since ``known`` (signatures, updated), as base64, capped.

    The student's side sends them with every answer to the judge, so that a test that reads
    a file the student's code wrote finds it, as in nbgrader's single folder.
    """
    changed, total = {}, 0
    for relative, signature in sorted(_signatures(folder).items()):
        if known.get(relative) == signature:
            continue
        if total + signature[0] > _MAX_PRODUCED_BYTES:
            break
        try:
            fd = os.open(os.path.join(folder, relative), os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        with os.fdopen(fd, "rb") as f:
            data = f.read(_MAX_PRODUCED_BYTES - total)
        total += len(data)
        known[relative] = signature
        changed[relative] = base64.b64encode(data).decode()
    return changed


def write_files(folder, files):
    """Write ``files`` (``{relative path: base64}``) into ``folder``; return them as bytes."""
    written = {}
    root = os.path.realpath(folder)
    for name, data in files.items():
        path = os.path.realpath(os.path.join(folder, str(name)))
        if not path.startswith(root + os.sep):
            continue  # a name that climbs out of the folder
        os.makedirs(os.path.dirname(path), exist_ok=True)
        written[name] = base64.b64decode(data)
        with open(path, "wb") as f:
            f.write(written[name])
    return written


def _produced_files(folder, given):
    """Regular files in ``folder`` that the run created or changed, as base64 (capped)."""
    produced, total = {}, 0
    for path, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in (".ipynb_checkpoints", "__pycache__")]
        for name in sorted(names):
            full = os.path.join(path, name)
            relative = os.path.relpath(full, folder)
            try:
                fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:
                continue  # a link, or gone
            with os.fdopen(fd, "rb") as f:
                if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                    continue
                data = f.read(_MAX_PRODUCED_BYTES - total + 1)
            if given.get(relative) == data:
                continue
            if total + len(data) > _MAX_PRODUCED_BYTES:
                return produced  # the rest is not kept
            total += len(data)
            produced[relative] = base64.b64encode(data).decode()
    return produced


def run_session(role, shell, start, protocol, limits, place):
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
    owed_since, dead = None, None

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
                if "end" in message:
                    _end_processes(pid)
                    produced = _produced_files(folder, given) if role == "student" else {}
                    send({"ended": True, "files": produced})
                    return True
                if dead is not None:
                    send({"dead": dead})
                elif "kill" in message:
                    stop("wall")
                else:
                    data = json.dumps(message).encode("utf-8")
                    framed = _HEADER.pack(len(data)) + data
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
        _remove(folder)
        os.close(down_w)
        os.close(up_r)


def _alive(pid):
    try:
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return False


def serve():
    """The server's main loop: set up, then serve submissions until the grader goes away."""
    _die_with_parent()
    _forbid_tracing()
    _become_subreaper()
    if not sys.flags.safe_path:  # Python put its working folder (/tmp, writable) first
        del sys.path[0]
    protocol_in, protocol_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)  # code writing to fd 1 directly must not corrupt the protocol
    reader = MessageReader(protocol_in)
    setup = reader.read()
    if setup is None:
        return
    sys.stdout, sys.stderr = _StreamWriter("stdout"), _StreamWriter("stderr")
    signal.signal(signal.SIGALRM, _on_alarm)
    for module in setup.get("warm", []):
        __import__(module)
    # the set-up cells run where the notebooks will: in a folder holding the shared files
    workdir = setup.get("workdir") or tempfile.mkdtemp(prefix="notebook-")
    os.makedirs(workdir, exist_ok=True)
    _fill_folder(workdir, setup.get("files", {}))
    os.chdir(workdir)
    modules = []
    if setup["role"] == "judge":  # a test may import the instructor's modules, never others
        modules.append(tempfile.mkdtemp(prefix="course-modules-"))
        shared = setup.get("files", {})
        write_files(modules[0], {k: v for k, v in shared.items() if k.endswith(".py")})
        sys.path.append(modules[0])
    world = None  # each submission's private /tmp, when the sandbox asks for one
    if setup.get("tmp_bytes"):
        world = (int(setup["tmp_bytes"]), _kept_under_tmp(modules))
        _check_private_world(world, workdir)
    shell = make_shell(judge=setup["role"] == "judge")
    prefix = [run_cell(shell, source, float(setup["timeout"])) for source in setup["prefix"]]
    # what the server holds now is never collected in a submission's process: its garbage
    # collections skip it, instead of copying every page of the server's heap to read it
    gc.collect()
    gc.freeze()

    def send(message):
        write_message(protocol_out, message)

    send({"ready": True, "cells": prefix})
    while True:
        request = reader.read()
        if request is None or "start" not in request:
            return
        protocol = (reader, send)
        limits = setup.get("limits")
        place = (workdir, world)
        if not run_session(setup["role"], shell, request["start"], protocol, limits, place):
            return


if __name__ == "__main__":
    # run the module's own copy (not __main__'s), so that the judge, wire and this server
    # share one CAPTURE, one LAST_ERROR and one CellTimeoutError
    from course.grading.forkserver import serve as _serve

    try:
        _serve()
    except BaseException:
        # sys.stderr captures cell output; the server's own errors go to its real stderr
        import traceback

        os.write(2, traceback.format_exc().encode())
        sys.exit(1)
