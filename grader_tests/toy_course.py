"""A tiny nbgrader course for grader tests: every scoring rule of nbgrader in a few cells.

The assignment ``toy`` has three exercises, ``f``, ``h`` (built on ``f``) and ``g``, and test
cells that pass or fail (``test_f``), give partial credit (``test_f_partial``: the cell's value
is the score), grade a composite with a correct building block (``test_h`` rebinds ``f`` to a
reference in its hidden lines, as week 1 grades ``my_sequential`` with a correct
``my_dense``: the grader lends the reference to the student's process for each call), fail
by writing to stderr (``test_g_quiet``) and hold hidden tests (``test_g``, which also uses
NumPy and the course's check helpers, and computes its hidden expectation from its input, so
that attacks on them have something to fool; it does so before the call, as the rule of
``late_reads.py`` asks). Submissions are made by replacing the solutions' bodies (``h``
keeps its solution whenever ``f`` has one).
"""

import shutil
from datetime import UTC, datetime
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course.grading import nbgrader_driver as driver
from course.grading.notebooks import fill_solutions, nbgrader_meta, read_notebook

ASSIGNMENT, NOTEBOOK = "toy", "toy"
# Seconds a cell may run: ten times what the slowest honest cell (a new kernel's imports) takes
# on a quiet machine, so that one kept busy by other jobs never crosses it; what times out is
# an endless loop (``times_out_in_g``, the attacks' loops), never a slow cell (``slow_g``).
TIMEOUT = 10
POINTS = {"test_f": 1, "test_f_partial": 3, "test_h": 1, "test_g": 2, "test_g_quiet": 1}

# submission name -> replacement bodies of f and g (None keeps the release's stub)
BODIES = {
    "passes_all": ("return 2 * x", "return x * x"),
    "blank": (None, None),
    "fails_f": ("return x + 2", "return x * x"),
    "fails_g": ("return 2 * x", "return x + 1"),
    "partial_f": ("return 2 * x if x != 3 else 5", "return x * x"),
    "errors_in_f": ("raise ValueError('bad input')", "return x * x"),
    "times_out_in_g": ("return 2 * x", "import time\n    while True:\n        time.sleep(1)"),
    "writes_stderr_in_g": (
        "return 2 * x",
        "import sys\n    print('g was called', file=sys.stderr)\n    return x * x",
    ),
    "slow_g": ("return 2 * x", "import time\n    time.sleep(0.3)\n    return x * x"),
}
# submissions whose process ends (nbgrader autograde gives them no grade, only an error)
ENDS_ITS_PROCESS = {
    # in test_g's visible part, after the cells f's and h's tests grade
    "exits_in_g": ("return 2 * x", "import os\n    os._exit(3)"),
}


def _meta(grade_id, *, grade=False, solution=False, locked=True, points=None):
    nb = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if points is not None:
        nb["points"] = points
    return {"nbgrader": nb}


def source_notebook():
    cells = [
        new_markdown_cell("# Toy assignment", metadata=_meta("intro")),
        new_code_cell(
            "import numpy as np\nimport matplotlib.pyplot as plt\n\n"
            "from course.testing import check_array",
            metadata=_meta("imports"),
        ),
        new_code_cell(
            "def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
            metadata=_meta("f", solution=True, locked=False),
        ),
        new_code_cell(
            "assert f(2) == 4, 'f(2) should be 4'",
            metadata=_meta("test_f", grade=True, points=POINTS["test_f"]),
        ),
        new_code_cell(
            "checks = [f(1) == 2, f(3) == 6, f(0) == 0]\nfloat(sum(checks))",
            metadata=_meta("test_f_partial", grade=True, points=POINTS["test_f_partial"]),
        ),
        new_code_cell(
            "def h(x):\n    ### BEGIN SOLUTION\n    return f(x) + 1\n    ### END SOLUTION",
            metadata=_meta("h", solution=True, locked=False),
        ),
        new_code_cell(
            "### BEGIN HIDDEN TESTS\n"
            "def _reference_f(x):\n    return 2 * x\n\n"
            "_student_f = f\n"
            "f = _reference_f  # h is graded with a correct f\n"
            "### END HIDDEN TESTS\n"
            "assert h(1) == 3, 'h(1) should be 3'\n"
            "### BEGIN HIDDEN TESTS\n"
            "assert h(21) == 43, 'h adds 1 to f(x)'\n"
            "f = _student_f\n"
            "### END HIDDEN TESTS",
            metadata=_meta("test_h", grade=True, points=POINTS["test_h"]),
        ),
        new_code_cell(
            "def g(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION",
            metadata=_meta("g", solution=True, locked=False),
        ),
        new_code_cell(
            "assert g(3) == 9\n"
            'check_array(g(np.arange(3.0)), [0.0, 1.0, 4.0], "g(np.arange(3.0))")\n'
            "### BEGIN HIDDEN TESTS\n"
            "_x = np.array([-4.0, 0.5])\n"
            "_expected = _x * _x  # before the call: g may change its argument in place\n"
            "assert np.allclose(g(_x), _expected), 'g squares'\n"
            "### END HIDDEN TESTS",
            metadata=_meta("test_g", grade=True, points=POINTS["test_g"]),
        ),
        new_code_cell(
            "g(2)\nprint('g ran quietly')",
            metadata=_meta("test_g_quiet", grade=True, points=POINTS["test_g_quiet"]),
        ),
        new_code_cell("plt.plot([1, 2], [g(1), g(2)])\nplt.show()", metadata=_meta("plot_g")),
    ]
    for cell in cells:
        cell["id"] = nbgrader_meta(cell)["grade_id"]
    return new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
    )


def make_course(dest, timeout=TIMEOUT):
    """A released toy course at ``dest`` (``timeout``: seconds each cell may run)."""
    dest = Path(dest)
    (dest / "source" / ASSIGNMENT).mkdir(parents=True)
    nbformat.write(source_notebook(), dest / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    (dest / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        'c.CourseDirectory.course_id = "toy-course"\n'
        f"c.Execute.timeout = {timeout}\n"
        "c.OverwriteCells.add_missing_cells = True\n"
        'c.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:", '
        '"--IPKernelApp.log_level=ERROR"]\n'
    )
    driver.release(dest, [ASSIGNMENT])
    return dest


def submission(root, name):
    """The notebook of submission ``name`` (a key of BODIES or ENDS_ITS_PROCESS, or
    ``deletes_test_f``)."""
    release = read_notebook(root / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    source = read_notebook(root / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    if name == "deletes_test_f":
        nb = fill_solutions(release, source)
        nb.cells = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") != "test_f"]
        return nb
    f_body, g_body = {**BODIES, **ENDS_ITS_PROCESS}[name]
    names = [n for n, body in (("f", f_body), ("h", f_body), ("g", g_body)) if body is not None]
    replace = {}
    if f_body:
        replace["f"] = ("return 2 * x", f_body)
    if g_body:
        replace["g"] = ("return x * x", g_body)
    return fill_solutions(release, source, names=names, replace=replace)


def hand_in(root, names, copies=1):
    """Write submissions to ``submitted/``; with ``copies`` > 1, students ``name-k``."""
    stamp = datetime.now(UTC).strftime(driver.TIMESTAMP_FORMAT)
    students = []
    for name in names:
        nb = submission(root, name)
        for k in range(copies):
            student = name if copies == 1 else f"{name}-{k}"
            folder = Path(root) / "submitted" / student / ASSIGNMENT
            folder.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, folder / f"{NOTEBOOK}.ipynb")
            (folder / "timestamp.txt").write_text(stamp)
            students.append(student)
    return students


def clone_class(src, dest):
    """A second course directory with the same source and submissions (no gradebook)."""
    dest = Path(dest)
    for part in ("source", "release", "submitted"):
        shutil.copytree(Path(src) / part, dest / part)
    shutil.copy2(Path(src) / "nbgrader_config.py", dest / "nbgrader_config.py")
    return dest
