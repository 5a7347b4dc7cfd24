"""``course autograde`` contains every attack of the suite (``attacks.py``).

The whole class (an honest student and every attack) is graded in one sandboxed run, in a
child process that is the grading coordinator; each attack must come to its expected
outcome, the honest student must get full marks, nothing may be left behind, and the
coordinator's memory must stay bounded whatever the submissions send.
"""

import copy

import nbformat
import pytest
import toy_course as toy
from attacks import (
    ATTACKS,
    FORGED_PASS,
    FORGED_TIMEOUT,
    FULL,
    REWRITE_RESULTS,
    leftover_processes,
    outputs_text,
    run_in_child,
)

from course.grading import engine
from course.grading import nbgrader_driver as driver
from course.grading.notebooks import exercises, nbgrader_meta, read_notebook

pytestmark = pytest.mark.slow

COORDINATOR_BYTES = 500 * 2**20  # the most the coordinator may use while grading the class


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return run_in_child(tmp_path_factory.mktemp("attacks"))


def test_the_suite_covers_enough_attacks():
    assert len(ATTACKS) >= 25
    assert len({a.name for a in ATTACKS}) == len(ATTACKS)


@pytest.mark.parametrize("name", [a.name for a in ATTACKS])
def test_attack_is_contained(graded, name):
    contained, why = graded["verdicts"][name]
    assert contained, why


def test_honest_student_next_to_the_attacks_gets_full_marks(graded):
    assert graded["scores"]["honest"] == FULL
    assert "honest" not in graded["errors"]


def test_the_coordinators_memory_stays_bounded_whatever_the_attacks_send(graded):
    peak = graded["peak_bytes"]
    assert peak < COORDINATOR_BYTES, f"the coordinator used {peak / 2**20:.0f} MB"


def test_nothing_is_left_running(graded):
    assert leftover_processes() == []


def test_without_bubblewrap_autograde_refuses_unless_told(tmp_path, monkeypatch):
    root = toy.make_course(tmp_path / "c")
    toy.hand_in(root, ["passes_all"])
    monkeypatch.setenv("PATH", "/nonexistent")
    engine.sandbox.available.cache_clear()
    try:
        with pytest.raises(engine.driver.CourseError, match="apt-get install bubblewrap"):
            engine.autograde(root, toy.ASSIGNMENT)
        summary = engine.autograde(root, toy.ASSIGNMENT, sandboxed=False)
        assert summary.results["passes_all"].score == FULL
    finally:
        engine.sandbox.available.cache_clear()


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
    summary = engine.autograde(ours, "week1")
    assert summary.errors == {}
    assert {s: r.score for s, r in summary.results.items()} == dict.fromkeys(forgers, 0)
    assert driver.nbgrader_autograde(theirs, "week1")[1] == {}
    for student, scores in driver.gradebook_scores(theirs, "week1").items():
        assert all(score == 0 for score, _ in scores.values()), student
    # the forgery ran: the cells the student's process decides show what it forged
    graded = ours / "autograded" / "forges_passes" / "week1" / "dense_layers.ipynb"
    assert "forged clean output" in outputs_text(read_notebook(graded))
