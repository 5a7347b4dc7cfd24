"""``course autograde``: nbgrader's scores cell by cell, on Dask too, and runs that resume."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import mutants
import nbformat
import pytest
import toy_course as toy
from attacks import leftover_processes, processes_left
from course_cli import nbgrader_autograde_meanwhile

from course.grading import autograde, selfstudy, servers
from course.grading import nbgrader_driver as driver
from course.grading.notebooks import fill_solutions, read_notebook

pytestmark = pytest.mark.slow

CORPUS = [*toy.BODIES, "deletes_test_f"]
FULL = sum(toy.POINTS.values())  # the toy's full marks
LOSES_F, LOSES_G = 3, 2  # what fails_f loses (test_f_partial), and fails_g (test_g)


def forkservers():
    """Fork-server processes of this test still alive (children or orphans)."""
    return leftover_processes()


def test_scores_identical_to_nbgrader_on_the_toy_corpus(tmp_path, monkeypatch):
    ours = toy.make_course(tmp_path / "ours")
    toy.hand_in(ours, CORPUS)
    theirs = toy.clone_class(ours, tmp_path / "theirs")
    started, prepared = [], []  # the zygotes this run starts; the hand-ins in their order
    start, prepare = servers._Family.__init__, autograde._prepare
    monkeypatch.setattr(
        servers._Family, "__init__", lambda s, *a, **k: started.append(s) or start(s, *a, **k)
    )
    monkeypatch.setattr(
        autograde, "_prepare", lambda *a: prepared.append(a[-1].folder) or prepare(*a)
    )
    with nbgrader_autograde_meanwhile(theirs, toy.ASSIGNMENT):
        summary = autograde.autograde(ours, toy.ASSIGNMENT, workers=2)
    assert summary.errors == {}
    # two pairs, started before the set-up cells were known (a zygote per role, which
    # imports once for both servers), and the largest hand-ins first
    assert sorted((f.role, len(f.servers)) for f in started) == [("judge", 2), ("student", 2)]
    sizes = [sum(p.stat().st_size for p in folder.glob("*.ipynb")) for folder in prepared]
    assert len(prepared) == len(CORPUS) and sizes == sorted(sizes, reverse=True)
    # the results the run built from what it held are the ones read back from the gradebook
    with driver.nbgrader_api(ours) as api:
        for student, result in summary.results.items():
            assert driver.assignment_result(api, toy.ASSIGNMENT, student) == result, student
    expected = driver.gradebook_scores(theirs, toy.ASSIGNMENT)
    assert driver.gradebook_scores(ours, toy.ASSIGNMENT) == expected
    # the corpus exercises every scoring rule (a sanity check on the corpus itself)
    assert expected["passes_all"]["test_f_partial"] == [3.0, 3.0]
    assert expected["partial_f"]["test_f_partial"] == [2.0, 3.0]
    assert expected["writes_stderr_in_g"]["test_g_quiet"] == [0.0, 1.0]
    assert expected["times_out_in_g"]["test_g"] == [0.0, 2.0]
    assert expected["deletes_test_f"]["test_f"] == [1.0, 1.0]
    statuses = {c.grade_id: c.status for c in summary.results["times_out_in_g"].cells}
    assert statuses["test_g"] == "timeout" and statuses["test_f"] == "passed"
    assert {c.status for c in summary.results["deletes_test_f"].cells} >= {"missing"}
    # autograded notebooks are nbgrader's format: nbgrader reads them for feedback
    graded = read_notebook(ours / "autograded" / "passes_all" / toy.ASSIGNMENT / "toy.ipynb")
    assert any("image/png" in o.get("data", {}) for c in graded.cells for o in c.get("outputs", []))
    assert (ours / "autograded" / "passes_all" / toy.ASSIGNMENT / "timestamp.txt").is_file()
    assert forkservers() == []


def test_hidden_tests_leak_neither_into_autograded_notebooks_nor_into_feedback(tmp_path):
    root = toy.make_course(tmp_path / "c")
    toy.hand_in(root, ["passes_all", "fails_g"])
    assert autograde.autograde(root, toy.ASSIGNMENT).errors == {}
    hidden = "[-4.0, 0.5]"  # text of test_g's hidden region (toy_course.py)
    source = (root / "source" / toy.ASSIGNMENT / "toy.ipynb").read_text()
    assert hidden in source  # the check below can fail
    with driver.nbgrader_api(root) as api:  # nbgrader's own feedback, from our notebooks
        for student in ("passes_all", "fails_g"):
            graded = root / "autograded" / student / toy.ASSIGNMENT / "toy.ipynb"
            assert hidden not in graded.read_text() and "HIDDEN TESTS" not in graded.read_text()
            assert api.generate_feedback(toy.ASSIGNMENT, student)["success"]
            page = (root / "feedback" / student / toy.ASSIGNMENT / "toy.html").read_text()
            assert "g(np.arange(3.0))" in page and "-4.0, 0.5" not in page


def test_the_test_cells_before_the_process_ended_keep_their_points(tmp_path):
    # the judge runs the test cells once the student's process ran them all: when it ends
    # midway, the copies it kept end with it, and a new run up to that cell stands in
    root = toy.make_course(tmp_path / "c")
    toy.hand_in(root, ["exits_in_g"])
    summary = autograde.autograde(root, toy.ASSIGNMENT)
    assert summary.errors == {}
    result = summary.results["exits_in_g"]
    cells = {c.grade_id: (c.status, c.score) for c in result.cells}
    assert cells["test_f"] == ("passed", 1.0) and cells["test_f_partial"] == ("passed", 3.0)
    assert cells["test_h"] == ("passed", 1.0)
    assert cells["test_g"][1] == 0 and cells["test_g_quiet"][1] == 0
    assert result.score == FULL - 3
    graded = read_notebook(root / "autograded" / "exits_in_g" / toy.ASSIGNMENT / "toy.ipynb")
    said = [o.get("ename") for c in graded.cells for o in c.get("outputs", [])]
    assert "DeadKernelError" in said
    assert forkservers() == []


# student -> (exercise, text of the reference, what the student wrote instead, loses points)
WEEK1_VARIANTS = {
    "fails_my_dense": (
        "my_dense",
        "z = np.dot(a_in, W[:, j]) + b[j]",
        "z = np.dot(a_in, W[:, j])",
        True,
    ),
    "fails_my_sequential": ("my_sequential", "a3 = my_dense(a2, W3, b3, sigmoid)", "a3 = a2", True),
    "fails_my_dense_v": ("my_dense_v", "Z = A_in @ W + b", "Z = A_in @ W", True),
    "fails_my_sequential_v": (
        "my_sequential_v",
        "A3 = my_dense_v(A2, W3, b3, sigmoid)",
        "A3 = A2",
        True,
    ),
    # modifies its input in place: the judge must see the change (it happens in the sandbox)
    "zeroes_its_input_my_dense_v": (
        "my_dense_v",
        "A_out = g(Z)",
        "A_out = g(Z)\n    A_in[...] = 0",
        True,
    ),
    # passes its own activation to my_dense (the test's reference calls it back in the sandbox)
    "own_activation_my_sequential": (
        "my_sequential",
        "a1 = my_dense(x, W1, b1, sigmoid)",
        "a1 = my_dense(x, W1, b1, lambda z: 1 / (1 + np.exp(-z)))",
        False,
    ),
}


def test_scores_identical_to_nbgrader_on_week1(tmp_path, course_copy):
    ours = course_copy(tmp_path / "ours")
    driver.release(ours, ["week1"])
    release = read_notebook(ours / "release" / "week1" / "dense_layers.ipynb")
    source = read_notebook(ours / "source" / "week1" / "dense_layers.ipynb")
    class_ = {"passes_all": fill_solutions(release, source), "blank": release}
    for student, (name, old, new, _) in WEEK1_VARIANTS.items():  # without demonstrations
        class_[student] = mutants.slim(fill_solutions(release, source, replace={name: (old, new)}))
    for student, nb in class_.items():
        folder = ours / "submitted" / student / "week1"
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / "dense_layers.ipynb")
    theirs = toy.clone_class(ours, tmp_path / "theirs")
    with nbgrader_autograde_meanwhile(theirs, "week1"):
        assert autograde.autograde(ours, "week1").errors == {}
    expected = driver.gradebook_scores(theirs, "week1")
    assert driver.gradebook_scores(ours, "week1") == expected
    for student, (name, _, _, loses) in WEEK1_VARIANTS.items():
        lost = [g for g, (score, top) in expected[student].items() if score < top]
        if loses:  # a mistake costs points on its own exercise
            assert any(g.startswith(f"test_{name}") for g in lost), student
        else:
            assert lost == [], student


# my_sequential keeps the my_dense its tests rebind (the grader's reference, lent for each
# call), and my_dense_v has no code of its own: it calls the kept reference
KEEPS_THE_REFERENCE = {
    "my_sequential": (
        "def my_sequential(",
        "_kept = []\n_own_dense = my_dense\n\n\ndef my_sequential(",
    ),
    "my_dense_v": ("Z = A_in @ W + b", "return _kept[-1](A_in, W, b, g)"),
}
KEEPS = (  # in my_sequential's body
    "a1 = my_dense(x, W1, b1, sigmoid)",
    "if my_dense is not _own_dense:  # the grader's _reference_dense\n"
    "        _kept.append(my_dense)\n    a1 = my_dense(x, W1, b1, sigmoid)",
)


def test_week1_a_kept_reference_block_scores_nothing(tmp_path, course_copy):
    ours = course_copy(tmp_path / "ours")
    driver.release(ours, ["week1"])
    release = read_notebook(ours / "release" / "week1" / "dense_layers.ipynb")
    source = read_notebook(ours / "source" / "week1" / "dense_layers.ipynb")
    nb = fill_solutions(release, source, replace=KEEPS_THE_REFERENCE)
    (sequential,) = [c for c in nb.cells if c.source.startswith("_kept = []")]
    assert KEEPS[0] in sequential.source
    sequential.source = sequential.source.replace(*KEEPS)
    folder = ours / "submitted" / "keeps_the_reference" / "week1"
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / "dense_layers.ipynb")
    summary = autograde.autograde(ours, "week1")
    assert summary.errors == {}
    scores = driver.gradebook_scores(ours, "week1")["keeps_the_reference"]
    lost = sorted(grade_id for grade_id, (score, top) in scores.items() if score < top)
    assert lost == ["test_my_dense_v", "test_my_dense_v_generalizes"]
    assert scores["test_my_dense_v"][0] == scores["test_my_dense_v_generalizes"][0] == 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dask_cluster():
    """A real scheduler and two workers, as separate processes on 127.0.0.1."""
    bin_dir = Path(sys.executable).parent
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [
        subprocess.Popen(
            [
                str(bin_dir / "dask"),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-dashboard",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    for _ in range(2):
        procs.append(
            subprocess.Popen(
                [
                    str(bin_dir / "dask"),
                    "worker",
                    address,
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    from distributed import Client

    deadline = time.monotonic() + 300  # three new processes, on a machine maybe kept busy
    while True:
        try:
            with Client(address, timeout="30s") as client:
                client.wait_for_workers(2, timeout=300)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    yield address
    for proc in reversed(procs):
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_dask_cluster_gives_the_local_gradebook(tmp_path, dask_cluster):
    local = toy.make_course(tmp_path / "local")
    toy.hand_in(
        local,
        ["passes_all", "blank", "fails_f", "partial_f", "writes_stderr_in_g", "deletes_test_f"],
    )
    remote = toy.clone_class(local, tmp_path / "remote")
    here = autograde.autograde(local, toy.ASSIGNMENT)
    assert here.errors == {}
    # the servers' start is timed on both runners, and is part of the run
    assert 0 < here.start_seconds < here.wall_seconds
    summary = autograde.autograde(remote, toy.ASSIGNMENT, scheduler=dask_cluster)
    assert summary.errors == {} and summary.workers == 2
    assert 0 < summary.start_seconds < summary.wall_seconds
    expected = driver.gradebook_scores(local, toy.ASSIGNMENT)
    assert driver.gradebook_scores(remote, toy.ASSIGNMENT) == expected


def test_unreachable_scheduler_is_a_clear_error(tmp_path):
    root = toy.make_course(tmp_path / "c")
    toy.hand_in(root, ["passes_all"])
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "course",
            "autograde",
            toy.ASSIGNMENT,
            "--scheduler",
            f"tcp://127.0.0.1:{free_port()}",
        ],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=120,
    )
    assert out.returncode == 1
    assert "cannot reach the Dask scheduler" in out.stderr


def test_rerun_skips_unchanged_and_force_regrades(tmp_path):
    root = toy.make_course(tmp_path / "c")
    toy.hand_in(root, ["passes_all", "blank", "fails_g"])
    first = autograde.autograde(root, toy.ASSIGNMENT)
    assert sorted(first.graded) == ["blank", "fails_g", "passes_all"]
    again = autograde.autograde(root, toy.ASSIGNMENT)
    assert again.graded == [] and sorted(again.skipped) == ["blank", "fails_g", "passes_all"]
    # skipped students keep their results in the summary (read back from the gradebook)
    assert {s: r.score for s, r in again.results.items()} == {
        s: r.score for s, r in first.results.items()
    }
    # a student hands in again: only that submission is graded
    folder = root / "submitted" / "blank" / toy.ASSIGNMENT
    nbformat.write(toy.submission(root, "passes_all"), folder / "toy.ipynb")
    third = autograde.autograde(root, toy.ASSIGNMENT)
    assert third.graded == ["blank"] and third.results["blank"].score == FULL
    forced = autograde.autograde(root, toy.ASSIGNMENT, force=True)
    assert sorted(forced.graded) == ["blank", "fails_g", "passes_all"]
    # grades removed behind the grader's back (a new gradebook): everything is graded again
    (root / "gradebook.db").unlink()
    fresh = autograde.autograde(root, toy.ASSIGNMENT)
    assert sorted(fresh.graded) == ["blank", "fails_g", "passes_all"] and fresh.errors == {}


def test_kill_and_resume_grades_everyone_exactly_once(tmp_path):
    root = toy.make_course(tmp_path / "c")
    students = toy.hand_in(root, ["slow_g"], copies=12) + toy.hand_in(root, ["fails_f"])
    command = [
        sys.executable,
        "-m",
        "course",
        "autograde",
        toy.ASSIGNMENT,
        "--workers",
        "2",
        "--json",
    ]
    run = subprocess.Popen(
        command, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    markers = root / "autograded"
    deadline = time.monotonic() + 600
    while len(list(markers.glob(f"*/.{toy.ASSIGNMENT}{autograde.MARKER_SUFFIX}"))) < 3:
        assert run.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "no 3 submissions graded in 10 minutes"
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    done_before = len(list(markers.glob(f"*/.{toy.ASSIGNMENT}{autograde.MARKER_SUFFIX}")))
    assert 3 <= done_before < len(students)
    assert processes_left() == [], "a killed run left execution servers behind"

    resumed = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert len(report["skipped"]) == done_before
    assert sorted(report["skipped"] + report["graded"]) == sorted(students)
    assert sorted(report["students"]) == sorted(students)

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", "toy-course") as gb:
        submissions = gb.assignment_submissions(toy.ASSIGNMENT)
        assert sorted(s.student.id for s in submissions) == sorted(students)  # once each
        for sub in submissions:
            grades = [g for nb in sub.notebooks for g in nb.grades]
            assert all(g.auto_score is not None for g in grades)
            expected = FULL - LOSES_F if sub.student.id == "fails_f" else FULL
            assert sub.score == expected, sub.student.id
    assert forkservers() == []


def notebook_scores(root, assignment):
    """``{(student, notebook, grade_id): [auto_score, max_score]}`` of a gradebook."""
    from nbgrader.api import Gradebook

    with driver.nbgrader_api(root) as api:
        with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
            return {
                (sub.student.id, nb.name, g.name): [g.auto_score, g.max_score]
                for sub in gb.assignment_submissions(assignment)
                for nb in sub.notebooks
                for g in nb.grades
            }


def folder_contents(folder):
    """``{relative path: (bytes or None for a notebook, permissions)}`` of a folder."""
    return {
        str(p.relative_to(folder)): (
            None if p.suffix == ".ipynb" else p.read_bytes(),
            p.stat().st_mode & 0o777,
        )
        for p in folder.rglob("*")
        if p.is_file()
    }


def test_several_notebooks_files_and_settings_as_nbgrader(tmp_path):
    """Two notebooks, data files, ignore and exclude_overwriting, odd hand-ins: nbgrader's."""
    ours = toy.make_course(tmp_path / "ours")
    source = ours / "source" / toy.ASSIGNMENT
    nbformat.write(toy.source_notebook(), source / "second.ipynb")
    (source / "data.txt").write_text("the source's data")
    (source / "kept.txt").write_text("the source's version")
    with (ours / "nbgrader_config.py").open("a") as config:
        config.write(
            'c.Autograde.exclude_overwriting = {"toy": ["kept.txt"]}\n'
            'c.CourseDirectory.ignore = [".ipynb_checkpoints", "__pycache__", "*.log"]\n'
            'c.CourseDirectory.student_id_exclude = "excluded"\n'
        )
    driver.release(ours, [toy.ASSIGNMENT])
    toy.hand_in(ours, ["passes_all", "fails_g"])  # toy.ipynb only: second.ipynb is missing
    both = ours / "submitted" / "fails_g" / toy.ASSIGNMENT
    nbformat.write(toy.submission(ours, "fails_f"), both / "second.ipynb")
    nbformat.write(toy.submission(ours, "blank"), both / "toy copy.ipynb")  # not graded
    (both / "kept.txt").write_text("the student's version")
    (both / "data.txt").write_text("the student's data")
    (both / "debug.log").write_text("ignored")
    (ours / "submitted" / "no_notebook" / toy.ASSIGNMENT).mkdir(parents=True)
    toy.hand_in(ours, ["blank"])
    (ours / "submitted" / "blank").rename(ours / "submitted" / "excluded")
    theirs = toy.clone_class(ours, tmp_path / "theirs")

    summary = autograde.autograde(ours, toy.ASSIGNMENT)
    assert summary.errors == {}
    assert sorted(summary.results) == ["fails_g", "passes_all"]  # skipped as nbgrader skips
    assert summary.missing == {"passes_all": ["second"]}
    _, errors = driver.nbgrader_autograde(theirs, toy.ASSIGNMENT)
    assert errors == {}
    assert notebook_scores(ours, toy.ASSIGNMENT) == notebook_scores(theirs, toy.ASSIGNMENT)
    for student in ("fails_g", "passes_all"):
        mine = folder_contents(ours / "autograded" / student / toy.ASSIGNMENT)
        assert mine == folder_contents(theirs / "autograded" / student / toy.ASSIGNMENT)
    graded = ours / "autograded" / "fails_g" / toy.ASSIGNMENT
    assert (graded / "kept.txt").read_text() == "the student's version"
    assert (graded / "data.txt").read_text() == "the source's data"
    assert not (graded / "debug.log").exists() and not (graded / "toy copy.ipynb").exists()

    result = summary.results["fails_g"]
    assert [nb.notebook for nb in result.notebooks] == ["second", "toy"]
    assert (result.score, result.max_score) == (2 * FULL - LOSES_F - LOSES_G, 2 * FULL)
    missing = summary.results["passes_all"].notebook("second")
    assert {c.status for c in missing.cells} == {"missing"} and missing.max_score == FULL
    assert "second/f" in result.by_exercise()
    # self-study: one notebook of the two, graded on its own, with nbgrader's maximum
    alone = selfstudy.grade_notebook(both / "second.ipynb", root=ours)
    assert (alone.notebook, alone.score, alone.max_score) == ("second", FULL - LOSES_F, FULL)


def test_a_corrected_hidden_test_regrades_once_released_and_says_why(tmp_path):
    from course_cli import course

    root = toy.make_course(tmp_path / "c")
    source = root / "source" / toy.ASSIGNMENT / "toy.ipynb"
    right = source.read_text()
    source.write_text(right.replace("_expected = _x * _x", "_expected = _x * 2"))  # a wrong test
    driver.release(root, [toy.ASSIGNMENT])
    toy.hand_in(root, ["passes_all", "fails_g"])
    first = autograde.autograde(root, toy.ASSIGNMENT)
    assert first.results["passes_all"].score == FULL - LOSES_G and first.regraded == {}

    source.write_text(right)  # corrected in source/, not released yet
    edited = autograde.autograde(root, toy.ASSIGNMENT)
    assert sorted(edited.graded) == ["fails_g", "passes_all"]
    assert edited.regraded == {
        f"source of {toy.ASSIGNMENT} changed since these grades": ["fails_g", "passes_all"]
    }
    assert edited.results["passes_all"].score == FULL - LOSES_G  # nbgrader grades with the release

    assert course("release", toy.ASSIGNMENT, cwd=root).returncode == 0
    out = course("autograde", toy.ASSIGNMENT, cwd=root)
    assert out.returncode == 0, out.stderr
    why = f"{toy.ASSIGNMENT} was released again since these grades"
    assert f"{why}: regrading 2 submissions" in out.stderr  # said before grading
    assert f"  graded again, {why}: 2 submissions" in out.stdout
    assert "passes_all  4/4  1/1  3/3  8/8" in out.stdout  # the corrected test's grade

    again = autograde.autograde(root, toy.ASSIGNMENT)
    assert again.graded == [] and again.regraded == {}
    with (root / "nbgrader_config.py").open("a") as config:
        config.write(f"c.Execute.timeout = {toy.TIMEOUT + 1}\n")
    changed = autograde.autograde(root, toy.ASSIGNMENT, students=["fails_g"])
    assert changed.graded == ["fails_g"] and set(changed.regraded) == {
        "nbgrader_config.py (or a file it loads) changed since these grades",
        "the per-cell timeout changed since these grades "
        f"({toy.TIMEOUT} s, now {toy.TIMEOUT + 1} s)",
    }


def test_a_hand_in_that_became_a_link_is_refused_and_its_old_grading_removed(tmp_path):
    root = toy.make_course(tmp_path / "c")
    toy.hand_in(root, ["passes_all", "fails_g"])
    assert autograde.autograde(root, toy.ASSIGNMENT).errors == {}
    notebook = root / "submitted" / "fails_g" / toy.ASSIGNMENT / "toy.ipynb"
    notebook.unlink()
    notebook.symlink_to(root / "source" / toy.ASSIGNMENT / "toy.ipynb")  # full marks if read
    summary = autograde.autograde(root, toy.ASSIGNMENT)
    assert summary.errors == {
        "fails_g": f"submitted/fails_g/{toy.ASSIGNMENT}/toy.ipynb is a symbolic link: hand in "
        "the file itself"
    }
    assert "fails_g" not in summary.results and summary.skipped == ["passes_all"]
    assert not (root / "autograded" / "fails_g" / toy.ASSIGNMENT).exists()
    assert not driver.marker_path(root, "fails_g", toy.ASSIGNMENT).exists()


def _cell(source, grade_id, points=None):
    meta = {"grade": points is not None, "grade_id": grade_id, "locked": True, "solution": False}
    if points is not None:
        meta["points"] = points
    return nbformat.v4.new_code_cell(source, metadata={"nbgrader": meta})


def test_a_cell_decided_in_the_sandbox_runs_whole_in_the_copy_kept_for_it():
    from course.grading import execution

    cells = [
        _cell("class Counter:\n    def __init__(self):\n        self.n = 0\n"
              "    def inc(self):\n        self.n += 1\n        return self.n", "counter"),
        _cell("c = Counter()\nassert c.inc() == 1\nprint('visible part')\n"
              "### BEGIN HIDDEN TESTS\nassert c.inc() == 2\nprint('hidden part')\n"
              "### END HIDDEN TESTS", "test_counter", points=1),
        _cell("print('after', c.n)", "after"),
    ]  # fmt: skip
    task = execution.make_task(
        json.dumps(nbformat.v4.new_notebook(cells=cells)), [], 10, sandbox_types={"Counter"}
    )
    try:
        done = execution.execute_notebook(task)
    finally:
        servers.shutdown()
    verdict = done["cells"]["test_counter"]
    assert verdict["decided"] == "sandbox"
    outputs = [c["outputs"] for c in json.loads(done["notebook"])["cells"]]
    # the cell shows the student's own run; the copy's (which had the hidden lines) is the
    # instructor's to read
    assert outputs[1] == [{"output_type": "stream", "name": "stdout", "text": "visible part\n"}]
    assert "visible part\nhidden part\n" in verdict["hidden_output"]
    # the student's process ran the visible part only: the hidden lines ran in the copy
    assert outputs[2][0]["text"] == "after 1\n"
