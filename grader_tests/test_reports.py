"""What graders and self-learners read: `course grade`'s table, feedback pages, class reports.

The pages and the table may show the hidden tests' results and messages, never their code
or expected values: every line of a hidden region is looked for in what they show.
"""

import html

import matplotlib.image
import nbformat
import pytest
from course_cli import course, nbgrader

from course.grading import autograde, notebooks
from course.grading import nbgrader_driver as driver
from course.grading.notebooks import fill_solutions, read_notebook, split_hidden
from course.grading.results import CellResult, NotebookResult
from course.grading.text import format_result

NO_BIAS = {"my_dense_v": ("A_in @ W + b", "A_in @ W")}
BIAS_MESSAGE = "it looks like the bias b is not added"
NOT_DONE = "not done yet: write your code where it says # YOUR CODE HERE"


def hidden_lines(source):
    """The lines of the source notebook's hidden tests that could give something away."""
    lines = set()
    for cell in notebooks.test_cells(source):  # imported as is, pytest would collect it
        _, hidden = split_hidden(cell.source)
        numbered = enumerate(cell.source.split("\n"), start=1)
        lines |= {line.strip() for n, line in numbered if n in hidden}
    return {line for line in lines if len(line) > 12 and not line.startswith("#")}


def assert_no_hidden_test(text, source):
    shown = html.unescape(text)  # a page's text as a browser shows it
    leaked = {line for line in hidden_lines(source) if line in text or line in shown}
    assert leaked == set() and "HIDDEN TESTS" not in text


@pytest.fixture(scope="module")
def week1(repo):
    return {side: read_notebook(repo / side / "week1" / "dense_layers.ipynb") for side in SIDES}


SIDES = ("source", "release")
# the tests that read the graded class: with pytest-xdist, in the one worker that grades it
GRADED_CLASS = pytest.mark.xdist_group("reports")


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory, course_copy, week1):
    """A course with week 1 autograded for four students; ``{student: expected total}``."""
    root = course_copy(tmp_path_factory.mktemp("class"))
    driver.release(root, ["week1"])
    source, release = week1["source"], week1["release"]
    class_ = {
        "passes_all": (fill_solutions(release, source), 12),
        "no_bias": (fill_solutions(release, source, replace=NO_BIAS), 9),
        "untouched": (release, 0),
        "first_two": (fill_solutions(release, source, names=["my_dense", "my_sequential"]), 6),
    }
    for student, (nb, _) in class_.items():
        folder = root / "submitted" / student / "week1"
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / "dense_layers.ipynb")
    assert autograde.autograde(root, "week1").errors == {}
    return root, {student: total for student, (_, total) in class_.items()}


def a_result():
    cells = [
        CellResult("test_f", 1, 1, "passed"),
        CellResult("test_g", 0, 1, "failed", "g(x) has wrong values: check the bias.\n  got: 3"),
        CellResult("test_g_generalizes", 0, 2, "error", "ValueError: shapes do not align"),
    ]
    return NotebookResult("week0", "toy", cells=cells, exercises=["f", "g"])


def test_grade_table_groups_tests_by_exercise_with_total_and_what_to_revisit():
    plain = format_result(a_result())
    assert "\x1b[" not in plain
    lines = plain.splitlines()
    assert lines[0] == "week0 / toy: graded with the hidden tests"
    assert any(line.split() == ["g", "0/3"] for line in lines)
    assert any(line.split() == ["test_g", "failed", "0/1"] for line in lines)
    assert "    -> g(x) has wrong values: check the bias." in lines
    assert "got: 3" not in plain  # a message's first line only
    assert "total: 1/4" in lines and "revisit: g (0/3)" in lines
    coloured = format_result(a_result(), colour=True)
    assert "\x1b[32mpassed" in coloured and "\x1b[31mfailed" in coloured


def a_huge_notebook(cells=150):
    """An autograded notebook of the ``a_result`` student whose cells hold megabytes each."""
    huge = [
        {"output_type": "stream", "name": "stdout", "text": "p" * 3_000_000},
        {"output_type": "error", "ename": "ValueError", "evalue": "e" * 3_000_000},
        {"output_type": "display_data", "data": {"image/png": "A" * 3_000_000}, "metadata": {}},
    ]

    def cell(source, **nbgrader):
        meta = {"nbgrader": nbgrader} if nbgrader else {}
        return {"cell_type": "code", "source": source, "metadata": meta, "outputs": huge}

    solution = cell("def g(x):\n" + "    x += 1\n" * 500_000, grade_id="g", solution=True)
    others = [cell("print('p' * 3_000_000)") for _ in range(cells)]
    return nbformat.from_dict({"cells": [solution, *others], "metadata": {}})


def test_a_feedback_page_shows_a_bounded_part_of_what_a_submission_made():
    from course.grading import feedback, pages

    result = a_result()
    result.cells[1].message = "m" * 5_000_000
    page = feedback.feedback_page("student", result, a_huge_notebook())
    assert len(page) < feedback.PAGE_CHARS + 200_000
    assert "[cut: the rest of this page is not shown" in page
    assert "more characters are not shown]" in page  # a long text, cut
    assert "[cut: a figure of 2.1 MB is not shown]" in page
    assert "m" * 1001 not in page and "p" * (pages.SHOWN_CHARS + 1) not in page
    small = feedback.feedback_page("student", a_result(), a_huge_notebook(cells=0))
    assert "[cut: the rest" not in small  # cut only when it must be


def test_a_report_shows_a_bounded_part_of_each_message():
    from course.grading import report
    from course.grading.results import AssignmentResult

    results = {}
    for student in ("ann", "bob"):
        result = a_result()
        result.cells[1].message = "g is wrong: " + "m" * 5_000_000
        results[student] = AssignmentResult("week0", notebooks=[result])
    messages = report.failure_messages(results)["g"]
    long = next(m for m in messages if m.startswith("g is wrong"))
    assert messages[long] == 2  # the same message, cut the same way: counted together
    assert len(long) < report.MESSAGE_CHARS + 100 and "more characters are not shown" in long


@pytest.mark.slow
def test_course_grade_prints_the_table_without_hidden_tests(tmp_path, repo, week1):
    source, release = week1["source"], week1["release"]
    path = tmp_path / "dense_layers.ipynb"
    nbformat.write(fill_solutions(release, source, replace=NO_BIAS), path)
    out = course("grade", str(path), cwd=repo)
    assert out.returncode == 0, out.stderr
    assert "\x1b[" not in out.stdout
    assert "total: 9/12" in out.stdout  # my_sequential_v is graded with a correct my_dense_v
    assert "revisit: my_dense_v (0/3)\n" in out.stdout
    assert BIAS_MESSAGE in out.stdout
    assert_no_hidden_test(out.stdout, source)


@pytest.mark.slow
@GRADED_CLASS
def test_feedback_pages_show_scores_messages_and_code_but_no_hidden_test(graded_class, week1):
    root, totals = graded_class
    out = course("feedback", "week1", cwd=root)
    assert out.returncode == 0, out.stderr
    pages = {s: root / "feedback" / s / "week1" / "dense_layers.html" for s in totals}
    for student, total in totals.items():
        page = pages[student].read_text()
        assert f"{student}: {pages[student].relative_to(root)}" in out.stdout
        assert f"Score: {total:g} / 12" in page
        assert_no_hidden_test(page, week1["source"])
    no_bias = pages["no_bias"].read_text()
    assert BIAS_MESSAGE in no_bias
    assert "Z = A_in @ W\n" in html.unescape(no_bias)  # the student's own code
    assert "To revisit: my_dense_v (0/3)</p>" in no_bias
    assert '<img alt="a figure" src="data:image/png;base64,' in no_bias  # their plots
    assert NOT_DONE in pages["untouched"].read_text()
    assert "Nothing to revisit" in pages["passes_all"].read_text()


@pytest.mark.slow
@GRADED_CLASS
def test_feedback_names_a_student_who_was_not_graded(graded_class):
    root, _ = graded_class
    out = course("feedback", "week1", "--student", "nobody", cwd=root)
    assert out.returncode == 1
    assert "no autograded week1 for nobody" in out.stderr
    assert "course autograde week1" in out.stderr


@pytest.mark.slow
@GRADED_CLASS
def test_report_has_the_export_columns_figures_and_the_class_mistakes(graded_class):
    root, totals = graded_class
    out = course("report", "week1", cwd=root)
    assert out.returncode == 0, out.stderr
    folder = root / "reports" / "week1"
    assert {p.name for p in folder.iterdir()} == {
        "grades.csv",
        "scores.png",
        "pass_rates.png",
        "index.html",
    }
    assert "reports/week1/index.html" in out.stdout

    exported = root / "exported.csv"
    done = nbgrader("export", "--to", str(exported), cwd=root)
    assert done.returncode == 0, done.stderr
    assert (folder / "grades.csv").read_text() == exported.read_text()

    for figure in ("scores.png", "pass_rates.png"):
        height, width, _ = matplotlib.image.imread(folder / figure).shape
        assert height > 200 and width > 400

    page = (folder / "index.html").read_text()
    assert '<img src="scores.png"' in page and '<img src="pass_rates.png"' in page
    assert "4 students autograded" in page
    # my_dense_v: only passes_all has all its points; two students never wrote it
    assert "<td>my_dense_v</td><td>3</td><td>25%</td>" in page
    assert f"<tr><td>2</td><td>{html.escape(NOT_DONE)}" in page
    assert "<tr><td>1</td><td>my_dense_v with 1 example(s)" in page and BIAS_MESSAGE in page
    for student, total in totals.items():
        assert f"<td>{student}</td>" in page and f"<td>{total}</td></tr>" in page
    assert "similarity.html" not in page and "grades export" not in page  # none written yet


@pytest.mark.slow
@GRADED_CLASS
def test_report_links_the_similarity_page_and_the_export_files(graded_class):
    root, _ = graded_class
    assert course("similarity", "week1", cwd=root).returncode == 0
    exported = course("export", "week1", cwd=root)
    assert exported.returncode == 0, exported.stderr
    out = course("report", "week1", cwd=root)
    assert out.returncode == 0, out.stderr
    canvas = root / "reports" / "canvas.csv"
    assert f"grades export holding week1 (course export): {canvas}" in out.stdout
    assert "reports/week1/similarity.html" in out.stdout
    page = (root / "reports" / "week1" / "index.html").read_text()
    assert (
        f'code similarity: <a href="similarity.html">{root}/reports/week1/similarity.html' in page
    )
    assert f'grades export: <a href="../canvas.csv">{canvas}</a>' in page


@pytest.mark.slow
def test_report_before_grading_says_what_to_run(tmp_path, course_copy):
    root = course_copy(tmp_path / "course")
    out = course("report", "week1", cwd=root)
    assert out.returncode == 1
    assert "run `course autograde week1` first" in out.stderr
    assert not (root / "reports").exists()
