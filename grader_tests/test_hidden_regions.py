"""Hidden-test regions (``notebooks.split_hidden``) found as nbgrader's ClearHiddenTests finds them.

What a student sees of a test cell is what nbgrader's ``ClearHiddenTests`` leaves of it; the
grader must split the cell the same way, with the course's delimiters, or it would run a
hidden line as a visible one (or the reverse). Every case is checked against nbgrader's own
preprocessor on the same source and delimiters.
"""

import nbformat
import pytest
from nbgrader.preprocessors import ClearHiddenTests

from course.grading import execution
from course.grading.notebooks import HIDDEN_DELIMITERS, has_code, solution_code, split_hidden

CUSTOM = ("BEGIN SECRET", "END SECRET")


def nbgraders(source, markers):
    """What nbgrader's ClearHiddenTests leaves of a test cell (RuntimeError: it refuses)."""
    begin, end = markers
    cell = nbformat.v4.new_code_cell(source)
    remover = ClearHiddenTests(begin_test_delimeter=begin, end_test_delimeter=end)
    remover._remove_hidden_test_region(cell)
    return cell.source


SOURCES = {
    "no region": "assert f(1) == 1\nprint('ok')",
    "one region": "a = f(1)\n### BEGIN HIDDEN TESTS\nassert a == 1\n### END HIDDEN TESTS\nprint(a)",
    "two regions": (
        "# BEGIN HIDDEN TESTS\nx = 1\n# END HIDDEN TESTS\nvisible()\n"
        "    # BEGIN HIDDEN TESTS\n    y = 2\n    # END HIDDEN TESTS"
    ),
    "the whole cell": "### BEGIN HIDDEN TESTS\nassert f(2) == 4\n### END HIDDEN TESTS",
    "a marker in a string": (
        'print("BEGIN HIDDEN TESTS")\nsecret = 1\nprint("END HIDDEN TESTS")\nok()'
    ),
    "an end without a begin": "a = 1\n### END HIDDEN TESTS\nb = 2",
    "a begin and an end on one line": (
        "# BEGIN HIDDEN TESTS END HIDDEN TESTS\nx = 1\n# END HIDDEN TESTS"
    ),
    "windows line ends": (
        "a = 1\r\n### BEGIN HIDDEN TESTS\r\nb = 2\r\n### END HIDDEN TESTS\r\nc = 3"
    ),
    "custom markers": "a = 1\n# BEGIN SECRET\nassert a\n# END SECRET\n# BEGIN HIDDEN TESTS\nb = 2",
    "empty": "",
}


@pytest.mark.parametrize("markers", [HIDDEN_DELIMITERS, CUSTOM], ids=["default", "custom"])
@pytest.mark.parametrize("source", SOURCES.values(), ids=SOURCES)
def test_the_visible_part_is_what_nbgrader_shows_students(source, markers):
    try:
        expected = nbgraders(source, markers)
    except RuntimeError:
        with pytest.raises(ValueError):
            split_hidden(source, markers)
        return
    visible, hidden = split_hidden(source, markers)
    assert visible == expected
    lines = source.split("\n")
    assert hidden <= set(range(1, len(lines) + 1))
    assert "\n".join(line for n, line in enumerate(lines, 1) if n not in hidden) == visible


def test_hidden_lines_are_numbered_from_one_markers_included():
    source = SOURCES["two regions"]
    assert split_hidden(source) == ("visible()", {1, 2, 3, 5, 6, 7})
    visible, hidden = split_hidden(SOURCES["custom markers"], CUSTOM)
    assert (visible, hidden) == ("a = 1\n# BEGIN HIDDEN TESTS\nb = 2", {2, 3, 4})
    assert split_hidden(SOURCES["an end without a begin"]) == ("a = 1\nb = 2", {2})


@pytest.mark.parametrize(
    "source, why",
    [
        ("# BEGIN HIDDEN TESTS\nx\n# BEGIN HIDDEN TESTS\ny\n# END HIDDEN TESTS", "nested"),
        ("ok()\n# BEGIN HIDDEN TESTS\nassert secret()", "without 'END HIDDEN TESTS'"),
        ("# BEGIN HIDDEN TESTS\nx\n# END HIDDEN TESTS\n# BEGIN HIDDEN TESTS", "without"),
    ],
    ids=["nested", "never closed", "reopened"],
)
def test_a_region_nested_or_never_closed_is_refused_as_nbgrader_refuses_it(source, why):
    with pytest.raises(RuntimeError):
        nbgraders(source, HIDDEN_DELIMITERS)
    with pytest.raises(ValueError, match=why):
        split_hidden(source)


def test_with_custom_markers_the_default_ones_are_plain_text():
    source = "# BEGIN HIDDEN TESTS\nx = 1"  # unclosed for nbgrader's defaults
    assert split_hidden(source, CUSTOM) == (source, set())
    with pytest.raises(ValueError):
        split_hidden(source)


def test_the_task_carries_the_courses_markers_to_the_judge():
    task = execution.make_task("{}", [], 5, hidden_markers=CUSTOM)
    assert task["hidden_markers"] == list(CUSTOM)
    assert execution.make_task("{}", [], 5)["hidden_markers"] == list(HIDDEN_DELIMITERS)


@pytest.mark.parametrize(
    "source, code",
    [
        ("", False),
        ("\n   \n", False),
        ("# only a comment\n    # and another", False),
        ("x = '#'", True),
        ("# a comment\nassert f(1) == 1", True),
        ("    pass  # indented", True),
    ],
)
def test_a_visible_part_of_comments_only_is_no_code(source, code):
    assert has_code(source) is code


def test_solution_markers_are_removed_from_the_solution_only_on_lines_of_their_own():
    cell = nbformat.v4.new_code_cell(
        "def f(x):\n    ### BEGIN SOLUTION\n    s = '### END SOLUTION'\n"
        "    return x\n    ### END SOLUTION"
    )
    assert solution_code(cell) == "def f(x):\n    s = '### END SOLUTION'\n    return x"
