"""``course autograde`` contains every attack of the suite (``attacks.py``).

The whole class (an honest student and every attack) is graded in one sandboxed run, in a
child process that is the grading coordinator; each attack must come to its expected
outcome, the honest student must get full marks, nothing may be left behind, and the
coordinator's memory must stay bounded whatever the submissions send. The private-world
attacks are also graded one after the other on one pair of servers, before an honest
classmate; and a run killed midway leaves nothing.
"""

import copy
import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest
import toy_course as toy
from attacks import (
    ATTACKS,
    CLASSMATE,
    FORGED_PASS,
    FORGED_TIMEOUT,
    FULL,
    PRIVATE_WORLD,
    REWRITE_RESULTS,
    Listener,
    build_class,
    leftover_processes,
    outputs_text,
    processes_left,
    run,
    run_in_child,
)
from course_cli import nbgrader_autograde_meanwhile

from course.grading import autograde, sandbox, servers, session
from course.grading import nbgrader_driver as driver
from course.grading.notebooks import exercises, nbgrader_meta, read_notebook

pytestmark = pytest.mark.slow

COORDINATOR_BYTES = 500 * 2**20  # the most the coordinator may use while grading the class
# the tests that read the attack class: with pytest-xdist, in the one worker that grades it
ATTACK_CLASS = pytest.mark.xdist_group("attacks")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return run_in_child(tmp_path_factory.mktemp("attacks"))


def test_the_suite_covers_enough_attacks():
    assert len(ATTACKS) >= 25
    assert len({a.name for a in ATTACKS}) == len(ATTACKS)


@pytest.mark.parametrize("name", [a.name for a in ATTACKS])
@ATTACK_CLASS
def test_attack_is_contained(graded, name):
    contained, why = graded["verdicts"][name]
    assert contained, why


@ATTACK_CLASS
def test_honest_student_next_to_the_attacks_gets_full_marks(graded):
    assert graded["scores"]["honest"] == FULL
    assert "honest" not in graded["errors"]


@ATTACK_CLASS
def test_the_coordinators_memory_stays_bounded_whatever_the_attacks_send(graded):
    peak = graded["peak_bytes"]
    assert peak < COORDINATOR_BYTES, f"the coordinator used {peak / 2**20:.0f} MB"


@ATTACK_CLASS
def test_nothing_is_left_running(graded):
    assert leftover_processes() == []


def test_without_bubblewrap_autograde_refuses_unless_told(tmp_path, monkeypatch):
    root = toy.make_course(tmp_path / "c")
    toy.hand_in(root, ["passes_all"])
    monkeypatch.setenv("PATH", "/nonexistent")
    sandbox.available.cache_clear()
    try:
        with pytest.raises(driver.CourseError, match="apt-get install bubblewrap"):
            autograde.autograde(root, toy.ASSIGNMENT)
        summary = autograde.autograde(root, toy.ASSIGNMENT, sandboxed=False)
        assert summary.results["passes_all"].score == FULL
    finally:
        sandbox.available.cache_clear()


def test_what_a_submission_leaves_never_reaches_the_next_on_the_same_server(tmp_path):
    """One worker (one pair of servers) grades the private-world attacks in their order, then
    an honest classmate who imports what they planted: every attack is contained, the
    classmate gets full marks, and a submission's processes are gone when its row is written.
    """
    attacks = [*PRIVATE_WORLD, CLASSMATE]
    sleeping = {}  # student -> this run's sleeps alive when the student's row was written

    def progress(event, student, *_):
        if student is not None:
            sleeping[student] = leftover_processes(sleeps_only=True)

    listener = Listener()
    try:
        results, errors, verdicts = run(
            tmp_path,
            listener,
            "course",
            attacks,
            timeout=10,
            students=[a.name for a in attacks],
            workers=1,
            progress=progress,
        )
    finally:
        listener.close()
    assert {name: why for name, (contained, why) in verdicts.items() if not contained} == {}
    assert results[CLASSMATE.name].score == FULL
    # the next student starts no daemon: a sleep found now is the daemon attack's own
    daemons = [a.name for a in PRIVATE_WORLD if a.side_effect == "no process left"]
    assert daemons and all(sleeping[name] == [] for name in daemons), sleeping


def test_killing_autograde_leaves_no_process_behind(tmp_path):
    """SIGKILL of ``course autograde`` while submissions' daemons run: its execution servers,
    bubblewrap's processes and every process the submissions started end with it."""
    waits = "\nimport time\ntime.sleep(300)"
    daemons = [
        dataclasses.replace(a, code=a.code + waits)
        for a in PRIVATE_WORLD
        if a.side_effect == "no process left"
    ]
    root = toy.make_course(tmp_path / "c", timeout=600)
    build_class(root, 0, daemons)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    command = [sys.executable, "-m", "course", "autograde", toy.ASSIGNMENT, "--workers", "2"]
    grading = subprocess.Popen(
        command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 600
        while len(leftover_processes(sleeps_only=True)) < len(daemons):
            assert grading.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "the attacks' daemons did not start"
            time.sleep(0.2)
        running = leftover_processes()
        assert any("course.grading.server" in p.cmdline() for p in running)  # seen
        grading.kill()
        grading.wait()
        assert [p.cmdline() for p in processes_left()] == []
    finally:
        grading.kill()
        for proc in leftover_processes():
            proc.kill()


def test_a_server_that_crashes_leaves_no_process_once_the_grader_knows(tmp_path):
    """The student's server dies mid-submission (its notebook process having left its group,
    a daemon running): when the grader learns of it, every process of the sandbox is gone."""
    code = "\n".join(a.code for a in PRIVATE_WORLD if a.side_effect == "no process left")
    (server,) = servers.start_servers("student", sandboxed=True, warm=[])
    server.set_up([], 10)
    try:
        submission = session.Session(server, None, 10, wall_seconds=60)
        server.start(10, 60, {})
        server.started(10)
        submission.run("student", {"cell": code})
        deadline = time.monotonic() + 60  # a daemon may still be on its way (double forks)
        while len(leftover_processes(sleeps_only=True)) < 2:
            assert time.monotonic() < deadline, "the daemons did not start"
            time.sleep(0.1)
        assert len(leftover_processes(sleeps_only=True)) == 2
        victim = psutil.Process(server.pid)  # the server itself, not one of its forks
        assert "course.grading.server" in victim.cmdline()
        assert victim.parent().parent().name() == "bwrap"  # a fork of the sandbox's zygote
        victim.kill()
        victim.wait(timeout=30)
        with pytest.raises(servers.WorkerLost, match="student execution server stopped"):
            submission.run("student", {"cell": "1"})
        assert [p.cmdline() for p in leftover_processes()] == []
    finally:
        server.close()


def test_a_blank_week1_notebook_that_forges_its_results_scores_0_like_nbgrader(
    tmp_path, course_copy
):
    ours = course_copy(tmp_path / "ours")
    driver.release(ours, ["week1"])
    release = read_notebook(ours / "release" / "week1" / "dense_layers.ipynb")
    forgers = {"forges_timeouts": FORGED_TIMEOUT, "forges_passes": FORGED_PASS}
    for student, forged in forgers.items():
        nb = copy.deepcopy(release)  # blank: every exercise still raises NotImplementedError
        first = next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == exercises(nb)[0])
        first.source += "\n\n" + (forged + REWRITE_RESULTS).format()
        folder = ours / "submitted" / student / "week1"
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / "dense_layers.ipynb")
    theirs = toy.clone_class(ours, tmp_path / "theirs")
    with nbgrader_autograde_meanwhile(theirs, "week1"):
        summary = autograde.autograde(ours, "week1")
    assert summary.errors == {}
    assert {s: r.score for s, r in summary.results.items()} == dict.fromkeys(forgers, 0)
    for student, scores in driver.gradebook_scores(theirs, "week1").items():
        assert all(score == 0 for score, _ in scores.values()), student
    # the forgery ran: the cells the student's process decides show what it forged
    graded = ours / "autograded" / "forges_passes" / "week1" / "dense_layers.ipynb"
    assert "forged clean output" in outputs_text(read_notebook(graded))


def started_session(server, timeout, wall_seconds):
    """A session on ``server`` (no judge), its submission's process started."""
    server.set_up([], timeout)
    run = session.Session(server, None, timeout, wall_seconds=wall_seconds)
    server.start(timeout, wall_seconds, {})
    server.started(timeout)
    return run


SIBLING_ATTACK = r"""
import os, signal
found, signalled = [], []
for top, folders, names in os.walk("/tmp"):
    # a classmate's folder would be writable: the read-only ones (this Python and the
    # course package, when they live under /tmp) are not searched
    folders[:] = [f for f in folders if os.access(os.path.join(top, f), os.W_OK)]
    for name in names:
        path = os.path.join(top, name)
        try:
            if "classmate's secret" in open(path, errors="replace").read(1 << 20):
                found.append(path)
        except OSError:
            pass
here = os.getcwd()  # the classmate's folder is seen at the same place
me = os.readlink("/proc/self")  # this process, as the sandbox's /proc numbers it
for pid in [name for name in os.listdir("/proc") if name.isdigit() and name != me]:
    for part in ("environ", "cwd/secret.txt", f"root{here}/secret.txt"):
        try:
            if b"classmate's secret" in open(f"/proc/{pid}/{part}", "rb").read():
                found.append(f"/proc/{pid}/{part}")
        except OSError:
            pass
    for how in ("kill", "pidfd"):
        try:
            if how == "kill":
                os.kill(int(pid), signal.SIGKILL)
            else:
                fd = os.open(f"/proc/{pid}", os.O_RDONLY | os.O_DIRECTORY)
                signal.pidfd_send_signal(fd, signal.SIGKILL)
            signalled.append((pid, how))
        except OSError:
            pass
print("found", found, "signalled", signalled)
"""


def test_submissions_running_at_once_on_servers_of_one_zygote_cannot_reach_each_other():
    """Two servers forked by one zygote share its sandbox: while one runs a classmate's
    notebook (a secret in its folder and its memory), the other's code looks for the secret
    in every file and every process it can see, and signals every process: it finds nothing,
    and the classmate's process goes on undisturbed."""
    victim, attacker = servers.start_servers("student", sandboxed=True, warm=[], count=2)
    try:
        runs = [started_session(server, 10, 60) for server in (victim, attacker)]
        secret = "secret = \"classmate's\" + ' secret'\nopen('secret.txt', 'w').write(secret)"
        secret += "\nimport os\nos.environ['SECRET'] = secret"
        assert "error" not in str(runs[0].run("student", {"cell": secret}))
        assert victim.pid != attacker.pid and victim.group != attacker.group
        (output,) = runs[1].run("student", {"cell": SIBLING_ATTACK})["outputs"]
        assert output.get("text", "").startswith("found [] signalled "), output
        # no process but its own: pid 1 of its own namespace, itself (which ignores it)
        signalled = output["text"].split("signalled ", 1)[1].strip()
        assert signalled in ("[]", "[('1', 'kill')]"), signalled
        (alive,) = runs[0].run("student", {"cell": "print(open('secret.txt').read())"})["outputs"]
        assert alive["text"] == "classmate's secret\n"
    finally:
        for server in (victim, attacker):
            server.close()
    assert leftover_processes() == []


FORK_ALL = """
import os, time
kids = []
while len(kids) < 500:
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(120)
        os._exit(0)
    kids.append(pid)
print(len(kids))
"""


def test_a_fork_bomb_on_one_server_leaves_its_sibling_every_process_it_may_start():
    """Servers forked by one zygote each have a process limit of their own: while one
    submission holds every process it may start, one on the other server starts as many."""
    bomber, classmate = servers.start_servers("student", sandboxed=True, warm=[], count=2)
    try:
        runs = [started_session(server, 30, 120) for server in (bomber, classmate)]
        if os.geteuid() == 0 and os.path.isdir("/sys/fs/cgroup/pids"):  # where root is bound
            assert bomber.group and classmate.group and bomber.group != classmate.group
        started = [
            int(run.run("student", {"cell": FORK_ALL})["outputs"][0]["text"]) for run in runs
        ]
        assert started[0] < 500  # the limit stopped it
        assert started[1] == started[0]  # the same limit, untouched by the bomber's processes
    finally:
        for server in (bomber, classmate):
            server.close()
    assert leftover_processes() == []
