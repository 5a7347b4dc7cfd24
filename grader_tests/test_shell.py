"""The servers' shell (``course.grading.server.shell``): the warm-up error leaves no trace,
and a failing cell's error is formatted once."""

import re
import sys

import pytest

from course.grading.server.shell import Capture, make_shell, run_cell, warm_errors


@pytest.fixture(scope="module")
def shell():
    return make_shell(Capture())  # one per process: IPython's shell is a singleton


def test_the_warm_up_error_leaves_no_output_name_count_or_last_error(shell):
    capture = shell.capture
    before = run_cell(shell, "x = 1\nx", 10)  # the last set-up cell's result
    names, count = set(shell.user_ns), shell.execution_count
    warm_errors(shell)
    assert capture.outputs == []
    assert [o["output_type"] for o in before["outputs"]] == ["execute_result"]
    assert set(shell.user_ns) == names
    assert shell.execution_count == count
    assert not any(hasattr(sys, a) for a in ("last_type", "last_value", "last_traceback"))
    # the next cell's error is the cell's own, with its own execution count
    result = run_cell(shell, "def f():\n    raise ValueError('mine')\nf()", 10)
    (error,) = result["outputs"]
    assert (error["ename"], error["evalue"]) == ("ValueError", "mine")
    assert result["execution_count"] == count
    assert "__course_warm_up" not in "".join(error["traceback"])


def test_a_failing_cell_formats_its_error_once(shell, monkeypatch):
    # IPython 9 formats it a second time for its history (the %notebook export): tens of
    # milliseconds per failing cell that a grader does not need
    formatter, formatted = shell.InteractiveTB, []
    original = formatter.structured_traceback

    def counted(*args, **kwargs):
        formatted.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(formatter, "structured_traceback", counted)
    result = run_cell(shell, "def f():\n    return 1 / 0\nf()", 10)
    (error,) = result["outputs"]
    assert error["ename"] == "ZeroDivisionError"
    shown = re.sub(r"\x1b\[[0-9;]*m", "", "".join(error["traceback"]))  # colours off
    assert "return 1 / 0" in shown  # the student's traceback, in full
    assert formatted == [ZeroDivisionError]
