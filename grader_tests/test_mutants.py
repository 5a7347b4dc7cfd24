"""The mutation catalog (``mutants.py``): every mutant loses points on its own function's tests.

The suite grades a sample (``mutants.sample``: of every graded function, the mutants whose
messages are checked, or its first one) in the class each week shares with the pipeline's
submissions (``week_class``, in ``conftest.py``); ``make mutants`` grades the whole catalog.
"""

import pytest
from mutants import CATALOG, TEACHES, sample, verdicts
from weeks import in_its_class

from course.grading.notebooks import exercises, read_notebook

BY_WEEK = [in_its_class(assignment) for assignment in sorted(CATALOG)]


def sample_verdicts(week_class, assignment):
    graded = week_class(assignment)
    return verdicts(graded.results, graded.mutants)


def test_every_graded_function_has_at_least_six_mutants(repo):
    for path in sorted((repo / "source").glob("*/*.ipynb")):
        assignment = path.parent.name
        counts = {name: 0 for name in exercises(read_notebook(path))}
        for mutant in CATALOG.get(assignment, []):
            counts[mutant.function] += 1
        assert {f: n for f, n in counts.items() if n < 6} == {}, assignment


def test_the_teaching_sample_names_real_mutants():
    known = {(a, m.function, m.mistake) for a, mutants in CATALOG.items() for m in mutants}
    assert set(TEACHES) - known == set()


def test_the_sample_has_every_graded_function_and_every_taught_mistake(repo):
    chosen = sample()
    for path in sorted((repo / "source").glob("*/*.ipynb")):
        assignment = path.parent.name
        functions = {m.function for m in chosen[assignment]}
        assert functions == set(exercises(read_notebook(path))), assignment
    taught = {(a, m.function, m.mistake) for a, mutants in chosen.items() for m in mutants}
    assert set(TEACHES) <= taught
    assert sum(map(len, chosen.values())) < sum(map(len, CATALOG.values())) / 4


@pytest.mark.slow
@pytest.mark.parametrize("assignment", BY_WEEK)
def test_every_mutant_is_caught(week_class, assignment):
    found = sample_verdicts(week_class, assignment)
    assert len(found) == len(sample()[assignment])
    escaped = [v.mutant.mistake for v in found.values() if not v.caught]
    assert escaped == []


@pytest.mark.slow
@pytest.mark.parametrize("assignment", BY_WEEK)
def test_messages_name_the_mistake(week_class, assignment):
    for v in sample_verdicts(week_class, assignment).values():
        words = TEACHES.get((assignment, v.mutant.function, v.mutant.mistake))
        if words:
            assert any(words in message for message in v.messages), (v.mutant, v.messages)


@pytest.mark.slow
@pytest.mark.parametrize("assignment", BY_WEEK)
def test_a_wrong_function_costs_only_its_own_points(week_class, assignment):
    collateral = {
        v.mutant.mistake: v.elsewhere_lost
        for v in sample_verdicts(week_class, assignment).values()
        if v.elsewhere_lost
    }
    assert collateral == {}
