"""The throwaway copy of the student's process that serves a test cell's calls (fast tests).

The copy is a fork; :func:`course.grading.server.isolation.isolate_copy` cuts it off from the
original so that nothing it does during the judge's calls (the hidden tests' included) reaches a
later cell. Here a fork of the test process plays the copy.
"""

import ctypes
import errno
import json
import mmap
import os

import pytest

from course.grading.server import forkserver, isolation


def in_a_copy(folder, work):
    """Fork, isolate the child as a copy working in ``folder``, run ``work()`` there.

    Returns:
        ``(problems, report)``: what the isolation could not do, and what ``work`` returned.
    """
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.chdir(folder)
            problems = isolation.isolate_copy(str(folder), keep=(w,))
            os.write(w, json.dumps([problems, work()]).encode())
        except BaseException as exc:  # the test fails saying why
            os.write(w, json.dumps([[f"the copy failed: {exc!r}"], None]).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as reader:
        data = reader.read()
    os.waitpid(pid, 0)
    return json.loads(data)


def test_nothing_a_copy_writes_reaches_the_original(tmp_path):
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "data.txt").write_text("the hand-in's")
    elsewhere = tmp_path / "elsewhere.txt"
    kept = open(folder / "kept.txt", "a")  # opened by an earlier cell, used by the copy
    shared = mmap.mmap(-1, 64)  # shared with any fork

    def work():
        report = {"reads": open("data.txt").read()}
        with open("data.txt", "w") as fh:
            fh.write("the copy's")
        with open(folder / "new.txt", "w") as fh:  # by its full path too
            fh.write("new")
        report["reads back"] = open("data.txt").read()
        try:
            elsewhere.write_text("the copy's")
            report["elsewhere"] = "written"
        except OSError as exc:
            report["elsewhere"] = exc.errno
        kept.write("the copy's")
        kept.flush()
        shared[:4] = b"copy"
        # and it cannot undo its isolation: unmount its layer, make a place writable again
        libc = isolation._libc()
        report["unmount"] = libc.umount2(str(folder).encode(), 2) or "unmounted"
        remount = isolation._MS_REMOUNT | isolation._MS_BIND
        report["remount"] = libc.mount(None, b"/", None, remount, None) or "remounted"
        return report

    problems, report = in_a_copy(folder, work)
    assert problems == []
    assert report == {
        "reads": "the hand-in's",  # the folder as the original left it
        "reads back": "the copy's",  # and what the copy wrote, for the copy
        "elsewhere": errno.EROFS,
        "unmount": -1,
        "remount": -1,
    }
    assert (folder / "data.txt").read_text() == "the hand-in's"
    assert sorted(p.name for p in folder.iterdir()) == ["data.txt", "kept.txt"]
    assert not elsewhere.exists()
    assert (folder / "kept.txt").read_text() == ""
    assert shared[:4] == b"\0\0\0\0"
    kept.close()


def test_a_copy_reaches_no_process_through_the_network_or_a_kept_socket(tmp_path):
    import socket

    listener = socket.socket(socket.AF_UNIX)
    listener.bind("\0course-copy-test-" + str(os.getpid()))  # abstract: per network namespace
    listener.listen()
    here, there = socket.socketpair()  # made before the fork, as an earlier cell could

    def work():
        report = {}
        try:
            socket.socket(socket.AF_UNIX).connect("\0course-copy-test-" + str(os.getppid()))
            report["abstract socket"] = "connected"
        except OSError as exc:
            report["abstract socket"] = exc.errno
        try:
            there.send(b"the copy's")
            report["socket pair"] = "sent"
        except OSError as exc:
            report["socket pair"] = exc.errno
        return report

    problems, report = in_a_copy(tmp_path, work)
    assert problems == []
    assert report == {"abstract socket": errno.ECONNREFUSED, "socket pair": errno.ENOTSOCK}
    here.setblocking(False)
    try:
        received = here.recv(100)
    except BlockingIOError:
        received = b""
    assert received == b""
    for s in (listener, here, there):
        s.close()


class _Shell:
    """The bare minimum of an IPython shell that :func:`~course.grading.server.shell.run_cell`
    needs."""

    execution_count = 1

    def __init__(self, namespace):
        from course.grading.server.shell import Capture

        self.namespace = namespace
        self.capture = Capture()

    def run_cell(self, source, store_history=False):
        from types import SimpleNamespace

        exec(source, self.namespace)
        return SimpleNamespace(error_in_exec=None)


STUDENT = """
import os
seen = []

def record(x):
    seen.append(x)
    return list(seen)

def make_adder(n):
    return lambda x: x + n

def die():
    os._exit(3)
"""


def test_each_test_cell_is_served_by_the_copy_kept_before_it_ran(tmp_path):
    from course.grading.server.framing import MessageReader, write_message
    from course.grading.server.wire import DeadKernelError, Peer, RemoteError

    namespace = {}
    exec(STUDENT, namespace)
    down_r, down_w = os.pipe()
    up_r, up_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the student's process
        try:
            os.close(down_w)
            os.close(up_r)
            os.chdir(tmp_path)
            peer = Peer(MessageReader(down_r), lambda m: write_message(up_w, m), namespace)
            forkserver._serve_student(_Shell(namespace), peer, up_w, 10, str(tmp_path))
        finally:
            os._exit(0)
    os.close(down_r)
    os.close(up_w)
    copy = [None]  # the copy the judge's messages go to, as the session adds it

    def to_student(message):
        write_message(down_w, message if copy[0] is None else {**message, "copy": copy[0]})

    judge = Peer(MessageReader(up_r), to_student)

    def cell(source, keep):  # a cell of the student's process (a test cell's: keep a copy)
        copy[0] = None
        write_message(down_w, {"cell": source, **({"keep": True} if keep else {})})
        assert "result" in judge.reader.read()

    try:
        # the notebook runs first: a copy is kept before each test cell's visible part
        cell("seen.append('first')", keep=True)
        cell("seen.append('second')", keep=True)
        cell("def record(x):\n    return 'redefined'", keep=True)
        cell("", keep=True)
        cell("", keep=True)
        # then the judge's runs, each on its copy
        copy[0] = 0
        assert "record" in judge.names()
        record = judge.lookup("record")
        assert record(1) == [1] and record(2) == [1, 2]  # the state before the first cell
        add_one = judge.lookup("make_adder")(1)  # a function that lives in this copy only
        copy[0] = 1
        judge.names()  # the next test cell: its own copy, kept after the first cell only
        assert judge.lookup("seen") == ["first"]
        # a notebook's function a test kept from an earlier cell is still that function
        assert record(3) == ["first", 3]
        with pytest.raises(RemoteError, match="no longer be called"):
            add_one(2)  # the last cell's copy is gone, and its functions with it
        copy[0] = 3
        judge.names()
        with pytest.raises(RemoteError, match="no longer be called"):
            record(4)  # the function kept is not the one the name binds now
        copy[0] = 2  # gone with the cell after it: the judge's runs go in order
        with pytest.raises(RemoteError, match="turn had passed"):
            judge.names()
        copy[0] = -1
        with pytest.raises(RemoteError, match="never made"):
            judge.names()
        copy[0] = None  # the original saw none of the judge's calls
        assert judge.lookup("seen") == ["first", "second"]
        copy[0] = 4
        with pytest.raises(DeadKernelError):  # the copy died in a call: the process with it
            judge.lookup("die")()
    finally:
        os.close(down_w)
        os.close(up_r)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_shared_mappings_are_found_with_or_without_the_kernels_query(monkeypatch):
    shared = mmap.mmap(-1, 3 * mmap.PAGESIZE)
    address = ctypes.addressof(ctypes.c_char.from_buffer(shared))
    asked = isolation._shared_mappings()
    monkeypatch.setattr(isolation, "_PROCMAP_QUERY", 0)  # what a kernel before 6.11 says
    read = isolation._shared_mappings()
    assert asked == read
    assert (address, address + 3 * mmap.PAGESIZE, "rw-") in read
