"""The pids cgroups that bound a server's processes (``sandbox.process_group``): each is new,
none left by a killed grader is ever taken over, and the orphans are cleared."""

import os
import subprocess
import sys
import time

import pytest

from course.grading import sandbox


@pytest.fixture
def base():
    """The folder the groups are made in; the machine must let root make them."""
    found = sandbox._cgroup_base()
    if os.geteuid() == 0 and os.path.isdir("/sys/fs/cgroup/pids"):
        assert found is not None, "root on a cgroup v1 machine: the pids groups must be made"
    if found is None:
        assert sandbox.process_group(8) is None  # the grader then goes on without one
    return found


def _ended_pid():
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_group_left_under_the_name_drawn_is_not_taken_over(base, monkeypatch):
    if base is None:
        return
    left = base / f"course-grader-{os.getpid()}-aaaa"  # as a killed grader of this pid left it
    left.mkdir()
    try:
        (left / "pids.max").write_text("3")
        names = iter(["aaaa", "bbbb"])
        monkeypatch.setattr(sandbox.secrets, "token_hex", lambda n: next(names))
        made = sandbox.process_group(50)
        try:
            assert made == base / f"course-grader-{os.getpid()}-bbbb"
            assert (made / "pids.max").read_text().strip() == "50"
            assert (left / "pids.max").read_text().strip() == "3"  # untouched, still there
        finally:
            sandbox.remove_process_group(made)
        assert not made.exists()
    finally:
        sandbox.remove_process_group(left)


def test_a_group_limits_the_processes_of_what_joins_it(base):
    if base is None:
        return
    group = sandbox.process_group(4)
    try:
        script = (
            "import os, time\nforks = 0\ntry:\n    for _ in range(20):\n"
            "        if os.fork() == 0:\n            time.sleep(5)\n            os._exit(0)\n"
            "        forks += 1\nexcept OSError:\n    pass\nprint(forks)\nos.killpg(0, 9)"
        )
        done = subprocess.run(
            [sys.executable, "-c", script],
            preexec_fn=lambda: (os.setpgrp(), sandbox.join_process_group(group)),
            capture_output=True,
            text=True,
        )
        assert done.stdout.strip() == "3", done  # itself and three children
    finally:
        sandbox.remove_process_group(group)
    assert not group.exists()  # its processes were released within the patience


def test_orphan_groups_are_removed_and_live_graders_groups_kept(base):
    if base is None:
        return
    orphan = base / f"course-grader-{_ended_pid()}-0"
    mine = base / f"course-grader-{os.getpid()}-cccc"
    fresh_orphan = base / f"course-grader-{_ended_pid()}-dddd"
    for path in (orphan, mine, fresh_orphan):
        path.mkdir()
    try:
        old = time.time() - 120  # the orphan and mine are over a minute old, not the fresh one
        for path in (orphan, mine):
            os.utime(path, (old, old))
        sandbox._remove_orphans(base)
        assert not orphan.exists()
        assert mine.exists() and fresh_orphan.exists()
    finally:
        for path in (orphan, mine, fresh_orphan):
            sandbox.remove_process_group(path, patience=0)
