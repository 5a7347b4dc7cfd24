"""``course autograde`` against ``nbgrader autograde`` on material nobody on this team wrote.

Each scenario of :mod:`nbgrader_corpus` (nbgrader's documentation course, the set-ups of
nbgrader's own autograde tests, and small patterns built here) is built once and copied;
nbgrader grades one copy and the course's grader the other, each through its command line.
The test then checks, in this order, so that the first failure names the first difference:

1. nbgrader still does what its own tests assert (the scenario's ``expected``);
2. both commands exit alike (both 0 or both non-zero);
3. the two gradebooks and ``autograded/`` folders agree cell by cell (:func:`snapshot`);
4. no cell of an honest submission is called tampered with, edited or cheating by
   ``course autograde --json`` (in its status, message or note).
"""

import subprocess

import pytest
from course_cli import BIN, alembic_head, env
from nbgrader_corpus import (
    SCENARIOS,
    build,
    copy_course,
    course_json,
    diff,
    expected_mismatches,
    run_both,
    snapshot,
)

from course.grading.results import STATUSES

pytestmark = pytest.mark.slow


def _report(title, lines, *runs):
    text = [title, *(f"  {line}" for line in lines)]
    for name, run in runs:
        errors = (course_json(run) or {}).get("errors") if name == "course" else None
        for student, message in sorted((errors or {}).items()):
            text.append(f"  course could not grade {student}: {message}")
        text.append(f"--- {name} exited {run.returncode}; last lines:\n{run.tail()}")
    return "\n".join(text)


def _cells(printed):
    """``(student, cell)`` for every cell of ``course autograde --json``'s output."""
    for student, result in ((printed or {}).get("students") or {}).items():
        for notebook in result["notebooks"]:
            for cell in notebook["cells"]:
                yield student, cell


# words that would accuse a student; kept for evidence that the grader's own data changed
ACCUSING = ("tamper", "cheat", "edited", "changed this")


def _course_messages(printed, differences):
    """What ``course autograde --json`` said about the cells that differ."""
    cells = {(student, cell["grade_id"]): cell for student, cell in _cells(printed)}
    lines = []
    for line in differences:
        parts = line.split(":")[0].split("/")
        if len(parts) == 5 and parts[3] == "cells":
            cell = cells.get((parts[0], parts[4]))
            if cell:
                said = f"{cell['status']}: {cell['message']}"
                lines.append(f"course on {parts[0]} {parts[4]}: {said}")
    return lines


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_course_autograde_equals_nbgrader(scenario, tmp_path):
    built = build(scenario, tmp_path / "built")
    theirs = copy_course(built, tmp_path / "nbgrader")
    ours = copy_course(built, tmp_path / "course")

    nbg, course = run_both(theirs, ours, scenario.assignment)
    expected = snapshot(theirs, scenario.assignment, scenario.check_dir_mode)
    bad = expected_mismatches(scenario, expected, nbg)
    assert not bad, _report(
        f"nbgrader no longer does what its test asserts ({scenario.origin}):",
        bad,
        ("nbgrader", nbg),
    )
    if scenario.expected is None and {"right", "wrong"} <= set(expected):
        # our own scenarios: the wrong submission must lose points, or they test nothing
        assert expected["right"]["score"] > expected["wrong"]["score"], expected

    got = snapshot(ours, scenario.assignment, scenario.check_dir_mode)
    assert nbg.ok == course.ok, _report(
        f"exit status: nbgrader {nbg.returncode}, course {course.returncode}",
        diff(expected, got),
        ("nbgrader", nbg),
        ("course", course),
    )
    printed = course_json(course)
    differences = diff(expected, got)
    assert not differences, _report(
        f"{scenario.name}: course autograde differs from nbgrader autograde",
        differences + _course_messages(printed, differences),
        ("course", course),
    )

    assert printed is not None or not course.ok, _report("no JSON printed", [], ("course", course))
    accused = [
        f"{student} {cell['grade_id']}: {cell['status']}: {cell['message']} {cell['note']}"
        for student, cell in _cells(printed)
        if student not in scenario.dishonest
        and (
            cell["status"] not in STATUSES
            or any(w in f"{cell['message']} {cell['note']}".lower() for w in ACCUSING)
        )
    ]
    assert not accused, _report("honest submissions reported as tampering:", accused)


def test_the_gradebook_version_the_suite_records_is_the_one_nbgrader_asks_alembic_for(tmp_path):
    """``course_cli.lighten_nbgrader`` reads alembic's head in the process: the same answer."""
    from nbgrader.dbutil import write_alembic_ini

    ini = tmp_path / "alembic.ini"
    write_alembic_ini(str(ini), f"sqlite:///{tmp_path / 'gradebook.db'}")
    out = subprocess.run(
        [str(BIN / "alembic"), "-c", str(ini), "heads"],
        capture_output=True,
        text=True,
        env=env(),
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[:2] == [alembic_head(), "(head)"]
