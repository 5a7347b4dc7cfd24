"""The servers' shell (``course.grading.server.shell``): the warm-up error leaves no trace."""

import sys

from course.grading.server.shell import Capture, make_shell, run_cell, warm_errors


def test_the_warm_up_error_leaves_no_output_name_count_or_last_error():
    capture = Capture()
    shell = make_shell(capture)
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
