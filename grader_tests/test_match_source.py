"""Which assignment and notebook a loose notebook is (``nbgrader_driver.match_source``).

``course grade`` and ``course check`` take a notebook file from anywhere: a student's copy,
renamed or not. Each test builds a small course folder (``source/<assignment>/*.ipynb``,
no gradebook) and asks.
"""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course.grading.nbgrader_driver import CourseError, match_source


def notebook(*grade_ids):
    """A notebook whose cells carry these nbgrader grade ids (and a markdown cell without)."""
    cells = [new_markdown_cell("# Exercises")]
    for grade_id in grade_ids:
        meta = {"grade": False, "solution": True, "locked": False, "grade_id": grade_id}
        cells.append(new_code_cell("pass", metadata={"nbgrader": meta}))
    return new_notebook(cells=cells)


COURSE = {
    ("week1", "dense"): ("my_dense", "test_my_dense", "my_sequential"),
    ("week1", "vectors"): ("my_dense_v", "test_my_dense_v"),
    ("week2", "dense"): ("propagate", "test_propagate", "predict"),
    ("week2", "extra"): ("model", "test_model"),
}


@pytest.fixture
def root(tmp_path):
    for (assignment, name), ids in COURSE.items():
        folder = tmp_path / "source" / assignment
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook(*ids), folder / f"{name}.ipynb")
    return tmp_path


def test_a_notebook_named_as_one_source_notebook_is_that_one_whatever_it_holds(root):
    assert match_source(root, notebook(), "/anywhere/vectors.ipynb", None) == ("week1", "vectors")
    assert match_source(root, notebook(), "extra.ipynb", None) == ("week2", "extra")


def test_a_name_two_assignments_share_is_told_apart_by_the_grade_ids(root):
    assert match_source(root, notebook("predict", "x"), "dense.ipynb", None) == ("week2", "dense")
    week1 = notebook("my_dense", "test_my_dense")
    assert match_source(root, week1, "dense.ipynb", None) == ("week1", "dense")


def test_a_renamed_copy_is_the_source_notebook_sharing_the_most_grade_ids(root):
    copy = notebook("my_dense_v", "test_my_dense_v", "my_dense")  # 2 of vectors, 1 of dense
    assert match_source(root, copy, "vectors copy (2).ipynb", None) == ("week1", "vectors")
    assert match_source(root, copy, "dense copy.ipynb", "week1") == ("week1", "vectors")


def test_the_assignment_given_limits_the_search_to_it(root):
    week2 = notebook("propagate", "predict")
    assert match_source(root, week2, "dense.ipynb", "week1") == ("week1", "dense")
    assert match_source(root, week2, "mine.ipynb", "week2") == ("week2", "dense")
    with pytest.raises(CourseError, match="cannot tell"):  # nothing of week1 in it
        match_source(root, week2, "mine.ipynb", "week1")


@pytest.mark.parametrize(
    "submission",
    [
        notebook(),  # no nbgrader cell at all
        notebook("unknown", "other"),
        notebook("my_dense", "model"),  # one of week1/dense, one of week2/extra: a tie
    ],
    ids=["no grade ids", "unknown grade ids", "a tie"],
)
def test_a_notebook_that_matches_no_single_source_notebook_says_to_pass_the_assignment(
    root, submission
):
    with pytest.raises(CourseError) as caught:
        match_source(root, submission, "homework.ipynb", None)
    message = str(caught.value)
    assert message.startswith("homework.ipynb: cannot tell which assignment")
    assert "pass --assignment (one of week1, week2)" in message


def test_an_unknown_assignment_is_refused_naming_the_known_ones(root):
    with pytest.raises(CourseError, match="no assignment 'week9'; known: week1, week2"):
        match_source(root, notebook("my_dense"), "dense.ipynb", "week9")
