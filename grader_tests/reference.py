"""The reference solutions of an instructor's notebook, run as the notebook runs them."""

from course.grading.notebooks import nbgrader_meta, read_notebook, solution_code


def load_solutions(path, names):
    """Run the notebook's import cell, then the solution cells ``names``; return the namespace.

    Args:
        path: the source notebook.
        names: the exercises whose reference solutions to define, in an order that works.
    """
    cells = {nbgrader_meta(c).get("grade_id"): c for c in read_notebook(path).cells}
    namespace = {}
    exec(cells["imports"].source, namespace)  # numpy, course.activations, ... as in the notebook
    for name in names:
        assert nbgrader_meta(cells[name]).get("solution"), f"{name} is not a solution cell"
        exec(solution_code(cells[name]), namespace)
    return namespace
