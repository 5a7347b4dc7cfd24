"""Running notebooks on warm fork servers: the task every worker executes.

:func:`execute_notebook` is the one task of the grader. It takes and returns plain data
(the notebook as JSON text, numbers, strings), so it runs the same in a local thread pool
and on a Dask worker, and needs no shared filesystem. In each worker process it keeps fork
servers (:mod:`course.grading.forkserver`) started ahead of time, one per shared prefix of
cells, and reuses them for every submission.
"""

import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading

from course.grading import sandbox
from course.grading.forkserver import MessageReader, write_message

__all__ = ["WorkerLost", "execute_notebook", "prestart", "make_task", "shutdown"]

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


_STARTUP_SECONDS = 120  # most a server may take to import everything and answer
_SILENCE_SECONDS = 15  # past a cell's timeout, how long a silent server is waited for

# What one submission may use (on top of what the server itself already uses).
LIMITS = {"memory_bytes": 2 * 1024**3, "file_bytes": 64 * 1024**2}


class ForkServer:
    """A running ``python -m course.grading.forkserver`` (sandboxed or not) and its pipes."""

    def __init__(self, prefix, timeout, sandboxed):
        self.prefix, self.timeout = prefix, timeout
        self.log = tempfile.TemporaryFile()
        argv = [sys.executable, "-m", "course.grading.forkserver"]
        env = {**os.environ, **SERVER_ENV, "IPYTHONDIR": tempfile.mkdtemp(prefix="ipython-")}
        self.process = subprocess.Popen(
            sandbox.command(argv) if sandboxed else argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=env,
        )
        self.reader = MessageReader(self.process.stdout.fileno())
        self._send(
            {
                "prefix": prefix,
                "warm": WARM_MODULES,
                "timeout": timeout,
                "env": {},
                "limits": LIMITS,
            }
        )
        self.prefix_results = None

    def _send(self, message):
        try:
            write_message(self.process.stdin.fileno(), message)
        except (BrokenPipeError, OSError) as exc:
            raise WorkerLost(self._why()) from exc

    def _receive(self, timeout=None):
        try:
            message = self.reader.read(timeout=timeout)
        except TimeoutError:  # a stopped or wedged server: give up on it
            raise WorkerLost(self._why()) from None
        if message is None:
            raise WorkerLost(self._why())
        return message

    def _why(self):
        self.process.kill()
        self.process.wait()
        self.log.seek(0)
        tail = self.log.read().decode(errors="replace").strip().splitlines()[-3:]
        return f"the execution server stopped (exit {self.process.returncode}): " + (
            " | ".join(tail) or "no message"
        )

    def ready(self):
        """Wait until the server has run the prefix; return the prefix's cell results."""
        if self.prefix_results is None:
            budget = _STARTUP_SECONDS + self.timeout * len(self.prefix)
            self.prefix_results = self._receive(timeout=budget)["cells"]
        return self.prefix_results

    def run(self, sources, timeout, files):
        """Run ``sources`` after the prefix in a fresh child; return the server's answer."""
        self.ready()
        self._send({"cells": sources, "timeout": timeout, "files": files})
        while True:
            # the server reports every finished cell and stops a child that overruns a
            # cell's timeout; silence for longer than that means the server itself is stuck
            message = self._receive(timeout=timeout + _SILENCE_SECONDS)
            if "progress" not in message:
                return message

    def close(self):
        try:
            self.process.stdin.close()
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        self.log.close()


_IDLE = {}  # (prefix key, timeout, sandboxed) -> idle servers of this process
_LOCK = threading.Lock()


def _checkout(prefix, timeout, sandboxed):
    key = (hashlib.sha256(json.dumps(prefix).encode()).hexdigest(), timeout, sandboxed)
    with _LOCK:
        idle = _IDLE.setdefault(key, [])
        server = idle.pop() if idle else None
    return key, server or ForkServer(prefix, timeout, sandboxed)


def _checkin(key, server):
    with _LOCK:
        _IDLE.setdefault(key, []).append(server)


def prestart(prefix, timeout, count, sandboxed=True):
    """Start ``count`` servers for ``prefix`` in this process, in parallel, and wait for them.

    Returns:
        The number of servers started.
    """
    started = [_checkout(prefix, timeout, sandboxed) for _ in range(count)]
    for key, server in started:
        server.ready()
        _checkin(key, server)
    return count


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


def make_task(notebook_json, prefix, timeout, files=None, sandboxed=True):
    """The plain-data task for :func:`execute_notebook`.

    Args:
        notebook_json: the sanitized notebook, as JSON text.
        prefix: sources of the code cells every submission starts with (may be empty).
        timeout: seconds each cell may run.
        files: ``{relative path: bytes}`` the notebook's folder holds (data files).
        sandboxed: run the student's code inside the bubblewrap sandbox.
    """
    return {
        "notebook": notebook_json,
        "prefix": list(prefix),
        "timeout": float(timeout),
        "sandboxed": bool(sandboxed),
        "files": {name: base64.b64encode(data).decode() for name, data in (files or {}).items()},
    }


def _fill(cell, result):
    cell["outputs"] = result["outputs"]
    cell["execution_count"] = result["execution_count"]


def _not_run(cell, status, first):
    """Error outputs for a cell the child never finished (``first``) or never started."""
    if first and status == "killed":
        ename, why = "CellTimeoutError", "the cell ran past its timeout and would not stop"
    elif status == "killed":
        ename, why = "DeadKernelError", "not run: an earlier cell never finished"
    else:
        ename, why = (
            "DeadKernelError",
            ("not run: the notebook's process ended (os._exit, a crash, or out of memory)"),
        )
    cell["outputs"] = [
        {"output_type": "error", "ename": ename, "evalue": why, "traceback": [f"{ename}: {why}"]}
    ]
    cell["execution_count"] = None


def execute_notebook(task):
    """Execute a sanitized notebook on a warm fork server of this process.

    Args:
        task: a dict from :func:`make_task`.

    Returns:
        ``{"notebook": JSON text with outputs, "seconds": time spent in the submission's own
        cells, "status": "ok" | "killed" | "died"}``.

    Raises:
        WorkerLost: the server died twice in a row.
    """
    nb = json.loads(task["notebook"])
    cells = _code_cells(nb)
    prefix = task["prefix"]
    shares_prefix = [_source(c) for c in cells[: len(prefix)]] == prefix
    if not shares_prefix:
        prefix = []
    files = task["files"]
    for attempt in (1, 2):
        key, server = _checkout(prefix, task["timeout"], task["sandboxed"])
        try:
            prefix_results = server.ready()
            answer = server.run([_source(c) for c in cells[len(prefix) :]], task["timeout"], files)
        except WorkerLost:
            if attempt == 2:
                raise
            continue
        _checkin(key, server)
        break
    for cell, result in zip(cells, prefix_results):
        _fill(cell, result)
    rest = cells[len(prefix) :]
    for cell, result in zip(rest, answer["cells"]):
        _fill(cell, result)
    for i, cell in enumerate(rest[len(answer["cells"]) :]):
        _not_run(cell, answer["status"], first=i == 0)
    return {
        "notebook": json.dumps(nb),
        "seconds": sum(r["seconds"] for r in answer["cells"]),
        "status": answer["status"],
    }
