"""``course check`` and what a student sees in Jupyter: tables, messages, and the check cell.

Each test runs real notebooks: the command in a subprocess (piped, or on a terminal), and
the in-notebook helpers in a real kernel.
"""

import json
import os
import pty
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from course_cli import course, nbgrader_autograde_meanwhile
from nbclient import NotebookClient

from course.grading import autograde
from course.grading import nbgrader_driver as driver
from course.grading.notebooks import fill_solutions, nbgrader_meta, read_notebook

pytestmark = pytest.mark.slow

NO_BIAS = {"my_dense_v": ("A_in @ W + b", "A_in @ W")}
SKIPPED = "course check: skipped while the notebook is being graded\n"


@pytest.fixture(scope="module")
def week1(repo):
    """``(source, release)`` notebooks of week 1."""
    return tuple(
        read_notebook(repo / side / "week1" / "dense_layers.ipynb")
        for side in ("source", "release")
    )


def save(nb, folder, name="dense_layers.ipynb"):
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / name)
    return folder / name


def rows(stdout):
    """``{exercise: (result, points)}`` from the table of ``course check``."""
    result = r"visible checks passed|failed|not done|error|timeout"
    found = re.findall(rf"^(my_\w+) +({result}) +(\S+)$", stdout, re.M)
    return {name: (result, points) for name, result, points in found}


def replace_cell(nb, grade_id, source):
    for cell in nb.cells:
        if nbgrader_meta(cell).get("grade_id") == grade_id:
            cell.source = source
    return nb


def test_check_names_the_first_failing_check_of_each_exercise(week1, tmp_path):
    source, release = week1
    nb = fill_solutions(
        release, source, names=["my_dense", "my_dense_v", "my_sequential_v"], replace=NO_BIAS
    )
    path = save(nb, tmp_path)
    out = course("check", str(path))
    assert out.returncode == 0, out.stderr
    assert "\x1b[" not in out.stdout  # piped: no colour codes
    assert rows(out.stdout) == {
        "my_dense": ("visible checks passed", "3"),
        "my_sequential": ("not done", "3"),
        "my_dense_v": ("failed", "3"),
        "my_sequential_v": ("failed", "3"),
    }
    assert "week1 / dense_layers" in out.stdout
    assert "my_dense_v(X_tst, W_tst, b_row_tst, sigmoid) has wrong values" in out.stdout
    assert "YOUR CODE HERE" in out.stdout
    assert "1 of 4 exercises pass their visible checks" in out.stdout
    assert "hidden" not in out.stdout.split("\n", 1)[1]  # no hidden test ran

    report = json.loads(course("check", str(path), "--json").stdout)
    assert (report["assignment"], report["notebook"], report["passed"]) == (
        "week1",
        "dense_layers",
        1,
    )
    exercises = {e["exercise"]: e for e in report["exercises"]}
    assert [e["status"] for e in exercises.values()] == ["passed", "error", "failed", "failed"]
    assert {e["points"] for e in exercises.values()} == {3.0}
    assert exercises["my_dense"]["message"] == ""
    assert "has wrong values" in exercises["my_dense_v"]["message"]


def test_check_runs_neither_hidden_tests_nor_demonstration_cells(week1, tmp_path):
    source, _ = week1
    nb = nbformat.from_dict(json.loads(json.dumps(source)))
    for cell in nb.cells:
        if nbgrader_meta(cell).get("grade_id") == "test_my_dense":
            cell.source = cell.source.replace(
                "### END HIDDEN TESTS",
                'raise RuntimeError("a hidden test ran")\n### END HIDDEN TESTS',
            )
            assert "a hidden test ran" in cell.source
    replace_cell(nb, "timing", 'raise RuntimeError("a demonstration cell ran")')
    report = json.loads(course("check", str(save(nb, tmp_path)), "--json").stdout)
    assert [e["status"] for e in report["exercises"]] == ["passed"] * 4


def test_check_reports_what_stops_a_cell(week1, tmp_path):
    source, release = week1
    nb = fill_solutions(release, source)
    replace_cell(nb, "my_dense", "def my_dense(a_in, W, b, g):\n    return a_in @@ W")
    endless = "def my_sequential(*args):\n    while True:  # endless: a timeout on any machine\n"
    replace_cell(nb, "my_sequential", endless + "        time.sleep(1)")
    replace_cell(nb, "my_dense_v", "import os\nos._exit(3)")
    out = course("check", str(save(nb, tmp_path)), "--json", "--timeout", "10")
    assert out.returncode == 0, out.stderr
    exercises = {e["exercise"]: e for e in json.loads(out.stdout)["exercises"]}
    assert exercises["my_dense"]["status"] == "error"
    assert "my_dense does not run: SyntaxError" in exercises["my_dense"]["message"]
    assert exercises["my_sequential"]["status"] == "timeout"
    assert "process ended" in exercises["my_dense_v"]["message"]
    assert "not run" in exercises["my_sequential_v"]["message"]


def test_check_rejects_what_it_cannot_check(tmp_path):
    broken = tmp_path / "dense_layers.ipynb"
    broken.write_text('{"cells": [')
    out = course("check", str(broken))
    assert out.returncode == 2 and out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1 and "invalid JSON" in out.stderr
    plain = save(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")]), tmp_path)
    out = course("check", str(plain))
    assert out.returncode == 1 and "no exercise to check" in out.stderr


def test_check_is_coloured_on_a_terminal(week1, tmp_path):
    source, release = week1
    path = save(fill_solutions(release, source, names=["my_dense"]), tmp_path)
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "course", "check", str(path)],
        stdout=follower,
        stderr=subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if k != "NO_COLOR"},
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    os.close(leader)
    text = b"".join(chunks).decode()
    assert "\x1b[32mvisible checks passed" in text and "\x1b[33mnot done" in text


def run_in_kernel(sources, cwd, env=None):
    """Run code cells in a real IPython kernel; return the executed notebook."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    client = NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute(env={**os.environ, **(env or {})})
    return nb


def test_a_failed_check_in_jupyter_shows_its_message_not_a_traceback(tmp_path):
    nb = run_in_kernel(
        [
            "import numpy as np\nfrom course.testing import check_array, passed",
            'check_array(np.zeros(3), [1.0, 2.0, 3.0], "a_out")',
            'passed("a_out passes")',
        ],
        tmp_path,
    )
    (error,) = nb.cells[1].outputs
    assert error.output_type == "error" and error.ename == "CheckFailed"
    shown = "\n".join(error.traceback)
    assert "\u2717 a_out has wrong values" in shown and "expected: [1. 2. 3.]" in shown
    assert "Traceback" not in shown and "testing.py" not in shown  # no frame of our helpers
    assert "\x1b[32m\u2713 a_out passes" in nb.cells[2].outputs[0].text


def test_check_cell_in_jupyter_checks_the_saved_notebook_and_skips_while_graded(week1, tmp_path):
    source, release = week1
    saved = save(fill_solutions(release, source, names=["my_dense"]), tmp_path / "work")
    empty = tmp_path / "empty"
    empty.mkdir()
    nb = run_in_kernel(
        [
            "from course.testing import check_notebook\ncheck_notebook()",
            "import os\nos.environ['NBGRADER_EXECUTION'] = 'autograde'\ncheck_notebook()",
            f"del os.environ['NBGRADER_EXECUTION'], os.environ['JPY_SESSION_NAME']\n"
            f"os.chdir({str(empty)!r})\ncheck_notebook()",
        ],
        tmp_path,
        env={"JPY_SESSION_NAME": str(saved)},  # what JupyterLab tells its kernels
    )
    assert all(o.output_type == "stream" for c in nb.cells for o in c.outputs)
    table = "".join(o.text for o in nb.cells[0].outputs)
    assert "Checking dense_layers.ipynb as saved" in table and "Ctrl+S" in table
    assert "1 of 4 exercises pass their visible checks" in table
    assert "\x1b[32mvisible checks passed" in table  # Jupyter shows colours
    assert "".join(o.text for o in nb.cells[1].outputs) == SKIPPED
    assert "cannot find the saved notebook" in "".join(o.text for o in nb.cells[2].outputs)


def test_both_graders_skip_the_check_cell(week1, tmp_path, course_copy):
    """nbgrader sets NBGRADER_EXECUTION in its kernels; the course's grader does the same."""
    source, release = week1
    ours = course_copy(tmp_path / "ours")
    driver.release(ours, ["week1"])
    save(fill_solutions(release, source), ours / "submitted" / "passes_all" / "week1")
    theirs = Path(shutil.copytree(ours, tmp_path / "theirs"))
    with nbgrader_autograde_meanwhile(theirs, "week1"):
        assert autograde.autograde(ours, "week1").errors == {}
    for root in (ours, theirs):
        graded = read_notebook(root / "autograded" / "passes_all" / "week1" / "dense_layers.ipynb")
        (cell,) = [c for c in graded.cells if nbgrader_meta(c).get("grade_id") == "check_notebook"]
        assert "".join(o.get("text", "") for o in cell.outputs) == SKIPPED, root.name
