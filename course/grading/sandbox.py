"""The bubblewrap sandbox that student code runs in.

Each execution server (:mod:`course.grading.forkserver`) is started inside ``bwrap`` with:

* a private filesystem view: the operating system's read-only directories, this Python and
  its environment, and the ``course`` package, all read-only; a small private ``/tmp``.
  The course directory (``source/``, the gradebook, other students' work) is not there;
* no network (its own, empty, network namespace), its own pid, IPC and UTS namespaces,
  an unprivileged user (``nobody``) with no capabilities, a new session (no terminal);
* death with its parent: nothing it started outlives the grader.

Per submission, the server's child adds resource limits (memory, file size, CPU time) and a
per-cell timeout; see :func:`course.grading.forkserver.apply_limits`.
"""

import functools
import shutil
import subprocess
import sys
from pathlib import Path

import course

__all__ = ["SandboxUnavailable", "available", "command", "INSTALL_HINT"]

INSTALL_HINT = (
    "the sandbox needs bubblewrap: install it with `sudo apt-get install bubblewrap` "
    "(Debian/Ubuntu), or run `make install` as root; to grade without a sandbox anyway, "
    "pass --unsafe-no-sandbox"
)
TMP_BYTES = 256 * 1024 * 1024  # the private /tmp: what a submission may write in all
NOBODY = 65534
_SYSTEM_DIRS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create namespaces on this machine."""


def _binds():
    """``--ro-bind`` pairs for everything the execution server needs to read."""
    paths = [p for p in _SYSTEM_DIRS if Path(p).exists()]
    paths += [sys.prefix, sys.base_prefix, str(Path(course.__file__).resolve().parent)]
    args = []
    for path in dict.fromkeys(paths):
        source = Path(path)
        if source.is_symlink():  # merged /usr: /bin -> usr/bin
            args += ["--symlink", str(source.readlink()), str(source)]
        else:
            args += ["--ro-bind", str(source), str(source)]
    return args


def command(argv):
    """``argv`` wrapped in bwrap with the sandbox's options.

    Args:
        argv: the program to run inside, e.g. ``[sys.executable, "-m", "..."]``.

    Returns:
        The full command line.
    """
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(INSTALL_HINT)
    return [
        bwrap,
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--uid", str(NOBODY),
        "--gid", str(NOBODY),
        "--cap-drop", "ALL",
        "--hostname", "sandbox",
        # /tmp first: the environment may itself live under /tmp (a CI checkout)
        "--size", str(TMP_BYTES),
        "--tmpfs", "/tmp",
        *_binds(),
        "--proc", "/proc",
        "--dev", "/dev",
        "--setenv", "HOME", "/tmp",
        "--setenv", "MPLCONFIGDIR", "/tmp/matplotlib",
        "--setenv", "IPYTHONDIR", "/tmp/ipython",
        "--chdir", "/tmp",
        *argv,
    ]  # fmt: skip


@functools.cache
def available():
    """Whether the sandbox works here; raises :class:`SandboxUnavailable` saying why not."""
    cmd = command([sys.executable, "-c", "import course"])
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except OSError as exc:
        raise SandboxUnavailable(f"bubblewrap cannot start ({exc}); {INSTALL_HINT}") from exc
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise SandboxUnavailable(
            f"bubblewrap is installed but cannot create a sandbox here ({why}); it needs "
            "unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1), or "
            "pass --unsafe-no-sandbox"
        )
    return True
