"""``course export``: the gradebook's grades in Canvas's gradebook import format and nbgrader's.

The class is written into a gradebook with nbgrader's API (no grading): two assignments,
a student without any submission, one who missed an assignment, a late submission with its
penalty, names with a comma and non-ASCII letters. Files are read back with ``csv``.
"""

import csv
import shutil
import subprocess
from datetime import datetime

import pytest
from course_cli import course, env, nbgrader_command
from nbgrader.api import Gradebook
from nbgrader.plugins import LateSubmissionPlugin

from course.grading import export
from course.grading import nbgrader_driver as driver

DUE = datetime(2026, 3, 1, 12, 0)
# assignment -> {notebook: {grade cell: max score}}
ASSIGNMENTS = {
    "week1": {"dense_layers": {"test_a": 10.0, "test_b": 2.5}},
    "week2": {"logistic_regression": {"test_c": 20.0}},
}
# student -> (first name, last name, lms_user_id, {assignment: (points per cell, penalty)}):
# a penalty "zero" is nbgrader's LateSubmissionPlugin's (the whole score)
STUDENTS = {
    "ada": ("Zoë", "O'Brien, Jr.", "1001", {"week1": ([7.0, 2.5], 0.0), "week2": ([20.0], 0.0)}),
    "ben": ("Ben", "Ålund", None, {"week1": ([10.0, 1.0], "zero")}),  # week1 late, no week2
    "cy": ("Cy", "Zed", "1003", {}),  # nothing handed in
    "dee": ("Dee", "Early", "1004", {"week1": ([1.0, 0.0], 0.5), "week2": ([3.5], 0.0)}),
}


@pytest.fixture
def course_dir(tmp_path, course_copy):
    """A course folder whose gradebook holds the class above."""
    root = course_copy(tmp_path / "course")
    with driver.nbgrader_api(root) as api:
        with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
            for assignment, notebooks in ASSIGNMENTS.items():
                gb.add_assignment(assignment, duedate=DUE)
                for notebook, cells in notebooks.items():
                    gb.add_notebook(notebook, assignment)
                    for cell, top in cells.items():
                        gb.add_grade_cell(
                            cell, notebook, assignment, max_score=top, cell_type="code"
                        )
            for student, (first, last, lms, handed_in) in STUDENTS.items():
                gb.add_student(student, first_name=first, last_name=last, lms_user_id=lms)
                for assignment, (points, penalty) in handed_in.items():
                    gb.add_submission(assignment, student, timestamp=DUE)
                    if penalty == "zero":  # as nbgrader's autograde records it, an hour late
                        late = LateSubmissionPlugin(penalty_method="zero")
                        penalty = late.late_submission_penalty(student, sum(points), 3600)
                    [(notebook, cells)] = ASSIGNMENTS[assignment].items()
                    for cell, score in zip(cells, points):
                        gb.find_grade(cell, notebook, assignment, student).auto_score = score
                    nb = gb.find_submission_notebook(notebook, assignment, student)
                    nb.late_submission_penalty = penalty
                    gb.db.commit()
    return root


def expected_cell(student, assignment):
    handed_in = STUDENTS[student][3]
    if assignment not in handed_in:
        return ""  # not 0: Canvas leaves the grade alone
    points, penalty = handed_in[assignment]
    penalty = sum(points) if penalty == "zero" else penalty
    return export._number(max(0.0, sum(points) - penalty))


def check_canvas_file(path, assignments):
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    header, possible, *students = rows
    tops = [sum(ASSIGNMENTS[a][next(iter(ASSIGNMENTS[a]))].values()) for a in assignments]
    assert header == [
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        *(f"{a} ({export._number(t)} pts)" for a, t in zip(assignments, tops)),
    ]
    assert possible == ["    Points Possible", "", "", "", "", *map(export._number, tops)]
    assert len(students) == len(STUDENTS)
    by_login = {row[3]: row for row in students}
    for student, (first, last, lms, _) in STUDENTS.items():
        row = by_login[student]
        assert len(row) == len(header)
        assert row[0] == f"{last}, {first}"  # Canvas's sortable name, the comma quoted
        assert row[1] == (lms or "")
        assert row[2] == "" and row[4] == ""
        assert row[5:] == [expected_cell(student, a) for a in assignments]
    return rows


def test_canvas_file_column_by_column(course_dir):
    path = export.export(course_dir, ["week2", "week1"])
    assert path == course_dir / "reports" / "canvas.csv"
    rows = check_canvas_file(path, ["week2", "week1"])
    by_login = {row[3]: row for row in rows[2:]}
    assert by_login["ben"][5:] == ["", "0"]  # week 2 not handed in; week 1 late: "zero"
    assert by_login["dee"][6] == "0.5"  # 1 point, 0.5 off for lateness
    assert by_login["ada"][0] == "O'Brien, Jr., Zoë"
    assert path.read_bytes().startswith(b"Student,ID,SIS User ID,SIS Login ID,Section,")
    assert "Zoë".encode() in path.read_bytes()  # UTF-8
    assert export.recorded_exports(course_dir, "week1") == [path]
    assert export.recorded_exports(course_dir, "week3") == []


def test_csv_format_is_nbgraders_own_columns_for_every_assignment(course_dir, tmp_path):
    out = export.export(course_dir, ["week1", "week2"], fmt="csv", output=tmp_path / "g.csv")
    with open(out, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == [
        "assignment",
        "duedate",
        "timestamp",
        "student_id",
        "last_name",
        "first_name",
        "email",
        "raw_score",
        "late_submission_penalty",
        "score",
        "max_score",
    ]
    assert len(rows) == 2 * len(STUDENTS)
    ben = {r["assignment"]: r for r in rows if r["student_id"] == "ben"}
    assert float(ben["week1"]["raw_score"]) == 11.0 and float(ben["week1"]["score"]) == 0.0
    assert float(ben["week2"]["score"]) == 0.0 and ben["week2"]["timestamp"] == ""
    assert {r["last_name"] for r in rows} >= {"O'Brien, Jr.", "Ålund"}
    assert export.recorded_exports(course_dir, "week2") == [out]


def test_unknown_assignments_and_formats_are_refused_with_the_fix(course_dir):
    with pytest.raises(driver.CourseError, match="no assignment 'week9'"):
        export.export(course_dir, ["week9"])
    with pytest.raises(driver.CourseError, match="week3 not in the gradebook yet: run"):
        export.export(course_dir, ["week3"])
    with pytest.raises(driver.CourseError, match="unknown format 'xls'"):
        export.export(course_dir, ["week1"], fmt="xls")


@pytest.mark.slow
def test_nbgrader_export_uses_the_canvas_exporter_and_the_command_writes_it(course_dir):
    run = subprocess.run(
        nbgrader_command(
            "export",
            "--exporter=course.grading.export.CanvasExportPlugin",
            "--to=lms.csv",
            "--assignment=['week1', 'week2']",
        ),
        cwd=course_dir,
        env=env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    check_canvas_file(course_dir / "lms.csv", ["week1", "week2"])

    cli = course("export", "week1", "week2", "--output", "out/canvas.csv", cwd=course_dir)
    assert cli.returncode == 0, cli.stderr
    assert str(course_dir / "out" / "canvas.csv") in cli.stdout
    assert (course_dir / "out" / "canvas.csv").read_bytes() == (course_dir / "lms.csv").read_bytes()
    shutil.rmtree(course_dir / "source" / "week2")
    gone = course("export", "week2", cwd=course_dir)
    assert gone.returncode == 1 and "no assignment 'week2'" in gone.stderr
