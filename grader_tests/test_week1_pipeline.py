"""Week 1 end to end, in a throwaway course directory: execute, release, autograde, grade.

Expected scores sit in the table below, keyed by submissions named after their outcome.
"""

import ast
import json
import subprocess
import sys
from datetime import UTC, datetime

import nbformat
import pytest
from nbclient import NotebookClient

from course.grading import engine
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
)

pytestmark = pytest.mark.slow

ASSIGNMENT, NOTEBOOK = "week1", "dense_layers"
FUNCTIONS = ["my_dense", "my_sequential", "my_dense_v", "my_sequential_v"]  # DESIGN.md's order
POINTS = {"my_dense": 3, "my_sequential": 3, "my_dense_v": 3, "my_sequential_v": 3}
NONE = dict.fromkeys(FUNCTIONS, 0)

# submission -> expected points per exercise (the statuses are checked in their own tests)
EXPECTED = {
    "source_notebook": POINTS,
    "passes_all": POINTS,
    "untouched_release": NONE,
    "passes_only_my_dense": {**NONE, "my_dense": 3},
    # my_sequential_v's visible test runs the student's my_dense_v (1 point lost); its hidden
    # test swaps in a correct my_dense_v, so the same mistake is not punished twice.
    "fails_my_dense_v_no_bias": {**POINTS, "my_dense_v": 0, "my_sequential_v": 2},
    "hardcodes_visible_my_dense": NONE,  # the hidden part of the cell catches it
    "tampers_test_my_dense": NONE,
    "deletes_test_my_dense": POINTS,
}

HARDCODED_MY_DENSE = """def my_dense(a_in, W, b, g):
    return np.array([0.54735762, 0.57932425, 0.61063923])"""


def submissions(source, release):
    """The notebooks of EXPECTED, built from the source and release notebooks."""
    everything = fill_solutions(release, source)
    hardcoded = fill_solutions(release, source, names=[])
    tampered = fill_solutions(release, source, names=[])
    deleted = fill_solutions(release, source)
    for cell in hardcoded.cells:
        if nbgrader_meta(cell).get("grade_id") == "my_dense":
            cell.source = HARDCODED_MY_DENSE
    for cell in tampered.cells:
        if nbgrader_meta(cell).get("grade_id") == "test_my_dense":
            cell.source = "pass"
    deleted.cells = [
        c for c in deleted.cells if nbgrader_meta(c).get("grade_id") != "test_my_dense"
    ]
    return {
        "source_notebook": source,
        "passes_all": everything,
        "untouched_release": release,
        "passes_only_my_dense": fill_solutions(release, source, names=["my_dense"]),
        "fails_my_dense_v_no_bias": fill_solutions(
            release, source, replace={"my_dense_v": ("A_in @ W + b", "A_in @ W")}
        ),
        "hardcodes_visible_my_dense": hardcoded,
        "tampers_test_my_dense": tampered,
        "deletes_test_my_dense": deleted,
    }


@pytest.fixture(scope="module")
def course_dir(tmp_path_factory, course_copy):
    """A throwaway course directory with week 1 released."""
    root = course_copy(tmp_path_factory.mktemp("course"))
    released, kept = driver.release(root, [ASSIGNMENT])
    assert kept == []  # a fresh directory has no earlier release to keep
    return root


@pytest.fixture(scope="module")
def notebooks(course_dir):
    source = read_notebook(course_dir / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    release = read_notebook(course_dir / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    return source, release


@pytest.fixture(scope="module")
def graded(course_dir, notebooks):
    """Every submission of EXPECTED, and one broken file, autograded in one class run."""
    stamp = datetime.now(UTC).strftime(driver.TIMESTAMP_FORMAT)
    for student, nb in submissions(*notebooks).items():
        folder = course_dir / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{NOTEBOOK}.ipynb")
        (folder / "timestamp.txt").write_text(stamp)
    broken = course_dir / "submitted" / "not_a_notebook" / ASSIGNMENT
    broken.mkdir(parents=True)
    (broken / f"{NOTEBOOK}.ipynb").write_text('{"cells": [')
    (broken / "timestamp.txt").write_text(stamp)
    summary = engine.autograde(course_dir, ASSIGNMENT)
    # a broken file is reported, and does not stop the class run
    assert list(summary.errors) == ["not_a_notebook"]
    assert "invalid JSON" in summary.errors["not_a_notebook"]
    return summary.results


def test_source_executes_top_to_bottom(course_dir, notebooks):
    source, _ = notebooks
    nb = nbformat.from_dict(json.loads(json.dumps(source)))
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(course_dir)}}
    ).execute()
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert errors == []
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    # the application's accuracy, computed by the reference, meets what the prose promises
    accuracy = float(text.split("test accuracy: ")[1].split("%")[0])
    assert accuracy >= 98.0
    for name in FUNCTIONS:
        assert f"{name} passes the visible checks" in text
    plots = [
        c.id
        for c in nb.cells
        if c.cell_type == "code"
        if any("image/png" in o.get("data", {}) for o in c.outputs)
    ]
    assert {"activations_plot", "timing", "network_diagram", "digits_predict"} <= set(plots)


def test_release_reproduces_the_committed_release(course_dir, repo):
    generated = (course_dir / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").read_bytes()
    committed = (repo / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").read_bytes()
    assert generated == committed, "release/ is out of date: run `make release` and commit it"
    assert sorted(p.name for p in (repo / "release" / ASSIGNMENT).iterdir()) == [
        f"{NOTEBOOK}.ipynb"
    ]


def test_release_holds_no_solution_no_hidden_test_and_no_marker(notebooks):
    source, release = notebooks
    release_text = "\n".join(c.source for c in release.cells)
    for marker in (*SOLUTION_MARKERS, *HIDDEN_MARKERS, "BEGIN", "END SOLUTION"):
        assert marker not in release_text
    secret_lines = set()
    for cell in source.cells:
        meta = nbgrader_meta(cell)
        if meta.get("solution"):
            body = cell.source.split(SOLUTION_MARKERS[0])[1].split(SOLUTION_MARKERS[1])[0]
            secret_lines |= {line.strip() for line in body.splitlines()}
        if meta.get("grade"):
            hidden = cell.source.split(HIDDEN_MARKERS[0])[1].split(HIDDEN_MARKERS[1])[0]
            secret_lines |= {line.strip() for line in hidden.splitlines()}
    secret_lines -= {"", "try:", "finally:", "for _l in range(3):", "_params = []"}
    released_lines = {line.strip() for line in release_text.splitlines()}
    assert secret_lines & released_lines == set()
    for cell in release.cells:
        if nbgrader_meta(cell).get("solution"):
            assert "raise NotImplementedError()" in cell.source
        assert cell.get("outputs", []) == []


def test_grade_ids_are_unique_and_follow_the_design(notebooks):
    source, _ = notebooks
    ids = [nbgrader_meta(c)["grade_id"] for c in source.cells if nbgrader_meta(c)]
    assert len(ids) == len(set(ids))
    assert all(nbgrader_meta(c) for c in source.cells), "every cell carries nbgrader metadata"
    assert exercises(source) == FUNCTIONS
    for cell in source.cells:
        meta = nbgrader_meta(cell)
        if meta.get("solution"):
            tree = ast.parse(solution_code(cell))
            defined = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
            assert defined == [meta["grade_id"]], "a solution cell defines exactly its function"
        elif not meta.get("grade"):
            assert not meta["grade_id"].startswith("test_")
            assert meta["grade_id"] not in FUNCTIONS
    tests = [nbgrader_meta(c)["grade_id"] for c in graded_cells(source)]
    assert all(exercise_of(t, FUNCTIONS) for t in tests)
    assert {exercise_of(t, FUNCTIONS) for t in tests} == set(FUNCTIONS)
    assert exercise_of("test_my_dense_v_generalizes", FUNCTIONS) == "my_dense_v"
    points = {}
    for cell in graded_cells(source):
        name = exercise_of(nbgrader_meta(cell)["grade_id"], FUNCTIONS)
        points[name] = points.get(name, 0) + nbgrader_meta(cell)["points"]
    assert points == POINTS


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_autograde_scores(graded, student):
    result = graded[student]
    got = {name: score for name, (score, _) in result.by_exercise().items()}
    assert got == EXPECTED[student]
    assert result.max_score == sum(POINTS.values())


def test_untouched_release_gets_zero_on_every_cell_without_crashing(graded):
    result = graded["untouched_release"]
    assert [c.score for c in result.cells] == [0] * len(result.cells)
    assert {c.status for c in result.cells} == {"error"}
    assert all("YOUR CODE HERE" in c.message for c in result.cells)


def test_statuses_and_messages(graded):
    cells = {c.grade_id: c for c in graded["fails_my_dense_v_no_bias"].cells}
    assert cells["test_my_dense_v"].status == "failed"
    assert "the bias b is not added" in cells["test_my_dense_v_generalizes"].message
    assert cells["test_my_sequential_v_generalizes"].status == "passed"
    tampered = {c.grade_id: c for c in graded["tampers_test_my_dense"].cells}
    assert tampered["test_my_dense"].status == "tampered"
    deleted = {c.grade_id: c for c in graded["deletes_test_my_dense"].cells}
    assert deleted["test_my_dense"].status == "missing"
    hidden = {c.grade_id: c for c in graded["hardcodes_visible_my_dense"].cells}
    assert hidden["test_my_dense"].status == "failed"
    assert "hidden example" in hidden["test_my_dense"].message


def test_gradebook_holds_the_same_scores(course_dir, graded):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}", "nn-from-scratch") as gb:
        for student, result in graded.items():
            assert gb.find_submission(ASSIGNMENT, student).score == result.score


def run_grade(repo, path):
    return subprocess.run(
        [sys.executable, "-m", "course", "grade", str(path), "--json"],
        capture_output=True,
        text=True,
        cwd=repo,
        timeout=300,
    )


def test_course_grade_json_on_source_and_release(repo):
    full = run_grade(repo, repo / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    assert full.returncode == 0, full.stderr
    report = json.loads(full.stdout)
    assert set(report) == {"assignment", "notebook", "score", "max_score", "cells"}
    assert (report["assignment"], report["notebook"]) == (ASSIGNMENT, NOTEBOOK)
    assert report["score"] == report["max_score"] == sum(POINTS.values())
    assert all(c["status"] == "passed" for c in report["cells"])
    assert set(report["cells"][0]) == {"grade_id", "score", "max_score", "status", "message"}

    empty = run_grade(repo, repo / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    assert empty.returncode == 0, empty.stderr
    report = json.loads(empty.stdout)
    assert report["score"] == 0 and report["max_score"] == sum(POINTS.values())
    assert all(c["score"] == 0 and c["status"] == "error" for c in report["cells"])


def test_course_grade_finds_the_assignment_of_a_renamed_copy(repo, tmp_path, notebooks):
    source, release = notebooks
    renamed = tmp_path / "my homework (2).ipynb"
    nbformat.write(fill_solutions(release, source, names=["my_dense"]), renamed)
    out = run_grade(repo, renamed)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["assignment"] == ASSIGNMENT and report["score"] == 3


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
    root = course_copy(tmp_path / "course")
    driver.release(root, [ASSIGNMENT])
    target = root / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    pristine = target.read_bytes()
    source, release = notebooks
    nbformat.write(fill_solutions(release, source, names=["my_dense"]), target)
    work = target.read_bytes()

    again = subprocess.run(
        [sys.executable, "-m", "course", "release", ASSIGNMENT],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    (kept,) = (root / "backups" / "release" / ASSIGNMENT).iterdir()
    assert kept.read_bytes() == work
    assert str(kept.relative_to(root)) in again.stdout
    assert target.read_bytes() == pristine

    _, kept_again = driver.release(root, [ASSIGNMENT])  # nothing changed: nothing to keep
    assert kept_again == []
