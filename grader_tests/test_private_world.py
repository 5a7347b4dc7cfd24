"""A submission's private world (``course.grading.server.isolation``): what it writes stays in it.

Each test runs the submission's side in a forked child of this process, as a fork server
does; it needs user and mount namespaces, as the sandbox does.
"""

import ctypes
import os
import traceback

import pytest

from course.grading.server import files, isolation


def in_child(function):
    """Run ``function`` in a forked child; its exit code (0: it returned, 1: it raised)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            function()
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_a_private_tmp_shows_the_working_folder_and_keeps_the_rest_to_itself(tmp_path):
    folder, kept = tmp_path / "submission", tmp_path / "kept"
    folder.mkdir()
    kept.mkdir()
    (folder / "given.txt").write_text("given")
    (kept / "module.py").write_text("x = 1\n")
    (tmp_path / "secret.txt").write_text("the server's")
    workdir = f"/tmp/notebook-{os.getpid()}"
    planted = tmp_path.parent / f"planted-{os.getpid()}.txt"

    def submission():
        isolation.private_world((1 << 20, [str(kept)]), str(folder), workdir)
        isolation.drop_capabilities()
        assert sorted(os.listdir(workdir)) == ["given.txt"]
        assert not (tmp_path / "secret.txt").exists()  # only what is kept shows
        assert (kept / "module.py").read_text() == "x = 1\n"
        with pytest.raises(OSError, match="Read-only"):
            (kept / "module.py").write_text("x = 2\n")
        with open(f"{workdir}/out.txt", "w") as f:
            f.write("written")
        planted.write_text("for the next submission")
        libc = ctypes.CDLL(None, use_errno=True)
        assert libc.umount2(b"/tmp", 2) != 0  # MNT_DETACH: the server's /tmp stays hidden

    assert in_child(submission) == 0
    assert (folder / "out.txt").read_text() == "written"  # the server reads it back
    assert not planted.exists()
    assert (kept / "module.py").read_text() == "x = 1\n"


def test_a_server_that_cannot_give_private_tmps_says_so(tmp_path):
    with pytest.raises(RuntimeError, match="cannot give each submission a private /tmp"):
        isolation.check_private_world((1 << 20, [str(tmp_path / "missing")]), str(tmp_path))


def test_a_working_folder_made_unreadable_and_read_only_is_removed(tmp_path):
    folder = tmp_path / "submission"
    (folder / "locked" / "inner").mkdir(parents=True)
    (folder / "locked" / "inner" / "module.py").write_text("x = 1\n")

    def server():
        isolation.drop_capabilities()  # even root then needs the folders' permissions
        (folder / "locked" / "inner").chmod(0o000)
        (folder / "locked").chmod(0o500)
        folder.chmod(0o500)
        files.remove_folder(str(folder))
        assert not folder.exists()

    assert in_child(server) == 0
