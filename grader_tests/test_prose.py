"""The prose asks for a translation, never dictates one.

An exercise gives the equations (with shapes) and lets the student write the NumPy; a markdown
cell that holds a line of the solution verbatim turns the exercise into copying. So, for every
source notebook: no line of a solution region that *does arithmetic* appears in any markdown
cell.

* A solution region is the code between ``### BEGIN SOLUTION`` and ``### END SOLUTION``.
* A line *does arithmetic* when, stripped, it contains an arithmetic operator (``+ - * / % @``,
  augmented assignments included) or a call (a name, attribute, subscript or closing
  parenthesis immediately followed by ``(``). Lines that only name something (``return A``,
  ``A, B = cache``, ``parameters = {}``) do not, nor do comments; ``print`` and ``raise`` lines
  are ignored (their messages may well be quoted in the prose).
* *Appears* means: the line with all its whitespace removed is a substring of a markdown cell
  with all its whitespace removed (so re-spacing or re-wrapping a line does not hide it).

A hint may still name a function (``np.sum(..., keepdims=True)``) without writing the line.
"""

import re
from pathlib import Path

import nbformat
import pytest

from course.grading.notebooks import SOLUTION_MARKERS, nbgrader_meta, read_notebook

REPO = Path(__file__).resolve().parents[1]
SOURCE_NOTEBOOKS = sorted(REPO.glob("source/*/*.ipynb"))

OPERATOR = re.compile(r"[-+*/%@]")
CALL = re.compile(r"[\w\])]\(")
IGNORED = ("print(", "raise ", "#")


def _squeezed(text):
    return re.sub(r"\s+", "", text)


def does_arithmetic(line):
    """Whether a stripped line of code computes something (see the module's docstring)."""
    if not line or line.startswith(IGNORED):
        return False
    return bool(OPERATOR.search(line) or CALL.search(line))


def solution_lines(cell):
    """The stripped lines between the solution markers of a code cell."""
    inside, lines = False, []
    for line in cell.source.splitlines():
        marker = line.strip()
        if marker in SOLUTION_MARKERS:
            inside = marker == SOLUTION_MARKERS[0]
        elif inside:
            lines.append(line.strip())
    return lines


def dictated_lines(nb):
    """``[(solution cell id, line, markdown cell id)]``: arithmetic lines quoted in the prose."""
    markdown = [
        (cell.get("id"), _squeezed(cell.source))
        for cell in nb.cells
        if cell.cell_type == "markdown"
    ]
    found = []
    for cell in nb.cells:
        if cell.cell_type != "code" or not nbgrader_meta(cell).get("solution"):
            continue
        for line in solution_lines(cell):
            if not does_arithmetic(line):
                continue
            for markdown_id, text in markdown:
                if _squeezed(line) in text:
                    found.append((nbgrader_meta(cell).get("grade_id"), line, markdown_id))
    return found


@pytest.mark.parametrize("path", SOURCE_NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_solution_line_is_dictated_by_the_prose(path):
    found = dictated_lines(read_notebook(path))
    assert not found, (
        f"{path.relative_to(REPO)}: these solution lines appear verbatim in the markdown; "
        "give the equation (in LaTeX, with shapes) and let the student write the code:\n"
        + "\n".join(
            f"  {line!r} (exercise {exercise}, in markdown cell {markdown})"
            for exercise, line, markdown in found
        )
    )


def test_every_week_has_a_source_notebook():
    assert len(SOURCE_NOTEBOOKS) >= 5


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("dW = dZ @ A_prev.T / m", True),
        ("cost = float(cost)", True),
        ("t += 1", True),
        ("A = relu(Z) if activation == 'relu' else sigmoid(Z)", True),
        ("return float(alpha0 * beta**t)", True),
        ("return parameters", False),
        ("A_prev, W, b = cache", False),
        ("parameters = {}", False),
        ("linear_cache, Z = cache", False),
        ("if activation not in ('relu', 'sigmoid'):", False),
        ("print(f'cost after iteration {i}: {cost:.6f}')", False),
        ("raise ValueError(f'got {activation!r}')", False),
        ("# dZ = A - Y", False),
        ("", False),
    ],
)
def test_what_counts_as_arithmetic(line, expected):
    assert does_arithmetic(line) is expected


def _tiny_notebook(solution, prose):
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell(
        f"def f(A, W, b):\n    ### BEGIN SOLUTION\n{solution}\n    ### END SOLUTION\n"
    )
    code.metadata["nbgrader"] = {"grade_id": "f", "solution": True, "grade": False, "locked": False}
    nb.cells = [nbformat.v4.new_markdown_cell(prose), code]
    return nb


def test_a_dictated_line_is_found_however_it_is_spaced():
    solution = "    Z = W @ A + b\n    return Z"
    nb = _tiny_notebook(solution, "Compute\n`Z = W@A +\n b` and return it.")
    assert dictated_lines(nb) == [("f", "Z = W @ A + b", nb.cells[0].id)]


def test_equations_names_and_messages_are_not_dictation():
    solution = (
        "    A_prev, W, b = cache\n    Z = W @ A + b\n"
        "    print(f'Z has shape {Z.shape}')\n    return Z"
    )
    prose = (
        "Unpack `A_prev, W, b = cache`, compute $Z = WA + b$ with `@`, print "
        "`print(f'Z has shape {Z.shape}')`, and `return Z`."
    )
    assert dictated_lines(_tiny_notebook(solution, prose)) == []
