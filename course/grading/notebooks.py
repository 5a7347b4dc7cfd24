"""Reading nbgrader notebooks: their graded cells, exercises and solutions.

Terms used across the grader:

* a *solution cell* has nbgrader metadata ``solution: true``; in this course its grade_id is
  the name of the function it defines (an *exercise*);
* a *test cell* has ``grade: true`` and ``points``; its grade_id starts with ``test_<f>``
  where ``f`` is the exercise it tests (in a notebook of another course, the exercise it
  tests is the solution cell it follows: see :func:`tested_exercises`).
"""

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

__all__ = [
    "UngradableNotebook",
    "read_notebook",
    "nbgrader_meta",
    "exercises",
    "graded_cells",
    "prefix_cells",
    "has_code",
    "exercise_of",
    "tested_exercises",
    "solution_code",
    "split_hidden",
    "test_cells",
    "fill_solutions",
]

SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_MARKERS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
# nbgrader's default ClearHiddenTests.begin_test_delimeter and end_test_delimeter
HIDDEN_DELIMITERS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


class UngradableNotebook(Exception):
    """A file that cannot be graded at all; the message says why and what to do."""


def read_notebook(path_or_bytes: Path | str | bytes, name: str | None = None) -> NotebookNode:
    """Parse a notebook, with a clear error when it is not one.

    Args:
        path_or_bytes: a path to an ``.ipynb`` file, or its content as bytes.
        name: how to call the notebook in messages (defaults to the path).

    Returns:
        The notebook as an ``nbformat.NotebookNode`` (version 4).

    Raises:
        UngradableNotebook: the file is missing, unreadable, not JSON, or not a notebook.
    """
    if isinstance(path_or_bytes, bytes):
        data, name = path_or_bytes, name or "the notebook"
    else:
        path = Path(path_or_bytes)
        name = name or str(path)
        if not path.is_file():
            raise UngradableNotebook(f"{name}: no such file; check the path")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UngradableNotebook(f"{name}: cannot be read ({exc.strerror})") from exc
    fix = "open it in JupyterLab and save it again, or start again from a copy of release/"
    try:
        raw = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise UngradableNotebook(f"{name}: not a Jupyter notebook (not UTF-8 text); {fix}") from exc
    except json.JSONDecodeError as exc:
        raise UngradableNotebook(
            f"{name}: not a Jupyter notebook (invalid JSON at line {exc.lineno}, column "
            f"{exc.colno}: {exc.msg}); {fix}"
        ) from exc
    if (
        not isinstance(raw, dict)
        or "nbformat" not in raw
        or not (
            "cells" in raw or "worksheets" in raw  # nbformat 4, or 3
        )
    ):
        raise UngradableNotebook(
            f"{name}: not a Jupyter notebook (JSON without 'cells' and 'nbformat'); {fix}"
        )
    if raw.get("nbformat") not in (3, 4):  # nbformat upgrades 3 to 4, as nbgrader does
        raise UngradableNotebook(
            f"{name}: notebook format {raw.get('nbformat')!r} is not supported (3 or 4); {fix}"
        )
    try:
        return nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception as exc:  # nbformat raises several types for malformed notebooks
        raise UngradableNotebook(f"{name}: not a valid Jupyter notebook ({exc}); {fix}") from exc


def nbgrader_meta(cell: NotebookNode) -> dict[str, Any]:
    """The cell's nbgrader metadata dict (empty when it has none)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def exercises(nb: NotebookNode) -> list[str]:
    """Names of the graded functions, in notebook order: the grade_ids of solution cells."""
    return [
        nbgrader_meta(c)["grade_id"]
        for c in nb.cells
        if c.cell_type == "code" and nbgrader_meta(c).get("solution")
    ]


def graded_cells(nb: NotebookNode) -> list[NotebookNode]:
    """The graded code cells (nbgrader ``grade: true``), in notebook order."""
    return [c for c in nb.cells if c.cell_type == "code" and nbgrader_meta(c).get("grade")]


def prefix_cells(nb: NotebookNode) -> list[NotebookNode]:
    """The *prefix*: the set-up cells, locked code cells before the first one a student may edit.

    Every submission starts with them unchanged, so the grader runs them once per server,
    and test cells may use the names they define (see :mod:`course.grading.server.judge`). A
    graded cell ends them: a test is always run for each submission, by the judge.
    """
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if not nbgrader_meta(cell).get("locked") or nbgrader_meta(cell).get("grade"):
            break
        cells.append(cell)
    return cells


def has_code(source: str) -> bool:
    """Whether ``source`` holds more than comments and blank lines."""
    return any(line.strip() and not line.strip().startswith("#") for line in source.splitlines())


def exercise_of(grade_id: str, names: Iterable[str]) -> str | None:
    """The exercise a test cell belongs to: the longest ``f`` with ``grade_id`` = ``test_f...``.

    The longest match matters: ``test_my_dense_v`` tests ``my_dense_v``, not ``my_dense``.

    Args:
        grade_id: a test cell's grade_id.
        names: the notebook's exercises.

    Returns:
        The exercise's name, or None when no exercise matches.
    """
    matches = [f for f in names if grade_id.startswith(f"test_{f}")]
    return max(matches, key=len) if matches else None


def tested_exercises(nb: NotebookNode) -> dict[str, str]:
    """``{test cell grade_id: exercise}``: the exercise each test cell of ``nb`` tests.

    A test cell named ``test_<f>...`` tests the exercise ``f`` (:func:`exercise_of`);
    any other test cell tests the exercise whose solution cell it follows, the last one
    before it in the notebook. A test cell before every solution cell tests none.
    """
    names, tested, last = exercises(nb), {}, None
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type == "code" and meta.get("solution"):
            last = meta.get("grade_id")
        elif cell.cell_type == "code" and meta.get("grade") and meta.get("grade_id"):
            name = exercise_of(meta["grade_id"], names) or last
            if name:
                tested[meta["grade_id"]] = name
    return tested


def solution_code(cell: NotebookNode) -> str:
    """A source solution cell's code with the BEGIN/END SOLUTION marker lines removed."""
    lines = cell.source.splitlines()
    return "\n".join(line for line in lines if line.strip() not in SOLUTION_MARKERS)


def split_hidden(source: str, markers: tuple[str, str] = HIDDEN_DELIMITERS) -> tuple[str, set[int]]:
    """A test cell's visible code, and the line numbers of its hidden tests.

    The regions are found as nbgrader's ``ClearHiddenTests`` finds them: from a line that
    contains the begin delimiter to one that contains the end delimiter.

    Args:
        source: the cell's source, as the instructor wrote it.
        markers: ``(begin, end)``: ``ClearHiddenTests.begin_test_delimeter`` and
            ``end_test_delimeter`` (nbgrader's defaults unless the course sets them).

    Returns:
        ``(visible, hidden)``: the source without the hidden regions (what students see), and
        the set of 1-based line numbers of ``source`` inside a region, markers included.

    Raises:
        ValueError: a region is nested or never closed.
    """
    begin, end = markers
    visible, hidden, inside = [], set(), False
    for number, line in enumerate(source.split("\n"), start=1):
        if begin in line:
            if inside:
                raise ValueError(f"nested '{begin}' at line {number}")
            inside = True
        elif end in line:
            inside = False
        elif not inside:
            visible.append(line)
            continue
        hidden.add(number)
    if inside:
        raise ValueError(f"'{begin}' without '{end}'")
    return "\n".join(visible), hidden


def test_cells(nb: NotebookNode) -> list[NotebookNode]:
    """The test cells: graded code cells that are not solution cells, in notebook order."""
    return [c for c in graded_cells(nb) if not nbgrader_meta(c).get("solution")]


def fill_solutions(
    release_nb: NotebookNode,
    source_nb: NotebookNode,
    names: Iterable[str] | None = None,
    replace: dict[str, tuple[str, str]] | None = None,
) -> NotebookNode:
    """A copy of a released notebook with the reference solutions written in.

    Used to build sample submissions and test fixtures from the instructor's notebook.

    Args:
        release_nb: the released (student) notebook.
        source_nb: the instructor's notebook holding the solutions.
        names: exercises to fill in (all when None); the others keep their stub.
        replace: optional dict ``{exercise: (old, new)}``: after filling, replace the text
            ``old`` by ``new`` in that exercise's code (to make a plausible mistake).

    Returns:
        A new notebook.
    """
    solutions = {
        nbgrader_meta(c)["grade_id"]: solution_code(c)
        for c in source_nb.cells
        if nbgrader_meta(c).get("solution")
    }
    wanted = set(solutions if names is None else names)
    unknown = wanted - set(solutions)
    if unknown:
        raise ValueError(f"no solution cell for {sorted(unknown)}; known: {sorted(solutions)}")
    nb = nbformat.from_dict(json.loads(json.dumps(release_nb)))
    for cell in nb.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if nbgrader_meta(cell).get("solution") and grade_id in wanted:
            cell.source = solutions[grade_id]
            if replace and grade_id in replace:
                old, new = replace[grade_id]
                if old not in cell.source:
                    raise ValueError(f"{old!r} does not occur in the solution of {grade_id}")
                cell.source = cell.source.replace(old, new)
    return nb
