"""The coordinator's own rules, without a sandbox: settings, notebooks, maxima, check's ties.

Each test builds what it needs in code or with nbgrader's own ``generate_assignment`` in a
throwaway course directory; nothing here runs student code in the sandbox.
"""

import shutil
from pathlib import Path

import nbformat
import pytest
import toy_course as toy
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course.grading import check, notebooks, servers, settings
from course.grading import nbgrader_driver as driver
from course.grading.notebooks import split_hidden
from course.grading.results import STATUSES


def nbgrader_docs_course():
    """nbgrader's documentation course (``ps1``: two notebooks, manual and task cells)."""
    import nbgrader

    return Path(nbgrader.__file__).parent / "docs" / "source" / "user_guide"


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory):
    return toy.make_course(tmp_path_factory.mktemp("toy") / "c")


def configured(root, tmp_path, *lines):
    """A copy of ``root`` whose nbgrader_config.py ends with ``lines``."""
    dest = tmp_path / "configured"
    shutil.copytree(root, dest)
    config = dest / "nbgrader_config.py"
    config.write_text(config.read_text() + "\n".join(lines) + "\n")
    return dest


def read_settings(root):
    with driver.nbgrader_api(root) as api:
        return settings.autograde_settings(api, toy.ASSIGNMENT)


def test_every_listed_setting_is_a_real_nbgrader_setting():
    from nbconvert.exporters import NotebookExporter
    from nbgrader.converters import Autograde
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import Execute

    classes = {
        "CourseDirectory": CourseDirectory,
        "Autograde": Autograde,
        "NotebookExporter": NotebookExporter,
        "Execute": Execute,
    }
    assert set(settings.SETTINGS) == set(classes)
    for name, table in settings.SETTINGS.items():
        assert set(table) <= set(classes[name].class_traits(config=True)), name
        assert set(table.values()) <= {settings.HONOURED, settings.NO_EFFECT}


def test_the_default_settings_are_read(toy_root):
    conf = read_settings(toy_root)
    assert conf.timeout == toy.TIMEOUT  # toy_course's Execute.timeout
    assert conf.hidden_markers == ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
    assert conf.exclude_overwriting == [] and conf.student_id_exclude == []
    assert ".ipynb_checkpoints" in conf.ignore
    names = [type(step).__name__ for step in conf.before_execution]
    assert names[:2] == ["ClearOutput", "DeduplicateIds"] and "OverwriteCells" in names
    after = [type(step).__name__ for step in conf.after_execution]
    assert after == [
        "IgnorePattern",
        "ClearMetadataPreprocessor",
        "LimitOutput",
        "SaveAutoGradesAtOnce",
        "AssignLatePenalties",
        "CheckCellMetadata",
    ]


def test_honoured_settings_are_read_however_they_are_set(toy_root, tmp_path):
    root = configured(
        toy_root,
        tmp_path,
        "c.Execute.timeout = None",  # no limit
        "c.ExecutePreprocessor.startup_timeout = 90",  # a parent class of nbgrader's Execute
        'c.Autograde.exclude_overwriting = {"toy": ["data.csv"], "other": ["x"]}',
        'c.CourseDirectory.student_id_exclude = "ann,bob"',
        'c.ClearHiddenTests.begin_test_delimeter = "BEGIN SECRET"',
        'c.ClearHiddenTests.end_test_delimeter = "END SECRET"',
        "c.CourseDirectory.include = ['*.py']",  # the exchange's business, not autograde's
    )
    conf = read_settings(root)
    assert conf.timeout is None
    assert conf.exclude_overwriting == ["data.csv"]
    assert conf.student_id_exclude == ["ann", "bob"]
    assert conf.hidden_markers == ("BEGIN SECRET", "END SECRET")


@pytest.mark.parametrize(
    "line, named",
    [
        ("c.Execute.interrupt_on_timeout = False", "Execute.interrupt_on_timeout"),
        ("c.NotebookClient.execute_retries = 2", "Execute.execute_retries"),
        ("c.Execute.enabled = False", "Execute.enabled"),
        ("c.Execute.extra_arguments = ['--pylab']", "Execute.extra_arguments"),
        (
            "c.CourseDirectory.submitted_directory = 'handins'",
            "CourseDirectory.submitted_directory",
        ),
        ("c.CourseDirectory.notebook_id = 'toy'", "CourseDirectory.notebook_id"),
        ("c.Autograde.create_student = False", "Autograde.create_student"),
        ("c.Autograde.pre_convert_hook = print", "Autograde.pre_convert_hook"),
        (
            "c.Autograde.autograde_preprocessors = ['nbgrader.preprocessors.SaveAutoGrades']",
            "Autograde.autograde_preprocessors",
        ),
        ("c.NotebookExporter.nbformat_version = 3", "NotebookExporter.nbformat_version"),
    ],
)
def test_a_setting_the_engine_cannot_honour_stops_the_run(toy_root, tmp_path, line, named):
    root = configured(toy_root, tmp_path, line)
    with pytest.raises(driver.CourseError, match=named.replace(".", r"\.")) as caught:
        read_settings(root)
    assert "nbgrader autograde" in str(caught.value)


def test_split_hidden_uses_the_configured_delimiters():
    source = "a = 1\n# BEGIN SECRET\nassert a == 1\n# END SECRET\nb = 2"
    assert split_hidden(source, ("BEGIN SECRET", "END SECRET")) == ("a = 1\nb = 2", {2, 3, 4})
    assert split_hidden(source) == (source, set())  # nbgrader's default delimiters
    with pytest.raises(ValueError, match="BEGIN SECRET"):
        split_hidden("# BEGIN SECRET\nx", ("BEGIN SECRET", "END SECRET"))


def _meta(grade_id, *, grade=False, solution=False, locked=False, points=None, task=False):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3}
    meta |= {"solution": solution, "task": task}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def foreign_notebook():
    """A notebook of another course: test cells named after nothing, unlocked."""
    return new_notebook(
        cells=[
            new_code_cell(
                "def squares(n):\n    return [i * i for i in range(1, n + 1)]",
                metadata=_meta("squares", solution=True),
            ),
            new_code_cell(
                "assert squares(3) == [1, 4, 9]", metadata=_meta("correct", grade=True, points=1)
            ),
            new_code_cell(
                "assert squares(1) == [1]\n"
                "### BEGIN HIDDEN TESTS\nassert False\n### END HIDDEN TESTS",
                metadata=_meta("one", grade=True, points=2),
            ),
            new_code_cell(
                "def total(n):\n    raise NotImplementedError()",
                metadata=_meta("total", solution=True),
            ),
            new_code_cell("assert total(2) == 5", metadata=_meta("total_ok", grade=True, points=1)),
            new_code_cell(
                "assert squares(2) == [1, 4]",
                metadata=_meta("test_squares_again", grade=True, points=1),
            ),
            new_markdown_cell("Why?", metadata=_meta("why", grade=True, solution=True, points=3)),
        ],
        metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "P"}},
    )


def test_test_cells_test_the_exercise_they_follow_unless_named_after_one():
    assert notebooks.tested_exercises(foreign_notebook()) == {
        "correct": "squares",
        "one": "squares",
        "total_ok": "total",
        "test_squares_again": "squares",  # the name wins over the position
    }


def test_check_ties_a_foreign_notebooks_tests_to_their_exercises(tmp_path):
    path = tmp_path / "problem.ipynb"
    nbformat.write(foreign_notebook(), path)
    result = check.run_visible_tests(path, timeout=30)
    got = {ex.exercise: (ex.status, ex.points) for ex in result.exercises}
    # the hidden test of `one` is not run; `total` is not done; points are the metadata's
    assert got == {"squares": ("passed", 4.0), "total": ("error", 1.0)}
    from course.grading.text import format_check

    rows = [line.split("  ") for line in format_check(result).splitlines()]
    rows = [[part.strip() for part in row if part.strip()] for row in rows]
    assert ["squares", "visible checks passed", "4"] in rows
    assert ["total", "not done", "1"] in rows


@pytest.fixture(scope="module")
def docs_course(tmp_path_factory):
    """nbgrader's docs course ``ps1`` released in a throwaway directory, hacker handed in."""
    root = tmp_path_factory.mktemp("docs") / "course"
    shutil.copytree(nbgrader_docs_course() / "source" / "ps1", root / "source" / "ps1")
    shutil.copytree(nbgrader_docs_course() / "submitted" / "hacker", root / "submitted" / "hacker")
    (root / "nbgrader_config.py").write_text(
        'c = get_config()\nc.CourseDirectory.course_id = "d"\n'
    )
    driver.release(root, ["ps1"])
    with driver.nbgrader_api(root) as api:
        from nbgrader.api import Gradebook

        with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
            gb.update_or_create_student("hacker")
            gb.update_or_create_submission("ps1", "hacker")
    return root


def test_maxima_are_nbgraders_with_manual_and_task_cells(docs_course):
    graded = docs_course / "autograded" / "hacker" / "ps1"
    graded.mkdir(parents=True)
    shutil.copy(docs_course / "source" / "ps1" / "problem1.ipynb", graded)  # not executed
    with driver.nbgrader_api(docs_course) as api:
        result = driver.assignment_result(api, "ps1", "hacker")
    problem1, problem2 = result.notebooks
    assert (problem1.notebook, problem1.max_score) == ("problem1", 10)  # nbgrader's max_score
    assert (problem2.notebook, problem2.max_score) == ("problem2", 3)
    assert result.max_score == 13  # the max_score column of `nbgrader export`
    statuses = {c.grade_id: c.status for c in problem1.cells}
    assert statuses["sum_of_squares_equation"] == "manual"  # markdown answer
    assert statuses["sum_of_squares_application"] == "manual"  # code answer graded by hand
    assert statuses["cell-938593c4a215c6cc"] == "manual"  # a task
    assert statuses["correct_squares"] == "passed"  # no error in its (empty) outputs
    assert {c.status for c in problem2.cells} == {"missing"}  # no autograded problem2
    assert "manual" in STATUSES and "tampered" not in STATUSES
    by_exercise = result.by_exercise()
    assert by_exercise["problem1/squares"] == (0, 2)  # ungraded yet: the gradebook says 0
    assert all(c.decided == "judge" and c.note == "" for c in result.cells)


def test_a_kernel_other_than_this_python_is_refused_as_nbgrader_refuses_it():
    from course.grading import autograde

    assert autograde._kernel_problem("python3") is None
    assert autograde._kernel_problem("python") is None  # jupyter maps it to python3
    assert autograde._kernel_problem("") is None  # no kernelspec: jupyter's default
    assert "No such kernel named ir" in autograde._kernel_problem("ir")


def test_links_and_special_files_anywhere_in_a_hand_in_are_refused(tmp_path):
    import os
    import socket

    root = tmp_path
    secret = tmp_path / "root_only.txt"  # outside the hand-ins, readable by root alone
    secret.write_text("secret")
    secret.chmod(0o600)
    folder = root / "submitted" / "s" / "a"
    (folder / "data").mkdir(parents=True)
    (folder / "toy.ipynb").write_text("{}")
    (folder / "data" / "x.csv").write_text("1,2")
    assert driver.refused_entry(root, "s", "a") is None

    (folder / "data" / "notes.txt").symlink_to(secret)
    assert driver.refused_entry(root, "s", "a") == (
        "submitted/s/a/data/notes.txt is a symbolic link: hand in the file itself"
    )
    (folder / "data" / "notes.txt").unlink()
    os.mkfifo(folder / "pipe")
    assert driver.refused_entry(root, "s", "a") == (
        "submitted/s/a/pipe is a named pipe (FIFO): hand in files only"
    )
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(folder / "data" / "sock"))
        assert driver.refused_entry(root, "s", "a") == (
            "submitted/s/a/data/sock is a socket: hand in files only (and 1 more such entry)"
        )
    (folder / "gone").symlink_to(tmp_path / "nowhere")  # a dangling link counts too
    assert "(and 2 more such entries)" in driver.refused_entry(root, "s", "a")

    (root / "submitted" / "t").mkdir()
    (root / "submitted" / "t" / "a").symlink_to(root / "source")  # the whole hand-in
    assert driver.refused_entry(root, "t", "a") == (
        "submitted/t/a is a symbolic link: hand in the folder itself"
    )
    (root / "submitted" / "u").symlink_to(root / "submitted" / "s")  # another student's
    assert driver.refused_entry(root, "u", "a") == (
        "submitted/u is a symbolic link: hand in the folder itself"
    )


def test_config_digest_covers_the_file_what_it_loads_and_the_values_it_sets(tmp_path, monkeypatch):
    root = tmp_path / "c"
    (root / "source").mkdir(parents=True)
    files = {
        "nbgrader_config.py": "c = get_config()\nimport os\n"
        "c.CourseDirectory.course_id = os.environ.get('TOY_COURSE_ID', 'toy')\n"
        "load_subconfig('timeouts.py')\n"
        "c.AssignLatePenalties.plugin_class = 'late_plugin.Late'\n",
        "timeouts.py": "c = get_config()\nc.Execute.timeout = 6\n",
        "late_plugin.py": "from nbgrader.plugins import LateSubmissionPlugin\n\n\n"
        "class Late(LateSubmissionPlugin):\n    pass\n",
    }
    for name, text in files.items():
        (root / name).write_text(text)
    config = driver.load_config(root)  # the recording loader still loads what nbgrader does
    assert config.Execute.timeout == 6
    assert config.AssignLatePenalties.plugin_class.__name__ == "Late"
    seen = [driver.config_digest(root)]
    assert driver.config_digest(root) == seen[0]  # the same every time
    (root / "unrelated.py").write_text("x = 1\n")
    assert driver.config_digest(root) == seen[0]
    for name, change in [
        ("timeouts.py", "c.Execute.timeout = 7\n"),  # a file the configuration loads
        ("late_plugin.py", "    penalty = 1\n"),  # the plugin's code
        ("nbgrader_config.py", "# a comment\n"),
    ]:
        with (root / name).open("a") as f:
            f.write(change)
        seen.append(driver.config_digest(root))
    monkeypatch.setenv("TOY_COURSE_ID", "other")  # a value read from the environment
    seen.append(driver.config_digest(root))
    assert len(set(seen)) == len(seen)
    shutil.copytree(root, tmp_path / "moved")  # the course moved: nothing changed
    assert driver.config_digest(tmp_path / "moved") == seen[-1]


def test_release_digest_changes_with_a_release_that_changes_what_grades(toy_root, tmp_path):
    from datetime import datetime

    from nbgrader.api import Gradebook

    root = configured(toy_root, tmp_path)

    def digest():
        with driver.nbgrader_api(root) as api:
            return driver.release_digest(api, toy.ASSIGNMENT)

    first = digest()
    driver.release(root, [toy.ASSIGNMENT])
    assert digest() == first  # released again, unchanged: nothing to regrade
    source = root / "source" / toy.ASSIGNMENT / "toy.ipynb"
    source.write_text(source.read_text().replace("_expected = _x * _x", "_expected = _x * 2"))
    assert digest() == first  # source/ changed, but nbgrader grades with the release
    driver.release(root, [toy.ASSIGNMENT])
    second = digest()
    assert second != first  # the hidden test the gradebook holds changed
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", "toy-course") as gb:
        gb.update_or_create_assignment(toy.ASSIGNMENT, duedate=datetime(2026, 12, 24))
    assert digest() not in (first, second)  # late penalties count from the due date


def test_a_submission_is_regraded_for_each_key_that_changed_and_says_why(tmp_path):
    from course.grading import autograde

    root = tmp_path
    folder = root / "submitted" / "s" / "toy"
    folder.mkdir(parents=True)
    (folder / "toy.ipynb").write_text("{}")
    keys = {"submission": "1", "source": "2", "release": "3", "config": "4", "grader": "5"}
    keys |= {"timeout": 2, "sandbox": True}
    sub = autograde._Submission("s", folder, dict(keys))
    assert autograde._changes(root, sub, "toy", ["toy"]) is None  # never graded
    autograde._write_marker(root, "toy", sub)
    graded = root / "autograded" / "s" / "toy"
    graded.mkdir(parents=True)
    (graded / "toy.ipynb").write_text("{}")
    assert autograde._changes(root, sub, "toy", ["toy"]) == {}
    sub.keys |= {"source": "20", "timeout": 5.0}
    assert autograde._changes(root, sub, "toy", ["toy"]) == {"source": "2", "timeout": 2}
    (graded / "toy.ipynb").unlink()
    assert autograde._changes(root, sub, "toy", ["toy"])["lost"] is None
    marker = driver.marker_path(root, "s", "toy")
    marker.write_text('{"digest": "abc", "cells": {}}')  # by a grader that kept one digest
    assert autograde._changes(root, sub, "toy", ["toy"]) == {"grader": None}
    assert [autograde._why(key, "week1", then, now) for key, then, now in [
        ("source", "2", "20"),
        ("release", "3", "30"),
        ("timeout", 2, None),
        ("sandbox", False, True),
    ]] == [
        "source of week1 changed since these grades",
        "week1 was released again since these grades",
        "the per-cell timeout changed since these grades (2 s, now no limit)",
        "these grades were made without the sandbox",
    ]  # fmt: skip


def test_files_a_notebook_wrote_are_kept_inside_its_autograded_folder(tmp_path):
    from course.grading import autograde

    dest = tmp_path / "autograded" / "s" / "toy"
    autograde._write_produced(dest, {"out.txt": b"1", "plots/a.png": b"2"})
    assert (dest / "plots" / "a.png").read_bytes() == b"2"
    for name in ("../../escaped.txt", "/tmp/escaped.txt", "plots/../../x", ""):
        with pytest.raises(driver.CourseError, match="outside its folder"):
            autograde._write_produced(dest, {"fine.txt": b"3", name: b"4"})
        assert not (dest / "fine.txt").exists()  # nothing of a refused answer is written
    assert not (tmp_path / "autograded" / "escaped.txt").exists()


@pytest.mark.slow  # nbgrader's way runs a second Python process
def test_a_new_gradebook_records_the_revision_the_alembic_command_names(tmp_path, monkeypatch):
    """nbgrader runs ``alembic heads`` for the revision a new gradebook records; the grader
    reads it in its own process: the gradebook holds the revision the command names."""
    import sqlite3
    import sys

    from nbgrader.api import Gradebook, get_alembic_version

    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    with driver.nbgrader_api(tmp_path) as api:
        Gradebook(api.coursedir.db_url).close()
    with sqlite3.connect(tmp_path / "gradebook.db") as db:
        (recorded,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:{Path('/usr/bin')}")
    assert recorded == get_alembic_version()


def test_metadata_is_validated_inside_fast_gradebook_as_nbgrader_validates_it():
    """Inside ``fast_gradebook`` a metadata value found valid once is not checked again; an
    invalid one raises nbgrader's own error, every time."""
    from nbgrader.nbgraderformat import MetadataValidator, ValidationError

    valid = new_code_cell("x = 1", metadata=_meta("test_f", grade=True, points=1))
    invalid = new_code_cell("x = 1", metadata=_meta("test_f", grade=True, points="one"))
    with pytest.raises(ValidationError) as plain:
        MetadataValidator().validate_cell(invalid)
    with driver.fast_gradebook():
        for _ in range(2):
            MetadataValidator().validate_cell(valid)
            with pytest.raises(ValidationError) as fast:
                MetadataValidator().validate_cell(invalid)
            assert str(fast.value) == str(plain.value) and "'one'" in str(fast.value)


def _code(path):
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


@pytest.mark.parametrize(
    "week, with_scikit_learn",
    [
        ("week1", False),
        ("week2", False),
        ("week3", True),
        ("week4", True),
        ("week5", True),
        ("week6", False),
    ],
)
def test_servers_import_first_only_what_the_notebook_needs(repo, week, with_scikit_learn):
    """Weeks whose cells neither import scikit-learn nor draw data with it do not pay its
    import (over a second) in each server; the course's own modules are always warm."""
    (notebook,) = (repo / "source" / week).glob("*.ipynb")
    warm = servers.warm_modules(_code(notebook))
    assert ("sklearn.datasets" in warm["student"]) is with_scikit_learn
    assert {"numpy", "IPython", "course.testing"} <= set(warm["student"]) & set(warm["judge"])
    assert set(warm["student"]) <= set(servers.WARM_MODULES)
    assert set(warm["judge"]) <= set(servers.JUDGE_WARM_MODULES)


def test_servers_for_a_foreign_notebook_import_only_ipython():
    """nbgrader's documentation notebooks import nothing the course's servers would warm."""
    folder = nbgrader_docs_course() / "source" / "ps1"
    sources = [s for path in sorted(folder.glob("*.ipynb")) for s in _code(path)]
    assert sources
    assert servers.warm_modules(sources) == {"student": ["IPython"], "judge": ["IPython"]}


def test_imports_are_read_in_each_form_python_allows():
    cells = [
        "import numpy as np  # arrays\nimport os, networkx as nx",
        "from matplotlib import pyplot as plt",
        "x = 1  # import sklearn is only a comment here",
        "data = load_2d_datasets(200)",
    ]
    warm = servers.warm_modules(cells)["student"]
    assert {"numpy", "networkx", "matplotlib", "matplotlib.pyplot", "sklearn.datasets"} <= set(warm)
    assert servers.warm_modules(cells[2:3])["student"] == ["IPython"]
    assert "matplotlib" in servers.warm_modules(["%matplotlib inline"])["student"]
