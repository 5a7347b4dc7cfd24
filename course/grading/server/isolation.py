"""What a submission's processes may do: limits, namespaces, a private world, copies.

Linux mechanisms only (prctl, rlimits, user, pid, mount, IPC and network namespaces,
tmpfs and overlay mounts, capabilities), used by :mod:`course.grading.server.forkserver`:

* each submission's child is the first process of its own user, pid and IPC namespaces
  (:func:`new_namespaces`); in the sandbox it also gets a private /tmp
  (:func:`private_world`) and gives up the capabilities that would undo it
  (:func:`drop_capabilities`);
* a throwaway copy of the student's process is cut off from the original
  (:func:`isolate_copy`): own folder layer, read-only elsewhere, own network and IPC, own
  memory, no descriptor but its pipes.
"""

import ctypes
import errno
import os
import re
import resource
import signal
import stat
from collections.abc import Iterable

# a submission's private /tmp: (its size in bytes, the paths of the server's it shows)
World = tuple[int, list[str]]


def _prctl(option, value):
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(option, value)
    except (OSError, AttributeError):
        pass  # not Linux: the parent's cleanup still kills the child's process group


def die_with_parent(parent: int | None = None) -> None:
    """Ask Linux to kill this process when its parent ends, so nothing outlives a run.

    Args:
        parent: the parent's pid, when known: if it ended already, this process ends now.
    """
    _prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if parent is not None and os.getppid() != parent:
        os._exit(70)


def become_subreaper() -> None:
    """Orphans among this process's descendants come back to it, to be waited for."""
    _prctl(36, 1)  # PR_SET_CHILD_SUBREAPER


def forbid_tracing() -> None:
    """Make this process (and its forks) non-dumpable: a submission running as the same
    user can then neither ptrace the server nor open its /proc/<pid>/mem or fds."""
    _prctl(4, 0)  # PR_SET_DUMPABLE


def apply_limits(limits: dict[str, int] | None, cpu_seconds: float) -> None:
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


TMP_BYTES = 256 * 1024 * 1024  # a private /tmp, or a copy's folder layer: what it may hold

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


def _write_id_maps(uid, gid):
    """Map ``uid`` and ``gid`` (this process's ids in the parent user namespace) to
    themselves in the new one: without a mapping, a file system mounted there cannot hold
    files (a throwaway copy of the student's process mounts one, see :func:`isolate_copy`)."""
    for name, text in (("uid_map", f"{uid} {uid} 1"), ("setgroups", "deny")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{gid} {gid} 1")


def new_namespaces(private_tmp: bool) -> bool:
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
        keep: paths under /tmp the submission still needs (see :func:`kept_under_tmp`).
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


def kept_under_tmp(extra: Iterable[str] = ()) -> list[str]:
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


def private_world(world: World, folder: str, workdir: str) -> bool:
    """New namespaces for this process and its children, and the submission's private /tmp.

    Args:
        world: ``(bytes, kept paths)`` (see :func:`_private_tmp`).

    Returns:
        True; raises OSError when this machine does not allow it.
    """
    if not new_namespaces(private_tmp=True):
        code = ctypes.get_errno()
        raise OSError(code, f"cannot create new user and mount namespaces: {os.strerror(code)}")
    _private_tmp(world[0], folder, workdir, world[1])
    return True


def check_private_world(world: World, workdir: str) -> None:
    """Raise now, saying why, when a submission could not get a private /tmp here."""
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            private_world(world, workdir, workdir)
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


def drop_capabilities() -> None:
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


def isolate_copy(folder: str, keep: Iterable[int]) -> list[str]:
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
        drop_capabilities()
    except OSError as exc:
        problems.append(str(exc))
    if problems:
        os.write(2, f"a copy of the student's process: {'; '.join(problems)}\n".encode())
    _only_descriptors(keep)
    os.chdir(where)
    return problems
