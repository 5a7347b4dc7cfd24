"""``course check``: a notebook's visible checks, run as the student's own kernel runs them.

A check runs, in notebook order, the set-up cells (:func:`~.notebooks.prefix_cells`), every
cell a student may edit, and the visible part of every test cell, in a fresh process of its
own (:func:`course.grading.execution.run_cells`). It skips the other locked cells (plots,
timings, demonstrations): test cells may not depend on them (see :mod:`.judge`), and they
would only make the check slower. Hidden tests are not run, even in an instructor's notebook.

It needs no sandbox (it runs the student's own code, for the student) and no gradebook;
when the notebook lies in a course directory, its assignment is named, its data files are
given to the cells as when it is graded, and the course's hidden-test delimiters are used.

Each test cell checks the exercise it is named after (``test_<f>``) or, in a notebook of
another course, the exercise whose solution cell it follows
(:func:`~.notebooks.tested_exercises`). An exercise is worth the points of its own cell (a
solution cell graded by hand) and of its test cells, hidden tests included.
"""

from pathlib import Path

from course.grading import execution, servers
from course.grading import nbgrader_driver as driver
from course.grading.notebooks import (
    HIDDEN_DELIMITERS,
    exercises,
    has_code,
    nbgrader_meta,
    prefix_cells,
    read_notebook,
    split_hidden,
    test_cells,
    tested_exercises,
)
from course.grading.results import CheckResult, ExerciseCheck, cell_status

__all__ = ["run_visible_tests", "TIMEOUT"]

TIMEOUT = 60.0  # seconds a cell may run by default


def _cells_to_run(nb, markers):
    """``[(cell, source)]``: the set-up cells, the editable cells, visible test code."""
    setup = {id(cell) for cell in prefix_cells(nb)}
    chosen = []
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type != "code":
            continue
        if meta.get("grade") and not meta.get("solution"):
            visible, _ = split_hidden(cell.source, markers)
            if has_code(visible):
                chosen.append((cell, visible))
        elif id(cell) in setup or not meta.get("locked"):
            chosen.append((cell, cell.source))
    return chosen


def _names(path, nb):
    """``(assignment, notebook, data files, hidden-test delimiters)``.

    From the course directory and its configuration when there is one.
    """
    try:
        root = driver.find_course_root(Path(path).resolve().parent)
        assignment, notebook = driver.match_source(root, nb, path, None)
    except driver.CourseError:  # a notebook outside a course: name it after its folder
        return Path(path).resolve().parent.name, Path(path).stem, {}, HIDDEN_DELIMITERS
    from nbgrader.converters import Autograde
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import ClearHiddenTests

    config = driver.load_config(root)
    hidden = ClearHiddenTests(config=config)
    exclude = Autograde(config=config).exclude_overwriting.get(assignment, [])
    files = driver.extra_files(root, assignment, CourseDirectory(config=config).ignore, exclude)
    return assignment, notebook, files, (hidden.begin_test_delimeter, hidden.end_test_delimeter)


def _verdict(name, solution, tests, outputs):
    """An exercise's status and message, from its solution cell's and test cells' outputs."""
    if solution is not None:
        status, message = cell_status(outputs.get(id(solution), []))
        if status != "passed":
            return status, f"the cell that defines {name} does not run: {message}"
    for cell in tests:
        if id(cell) in outputs:
            status, message = cell_status(outputs[id(cell)])
            if status != "passed":
                return status, message
    return "passed", ""


def run_visible_tests(path: Path | str, timeout: float = TIMEOUT) -> CheckResult:
    """Run a notebook's visible checks and say, per exercise, whether they pass.

    Args:
        path: the notebook file (a student's, a release or an instructor's notebook).
        timeout: seconds each cell may run.

    Returns:
        A :class:`~course.grading.results.CheckResult`, exercises in notebook order, each
        with the points its test cells (hidden ones included) are worth and the message of
        its first failing check.

    Raises:
        UngradableNotebook: the file is not a notebook.
        CourseError: the notebook has no exercise, or its cells could not be run.
    """
    nb = read_notebook(path)
    names = exercises(nb)
    if not names:
        raise driver.CourseError(
            f"{path}: no exercise to check (no cell is marked as an nbgrader solution); "
            "check a notebook of the course, from release/ or your copy of it"
        )
    # the process starts (and imports what the cells will) while the course is read
    sources = [cell.source for cell in nb.cells if cell.cell_type == "code"]
    server = execution.cells_server(timeout, servers.warm_modules(sources)["student"])
    try:
        assignment, notebook, files, markers = _names(path, nb)
    except BaseException:
        server.close()
        raise
    chosen = _cells_to_run(nb, markers)
    try:
        ran = execution.run_cells([source for _, source in chosen], timeout, files, server)
    except servers.WorkerLost as exc:
        raise driver.CourseError(f"could not run {path}: {exc}") from exc
    outputs = {id(cell): result["outputs"] for (cell, _), result in zip(chosen, ran)}
    solutions = {
        nbgrader_meta(c)["grade_id"]: c
        for c in nb.cells
        if c.cell_type == "code" and nbgrader_meta(c).get("solution")
    }
    tests = {name: [] for name in names}
    points = {
        name: float(nbgrader_meta(cell).get("points", 0) or 0)
        if nbgrader_meta(cell).get("grade")
        else 0.0
        for name, cell in solutions.items()
    }
    tested = tested_exercises(nb)
    for cell in test_cells(nb):
        name = tested.get(nbgrader_meta(cell).get("grade_id", ""))
        if name:
            tests[name].append(cell)
            points[name] += float(nbgrader_meta(cell).get("points", 0) or 0)
    result = CheckResult(assignment=assignment, notebook=notebook)
    for name in names:
        status, message = _verdict(name, solutions.get(name), tests[name], outputs)
        result.exercises.append(ExerciseCheck(name, status, points[name], message))
    return result
