"""The bubblewrap sandbox that student code runs in.

Each zygote (:mod:`course.grading.server.forkserver`), and so the servers it forks, is
started inside ``bwrap`` with:

* a private filesystem view: the operating system's read-only directories, this Python and
  its environment, and the ``course`` package, all read-only; a small private ``/tmp``, the
  only writable place (the root and ``/dev`` are read-only too). The course directory
  (``source/``, the gradebook, other students' work) is not there;
* no network (its own, empty, network namespace), its own pid, IPC and UTS namespaces,
  an unprivileged user (``nobody``) with no capabilities, a new session (no terminal);
* death with its parent: nothing it started outlives the grader.

Per submission, the server's child adds resource limits (memory, file size, CPU time,
processes) and a per-cell timeout (see :func:`course.grading.server.isolation.apply_limits`), and
runs in its own user, pid, IPC and mount namespaces, with a new, empty ``/tmp`` of its own
(see :mod:`course.grading.server.isolation`).

Linux does not apply the process limit (``RLIMIT_NPROC``) to root, and a grader run as root
maps the sandbox's user to root. There, each server is also put in a ``pids`` cgroup of its
own (:func:`process_group`; a server forked by a zygote is moved to its own with
:func:`move_to_process_group`) when the machine lets the grader make one, so a fork bomb
stops at the limit instead of filling the machine.
"""

import functools
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import course
from course.grading.server.isolation import TMP_BYTES

__all__ = [
    "SandboxUnavailable",
    "available",
    "command",
    "process_group",
    "join_process_group",
    "move_to_process_group",
    "remove_process_group",
    "INSTALL_HINT",
]

INSTALL_HINT = (
    "the sandbox needs bubblewrap: install it with `sudo apt-get install bubblewrap` "
    "(Debian/Ubuntu), or run `make install` as root; to grade without a sandbox anyway, "
    "pass --unsafe-no-sandbox"
)
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


def _font_lists():
    """``--ro-bind`` pairs that show Matplotlib's font lists, as built outside the sandbox,
    where Matplotlib looks for them inside (its cache, ``/tmp/matplotlib``): without them,
    each sandbox that imports Matplotlib scans the system's fonts again (a third of a second).

    A list that names a font the sandbox does not show (outside the folders it binds) is
    left out: Matplotlib would rebuild it, with a warning, in the middle of a cell.
    """
    folder = os.environ.get("MPLCONFIGDIR") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "matplotlib"
    )
    shown = tuple(p + "/" for p in (*_SYSTEM_DIRS, sys.prefix, sys.base_prefix))
    args = []
    for path in sorted(Path(folder).glob("fontlist-v*.json")):
        try:
            fonts = json.loads(path.read_text())
            names = [f["fname"] for f in fonts["ttflist"] + fonts["afmlist"]]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if all(not os.path.isabs(name) or name.startswith(shown) for name in names):
            args += ["--ro-bind", str(path), f"{_MATPLOTLIB_CACHE}/{path.name}"]
    return args


_MATPLOTLIB_CACHE = "/tmp/matplotlib"  # Matplotlib's configuration and cache, in the sandbox


def command(argv: list[str], info_fd: int | None = None) -> list[str]:
    """``argv`` wrapped in bwrap with the sandbox's options.

    Args:
        argv: the program to run inside, e.g. ``[sys.executable, "-m", "..."]``.
        info_fd: a file descriptor bwrap writes its JSON information to, then closes (the
            ``child-pid`` of the sandbox's first process), or None.

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
        *_font_lists(),
        "--proc", "/proc",
        "--dev", "/dev",
        "--setenv", "HOME", "/tmp",
        "--setenv", "TMPDIR", "/tmp",
        "--setenv", "MPLCONFIGDIR", _MATPLOTLIB_CACHE,
        "--setenv", "IPYTHONDIR", "/tmp/ipython",
        "--chdir", "/tmp",
        # /tmp is then the only writable place: each submission gets a new one of its own
        "--remount-ro", "/",
        "--remount-ro", "/dev",
        *(["--info-fd", str(info_fd)] if info_fd is not None else []),
        *argv,
    ]  # fmt: skip


@functools.cache
def available() -> bool:
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


_CGROUP_V1 = Path("/sys/fs/cgroup/pids")  # the pids hierarchy of cgroup v1
_CGROUP_V2 = Path("/sys/fs/cgroup")  # the unified hierarchy of cgroup v2
_GROUP_PREFIX = "course-grader-"


@functools.cache
def _cgroup_base():
    """The folder under which pids cgroups can be made here, or None (the groups that
    graders which have ended left there are removed first)."""
    base = None
    if (_CGROUP_V1 / "cgroup.procs").is_file() and os.access(_CGROUP_V1, os.W_OK):
        base = _CGROUP_V1 / "course-grader"
    controllers = _CGROUP_V2 / "cgroup.controllers"
    if base is None and controllers.is_file() and "pids" in controllers.read_text().split():
        try:  # the root's children may then limit processes
            (_CGROUP_V2 / "cgroup.subtree_control").write_text("+pids")
        except OSError:
            return None
        base = _CGROUP_V2
    if base is not None:
        _remove_orphans(base)
    return base


def _remove_orphans(base):
    """Remove the empty groups in ``base`` of graders that are gone (killed before they could
    remove them), made over a minute ago: no one will use them again."""
    for path in base.glob(f"{_GROUP_PREFIX}*"):
        owner = path.name.removeprefix(_GROUP_PREFIX).split("-")[0]
        try:
            old = time.time() - path.stat().st_mtime > 60
        except OSError:
            continue
        if old and owner.isdigit() and not _alive(int(owner)):
            remove_process_group(path, patience=0)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        pass
    return True


def process_group(limit: int) -> Path | None:
    """A new, empty pids cgroup that allows at most ``limit`` processes.

    Its name is new: a group left behind by a grader that was killed (whose pid this process
    may now have) is never taken over, nor removed while in use.

    Returns:
        Its folder, or None when this machine does not let the grader make one (then only
        ``RLIMIT_NPROC`` limits processes, which does not bind root).
    """
    base = _cgroup_base()
    if base is None:
        return None
    while True:
        path = base / f"{_GROUP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}"
        try:
            path.mkdir(parents=True)
            break
        except FileExistsError:
            continue  # another group's name: draw again
        except OSError:
            return None
    try:
        (path / "pids.max").write_text(str(int(limit)))
    except OSError:
        remove_process_group(path, patience=0)
        return None
    return path


def join_process_group(path: Path | str) -> None:
    """Move the calling process into the cgroup ``path`` (its children follow it)."""
    with open(Path(path) / "cgroup.procs", "w") as procs:
        procs.write("0")


def move_to_process_group(path: Path | str, pid: int) -> None:
    """Move the process ``pid`` (alone: not its children so far) into the cgroup ``path``."""
    with open(Path(path) / "cgroup.procs", "w") as procs:
        procs.write(str(int(pid)))


def remove_process_group(path: Path | str, patience: float = 2.0) -> None:
    """Remove the cgroup ``path`` once its processes are gone, waiting up to ``patience``
    seconds for the last of them to be released (quietly: it may stay in use)."""
    deadline = time.monotonic() + patience
    while True:
        try:
            Path(path).rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() >= deadline:
                return
        time.sleep(0.02)
