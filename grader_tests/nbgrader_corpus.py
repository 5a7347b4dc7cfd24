"""Parity corpus: course directories where ``course autograde`` must equal ``nbgrader autograde``.

Three kinds of scenarios, all in :data:`SCENARIOS`:

* ``docs_ps1``: the documentation course shipped inside the installed nbgrader package
  (``docs/source/user_guide``: assignment ``ps1``, students ``bitdiddle`` and ``hacker``);
* ``nbg_*``: the set-ups of nbgrader's own autograde tests (``tests/apps/
  test_nbgrader_autograde.py`` with the notebooks of ``tests/apps/files/``): the same source
  notebooks, submissions, timestamps, due dates, extra files and configuration lines;
* ``own_*``: small notebooks built here for patterns nbgrader supports and a grader that
  runs cells differently from it can get wrong, each with a ``right`` and a ``wrong`` student.

A scenario's ``expected`` holds only what nbgrader's own tests (or its documentation, for
``docs_ps1``) assert; the parity test checks nbgrader still does that, then that the course's
grader gives the same :func:`snapshot`.

Usage: ``build(scenario, dest)`` writes a course directory (source, configuration, gradebook
set-up, release, submissions); ``run_both`` grades two copies with each tool's
command line; ``snapshot`` reads back what a run left (gradebook and ``autograded/``).
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from textwrap import dedent

import nbformat
import nbgrader
from course_cli import env, nbgrader_command
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NBGRADER = Path(nbgrader.__file__).parent
FILES = NBGRADER / "tests" / "apps" / "files"
DOCS = NBGRADER / "docs" / "source" / "user_guide"
BIN = Path(sys.executable).parent
ASSIGNMENT = "ps1"
# the due date nbgrader's tests give ps1 (``nbgrader db assignment add ps1 --duedate ...``)
DUEDATE = "2015-02-02 14:58:23.948203 America/Los_Angeles"
MARKER_SUFFIX = ".graded.json"  # the course's own marker files under autograded/<student>/
RUN_TIMEOUT = 900


# ---------------------------------------------------------------------------------------------
# what a course directory is made of


@dataclass(frozen=True)
class FromRelease:
    """A submitted notebook made from ``release/<assignment>/<name>`` once it is generated.

    ``edits`` maps a cell's nbgrader ``grade_id`` (or, for a cell without nbgrader metadata,
    its cell ``id``) to the source the student wrote there.
    """

    name: str
    edits: tuple = ()  # ((grade_id or cell id, new source), ...)


@dataclass
class Scenario:
    """One course directory to grade with both tools, and what nbgrader asserts about it.

    ``files`` are written before ``nbgrader generate_assignment`` (paths relative to the
    course directory: ``source/ps1/p1.ipynb``, ``autotests.yml``, ``late_plugin.py``, ...);
    ``submissions`` after it (``submitted/<student>/ps1/...``). A value is a ``Path`` (copied),
    a ``str`` (written as text), a notebook (written with nbformat) or a :class:`FromRelease`.

    ``expected``: ``{"ok": bool, "students": {student: {...}}}`` where a student's entry may
    hold ``graded`` (``autograded/<student>/ps1/`` exists), ``score``, ``max_score``,
    ``needs_manual_grade``, ``penalty`` (the notebook's late penalty), ``late`` (seconds late
    > 0), ``files`` / ``no_files`` (paths that must / must not be in the autograded folder),
    ``contents`` (path -> text of an autograded file), ``modes`` (path -> octal string) and
    ``notebooks`` (notebook -> {``score``, ``max_score``, ``needs_manual_grade``}). ``ok`` is
    whether nbgrader exits with status 0. ``None`` where nbgrader asserts nothing (our own
    scenarios): then only parity is checked, plus ``right`` scoring more than ``wrong``.
    """

    name: str
    origin: str  # where the set-up comes from
    files: dict
    submissions: dict
    config: tuple = ()
    duedate: str | None = None
    students: tuple = ()  # added to the gradebook before grading, as the tests do
    expected: dict | None = None
    # students whose hand-in changes a test cell or attacks the grader: a note to the
    # instructor about it is right for them (see test_parity's check of notes)
    dishonest: frozenset = frozenset()
    check_dir_mode: bool = False
    assignment: str = ASSIGNMENT
    extra: dict = field(default_factory=dict)


def _src(name, nb="p1"):
    return {f"source/{ASSIGNMENT}/{nb}.ipynb": FILES / name}


def _sub(student, content, nb="p1", timestamp=None):
    folder = f"submitted/{student}/{ASSIGNMENT}"
    out = {f"{folder}/{nb}.ipynb": content}
    if timestamp is not None:
        out[f"{folder}/timestamp.txt"] = timestamp
    return out


def empty_notebook(kernel=None):
    """The notebook nbgrader's tests call ``_empty_notebook(path, kernel)``."""
    nb = new_notebook()
    if kernel is not None:
        nb.metadata.kernelspec = {"display_name": "kernel", "language": kernel, "name": kernel}
    return nb


def _student(score=None, max_score=None, **more):
    out = dict(more)
    if score is not None:
        out["score"] = score
    if max_score is not None:
        out["max_score"] = max_score
    return out


LATE = {  # timestamps of nbgrader's late-penalty tests, relative to DUEDATE
    "on_time": "2015-02-02 14:58:23.948203 America/Los_Angeles",
    "1h": "2015-02-02 15:58:23.948203 America/Los_Angeles",
    "4h": "2015-02-02 18:58:23.948203 America/Los_Angeles",
    "day_early": "2015-02-01 14:58:23.948203 America/Los_Angeles",
}

LATE_PLUGIN = dedent(
    """
    from __future__ import division
    from nbgrader.plugins import BasePlugin

    class Blarg(BasePlugin):
        def late_submission_penalty(self, student_id, score, total_seconds_late):
            # loss 1 mark per hour late
            hours_late = total_seconds_late / 3600
            return int(hours_late)
    """
)

_P1 = "p1.ipynb"


def _nbgrader_test_scenarios():
    """The set-ups of nbgrader's ``test_nbgrader_autograde.py``, test by test."""
    unchanged, changed = FILES / "submitted-unchanged.ipynb", FILES / "submitted-changed.ipynb"
    std = {"duedate": DUEDATE, "students": ("foo", "bar")}
    out = []

    def add(name, origin, files, submissions, expected, **kw):
        out.append(Scenario(f"nbg_{name}", origin, files, submissions, expected=expected, **kw))

    no_ts = {"files": {_P1}, "no_files": {"timestamp.txt"}}
    add(
        "grade",
        "test_grade",
        _src("submitted-unchanged.ipynb"),
        {**_sub("foo", unchanged), **_sub("bar", changed)},
        {
            "ok": True,
            "students": {
                "foo": _student(1, 7, needs_manual_grade=False, **no_ts),
                "bar": _student(2, 7, needs_manual_grade=True, **no_ts),
            },
        },
        **std,
    )
    for kind, foo_bar in (
        ("simple", ((0, 1), (1, 1))),
        ("hashed", ((0, 1), (1, 1))),
        ("multi", ((0, 4), (3, 4))),
    ):
        test = {"simple": "autotest", "hashed": "hashed_autotest", "multi": "complex_autotest"}
        add(
            f"autotest_{kind}",
            f"test_grade_{test[kind]}",
            {**_src(f"autotest-{kind}.ipynb"), "autotests.yml": FILES / "autotests.yml"},
            {
                **_sub("foo", FILES / f"autotest-{kind}-unchanged.ipynb"),
                **_sub("bar", FILES / f"autotest-{kind}-changed.ipynb"),
            },
            {
                "ok": True,
                "students": {
                    "foo": _student(*foo_bar[0], needs_manual_grade=False, **no_ts),
                    "bar": _student(*foo_bar[1], needs_manual_grade=False, **no_ts),
                },
            },
            **std,
        )
    add(
        "autotest_hidden",
        "test_hidden_tests_autotest",
        {**_src("autotest-hidden.ipynb"), "autotests.yml": FILES / "autotests.yml"},
        {
            **_sub("foo", FILES / "autotest-hidden-unchanged.ipynb"),
            **_sub("bar", FILES / "autotest-hidden-changed-wrong.ipynb"),
            **_sub("baz", FILES / "autotest-hidden-changed-right.ipynb"),
        },
        {
            "ok": True,
            "students": {
                "foo": _student(0, files={_P1}),
                "bar": _student(0, files={_P1}),
                "baz": _student(1, files={_P1}),
            },
        },
        config=('c.ClearSolutions.code_stub=dict(python="# YOUR CODE HERE")',),
        duedate=DUEDATE,
        students=("foo", "bar", "baz"),
    )
    add(
        "showtraceback_exploit",
        "test_showtraceback_exploit",
        _src("submitted-unchanged.ipynb"),
        {
            **_sub("foo", unchanged),
            **_sub("bar", changed),
            **_sub("spam", FILES / "submitted-cheat-attempt.ipynb"),
            **_sub("eggs", FILES / "submitted-cheat-attempt-alternative.ipynb"),
        },
        {
            "ok": True,
            "students": {
                "foo": _student(1, 7, needs_manual_grade=False, **no_ts),
                "bar": _student(2, 7, needs_manual_grade=True, **no_ts),
                "spam": _student(1, 7, needs_manual_grade=True, **no_ts),
                "eggs": _student(1, 7, needs_manual_grade=True, **no_ts),
            },
        },
        config=("c.Execute.timeout = None",),
        dishonest=frozenset({"spam", "eggs"}),
        duedate=DUEDATE,
        students=("foo", "bar", "spam", "eggs"),
    )
    add(
        "student_id_exclude",
        "test_student_id_exclude (--CourseDirectory.student_id_exclude=bar,baz as a config line)",
        _src("submitted-unchanged.ipynb"),
        {**_sub("foo", unchanged), **_sub("bar", changed), **_sub("baz", changed)},
        {
            "ok": True,
            "students": {
                "foo": _student(1, files={_P1}),
                "bar": {"graded": False, "in_gradebook": False},
                "baz": {"graded": False, "in_gradebook": False},
            },
        },
        config=('c.CourseDirectory.student_id_exclude = "bar,baz"',),
        **std,
    )
    add(
        "create_student_false",
        "test_missing_student (--Autograde.create_student=False as a config line)",
        _src("submitted-changed.ipynb"),
        _sub("baz", changed),
        {"ok": False, "students": {}},
        config=("c.Autograde.create_student = False",),
        **std,
    )
    add(
        "timestamp",
        "test_grade_timestamp",
        _src("submitted-unchanged.ipynb"),
        {
            **_sub("foo", unchanged, timestamp=LATE["1h"]),
            **_sub("bar", changed, timestamp=LATE["day_early"]),
        },
        {
            "ok": True,
            "students": {
                "foo": {"late": True, "files": {_P1, "timestamp.txt"}},
                "bar": {"late": False, "files": {_P1, "timestamp.txt"}},
            },
        },
        **std,
    )
    add(
        "empty_timestamp",
        "test_grade_empty_timestamp (both of its runs in one)",
        _src("submitted-unchanged.ipynb"),
        {
            **_sub("foo", unchanged, timestamp=""),
            **_sub("bar", changed, timestamp="But I want to be a timestamp string :("),
        },
        {
            "ok": False,
            "students": {"foo": {"late": False, "files": {_P1, "timestamp.txt"}}},
        },
        **std,
    )
    late_subs = {
        **_sub("foo", unchanged, timestamp=LATE["on_time"]),
        **_sub("bar", changed, timestamp=LATE["1h"]),
    }
    late_files = {"files": {_P1, "timestamp.txt"}}
    add(
        "late_penalty_none",
        "test_late_submission_penalty_none",
        _src("submitted-unchanged.ipynb"),
        late_subs,
        {
            "ok": True,
            "students": {
                "foo": _student(1, late=False, penalty=None, **late_files),
                "bar": _student(2, late=True, penalty=None, **late_files),
            },
        },
        **std,
    )
    add(
        "late_penalty_zero",
        "test_late_submission_penalty_zero (its first run)",
        _src("submitted-unchanged.ipynb"),
        late_subs,
        {
            "ok": True,
            "students": {
                "foo": _student(1, late=False, penalty=None, **late_files),
                "bar": _student(2, late=True, penalty=2, **late_files),
            },
        },
        config=("c.LateSubmissionPlugin.penalty_method = 'zero'",),
        **std,
    )
    add(
        "late_penalty_plugin",
        "test_late_submission_penalty_plugin (late_plugin.py in the course directory)",
        {**_src("submitted-unchanged.ipynb"), "late_plugin.py": LATE_PLUGIN},
        {
            **_sub("foo", unchanged, timestamp=LATE["4h"]),
            **_sub("bar", changed, timestamp=LATE["1h"]),
        },
        {
            "ok": True,
            "students": {
                "foo": _student(1, late=True, penalty=1, **late_files),
                "bar": _student(2, late=True, penalty=1, **late_files),
            },
        },
        config=("c.AssignLatePenalties.plugin_class = 'late_plugin.Blarg'",),
        **std,
    )
    foo_files = {
        f"submitted/foo/{ASSIGNMENT}/foo.txt": "foo",
        f"submitted/foo/{ASSIGNMENT}/data/bar.txt": "bar",
        f"submitted/foo/{ASSIGNMENT}/blah.pyc": "asdf",
    }
    add(
        "force",
        "test_force / test_force_f / test_filter_notebook (their first run)",
        {
            **_src("submitted-unchanged.ipynb"),
            f"source/{ASSIGNMENT}/foo.txt": "foo",
            f"source/{ASSIGNMENT}/data/bar.txt": "bar",
        },
        {**_sub("foo", unchanged), **foo_files},
        {
            "ok": True,
            "students": {
                "foo": {"files": {_P1, "foo.txt", "data/bar.txt"}, "no_files": {"blah.pyc"}}
            },
        },
        **std,
    )
    for sub_dir in ("", "subdir/"):
        add(
            "overwrite_files" + ("_subdirs" if sub_dir else ""),
            "test_grade_overwrite_files" + ("_subdirs" if sub_dir else ""),
            {
                **_src("submitted-unchanged.ipynb"),
                f"source/{ASSIGNMENT}/{sub_dir}data.csv": "some,data\n",
                f"source/{ASSIGNMENT}/{sub_dir}helper.py": "print('hello!')\n",
            },
            {
                **_sub("foo", unchanged, timestamp=LATE["1h"]),
                f"submitted/foo/{ASSIGNMENT}/{sub_dir}data.csv": "some,other,data\n",
                f"submitted/foo/{ASSIGNMENT}/{sub_dir}helper.py": "print('this is different!')\n",
            },
            {
                "ok": True,
                "students": {
                    "foo": {
                        "files": {
                            _P1,
                            "timestamp.txt",
                            f"{sub_dir}data.csv",
                            f"{sub_dir}helper.py",
                        },
                        "contents": {
                            "timestamp.txt": LATE["1h"],
                            f"{sub_dir}data.csv": "some,data\n",
                            f"{sub_dir}helper.py": "print('this is different!')\n",
                        },
                    }
                },
            },
            config=(f'c.Autograde.exclude_overwriting = {{"ps1": ["{sub_dir}helper.py"]}}',),
            **std,
        )
    add(
        "side_effects",
        "test_side_effects",
        _src("side-effects.ipynb"),
        _sub("foo", FILES / "side-effects.ipynb"),
        {
            "ok": True,
            "students": {
                "foo": {"files": {"side-effect.txt"}, "no_submitted": {"side-effect.txt"}}
            },
        },
        **std,
    )
    add(
        "skip_extra_notebooks",
        "test_skip_extra_notebooks",
        _src("submitted-unchanged.ipynb"),
        {f"submitted/foo/{ASSIGNMENT}/p1 copy.ipynb": unchanged, **_sub("foo", changed)},
        {"ok": True, "students": {"foo": {"files": {_P1}, "no_files": {"p1 copy.ipynb"}}}},
        **std,
    )
    for variant, config, mode in (
        ("permissions", (), "444"),
        ("permissions_groupshared", ("c.CourseDirectory.groupshared = True",), "664"),
        ("permissions_custom", ("c.AutogradeApp.permissions = 644",), "644"),
    ):
        origin = {
            "permissions": "test_permissions[False]",
            "permissions_groupshared": "test_permissions[True]",
            "permissions_custom": "test_custom_permissions (--AutogradeApp.permissions=644 "
            "as a config line)",
        }[variant]
        modes = {"foo.ipynb": mode, "foo.txt": mode}
        if variant == "permissions_groupshared":
            modes["."] = "2775"
        add(
            variant,
            origin,
            {
                f"source/{ASSIGNMENT}/foo.ipynb": empty_notebook(),
                f"source/{ASSIGNMENT}/foo.txt": "foo",
            },
            {
                f"submitted/foo/{ASSIGNMENT}/foo.ipynb": empty_notebook(),
                # sic: the test writes this file under source/foo/, not submitted/foo/
                f"source/foo/{ASSIGNMENT}/foo.txt": "foo",
            },
            {
                "ok": True,
                "students": {"foo": {"files": {"foo.ipynb", "foo.txt"}, "modes": modes}},
            },
            config=config,
            check_dir_mode=variant == "permissions_groupshared",
            duedate=DUEDATE if variant == "permissions_custom" else None,
            students=("foo", "bar"),
        )
    add(
        "hidden_tests_single_notebook",
        "test_hidden_tests_single_notebook (the release handed in as it is)",
        _src("test-hidden-tests.ipynb"),
        _sub("foo", FromRelease(_P1)),
        {"ok": True, "students": {"foo": _student(1.5, files={_P1})}},
        config=('c.ClearSolutions.code_stub=dict(python="# YOUR CODE HERE")',),
        **std,
    )
    add(
        "handle_failure",
        "test_handle_failure (two notebooks; bar's p2 has cells the source does not)",
        {
            f"source/{ASSIGNMENT}/p1.ipynb": empty_notebook(),
            f"source/{ASSIGNMENT}/p2.ipynb": empty_notebook(),
        },
        {
            **_sub("bar", empty_notebook()),
            **_sub("bar", FILES / "test.ipynb", nb="p2"),
            **_sub("foo", empty_notebook()),
            **_sub("foo", empty_notebook(), nb="p2"),
        },
        {"ok": False, "students": {"bar": {"graded": False}, "foo": {"graded": True}}},
        **std,
    )
    stub = "c.ClearSolutions.code_stub = {'python': '## Answer', 'blah': '## Answer'}"
    add(
        "missing_source_kernelspec",
        "test_missing_source_kernelspec (both of its runs in one)",
        {f"source/{ASSIGNMENT}/p1.ipynb": empty_notebook()},
        {**_sub("foo", empty_notebook("python")), **_sub("bar", empty_notebook("blarg"))},
        {
            "ok": False,
            "students": {"foo": {"graded": True, "files": {_P1}}, "bar": {"graded": False}},
        },
        config=(stub,),
        **std,
    )
    add(
        "incorrect_source_kernelspec",
        "test_incorrect_source_kernelspec",
        {f"source/{ASSIGNMENT}/p1.ipynb": empty_notebook("blah")},
        _sub("foo", empty_notebook("python")),
        {"ok": False, "students": {"foo": {"graded": False}}},
        config=(stub,),
        **std,
    )
    add(
        "incorrect_submitted_kernelspec",
        "test_incorrect_submitted_kernelspec",
        {f"source/{ASSIGNMENT}/p1.ipynb": empty_notebook("python")},
        _sub("foo", empty_notebook("blah")),
        {"ok": True, "students": {"foo": {"graded": True, "files": {_P1}}}},
        **std,
    )
    add(
        "infinite_loop",
        "test_infinite_loop",
        _src("infinite-loop.ipynb"),
        _sub("foo", FILES / "infinite-loop.ipynb"),
        {"ok": True, "students": {"foo": {"files": {_P1}}}},
        config=("c.Execute.timeout = 1",),
        **std,
    )
    add(
        "missing_files",
        "test_missing_files (bar's folder holds no notebook)",
        {f"source/{ASSIGNMENT}/p1.ipynb": empty_notebook()},
        {**_sub("foo", empty_notebook()), f"submitted/bar/{ASSIGNMENT}/.keep": None},
        {
            "ok": True,
            "students": {"foo": {"graded": True, "files": {_P1}}, "bar": {"graded": False}},
        },
        **std,
    )
    add(
        "grade_missing_notebook",
        "test_grade_missing_notebook (two notebooks, p2 not handed in)",
        {**_src("submitted-unchanged.ipynb"), **_src("submitted-unchanged.ipynb", nb="p2")},
        _sub("foo", changed),
        {
            "ok": True,
            "students": {
                "foo": {
                    "files": {_P1},
                    "no_files": {"p2.ipynb"},
                    "notebooks": {"p2": {"score": 0, "needs_manual_grade": False}},
                }
            },
        },
        **std,
    )
    add(
        "validating_envvar",
        "test_grade_with_validating_envvar",
        _src("validating-environment-variable.ipynb"),
        _sub("foo", FILES / "validating-environment-variable.ipynb"),
        {"ok": True, "students": {"foo": _student(0, files={_P1})}},
        duedate=DUEDATE,
        students=("foo",),
    )
    add(
        "timeout_default",
        "test_autograde_timeout (its run for foo, default timeout)",
        _src("timeout.ipynb"),
        _sub("foo", FILES / "timeout.ipynb"),
        {"ok": True, "students": {"foo": _student(1)}},
        **std,
    )
    add(
        "timeout_2s",
        "test_autograde_timeout (its run for bar, --Execute.timeout=2 as a config line)",
        _src("timeout.ipynb"),
        _sub("bar", FILES / "timeout.ipynb"),
        {"ok": True, "students": {"bar": _student(0)}},
        config=("c.Execute.timeout = 2",),
        **std,
    )
    add(
        "open_relative_file",
        "open_relative_file.ipynb and data.txt (used by nbgrader's validate tests)",
        {
            **_src("open_relative_file.ipynb"),
            f"source/{ASSIGNMENT}/data.txt": FILES / "data.txt",
        },
        _sub("foo", FILES / "open_relative_file.ipynb"),
        None,
        **std,
    )
    return out


def _docs_scenario():
    """The documentation's ps1, graded as ``creating_and_grading_assignments.ipynb`` does."""
    files = {"source/header.ipynb": DOCS / "source" / "header.ipynb"}
    for path in sorted((DOCS / "source" / ASSIGNMENT).iterdir()):
        files[f"source/{ASSIGNMENT}/{path.name}"] = path
    submissions = {}
    for path in sorted((DOCS / "submitted").rglob("*")):
        if path.is_file():
            submissions[str(path.relative_to(DOCS))] = path
    # scores: the docs' grades.csv (raw_score, written by `nbgrader export` after that
    # autograde); per notebook: the "Score: x / y" headings of the docs' feedback pages. (The
    # csv's max_score, 23, disagrees with those pages' 10 + 3 and is not used.)
    files_ = {"problem1.ipynb", "problem2.ipynb", "jupyter.png", "timestamp.txt"}
    return Scenario(
        "docs_ps1",
        "docs/source/user_guide (generate_assignment --IncludeHeaderFooter.header=source/"
        "header.ipynb as a config line; expected values from its grades.csv and feedback/)",
        files,
        submissions,
        config=('c.IncludeHeaderFooter.header = "source/header.ipynb"',),
        # bitdiddle emptied one test cell and commented another out: nbgrader restores them
        dishonest=frozenset({"bitdiddle"}),
        expected={
            "ok": True,
            "students": {
                student: _student(
                    score,
                    late=False,
                    files=files_,
                    notebooks={
                        "problem1": {"score": score, "max_score": 10},
                        "problem2": {"score": 0, "max_score": 3},
                    },
                )
                for student, score in (("bitdiddle", 1.5), ("hacker", 3.0))
            },
        },
    )


# ---------------------------------------------------------------------------------------------
# our own scenarios: tiny nbgrader notebooks built here


def _meta(grade_id, *, grade=False, solution=False, locked=False, points=None, task=False):
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
        "task": task,
    }
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def code(source, grade_id=None, **kw):
    """A code cell; with ``grade_id``, an nbgrader cell (``solution``, ``grade``, ...)."""
    cell = new_code_cell(dedent(source).strip("\n"), metadata=_meta(grade_id, **kw) if kw else {})
    if grade_id and not kw:
        raise ValueError("an nbgrader cell needs at least one of solution/grade/locked/task")
    cell["id"] = grade_id or hashlib.sha1(cell.source.encode()).hexdigest()[:8]
    return cell


def ordinary(source, cell_id):
    """A code cell without nbgrader metadata (students may edit it), with a fixed cell id."""
    cell = new_code_cell(dedent(source).strip("\n"))
    cell["id"] = cell_id
    return cell


def solution(source, grade_id):
    return code(source, grade_id, solution=True)


def test_cell(source, grade_id, points=1):
    return code(source, grade_id, grade=True, locked=True, points=points)


def _notebook(cells):
    return new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
    )


def _own(name, what, notebooks, right, wrong, extra_files=None):
    """An own scenario: ``notebooks`` {name: cells}; ``right``/``wrong`` {name: edits}."""
    files = {f"source/{ASSIGNMENT}/{nb}.ipynb": _notebook(cells) for nb, cells in notebooks.items()}
    files.update({f"source/{ASSIGNMENT}/{k}": v for k, v in (extra_files or {}).items()})
    submissions = {}
    for student, edits in (("right", right), ("wrong", wrong)):
        for nb in notebooks:
            submissions[f"submitted/{student}/{ASSIGNMENT}/{nb}.ipynb"] = FromRelease(
                f"{nb}.ipynb",
                tuple((k, dedent(v).strip("\n")) for k, v in edits.get(nb, {}).items()),
            )
    return Scenario(f"own_{name}", what, files, submissions, duedate=DUEDATE)


def _without_markers(source):
    return "\n".join(line for line in source.splitlines() if "### " not in line)


def _own_scenarios():
    out = []
    out.append(
        _own(
            "reads_variable",
            "a test reads a variable the student sets",
            {
                "p1": [
                    solution(
                        "answer = None\n### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION", "a"
                    ),
                    test_cell("assert answer == 42, 'answer should be 42'", "t_answer"),
                ]
            },
            {"p1": {"a": "answer = 6 * 7"}},
            {"p1": {"a": "answer = 41"}},
        )
    )
    counter = """
        class Counter:
            def __init__(self):
                self.total = 0
            def add(self, n):
                ### BEGIN SOLUTION
                self.total += n
                ### END SOLUTION
                return self

        counter = Counter().add(2).add(3)
    """
    out.append(
        _own(
            "student_class",
            "a student-defined class, and an instance the student made, used by tests",
            {
                "p1": [
                    solution(counter, "counter_class"),
                    test_cell(
                        "assert isinstance(counter, Counter)\nassert counter.total == 5", "t1"
                    ),
                    test_cell("c = Counter()\nc.add(4)\nassert c.total == 4", "t2", points=2),
                ]
            },
            {"p1": {"counter_class": _without_markers(counter)}},
            {"p1": {"counter_class": _without_markers(counter).replace("+= n", "= n")}},
        )
    )
    out.append(
        _own(
            "student_import",
            "a module imported by the student in an ordinary cell, used by a test",
            {
                "p1": [
                    ordinary("# import what you need here", "imports"),
                    solution(
                        "def center(xs):\n    ### BEGIN SOLUTION\n    return stats.mean(xs)\n"
                        "    ### END SOLUTION",
                        "center",
                    ),
                    test_cell(
                        "assert center([1, 2, 6]) == 3\nassert stats.median([1, 5, 9]) == 5", "t"
                    ),
                ]
            },
            {
                "p1": {
                    "imports": "import statistics as stats",
                    "center": "def center(xs):\n    return stats.mean(xs)",
                }
            },
            {
                "p1": {
                    "imports": "import statistics as stats",
                    "center": "def center(xs):\n    return stats.median(xs)",
                }
            },
        )
    )
    out.append(
        _own(
            "grade_id_not_name",
            "a function defined in a solution cell whose grade_id is not the function's name",
            {
                "p1": [
                    solution(
                        "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n"
                        "    ### END SOLUTION",
                        "cell-3f9a2b",
                    ),
                    test_cell("assert double(4) == 8", "cell-77e1c0", points=2),
                ]
            },
            {"p1": {"cell-3f9a2b": "def double(x):\n    return x + x"}},
            {"p1": {"cell-3f9a2b": "def double(x):\n    return x * x"}},
        )
    )
    out.append(
        _own(
            "helper_in_ordinary_cell",
            "a helper function the student defines in an ordinary cell",
            {
                "p1": [
                    ordinary("# helpers (optional)", "helpers"),
                    solution(
                        "def norm2(v):\n    ### BEGIN SOLUTION\n    return sum(x * x for x in v)\n"
                        "    ### END SOLUTION",
                        "norm2",
                    ),
                    test_cell("assert norm2([3, 4]) == 25", "t_norm2"),
                ]
            },
            {
                "p1": {
                    "helpers": "def square(x):\n    return x * x",
                    "norm2": "def norm2(v):\n    return sum(square(x) for x in v)",
                }
            },
            {
                "p1": {
                    "helpers": "def square(x):\n    return 2 * x",
                    "norm2": "def norm2(v):\n    return sum(square(x) for x in v)",
                }
            },
        )
    )
    out.append(
        _own(
            "two_notebooks",
            "two notebooks in one assignment",
            {
                "p1": [
                    solution(
                        "def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION",
                        "f",
                    ),
                    test_cell("assert f(1) == 2", "t_f"),
                ],
                "p2": [
                    solution(
                        "def g(x):\n    ### BEGIN SOLUTION\n    return x - 1\n    ### END SOLUTION",
                        "g",
                    ),
                    test_cell("assert g(1) == 0", "t_g", points=3),
                ],
            },
            {
                "p1": {"f": "def f(x):\n    return 1 + x"},
                "p2": {"g": "def g(x):\n    return -1 + x"},
            },
            {"p1": {"f": "def f(x):\n    return 1 + x"}, "p2": {"g": "def g(x):\n    return x"}},
        )
    )
    out.append(
        _own(
            "printed_output",
            "a test that checks what a function prints, through captured stdout",
            {
                "p1": [
                    solution(
                        "def greet(name):\n    ### BEGIN SOLUTION\n    print(f'hello {name}')\n"
                        "    ### END SOLUTION",
                        "greet",
                    ),
                    test_cell(
                        """
                        import contextlib, io
                        buf = io.StringIO()
                        with contextlib.redirect_stdout(buf):
                            greet('ada')
                        assert buf.getvalue() == 'hello ada\\n', repr(buf.getvalue())
                        """,
                        "t_greet",
                    ),
                ]
            },
            {"p1": {"greet": "def greet(name):\n    print('hello', name)"}},
            {"p1": {"greet": "def greet(name):\n    print('hi', name)"}},
        )
    )
    out.append(
        _own(
            "data_file",
            "a locked first cell opens a data file shipped in source/",
            {
                "p1": [
                    code(
                        "with open('numbers.csv') as fh:\n"
                        "    rows = [int(x) for x in fh.read().split(',')]",
                        "load",
                        locked=True,
                    ),
                    solution(
                        "def total():\n    ### BEGIN SOLUTION\n    return sum(rows)\n"
                        "    ### END SOLUTION",
                        "total",
                    ),
                    test_cell("assert total() == 10", "t_total"),
                ]
            },
            {"p1": {"total": "def total():\n    return sum(r for r in rows)"}},
            {"p1": {"total": "def total():\n    return max(rows)"}},
            extra_files={"numbers.csv": "1,2,3,4\n"},
        )
    )
    out.append(
        _own(
            "test_imports_a_helper",
            "a test imports a checking module the instructor ships in source/",
            {
                "p1": [
                    solution(
                        "def halve(x):\n    ### BEGIN SOLUTION\n    return x / 2\n"
                        "    ### END SOLUTION",
                        "halve",
                    ),
                    test_cell("from checks import close\nassert close(halve(3), 1.5)", "t_halve"),
                ]
            },
            {"p1": {"halve": "def halve(x):\n    return 0.5 * x"}},
            {"p1": {"halve": "def halve(x):\n    return x // 2"}},
            extra_files={"checks.py": "def close(a, b):\n    return abs(a - b) < 1e-9\n"},
        )
    )
    out.append(
        _own(
            "writes_file",
            "the notebook writes a file while running, which a test reads back",
            {
                "p1": [
                    solution(
                        "def save(text):\n    ### BEGIN SOLUTION\n"
                        "    with open('out.txt', 'w') as fh:\n        fh.write(text)\n"
                        "    ### END SOLUTION",
                        "save",
                    ),
                    test_cell("save('abc')\nassert open('out.txt').read() == 'abc'", "t_save"),
                ]
            },
            {"p1": {"save": "def save(text):\n    open('out.txt', 'w').write(text)"}},
            {"p1": {"save": "def save(text):\n    open('out.txt', 'w').write(text[::-1])"}},
        )
    )
    manual = new_markdown_cell(
        "YOUR ANSWER HERE", metadata=_meta("explain", grade=True, solution=True, points=2)
    )
    manual["id"] = "explain"
    task = new_markdown_cell(
        "Plot the function and describe it.",
        metadata=_meta("task1", locked=True, task=True, points=3),
    )
    task["id"] = "task1"
    out.append(
        _own(
            "manual_and_task",
            "a manually graded markdown answer (2 points) and a task cell (3 points)",
            {
                "p1": [
                    solution(
                        "def h(x):\n    ### BEGIN SOLUTION\n    return -x\n    ### END SOLUTION",
                        "h",
                    ),
                    test_cell("assert h(2) == -2", "t_h"),
                    manual,
                    task,
                ]
            },
            {"p1": {"h": "def h(x):\n    return 0 - x", "explain": "It negates its input."}},
            {"p1": {"h": "def h(x):\n    return x", "explain": "It returns its input."}},
        )
    )
    return out


SCENARIOS = [_docs_scenario(), *_nbgrader_test_scenarios(), *_own_scenarios()]
BY_NAME = {s.name: s for s in SCENARIOS}


# ---------------------------------------------------------------------------------------------
# building, running, reading back


@contextmanager
def _venv_on_path():
    """nbgrader runs ``alembic`` from PATH when it creates a gradebook: this environment's."""
    saved = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{BIN}{os.pathsep}{saved}"
    try:
        yield
    finally:
        os.environ["PATH"] = saved


def _env():
    out = env()
    out.pop("COURSE_ROOT", None)
    return out


def _write(path, content):
    path.parent.mkdir(parents=True, exist_ok=True)
    if content is None:  # an empty marker file (a folder must exist)
        path.write_text("")
    elif isinstance(content, Path):
        shutil.copyfile(content, path)
    elif isinstance(content, str):
        path.write_text(content)
    else:
        nbformat.write(content, path)


def _from_release(dest, assignment, spec):
    nb = nbformat.read(dest / "release" / assignment / spec.name, as_version=4)
    edits = dict(spec.edits)
    for cell in nb.cells:
        key = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or cell.get("id")
        if key in edits:
            cell.source = edits.pop(key)
    if edits:
        raise KeyError(f"{spec.name}: no cells {sorted(edits)} in the release")
    return nb


def _db_url(dest):
    return f"sqlite:///{Path(dest) / 'gradebook.db'}"


def build(scenario, dest):
    """Write the course directory of ``scenario`` at ``dest`` and generate its release.

    The gradebook is set up as nbgrader's tests do (``nbgrader db assignment add ps1
    --duedate ...``, ``nbgrader db student add ...``), then ``nbgrader generate_assignment``
    runs, then the submissions are written.
    """
    from nbgrader.api import Gradebook
    from nbgrader.utils import parse_utc

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "nbgrader_config.py").write_text(
        "c = get_config()\n" + "".join(line + "\n" for line in scenario.config)
    )
    for rel, content in scenario.files.items():
        _write(dest / rel, content)
    if scenario.duedate or scenario.students:
        with _venv_on_path(), Gradebook(_db_url(dest)) as gb:
            duedate = parse_utc(scenario.duedate) if scenario.duedate else None
            gb.update_or_create_assignment(scenario.assignment, duedate=duedate)
            for student in scenario.students:
                gb.update_or_create_student(student)
    done = subprocess.run(
        nbgrader_command("generate_assignment", scenario.assignment, "--force"),
        cwd=dest,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"generate_assignment failed in {dest}:\n{done.stdout}{done.stderr}")
    for rel, content in scenario.submissions.items():
        if isinstance(content, FromRelease):
            content = _from_release(dest, scenario.assignment, content)
        _write(dest / rel, content)
    return dest


def copy_course(src, dest):
    """A second, identical course directory (gradebook included)."""
    shutil.copytree(src, dest, symlinks=True)
    return Path(dest)


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self):
        return self.returncode == 0

    def tail(self, lines=15):
        text = (self.stdout + "\n" + self.stderr).strip().splitlines()
        return "\n".join(text[-lines:])


def _start(args, dest):
    return subprocess.Popen(
        args,
        cwd=dest,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process):
    try:
        stdout, stderr = process.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
    return Run(process.returncode, stdout, stderr)


def _nbgrader_command(assignment):
    """``nbgrader autograde ASSIGNMENT --force``."""
    return nbgrader_command("autograde", assignment, "--force")


def _course_command(assignment):
    """``course autograde ASSIGNMENT --force --json --workers 1``."""
    return [str(BIN / "course"), "autograde", assignment, "--force", "--json", "--workers", "1"]


def run_both(theirs, ours, assignment=ASSIGNMENT):
    """nbgrader in ``theirs`` and the course's grader in ``ours``, at the same time.

    Each grades its own copy of the course, so they cannot disturb each other; on two
    cores the pair takes about as long as the slower one.

    Returns:
        ``(nbgrader's Run, the course's Run)``.
    """
    nbgrader = _start(_nbgrader_command(assignment), theirs)
    course = _start(_course_command(assignment), ours)
    return _finish(nbgrader), _finish(course)


def course_json(run):
    """The object ``course autograde --json`` printed, or None if it printed none."""
    try:
        return json.loads(run.stdout)
    except ValueError:
        return None


def _file_record(path):
    if path.suffix == ".ipynb":
        return "<notebook>"  # outputs differ run to run; scores are compared instead
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _files(folder, ignore_markers=False):
    if not folder.is_dir():
        return None
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            rel = str(path.relative_to(folder))
            if ignore_markers and rel.endswith(MARKER_SUFFIX):
                continue
            out[rel] = _file_record(path)
    return out


def _modes(folder, with_dir):
    if not folder.is_dir():
        return None
    out = {
        str(p.relative_to(folder)): oct(p.stat().st_mode & 0o7777)[2:]
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
    if with_dir:
        out["."] = oct(folder.stat().st_mode & 0o7777)[2:]
    return out


def _num(x):
    return None if x is None else float(x)


def snapshot(dest, assignment=ASSIGNMENT, check_dir_mode=False):
    """What a grading run left in ``dest``, as plain data comparable between two runs.

    ``{student: {"graded", "in_gradebook", "seconds_late", "score", "max_score",
    "notebooks": {nb: {"score", "max_score", "needs_manual_grade", "penalty",
    "cells": {grade_id: (auto_score, max_score)}}}, "files", "modes", "submitted"}}``
    for every student with a submission folder, a gradebook submission or an autograded
    folder. ``files`` maps each path under ``autograded/<student>/<assignment>/`` to a digest
    of its content (``<notebook>`` for notebooks); ``graded`` is whether that folder exists.
    """
    from nbgrader.api import Gradebook, MissingEntry

    dest = Path(dest)
    students = {p.parent.name for p in (dest / "submitted").glob(f"*/{assignment}")}
    students |= {p.parent.name for p in (dest / "autograded").glob(f"*/{assignment}")}
    out = {}
    db = dest / "gradebook.db"
    with _venv_on_path(), Gradebook(_db_url(dest)) as gb:
        if db.exists():
            try:
                students |= {s.student.id for s in gb.assignment_submissions(assignment)}
            except MissingEntry:
                pass
        for student in sorted(students):
            folder = dest / "autograded" / student / assignment
            record = {
                "graded": folder.is_dir(),
                "files": _files(folder),
                "modes": _modes(folder, check_dir_mode),
                "submitted": _files(dest / "submitted" / student / assignment),
                "in_gradebook": False,
            }
            try:
                sub = gb.find_submission(assignment, student)
            except MissingEntry:
                out[student] = record
                continue
            record.update(
                in_gradebook=True,
                seconds_late=_num(sub.total_seconds_late),
                score=_num(sub.score),
                max_score=_num(sub.max_score),
                notebooks={
                    nb.name: {
                        "score": _num(nb.score),
                        "max_score": _num(nb.max_score),
                        "needs_manual_grade": bool(nb.needs_manual_grade),
                        "penalty": _num(nb.late_submission_penalty),
                        "cells": {
                            g.name: (_num(g.auto_score), _num(g.max_score))
                            for g in sorted(nb.grades, key=lambda g: g.name)
                        },
                    }
                    for nb in sorted(sub.notebooks, key=lambda n: n.name)
                },
            )
            out[student] = record
    return out


def diff(left, right, path=""):
    """Lines naming every place where two snapshots differ (``left`` is nbgrader's)."""
    if isinstance(left, dict) and isinstance(right, dict):
        lines = []
        for key in sorted(set(left) | set(right), key=str):
            where = f"{path}/{key}" if path else str(key)
            if key not in right:
                lines.append(f"{where}: nbgrader {left[key]!r}, course absent")
            elif key not in left:
                lines.append(f"{where}: nbgrader absent, course {right[key]!r}")
            else:
                lines += diff(left[key], right[key], where)
        return lines
    if left != right:
        return [f"{path}: nbgrader {left!r}, course {right!r}"]
    return []


def _close(a, b):
    return a is not None and b is not None and abs(float(a) - float(b)) < 1e-9


def expected_mismatches(scenario, snap, run):
    """How nbgrader's run (``snap``, ``run``) departs from what its own tests assert."""
    exp = scenario.expected
    if exp is None:
        return []
    bad = []
    if run.ok != exp["ok"]:
        bad.append(f"exit status {run.returncode}, nbgrader's test expects ok={exp['ok']}")
    for student, want in exp["students"].items():
        got = snap.get(student, {"graded": False, "in_gradebook": False})
        nb = next(iter(got.get("notebooks", {}).values()), {})
        for key, value in want.items():
            if key in ("graded", "in_gradebook"):
                if got.get(key) != value:
                    bad.append(f"{student}: {key} {got.get(key)}, expected {value}")
            elif key in ("score", "max_score"):
                if not _close(got.get(key), value):
                    bad.append(f"{student}: {key} {got.get(key)}, expected {value}")
            elif key == "needs_manual_grade":
                if nb.get(key) != value:
                    bad.append(f"{student}: {key} {nb.get(key)}, expected {value}")
            elif key == "penalty":
                if not (nb.get("penalty") == value or _close(nb.get("penalty"), value)):
                    bad.append(f"{student}: late penalty {nb.get('penalty')}, expected {value}")
            elif key == "late":
                late = (got.get("seconds_late") or 0) > 0
                if late != value:
                    bad.append(f"{student}: late {got.get('seconds_late')}s, expected late={value}")
            elif key == "files":
                missing = value - set(got.get("files") or {})
                if missing:
                    bad.append(f"{student}: autograded lacks {sorted(missing)}")
            elif key == "no_files":
                extra = value & set(got.get("files") or {})
                if extra:
                    bad.append(f"{student}: autograded has {sorted(extra)}")
            elif key == "no_submitted":
                extra = value & set(got.get("submitted") or {})
                if extra:
                    bad.append(f"{student}: submitted/ gained {sorted(extra)}")
            elif key == "contents":
                for rel, text in value.items():
                    digest = "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]
                    if (got.get("files") or {}).get(rel) != digest:
                        bad.append(f"{student}: autograded {rel} is not {text!r}")
            elif key == "modes":
                for rel, mode in value.items():
                    if (got.get("modes") or {}).get(rel) != mode:
                        have = (got.get("modes") or {}).get(rel)
                        bad.append(f"{student}: mode of {rel} {have}, expected {mode}")
            elif key == "notebooks":
                for name, attrs in value.items():
                    have = got.get("notebooks", {}).get(name, {})
                    for attr, v in attrs.items():
                        if have.get(attr) != v and not _close(have.get(attr), v):
                            bad.append(f"{student} {name}: {attr} {have.get(attr)}, expected {v}")
            else:
                raise KeyError(f"unknown expectation {key!r} in {scenario.name}")
    return bad
