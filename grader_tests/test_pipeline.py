"""Every assignment end to end, in a throwaway course directory: execute, release, autograde.

The weeks, their sample submissions and the scores these should get are the table of
``weeks.py``; each week's submissions are graded in the class it shares with the mutant
sample (``week_class``, in ``conftest.py``).
"""

import ast
import json
import subprocess
import sys

import nbformat
import pytest
from weeks import WEEKS, expected_scores, in_its_class

from course.grading import nbgrader_driver as driver
from course.grading.notebooks import (
    HIDDEN_MARKERS,
    SOLUTION_MARKERS,
    exercise_of,
    exercises,
    fill_solutions,
    graded_cells,
    nbgrader_meta,
    read_notebook,
    solution_code,
    split_hidden,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def notebooks(course_dir):
    """``{assignment: (source, release)}``."""
    return {
        name: tuple(
            read_notebook(course_dir / side / name / f"{week.notebook}.ipynb")
            for side in ("source", "release")
        )
        for name, week in WEEKS.items()
    }


def all_outputs_text(nb):
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@pytest.mark.parametrize("name", [in_its_class(name) for name in WEEKS])
def test_source_executes_top_to_bottom_and_shows_what_the_prose_promises(
    course_dir, week_class, name
):
    """The source notebook, handed in as a submission of the week's class (``source_notebook``,
    whole: its demonstrations too), as the grader executed it: every cell in one shell, top to
    bottom, the test cells in the judge (nbgrader's plain kernel runs them in the bench)."""
    week = WEEKS[name]
    graded = week_class(name)
    assert "source_notebook" not in graded.errors
    nb = read_notebook(
        course_dir / "autograded" / "source_notebook" / name / f"{week.notebook}.ipynb"
    )
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert errors == []
    text = all_outputs_text(nb)
    for function in week.functions:
        assert f"{function} passes the visible checks" in text
    plots = {
        c.id
        for c in nb.cells
        if c.cell_type == "code" and any("image/png" in o.get("data", {}) for o in c.outputs)
    }
    assert week.plots <= plots
    if week.claims:
        week.claims(text)


@pytest.mark.parametrize("name", WEEKS)
def test_release_reproduces_the_committed_release(course_dir, repo, name):
    notebook = f"{WEEKS[name].notebook}.ipynb"
    generated = (course_dir / "release" / name / notebook).read_bytes()
    committed = (repo / "release" / name / notebook).read_bytes()
    assert generated == committed, "release/ is out of date: run `make release` and commit it"
    assert sorted(p.name for p in (repo / "release" / name).iterdir()) == [notebook]


def test_every_assignment_is_tested(repo):
    assert driver.assignments(repo) == sorted(WEEKS)


@pytest.mark.parametrize("name", WEEKS)
def test_release_holds_no_solution_no_hidden_test_and_no_marker(notebooks, name):
    source, release = notebooks[name]
    release_text = "\n".join(c.source for c in release.cells)
    for marker in (*SOLUTION_MARKERS, *HIDDEN_MARKERS, "BEGIN", "END SOLUTION"):
        assert marker not in release_text
    # every line of a solution or hidden region that the visible parts do not also have
    secret, public = set(), set()
    for cell in source.cells:
        lines = cell.source.split("\n")
        regions = split_hidden(cell.source)[1] if nbgrader_meta(cell).get("grade") else set()
        inside = False
        for number, line in enumerate(lines, start=1):
            inside = inside or SOLUTION_MARKERS[0] in line
            if inside or number in regions:
                secret.add(line.strip())
            else:
                public.add(line.strip())
            inside = inside and SOLUTION_MARKERS[1] not in line
    released_lines = {line.strip() for line in release_text.splitlines()}
    assert (secret - public) & released_lines == set()
    for cell in release.cells:
        if nbgrader_meta(cell).get("solution"):
            assert "raise NotImplementedError()" in cell.source
        assert cell.get("outputs", []) == []


@pytest.mark.parametrize("name", WEEKS)
def test_grade_ids_are_unique_and_follow_the_design(notebooks, name):
    week = WEEKS[name]
    source, _ = notebooks[name]
    ids = [nbgrader_meta(c)["grade_id"] for c in source.cells if nbgrader_meta(c)]
    assert len(ids) == len(set(ids))
    assert all(nbgrader_meta(c) for c in source.cells), "every cell carries nbgrader metadata"
    assert [c.id for c in source.cells] == ids, "cell ids are the grade ids"
    assert exercises(source) == week.functions
    for cell in source.cells:
        meta = nbgrader_meta(cell)
        if meta.get("solution"):
            tree = ast.parse(solution_code(cell))
            defined = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
            assert defined == [meta["grade_id"]], "a solution cell defines exactly its function"
        elif not meta.get("grade"):
            assert not meta["grade_id"].startswith("test_")
            assert meta["grade_id"] not in week.functions
    tests = [nbgrader_meta(c)["grade_id"] for c in graded_cells(source)]
    assert {exercise_of(t, week.functions) for t in tests} == set(week.functions)
    points = {}
    for cell in graded_cells(source):
        function = exercise_of(nbgrader_meta(cell)["grade_id"], week.functions)
        points[function] = points.get(function, 0) + nbgrader_meta(cell)["points"]
    assert points == week.points


BY_WEEK = [in_its_class(name) for name in WEEKS]
STUDENTS = [in_its_class(name, s) for name, week in WEEKS.items() for s in expected_scores(week)]


@pytest.mark.parametrize("name", BY_WEEK)
def test_the_class_run_grades_every_notebook(week_class, name):
    errors = week_class(name).errors
    if name == "week1":  # a file that is not a notebook is reported, and does not stop the run
        assert list(errors) == ["not_a_notebook"]
        assert "invalid JSON" in errors["not_a_notebook"]
    else:
        assert errors == {}


@pytest.mark.parametrize("name, student", STUDENTS)
def test_autograde_scores(week_class, name, student):
    result = week_class(name).results[student]
    got = {function: score for function, (score, _) in result.by_exercise().items()}
    assert got == expected_scores(WEEKS[name])[student]
    assert result.max_score == sum(WEEKS[name].points.values())


@pytest.mark.parametrize("name", BY_WEEK)
def test_statuses_of_the_shared_submissions(week_class, name):
    first = f"test_{WEEKS[name].functions[0]}"
    graded = week_class(name).results
    untouched = graded["untouched_release"]
    assert {c.status for c in untouched.cells} == {"error"}
    assert all("YOUR CODE HERE" in c.message for c in untouched.cells)
    assert all(c.status == "passed" for c in graded["passes_all"].cells)
    # an edited locked test cell is graded as the instructor wrote it: its real status (the
    # exercise is not done), and a note for the instructor
    tampered = {c.grade_id: c for c in graded["tampers_first_test"].cells}
    assert tampered[first].status == "error" and "changed this test cell" in tampered[first].note
    assert "YOUR CODE HERE" in tampered[first].message
    patched = graded["patches_the_checks"].cells
    assert {c.status for c in patched} <= {"failed", "error"}
    deleted = {c.grade_id: c for c in graded["deletes_first_test"].cells}
    assert deleted[first].status == "missing"
    if WEEKS[name].hardcoded:
        function = WEEKS[name].hardcoded[0]
        cells = graded["hardcodes_the_visible_answer"].cells
        statuses = {c.status for c in cells if exercise_of(c.grade_id, [function])}
        assert statuses <= {"failed", "error"} and "failed" in statuses


@pytest.mark.parametrize("name", [in_its_class("week1")])
def test_week1_messages_name_the_mistake(week_class, name):
    graded = week_class(name).results
    cells = {c.grade_id: c for c in graded["fails_my_dense_v_no_bias"].cells}
    assert cells["test_my_dense_v"].status == "failed"
    assert "the bias b is not added" in cells["test_my_dense_v_generalizes"].message
    assert cells["test_my_sequential_v_generalizes"].status == "passed"
    hidden = {c.grade_id: c for c in graded["hardcodes_the_visible_answer"].cells}
    assert "hidden example" in hidden["test_my_dense"].message


@pytest.mark.parametrize("name", BY_WEEK)
def test_gradebook_holds_the_same_scores(course_dir, week_class, name):
    from nbgrader.api import Gradebook

    graded = week_class(name).results  # the mutants' too
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}", "nn-from-scratch") as gb:
        for student, result in graded.items():
            assert gb.find_submission(name, student).score == result.score


def run_grade(repo, path):
    return subprocess.run(
        [sys.executable, "-m", "course", "grade", str(path), "--json"],
        capture_output=True,
        text=True,
        cwd=repo,
        timeout=600,
    )


def test_course_grade_json_on_source_and_release(repo):
    """The command line's contract, on week 1 (every week is graded by the same engine above)."""
    name = "week1"
    week = WEEKS[name]
    full = run_grade(repo, repo / "source" / name / f"{week.notebook}.ipynb")
    assert full.returncode == 0, full.stderr
    report = json.loads(full.stdout)
    assert set(report) == {"assignment", "notebook", "score", "max_score", "cells"}
    assert (report["assignment"], report["notebook"]) == (name, week.notebook)
    assert report["score"] == report["max_score"] == sum(week.points.values())
    assert all(c["status"] == "passed" for c in report["cells"])
    assert set(report["cells"][0]) == {
        "grade_id",
        "score",
        "max_score",
        "status",
        "message",
        "decided",
        "note",
    }
    assert {c["decided"] for c in report["cells"]} <= {"judge", "sandbox"}

    empty = run_grade(repo, repo / "release" / name / f"{week.notebook}.ipynb")
    assert empty.returncode == 0, empty.stderr
    report = json.loads(empty.stdout)
    assert report["score"] == 0 and report["max_score"] == sum(week.points.values())
    assert all(c["score"] == 0 and c["status"] == "error" for c in report["cells"])


def test_course_grade_finds_the_assignment_of_a_renamed_copy(repo, tmp_path, notebooks):
    source, release = notebooks["week1"]
    renamed = tmp_path / "my homework (2).ipynb"
    nbformat.write(fill_solutions(release, source, names=["my_dense"]), renamed)
    out = run_grade(repo, renamed)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["assignment"] == "week1" and report["score"] == 3


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"this is not json", "invalid JSON"),
        (b'{"hello": "world"}', "without 'cells' and 'nbformat'"),
        (b'{"cells": [], "nbformat": 5, "metadata": {}}', "format 5 is not supported"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
    ],
)
def test_course_grade_rejects_what_is_not_a_notebook(repo, tmp_path, content, reason):
    bad = tmp_path / "dense_layers.ipynb"
    bad.write_bytes(content)
    out = run_grade(repo, bad)
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0]


def test_course_grade_on_a_missing_file(repo, tmp_path):
    out = run_grade(repo, tmp_path / "nope.ipynb")
    assert out.returncode == 2 and "no such file" in out.stderr


def test_release_keeps_work_done_in_release(tmp_path, course_copy, notebooks):
    """Re-releasing over a release/ notebook a student worked in keeps a copy of the work."""
    assignment, notebook = "week1", WEEKS["week1"].notebook
    root = course_copy(tmp_path / "course")
    driver.release(root, [assignment])
    target = root / "release" / assignment / f"{notebook}.ipynb"
    pristine = target.read_bytes()
    source, release = notebooks[assignment]
    nbformat.write(fill_solutions(release, source, names=["my_dense"]), target)
    work = target.read_bytes()

    again = subprocess.run(
        [sys.executable, "-m", "course", "release", assignment],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    (kept,) = (root / "backups" / "release" / assignment).iterdir()
    assert kept.read_bytes() == work
    assert str(kept.relative_to(root)) in again.stdout
    assert target.read_bytes() == pristine

    _, kept_again = driver.release(root, [assignment])  # nothing changed: nothing to keep
    assert kept_again == []
