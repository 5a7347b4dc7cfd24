"""``course autograde`` contains every attack of the suite (``attacks.py``).

The whole class (an honest student and every attack) is graded in one sandboxed run; each
attack must come to its expected outcome, the honest student must get full marks, and
nothing may be left behind.
"""

import pytest
import toy_course as toy
from attacks import ATTACKS, FULL, Listener, leftover_processes, run

from course.grading import engine

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    listener = Listener()
    try:
        yield run(tmp_path_factory.mktemp("attacks"), listener, "course")
    finally:
        listener.close()


def test_the_suite_covers_enough_attacks():
    assert len(ATTACKS) >= 25
    assert len({a.name for a in ATTACKS}) == len(ATTACKS)


@pytest.mark.parametrize("name", [a.name for a in ATTACKS])
def test_attack_is_contained(graded, name):
    _, _, verdicts = graded
    contained, why = verdicts[name]
    assert contained, why


def test_honest_student_next_to_the_attacks_gets_full_marks(graded):
    results, errors, _ = graded
    assert results["honest"].score == FULL
    assert "honest" not in errors


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
