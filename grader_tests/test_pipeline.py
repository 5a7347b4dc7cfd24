"""Every assignment end to end, in a throwaway course directory: execute, release, autograde.

Each week is one row of WEEKS: its exercises and points, the mistakes its sample submissions
make (with the points each should get), the cells that must show a plot, and a check of
every number its prose promises. The submissions every week shares are named after their
outcome (``passes_all``, ``untouched_release``, ``tampers_first_test``, ...); their expected
scores are computed from the table, never written into file names.
"""

import ast
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime

import nbformat
import pytest
from nbclient import NotebookClient

from course.grading import autograde
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


def printed_percent(text, label):
    """The first percentage printed after ``label`` (e.g. ``test accuracy: 98.9%``)."""
    found = re.findall(rf"{re.escape(label)}:? *([0-9.]+)%", text)
    assert found, f"the notebook does not print '{label}: ...%'"
    return float(found[0])


@dataclass
class Week:
    """One assignment, as the pipeline tests see it.

    Attributes:
        notebook: the notebook's name (without .ipynb).
        points: ``{exercise: points}`` in the course's order.
        mistakes: ``{student: (replace, expected)}``: the solutions with ``replace``
            (``{exercise: (old, new)}``) applied, and the points per exercise that
            submission gets (exercises not named get full points).
        plots: ids of the cells that must show an image when the source runs.
        claims: a function of everything the source printed that checks the numbers the
            prose promises.
        hardcoded: ``(exercise, code)``: a definition that returns the visible test's
            expected output as a constant; the hidden tests must give it 0 points (the
            other exercises are left undone).
    """

    notebook: str
    points: dict
    mistakes: dict = field(default_factory=dict)
    plots: set = field(default_factory=set)
    claims: object = None
    hardcoded: tuple = ()

    @property
    def functions(self):
        return list(self.points)


def week1_claims(text):
    assert printed_percent(text, "test accuracy") >= 98.0


def week2_claims(text):
    # the prose: about 91% on both sets, the cost falling from log 2 to about 0.25
    assert 88.0 <= printed_percent(text, "train accuracy") <= 94.0
    assert 88.0 <= printed_percent(text, "test accuracy") <= 94.0
    cost = float(re.findall(r"cost after iteration 1900: ([0-9.]+)", text)[0])
    assert 0.2 <= cost <= 0.3
    # and with learning rate 0.01 the cost is still above 0.4, train accuracy below 90%
    slow = re.search(
        r"learning rate 0.01: cost at iteration 1900 ([0-9.]+), train accuracy "
        r"([0-9.]+)%",
        text,
    )
    assert float(slow[1]) > 0.4 and float(slow[2]) < 90.0


def week3_claims(text):
    baseline = printed_percent(text, "logistic regression train accuracy")
    assert baseline < 50.0  # "under 50%, no better than a coin toss"
    gradient = float(re.findall(r"largest relative difference: ([0-9.e+-]+)", text)[0])
    assert gradient < 1e-6
    assert printed_percent(text, "train accuracy with n_h = 4") >= 90.0
    sweep = {
        int(n): float(a) for n, a in re.findall(r"n_h = (\d+): train accuracy ([0-9.]+)%", text)
    }
    assert sorted(sweep) == [1, 2, 3, 4, 5, 20, 50]
    assert sweep[1] > baseline  # one unit beats logistic regression's line
    assert sweep[2] < 90.0 and sweep[3] < 90.0  # "two and three units ... stay under 90%"
    assert all(sweep[n] > 90.0 for n in sweep if n >= 4)  # "from 4 units on ... over 90%"
    for name in ("moons", "circles", "blobs", "gaussian_quantiles"):
        assert printed_percent(text, f"{name}: train accuracy") >= 90.0


def week4_claims(text):
    rows = dict(
        re.findall(r"^(logistic regression|2-layer network|L-layer network): (.*)$", text, re.M)
    )
    accuracy = {
        name: [float(x) for x in re.findall(r"(?:train|test) ([0-9.]+)%", row)]
        for name, row in rows.items()
    }
    assert 88.0 <= accuracy["logistic regression"][1] <= 94.0  # the same split as week 2
    for network in ("2-layer network", "L-layer network"):
        train, test = accuracy[network]
        assert train >= 99.0 and test >= 95.0
    # the deep network beats logistic regression, making under a third of its test mistakes
    assert 100 - accuracy["L-layer network"][1] < (100 - accuracy["logistic regression"][1]) / 3
    gradient = float(re.findall(r"largest relative difference: ([0-9.e+-]+)", text)[0])
    assert gradient < 1e-7
    assert "every dW[l] and db[l] has the shape of W[l] and b[l]: True" in text
    assert "0.01 initialization: the 1347 outputs range from 0.500000 to 0.500000" in text


def week5_claims(text):
    def number(pattern):
        return float(re.findall(pattern, text)[0])

    assert number(r"gradient check, correct backprop: ([0-9.e+-]+)") < 1e-7
    assert number(r"gradient check, planted bug: ([0-9.e+-]+)") > 1e-3
    zeros = r"start from zeros: first cost [0-9.]+, final cost [0-9.]+, train accuracy ([0-9.]+)%"
    assert number(zeros) == 50.0  # zeros never break the symmetry
    assert number(r"start from He: first cost [0-9.]+, final cost ([0-9.]+)") < 0.05
    unnormalized, standardized = re.findall(
        r"iterations to reach cost 0.30: unnormalized (\d+), standardized (\d+)", text
    )[0]
    assert int(standardized) < 10 < int(unnormalized)
    assert number(r"no clipping: largest gradient norm ([0-9.e+-]+)") > 1e40
    assert (
        number(r"clipped at norm 1: largest gradient norm [0-9.e+-]+, final cost ([0-9.]+)") < 0.01
    )
    assert "mini-batch sizes: [64, 64, 64, 64, 44]" in text
    assert number(r"Adam: final cost ([0-9.]+)") < 0.08


WEEKS = {
    "week1": Week(
        notebook="dense_layers",
        points={"my_dense": 3, "my_sequential": 3, "my_dense_v": 3, "my_sequential_v": 3},
        mistakes={
            # my_sequential_v is graded with a correct my_dense_v: one mistake, one loss
            "fails_my_dense_v_no_bias": (
                {"my_dense_v": ("A_in @ W + b", "A_in @ W")},
                {"my_dense_v": 0},
            ),
        },
        plots={"activations_plot", "timing", "network_diagram", "digits_predict"},
        claims=week1_claims,
        hardcoded=(
            "my_dense",
            "def my_dense(a_in, W, b, g):\n"
            "    return np.array([0.54735762, 0.57932425, 0.61063923])",
        ),
    ),
    "week2": Week(
        notebook="logistic_regression",
        points={
            "normalize_rows": 2,
            "L1": 2,
            "L2": 2,
            "initialize_with_zeros": 2,
            "propagate": 3,
            "optimize": 3,
            "predict": 3,
            "model": 3,
        },
        mistakes={
            # optimize and model are graded with a correct propagate: one mistake, one loss
            "fails_propagate_no_one_over_m": (
                {"propagate": ("dw = (X @ dZ.T) / m", "dw = X @ dZ.T")},
                {"propagate": 0},
            ),
            "fails_optimize_modifies_w_in_place": (
                {
                    "optimize": (
                        'w = w - learning_rate * grads["dw"]',
                        'w -= learning_rate * grads["dw"]',
                    )
                },
                {"optimize": 0},
            ),
            "fails_predict_at_one_half": (
                {"predict": ("(A > 0.5)", "(A >= 0.5)")},
                {"predict": 0},
            ),
        },
        plots={"data_load", "train", "learning_rates", "mistakes", "weights"},
        claims=week2_claims,
    ),
    "week3": Week(
        notebook="shallow_network",
        points={
            "layer_sizes": 2,
            "initialize_parameters": 3,
            "forward_propagation": 3,
            "compute_cost": 3,
            "backward_propagation": 5,
            "update_parameters": 3,
            "nn_model": 3,
            "predict": 2,
        },
        mistakes={
            # nn_model and predict are graded with correct blocks: one mistake, one loss
            "fails_backward_tanh_derivative": (
                {"backward_propagation": ("(1 - A1**2)", '(1 - cache["Z1"] ** 2)')},
                {"backward_propagation": 0},
            ),
            "fails_forward_sigmoid_hidden_layer": (
                {"forward_propagation": ("A1 = np.tanh(Z1)", "A1 = sigmoid(Z1)")},
                {"forward_propagation": 0},
            ),
        },
        plots={"baseline", "boundary", "network", "sweep", "other"},
        claims=week3_claims,
    ),
    "week4": Week(
        notebook="deep_network",
        points={
            "initialize_parameters_deep": 3,
            "linear_forward": 2,
            "linear_activation_forward": 3,
            "L_model_forward": 3,
            "compute_cost": 2,
            "linear_backward": 3,
            "linear_activation_backward": 3,
            "L_model_backward": 5,
            "update_parameters": 3,
            "two_layer_model": 3,
            "L_layer_model": 3,
        },
        mistakes={
            # every function that calls linear_backward is graded with a correct one
            "fails_linear_backward_no_one_over_m": (
                {"linear_backward": ("dW = dZ @ A_prev.T / m", "dW = dZ @ A_prev.T")},
                {"linear_backward": 0},
            ),
        },
        plots={"data_flow", "data", "costs_plot", "mistakes", "network", "try_it"},
        claims=week4_claims,
        hardcoded=(
            "linear_forward",
            "def linear_forward(A, W, b):\n"
            "    return np.array([[-0.1, -1.55], [1.5, -0.6]]), (A, W, b)",
        ),
    ),
    "week5": Week(
        notebook="practical_aspects",
        points={
            "initialize_parameters_he": 2,
            "initialize_parameters_xavier": 2,
            "standardize": 3,
            "batchnorm_forward": 3,
            "clip_by_global_norm": 3,
            "gradient_check": 3,
            "random_mini_batches": 3,
            "initialize_velocity": 2,
            "update_parameters_with_momentum": 3,
            "initialize_adam": 2,
            "update_parameters_with_adam": 3,
            "exponential_decay": 2,
        },
        mistakes={
            "fails_adam_without_bias_correction": (
                {"update_parameters_with_adam": (" / (1 - beta1**t)", "")},
                {"update_parameters_with_adam": 0},
            ),
            "fails_standardize_without_constant_features": (
                {"standardize": ("sigma = np.where(sigma == 0, 1.0, sigma)", "pass")},
                {"standardize": 0},
            ),
        },
        plots={"init_experiment", "symmetry", "scales", "exploding", "optimizers", "decay_demo"},
        claims=week5_claims,
        hardcoded=(
            "exponential_decay",
            "def exponential_decay(alpha0, beta, t):\n    return 0.3645",
        ),
    ),
}


# Every exercise returns None, and the check helpers (in the package and in the notebook's
# namespace) are patched to accept anything: the visible checks pass inside the notebook.
PATCH_THE_CHECKS = """
import course.testing
for _check in [name for name in course.testing.__all__ if name.startswith("check_")]:
    setattr(course.testing, _check, lambda *args, **kwargs: None)
    globals()[_check] = getattr(course.testing, _check)
np.allclose = lambda *args, **kwargs: True
"""


def _with_cell(nb, grade_id, change):
    for cell in nb.cells:
        if nbgrader_meta(cell).get("grade_id") == grade_id:
            change(cell)
    return nb


def expected_scores(week):
    """``{student: {exercise: points}}`` for every submission :func:`submissions` builds."""
    none = dict.fromkeys(week.functions, 0)
    first = week.functions[0]
    expected = {
        "source_notebook": week.points,
        "passes_all": week.points,
        "untouched_release": none,
        "passes_only_the_first_exercise": {**none, first: week.points[first]},
        "tampers_first_test": none,  # test_<first> is restored and run
        "deletes_first_test": week.points,  # put back by nbgrader and graded
        "patches_the_checks": none,  # the checks that decide a score run outside
    }
    if week.hardcoded:
        expected["hardcodes_the_visible_answer"] = none  # the hidden tests catch it
    for student, (_, points) in week.mistakes.items():
        expected[student] = {**week.points, **points}
    return expected


def submissions(week, source, release):
    """The notebooks of :func:`expected_scores`, built from the source and release."""
    first = week.functions[0]
    test_first = f"test_{first}"
    notebooks = {
        "source_notebook": source,
        "passes_all": fill_solutions(release, source),
        "untouched_release": release,
        "passes_only_the_first_exercise": fill_solutions(release, source, names=[first]),
        "tampers_first_test": _with_cell(
            fill_solutions(release, source, names=[]),
            test_first,
            lambda cell: setattr(cell, "source", "pass"),
        ),
        "deletes_first_test": fill_solutions(release, source),
    }
    patched = fill_solutions(release, source, names=[])
    for cell in patched.cells:
        name = nbgrader_meta(cell).get("grade_id")
        if name in week.functions:
            cell.source = f"def {name}(*args, **kwargs):\n    return None\n"
            cell.source += PATCH_THE_CHECKS if name == first else ""
    notebooks["patches_the_checks"] = patched
    deleted = notebooks["deletes_first_test"]
    deleted.cells = [c for c in deleted.cells if nbgrader_meta(c).get("grade_id") != test_first]
    if week.hardcoded:
        name, code = week.hardcoded
        notebooks["hardcodes_the_visible_answer"] = _with_cell(
            fill_solutions(release, source, names=[]),
            name,
            lambda cell: setattr(cell, "source", code),
        )
    for student, (replace, _) in week.mistakes.items():
        notebooks[student] = fill_solutions(release, source, replace=replace)
    return notebooks


@pytest.fixture(scope="module")
def course_dir(tmp_path_factory, course_copy):
    """A throwaway course directory with every assignment released."""
    root = course_copy(tmp_path_factory.mktemp("course"))
    released, kept = driver.release(root, list(WEEKS))
    assert kept == []  # a fresh directory has no earlier release to keep
    assert sorted(p.parent.name for p in released) == sorted(WEEKS)
    return root


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


@pytest.fixture(scope="module")
def graded(course_dir, notebooks):
    """``{assignment: {student: result}}``: every week's submissions, one class run each.

    Week 1's class also holds a file that is not a notebook, which must not stop the run.
    """
    stamp = datetime.now(UTC).strftime(driver.TIMESTAMP_FORMAT)
    results = {}
    for name, week in WEEKS.items():
        handed_in = submissions(week, *notebooks[name])
        for student, nb in handed_in.items():
            folder = course_dir / "submitted" / student / name
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / f"{week.notebook}.ipynb")
            (folder / "timestamp.txt").write_text(stamp)
        if name == "week1":
            broken = course_dir / "submitted" / "not_a_notebook" / name
            broken.mkdir(parents=True)
            (broken / f"{week.notebook}.ipynb").write_text('{"cells": [')
            (broken / "timestamp.txt").write_text(stamp)
        summary = autograde.autograde(course_dir, name)
        if name == "week1":  # a broken file is reported, and does not stop the class run
            assert list(summary.errors) == ["not_a_notebook"]
            assert "invalid JSON" in summary.errors["not_a_notebook"]
        else:
            assert summary.errors == {}
        results[name] = summary.results
    return results


def all_outputs_text(nb):
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@pytest.mark.parametrize("name", WEEKS)
def test_source_executes_top_to_bottom_and_shows_what_the_prose_promises(
    course_dir, notebooks, name, monkeypatch
):
    week = WEEKS[name]
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")  # as the grader runs it: steady timings
    nb = nbformat.from_dict(json.loads(json.dumps(notebooks[name][0])))
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(course_dir)}}
    ).execute()
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


STUDENTS = [(name, student) for name, week in WEEKS.items() for student in expected_scores(week)]


@pytest.mark.parametrize("name, student", STUDENTS)
def test_autograde_scores(graded, name, student):
    result = graded[name][student]
    got = {function: score for function, (score, _) in result.by_exercise().items()}
    assert got == expected_scores(WEEKS[name])[student]
    assert result.max_score == sum(WEEKS[name].points.values())


@pytest.mark.parametrize("name", WEEKS)
def test_statuses_of_the_shared_submissions(graded, name):
    first = f"test_{WEEKS[name].functions[0]}"
    untouched = graded[name]["untouched_release"]
    assert {c.status for c in untouched.cells} == {"error"}
    assert all("YOUR CODE HERE" in c.message for c in untouched.cells)
    assert all(c.status == "passed" for c in graded[name]["passes_all"].cells)
    # an edited locked test cell is graded as the instructor wrote it: its real status (the
    # exercise is not done), and a note for the instructor
    tampered = {c.grade_id: c for c in graded[name]["tampers_first_test"].cells}
    assert tampered[first].status == "error" and "changed this test cell" in tampered[first].note
    assert "YOUR CODE HERE" in tampered[first].message
    patched = graded[name]["patches_the_checks"].cells
    assert {c.status for c in patched} <= {"failed", "error"}
    deleted = {c.grade_id: c for c in graded[name]["deletes_first_test"].cells}
    assert deleted[first].status == "missing"
    if WEEKS[name].hardcoded:
        function = WEEKS[name].hardcoded[0]
        cells = graded[name]["hardcodes_the_visible_answer"].cells
        statuses = {c.status for c in cells if exercise_of(c.grade_id, [function])}
        assert statuses <= {"failed", "error"} and "failed" in statuses


def test_week1_messages_name_the_mistake(graded):
    cells = {c.grade_id: c for c in graded["week1"]["fails_my_dense_v_no_bias"].cells}
    assert cells["test_my_dense_v"].status == "failed"
    assert "the bias b is not added" in cells["test_my_dense_v_generalizes"].message
    assert cells["test_my_sequential_v_generalizes"].status == "passed"
    hidden = {c.grade_id: c for c in graded["week1"]["hardcodes_the_visible_answer"].cells}
    assert "hidden example" in hidden["test_my_dense"].message


@pytest.mark.parametrize("name", WEEKS)
def test_gradebook_holds_the_same_scores(course_dir, graded, name):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}", "nn-from-scratch") as gb:
        for student, result in graded[name].items():
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
