"""Every mutant of the catalog (``mutants.py``) loses points on its own function's tests."""

import pytest
from mutants import CATALOG, TEACHES, grade

from course.grading.notebooks import exercises, read_notebook

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory):
    """``{assignment: {student: Verdict}}``, graded on first use."""
    graded = {}

    def get(assignment):
        if assignment not in graded:
            graded[assignment] = grade(
                assignment, CATALOG[assignment], tmp_path_factory.mktemp("mutants")
            )
        return graded[assignment]

    return get


def test_every_graded_function_has_at_least_six_mutants(repo):
    for path in sorted((repo / "source").glob("*/*.ipynb")):
        assignment = path.parent.name
        counts = {name: 0 for name in exercises(read_notebook(path))}
        for mutant in CATALOG.get(assignment, []):
            counts[mutant.function] += 1
        assert {f: n for f, n in counts.items() if n < 6} == {}, assignment


@pytest.mark.parametrize("assignment", sorted(CATALOG))
def test_every_mutant_is_caught(verdicts, assignment):
    escaped = [v.mutant.mistake for v in verdicts(assignment).values() if not v.caught]
    assert escaped == []


def test_the_teaching_sample_names_real_mutants():
    known = {(a, m.function, m.mistake) for a, mutants in CATALOG.items() for m in mutants}
    assert set(TEACHES) - known == set()


@pytest.mark.parametrize("assignment", sorted(CATALOG))
def test_messages_name_the_mistake(verdicts, assignment):
    for v in verdicts(assignment).values():
        words = TEACHES.get((assignment, v.mutant.function, v.mutant.mistake))
        if words:
            assert any(words in message for message in v.messages), (v.mutant, v.messages)


@pytest.mark.parametrize("assignment", sorted(CATALOG))
def test_a_wrong_function_costs_only_its_own_points(verdicts, assignment):
    collateral = {
        v.mutant.mistake: v.elsewhere_lost
        for v in verdicts(assignment).values()
        if v.elsewhere_lost
    }
    assert collateral == {}
