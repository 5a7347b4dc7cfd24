"""The execution environment of the grader: a fork server that runs notebook cells.

Run as ``python -m course.grading.forkserver``; :mod:`course.grading.executor` starts and
drives it. The server imports the heavy modules (numpy, matplotlib, IPython, ...) once and
executes the cells every submission shares (the locked cells before the first exercise).
Then, for each submission, it forks a child that inherits all of that and runs only the
submission's remaining cells in an IPython shell, so a submission costs a fork instead of a
kernel start.

Protocol (no pickle anywhere): messages are 4-byte big-endian lengths followed by UTF-8
JSON. The first message sets the server up::

    {"prefix": [source, ...], "warm": [module, ...], "timeout": seconds, "env": {...},
     "limits": {"memory_bytes": n, "file_bytes": n} or null}

and is answered with ``{"ready": true, "cells": [result, ...]}`` for the prefix cells. Each
later message is a request::

    {"cells": [source, ...], "timeout": seconds, "files": {name: base64}}

preceded by one ``{"progress": true}`` per finished cell and answered with
``{"cells": [result, ...], "status": "ok" | "killed" | "died"}`` where a
result is ``{"outputs": [...], "execution_count": n, "seconds": s}`` in nbformat's output
format. Cells after a child died or was killed have no result.
"""

import base64
import io
import json
import os
import resource
import select
import shutil
import signal
import struct
import sys
import tempfile
import time

_HEADER = struct.Struct(">I")
_MAX_OUTPUT_CHARS = 5_000_000  # per cell: a cell printing gigabytes is cut here
_KILL_GRACE = 5.0  # seconds past the per-cell timeout before the child is killed


def write_message(fd, obj):
    """Send one framed JSON message on file descriptor ``fd``."""
    data = json.dumps(obj).encode("utf-8")
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


class MessageReader:
    """Reads framed messages from a file descriptor, optionally with a deadline."""

    def __init__(self, fd):
        self.fd = fd
        self.buffer = b""

    def _next_from_buffer(self):
        if len(self.buffer) < _HEADER.size:
            return None
        (size,) = _HEADER.unpack_from(self.buffer)
        if len(self.buffer) < _HEADER.size + size:
            return None
        data = self.buffer[_HEADER.size : _HEADER.size + size]
        self.buffer = self.buffer[_HEADER.size + size :]
        return json.loads(data)

    def read(self, timeout=None):
        """The next message; None at end of file; raises TimeoutError past ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            message = self._next_from_buffer()
            if message is not None:
                return message
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                    raise TimeoutError
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                return None
            self.buffer += chunk


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


def make_shell():
    """An IPython shell whose outputs (streams, displays, results, errors) are captured."""
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
    shell = Shell.instance(config=config)
    shell.enable_matplotlib("inline")
    return shell


def _on_alarm(signum, frame):
    raise CellTimeoutError("the cell ran out of time")


def run_cell(shell, source, timeout):
    """Run one cell; return its result dict (outputs, execution_count, seconds)."""
    CAPTURE.reset()
    count = shell.execution_count
    start = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        shell.run_cell(source, store_history=True)
    except CellTimeoutError as exc:
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


def _die_with_parent():
    """Ask Linux to kill this process when its parent ends, so nothing outlives a run."""
    _prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _forbid_tracing():
    """Make this process (and its forks) non-dumpable: a submission running as the same
    user can then neither ptrace the server nor open its /proc/<pid>/mem or fds."""
    _prctl(4, 0)  # PR_SET_DUMPABLE


def apply_limits(limits, n_cells, timeout):
    """Resource limits of one submission's process (inherited by anything it starts).

    Args:
        limits: dict with ``memory_bytes`` (address space on top of what the server
            already uses) and ``file_bytes`` (largest file it may write); None for none.
        n_cells: how many cells the submission runs.
        timeout: seconds per cell; the CPU time limit is ``n_cells * timeout`` plus 5 s.
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
    cpu = int(n_cells * timeout) + 5
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))


def _child(shell, sources, timeout, workdir, result_fd, close_fds, limits):
    """Run in the forked child: execute the cells, stream each result, never return."""
    status = 0
    try:
        _die_with_parent()
        os.setpgid(0, 0)
        for fd in close_fds:
            os.close(fd)
        os.chdir(workdir)
        apply_limits(limits, len(sources), timeout)
        for source in sources:
            write_message(result_fd, run_cell(shell, source, timeout))
    except BaseException:
        status = 70
    finally:
        os._exit(status)


def _kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_request(shell, request, protocol_fds, limits, heartbeat):
    """Fork a child for one submission and collect its cell results.

    ``heartbeat()`` is called after each cell, so the client can tell a busy server from a
    stopped one.
    """
    timeout = float(request["timeout"])
    sources = request["cells"]
    workdir = tempfile.mkdtemp(prefix="submission-")
    for name, data in request.get("files", {}).items():
        path = os.path.join(workdir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child(shell, sources, timeout, workdir, write_fd, protocol_fds, limits)
    os.close(write_fd)
    reader = MessageReader(read_fd)
    results, status = [], "ok"
    try:
        while len(results) < len(sources):
            try:
                message = reader.read(timeout=timeout + _KILL_GRACE)
            except TimeoutError:
                status = "killed"
                break
            if message is None:
                status = "died"
                break
            results.append(message)
            heartbeat()
    finally:
        _kill_group(pid)
        os.waitpid(pid, 0)
        os.close(read_fd)
        shutil.rmtree(workdir, ignore_errors=True)
    return {"cells": results, "status": status}


def serve():
    """The server's main loop: set up, then answer requests until stdin closes."""
    _die_with_parent()
    _forbid_tracing()
    protocol_in, protocol_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)  # code writing to fd 1 directly must not corrupt the protocol
    reader = MessageReader(protocol_in)
    setup = reader.read()
    if setup is None:
        return
    os.environ.update(setup.get("env", {}))
    sys.stdout, sys.stderr = _StreamWriter("stdout"), _StreamWriter("stderr")
    signal.signal(signal.SIGALRM, _on_alarm)
    for module in setup.get("warm", []):
        __import__(module)
    shell = make_shell()
    prefix = [run_cell(shell, source, float(setup["timeout"])) for source in setup["prefix"]]
    write_message(protocol_out, {"ready": True, "cells": prefix})
    while True:
        request = reader.read()
        if request is None:
            return
        answer = run_request(
            shell,
            request,
            (protocol_in, protocol_out),
            setup.get("limits"),
            heartbeat=lambda: write_message(protocol_out, {"progress": True}),
        )
        write_message(protocol_out, answer)


if __name__ == "__main__":
    try:
        serve()
    except BaseException:
        # sys.stderr captures cell output; the server's own errors go to its real stderr
        import traceback

        os.write(2, traceback.format_exc().encode())
        sys.exit(1)
