"""The feedback page and the class report, rendered from results held in memory.

No sandbox, no gradebook: the results objects and the autograded notebook are built here,
with a submission's text (student id, notebook and exercise names, messages, code,
outputs) full of HTML, quotes, escape sequences and megabytes. The pages are read back with
an HTML parser, as a browser would: only the templates' own tags, every text shown as text.
"""

import tomllib
from fnmatch import fnmatch
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import jinja2
import nbformat
import pytest
from jinja2 import nodes

from course.grading import feedback, pages, report
from course.grading.results import AssignmentResult, CellResult, NotebookResult

# HTML that would run or close the page's tags, quotes, an entity, a window title and a
# bidirectional override (both control characters), and terminal colours
EVIL = '<script>alert("x")</script></pre>\'&amp;\x1b]0;owned\x07\x1b[31mred\x1b[0m\u202e'
# the same as a page shows it: colours dropped, control characters written as escapes
SHOWN = '<script>alert("x")</script></pre>\'&amp;' + r"\x1b]0;owned\x07red\u202e"
MB = 1_000_000
PNG = (  # a 1x1 PNG, base64
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)

# what the templates may write: a tag, and the attributes it may have
ALLOWED = {
    "html": {"lang"},
    "head": set(),
    "meta": {"charset"},
    "title": set(),
    "style": set(),
    "body": set(),
    "h1": set(),
    "h2": {"id"},
    "h3": set(),
    "p": {"class"},
    "div": {"class"},
    "table": set(),
    "tr": set(),
    "th": set(),
    "td": set(),
    "a": {"href"},
    "span": {"class"},
    "pre": {"class"},
    "code": set(),
    "img": {"alt", "src"},
    "ul": set(),
    "li": set(),
    "mark": set(),
    "strong": set(),
}
CLASSES = {
    *("meta", "total", "wide", "output", "error", "passed", "failed", "notdone", "manual"),
    "side",
}
# links a page may have besides those within it: the report's files, and relative paths
# (to the files of course export), never a URL
FILES = ("grades.csv", "similarity.html")


class Page(HTMLParser):
    """A page as a browser reads it: its tags, its text, its tables, headings and blocks."""

    def __init__(self, page):
        super().__init__()  # character references are read as the characters they stand for
        self.tags, self.text, self.tables, self.headings, self.blocks = [], [], [], [], []
        self._open, self._block = [], None
        self.feed(page)
        self.close()
        self.text = "".join(self.text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("th", "td"):
            self.tables[-1][-1].append("")
        elif tag in ("h1", "h2", "h3", "title"):
            self.headings.append((tag, ""))
        elif tag == "pre" or (tag == "p" and dict(attrs).get("class") == "meta"):
            self.blocks.append((dict(attrs).get("class", tag), ""))
            self._block = tag
        if tag not in ("meta", "img"):
            self._open.append(tag)

    def handle_endtag(self, tag):
        assert self._open and self._open[-1] == tag, f"</{tag}> closes {self._open[-1:]}"
        self._open.pop()
        if tag == self._block:
            self._block = None

    def handle_data(self, data):
        self.text.append(data)
        inside = set(self._open)
        if inside & {"th", "td"}:
            self.tables[-1][-1][-1] += data
        if inside & {"h1", "h2", "h3", "title"}:
            tag, text = self.headings[-1]
            self.headings[-1] = (tag, text + data)
        if self._block:
            kind, text = self.blocks[-1]
            self.blocks[-1] = (kind, text + data)

    def rows(self, header):
        """The rows under ``header`` of the table with that header."""
        found = [t[1:] for t in self.tables if t[0] == header]
        assert len(found) == 1, f"{len(found)} tables with the header {header}"
        return found[0]


def read(page):
    """The page, parsed and checked: only the templates' tags and attributes, no control
    character anywhere, every tag closed, links only within the page or to its files."""
    assert all(line.replace("\t", "").isprintable() for line in page.split("\n"))
    parsed = Page(page)
    assert parsed._open == []
    for tag, attrs in parsed.tags:
        assert tag in ALLOWED and set(attrs) <= ALLOWED[tag], (tag, attrs)
        assert attrs.get("class", "meta") in CLASSES, attrs
        href = attrs.get("href", "#")
        assert href.startswith(("#", "./", "../")) or href in FILES, href
        if tag == "img":
            assert attrs["src"] in ("scores.png", "pass_rates.png") or attrs["src"].startswith(
                ("data:image/png;base64,", "data:image/jpeg;base64,")
            )
    return parsed


def code_cell(source, outputs=(), **nbgrader):
    meta = {"nbgrader": nbgrader} if nbgrader else {}
    return {"cell_type": "code", "source": source, "metadata": meta, "outputs": list(outputs)}


def stream(text):
    return {"output_type": "stream", "name": "stdout", "text": text}


def display(data):
    return {"output_type": "display_data", "data": data, "metadata": {}}


def error(evalue):
    trace = ["Traceback: assert f(3) == 42  # the hidden test's line"]
    return {"output_type": "error", "ename": "ValueError", "evalue": evalue, "traceback": trace}


def a_result(name="toy" + EVIL):
    """A notebook result: ``f`` passed, ``g`` (a hostile name) failed and not done."""
    cells = [
        CellResult("test_f", 1, 1, "passed"),
        CellResult("test_g", 0, 1, "failed", f"g is wrong {EVIL}\nexpected 42 (second line)"),
        CellResult("test_g_more", 0, 2, "error", "ValueError: " + "v" * MB),
        CellResult("task_h", 0, 3, "manual"),
    ]
    tested = {"test_g": "g" + EVIL, "test_g_more": "g" + EVIL}
    return NotebookResult("week0", name, cells=cells, exercises=["f", "g" + EVIL], tested=tested)


def answer(exercise):
    """The nbgrader metadata of the answer cell of ``exercise``."""
    return {"grade_id": exercise, "solution": True}


def a_notebook():
    """An autograded notebook: answers, a test cell, the student's own cells, a shown cell."""
    cells = [
        code_cell("def f(x):\n    return x  " + EVIL, [stream("f says " + EVIL)], **answer("f")),
        code_cell(
            "assert f(3) == 42  # the hidden test's line",
            [stream("HIDDEN OUTPUT of the student's code")],
            grade_id="test_f",
            grade=True,
            locked=True,
        ),
        code_cell("def g(x):\n" + "    x += 1\n" * 100_000, [error(EVIL)], **answer("g" + EVIL)),
        code_cell(
            f"plot('{EVIL}')",
            [
                display({"image/png": PNG + "\n", "text/plain": "<Figure>"}),
                display({"image/jpeg": [PNG[:40], PNG[40:]]}),
                display({"image/png": "A" * 3_000_000}),
                display({"text/html": "<b id='own'>bold</b>", "text/plain": "plain " + EVIL}),
                display({"application/javascript": "alert('own')"}),
                {"output_type": "execute_result", "data": {"text/plain": "o" * MB}, "metadata": {}},
            ],
        ),
        code_cell("print(1)"),
        {"cell_type": "markdown", "source": "Some text " + EVIL, "metadata": {}},
        code_cell("show()", [stream("the figure " + EVIL)], grade_id="show" + EVIL, locked=True),
        code_cell("intro()", [], grade_id="quiet", locked=True),
    ]
    return nbformat.from_dict({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


@pytest.fixture(scope="module")
def a_page():
    return feedback.feedback_page("mallory" + EVIL, a_result(), a_notebook())


def test_a_feedback_page_shows_scores_tests_and_what_to_revisit(a_page):
    page = read(a_page)
    title = f"week0 / toy{SHOWN}: feedback for mallory{SHOWN}"
    assert page.headings[:2] == [("title", title), ("h1", title)]
    assert "Score: 1 / 7" in page.text
    assert page.rows(["exercise", "points", "result"]) == [
        ["f", "1 / 1", "passed"],
        ["g" + SHOWN, "0 / 3", "failed"],
        ["task_h", "0 / 3", "manual"],
    ]
    assert f"To revisit: g{SHOWN} (0/3)" in page.text  # not task_h: graded by hand
    assert [h for h in page.headings if h[0] == "h2"] == [
        ("h2", "f: 1 / 1"),
        ("h2", f"g{SHOWN}: 0 / 3"),
        ("h2", "task_h: 0 / 3"),
        ("h2", "Your other cells"),
        ("h2", "What your notebook showed"),
    ]
    links = [a["href"] for tag, a in page.tags if tag == "a"]
    ids = [a["id"] for tag, a in page.tags if tag == "h2" and "id" in a]
    assert links == [f"#{name}" for name in ids] == ["#f", f"#g{SHOWN}", "#task_h"]
    tests = [t for t in page.tables if t[0] == ["test", "result", "points", "message"]]
    assert [len(t) - 1 for t in tests] == [1, 2, 1]
    g_wrong, not_shown = tests[1][1:]
    assert g_wrong == ["test_g", "failed", "0 / 1", f"g is wrong {SHOWN}"]  # the first line
    assert "expected 42" not in page.text
    assert (
        not_shown[3]
        == "ValueError: " + "v" * 988 + f"\n[cut: {MB - 988} more characters are not shown]"
    )
    spans = [a["class"] for tag, a in page.tags if tag == "span"]
    assert spans == ["passed", "failed", "manual", "passed", "failed", "error", "manual"]


def test_a_feedback_page_shows_the_students_code_and_outputs_as_text(a_page):
    page = read(a_page)
    blocks = dict.fromkeys(k for k, _ in page.blocks)
    assert set(blocks) == {"pre", "output", "error", "meta"}
    code = [text for kind, text in page.blocks if kind == "pre"]
    assert code[0] == "def f(x):\n    return x  " + SHOWN  # an answer, under its exercise
    cut = len("def g(x):\n" + "    x += 1\n" * 100_000) - pages.SHOWN_CHARS
    assert code[1].endswith(f"    x \n[cut: {cut} more characters are not shown]")
    assert code[2:] == [f"plot('{SHOWN}')", "print(1)"]  # the student's other cells
    outputs = [text for kind, text in page.blocks if kind in ("output", "error")]
    assert outputs[:4] == [
        "f says " + SHOWN,
        "ValueError: " + SHOWN,  # no traceback: it may quote a hidden test
        "plain " + SHOWN,  # an HTML display, as its plain text
        "o" * pages.SHOWN_CHARS
        + f"\n[cut: {MB - pages.SHOWN_CHARS} more characters are not shown]",
    ]
    assert outputs[4:] == ["the figure " + SHOWN]  # a locked cell's output, under its id
    assert ("h3", "show" + SHOWN) in page.headings and ("h3", "quiet") not in page.headings
    for hidden in ("HIDDEN OUTPUT", "assert f(3) == 42", "Traceback", "Some text"):
        assert hidden not in page.text  # test cells, tracebacks and markdown are not shown
    assert "alert('own')" not in page.text and not any(tag == "b" for tag, _ in page.tags)


def test_a_feedback_page_shows_figures_as_images_up_to_a_size(a_page):
    page = read(a_page)
    images = [a for tag, a in page.tags if tag == "img"]
    assert images == [
        {"alt": "a figure", "src": f"data:image/png;base64,{PNG}"},
        {"alt": "a figure", "src": f"data:image/jpeg;base64,{PNG}"},  # lines joined
    ]
    notes = [text for kind, text in page.blocks if kind == "meta"]
    assert "[cut: a figure of 2.1 MB is not shown]" in notes


def test_a_feedback_page_is_cut_between_its_parts_with_a_note(monkeypatch):
    whole = feedback.feedback_page("ann", a_result("toy"), a_notebook())
    assert "[cut: the rest" not in whole
    monkeypatch.setattr(feedback, "PAGE_CHARS", 10_000)  # room for the first exercise only
    page = read(feedback.feedback_page("ann", a_result("toy"), a_notebook()))
    assert [h for h in page.headings if h[0] == "h2"] == [("h2", "f: 1 / 1")]
    assert page.blocks[-1] == (
        "meta",
        "[cut: the rest of this page is not shown: it would be more than 0 MB]",
    )
    assert page.rows(["exercise", "points", "result"])[2] == ["task_h", "0 / 3", "manual"]


def results_of_a_class():
    """``{student: AssignmentResult}``: one passes ``g``, two fail it alike, one lacks ``h``."""
    results = {}
    for student in ("ann", "bob" + EVIL, "cy", "dee"):
        result = a_result("toy")
        if student == "ann":
            result.cells[1:3] = [
                CellResult("test_g", 1, 1, "passed"),
                CellResult("test_g_more", 2, 2, "passed"),
            ]
        if student == "dee":
            result.cells = result.cells[:3]
        results[student] = AssignmentResult("week0", notebooks=[result])
    return results


def test_a_class_report_shows_the_numbers_the_mistakes_and_every_student():
    results = results_of_a_class()
    rates = report.pass_rates(results)
    errors = {"eve" + EVIL: "OSError: " + "e" * MB, "al": "ValueError: odd notebook"}
    html = report._html(
        "week0" + EVIL,
        ["toy", "more" + EVIL],
        results,
        rates,
        report.failure_messages(results),
        errors,
        [{"href": "../x.csv", "what": "grades export", "path": "/c/" + EVIL + ".csv"}],
    )
    page = read(html)
    assert f"grades export: /c/{SHOWN}.csv" in page.text  # a path to a file, shown as text
    title = f"week0{SHOWN} / toy, more{SHOWN}: class report"
    assert page.headings[:2] == [("title", title), ("h1", title)]
    assert "4 students autograded; scores out of 7." in page.text
    assert page.rows(["mean", "median", "lowest", "highest"]) == [["1.75", "1", "1", "4"]]
    assert page.rows(["exercise", "points", "pass rate", "mean points"]) == [
        ["f", "1", "100%", "1.00"],
        ["g" + SHOWN, "3", "25%", "0.75"],
        ["task_h", "3", "0%", "0.00"],
    ]
    messages = [t[1:] for t in page.tables if t[0] == ["students", "message"]]
    cut = f"\n[cut: {MB - 288} more characters are not shown]"
    assert len(messages) == 1  # g's: f passed, task_h is graded by hand
    assert sorted(messages[0]) == [
        ["3", "ValueError: " + "v" * 288 + cut],
        ["3", f"g is wrong {SHOWN}"],
    ]
    assert page.text.count("Every student passed every test of this exercise.") == 2  # f, task_h
    assert page.rows(["student", "f", "g" + SHOWN, "task_h", "total"]) == [
        ["ann", "1", "3", "0", "4"],
        ["bob" + SHOWN, "1", "0", "0", "1"],
        ["cy", "1", "0", "0", "1"],
        ["dee", "1", "0", "-", "1"],  # no cell of task_h: no points to show
    ]
    why = page.rows(["student", "why"])
    assert why[0] == ["al", "ValueError: odd notebook"]
    assert why[1] == [
        "eve" + SHOWN,
        "OSError: " + "e" * 291 + f"\n[cut: {MB - 291} more characters are not shown]",
    ]
    images = [a["src"] for tag, a in page.tags if tag == "img"]
    assert images == ["scores.png", "pass_rates.png"]


def test_a_report_of_a_class_without_errors_has_no_such_section():
    results = results_of_a_class()
    rates = report.pass_rates(results)
    page = read(
        report._html("week0", ["toy"], results, rates, report.failure_messages(results), {}, [])
    )
    assert "Not in this report" not in page.text
    assert "similarity" not in page.text and not [t for t, _ in page.tags if t == "ul"]
    assert not [t for t in page.tables if t[0] == ["student", "why"]]


def test_the_similarity_page_shows_students_ids_and_code_as_text(tmp_path):
    from course.grading import similarity

    own = "def f(x):\n    y = x * 3  # " + EVIL + "\n    z = y - 1\n    return {'k': z}\n"
    broken = "def f(x):\n    y = x * 3 " + EVIL + "\n    z = y - 1\n    return z\n"
    codes = {
        "ann" + EVIL: similarity.fingerprint(own),
        "bob": similarity.fingerprint(own.replace("y", "w")),
        "cy": similarity.fingerprint(broken),
    }
    exercise = similarity.compare("f" + EVIL, codes, similarity.fingerprint("def f(x):\n  ..."))
    result = similarity.Similarity(
        "week0" + EVIL, 0.5, [exercise], {"f" + EVIL: codes}, [("cy", codes["cy"].note)]
    )
    page = read(similarity.write_page(tmp_path, result).read_text())
    title = f"week0{SHOWN}: code similarity"
    assert page.headings[:2] == [("title", title), ("h1", title)]
    assert "This page decides nothing." in page.text
    assert f"f{SHOWN}: ann{SHOWN} and bob, score 1.00" in page.text
    assert f"# {SHOWN}" in page.text  # the comment, in the code shown as text
    assert "not valid Python (line 2" in page.text  # cy's cell: compared as text, noted
    assert sum(t == "mark" for t, _ in page.tags) == 2 * 3  # the shared lines of the two
    assert [t for t, _ in page.tags].count("img") == 1  # the histogram


def test_a_template_given_too_little_data_says_what_is_missing():
    with pytest.raises(jinja2.UndefinedError, match="'score' is undefined"):
        pages.render("feedback.html", title="t")


TEMPLATES = {
    *("base.html", "macros.html", "feedback.html", "feedback_parts.html", "report.html"),
    "similarity.html",
}
# filters that return HTML, which a page writes as it is (no escaping, control characters kept)
_RAW_FILTERS = {"safe", "e", "escape", "forceescape", "tojson", "xmlattr", "urlize", "indent"}


def test_the_templates_ship_with_the_package_and_escape_everything():
    folder = resources.files("course.grading") / "templates"
    found = {p.name for p in folder.iterdir() if p.name.endswith(".html")}
    assert found == TEMPLATES
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    shipped = project["tool"]["setuptools"]["package-data"]["course"]
    assert all(any(fnmatch(f"grading/templates/{n}", glob) for glob in shipped) for n in found)
    assert any(d.startswith("jinja2") for d in project["project"]["dependencies"])
    for name in sorted(found):
        tree = jinja2.Environment().parse((folder / name).read_text())
        used = {f.name for f in tree.find_all(nodes.Filter)}
        assert not used & _RAW_FILTERS, f"{name} writes a value unescaped: |{used & _RAW_FILTERS}"
        assert not list(tree.find_all((nodes.MarkSafe, nodes.ScopedEvalContextModifier))), name
