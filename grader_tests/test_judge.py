"""The judge's namespace: a test cell sees the student's names as under nbgrader (fast tests).

The "student" is a namespace served by a thread through the wire (``test_wire.Pair``); the
judge's side is a :class:`course.grading.server.judge.Namespace` that test code is run in with
``exec``, as the judge's shell runs a test cell.
"""

import numpy as np
import pytest
from test_wire import Pair

from course.grading.server.judge import CannotCheck, Namespace, Undecidable
from course.grading.server.wire import RemoteError, WireError

STUDENT = """
import numpy as np
import json as js

scores = [3, 4.5, "x"]
weights = np.arange(4.0)
counter = {"calls": 0}

def squares(n):
    if n < 1:
        raise ValueError("n must be at least 1")
    return [i ** 2 for i in range(1, n + 1)]

def sum_of_squares(n):
    counter["calls"] += 1
    return sum(squares(n))

class Stack:
    def __init__(self):
        self.items = []

def make_stack():
    return Stack()

def numbers():
    yield 1
"""


@pytest.fixture
def judge():
    student = {}
    exec(STUDENT, student)
    pair = Pair(student)
    namespace = Namespace()
    namespace.peer = pair.caller
    namespace.exercises = frozenset({"squares", "sum_of_squares"})
    namespace.sandbox_types = frozenset({"Stack"})
    pair.caller.overrides = namespace.overrides
    pair.caller.uncrossable = namespace.cannot_cross
    pair.caller.take_outputs = namespace.take_outputs
    pair.caller.take_error = namespace.take_error
    namespace.student = student
    namespace.pair = pair
    yield namespace
    pair.close()


def run(namespace, code, hidden=()):
    """Run ``code`` as one test cell in the judge's namespace (``hidden``: its hidden lines)."""
    namespace.start_cell(hidden)
    try:
        exec(code, namespace)
    finally:
        namespace.end_cell()


def test_a_test_reads_the_students_variables_functions_and_modules(judge):
    run(
        judge,
        "assert scores == [3, 4.5, 'x']\n"
        "assert isinstance(weights, np.ndarray) and weights.sum() == 6.0\n"
        "assert squares(3) == [1, 4, 9]\n"
        "assert js.dumps([1]) == '[1]' and js.__name__ == 'json'\n"
        "result = sum_of_squares(10)\n",
    )
    assert judge["result"] == 385  # what the cell defines stays in the judge
    assert "scores" not in dict(judge)  # the student's values are looked up afresh per cell


def test_an_unknown_name_is_a_name_error(judge):
    with pytest.raises(NameError):
        run(judge, "nobody_defined_this")


def test_deleting_a_students_name_reaches_the_student_during_calls(judge):
    # nbgrader's documentation course: sum_of_squares must rely on squares
    run(
        judge,
        "orig_squares = squares\n"
        "del squares\n"
        "try:\n"
        "    sum_of_squares(1)\n"
        "except NameError:\n"
        "    uses = True\n"
        "else:\n"
        "    uses = False\n"
        "finally:\n"
        "    squares = orig_squares\n",
    )
    assert judge["uses"] is True
    assert judge.student["squares"](2) == [1, 4]  # the deletion ended with the call


def test_a_rebinding_reaches_the_student_during_calls_and_ends_with_the_cell(judge):
    run(judge, "squares = lambda n: [7] * n\nassert sum_of_squares(2) == 14")
    run(judge, "assert sum_of_squares(2) == 5")  # the student's own squares again
    assert judge.student["squares"](2) == [1, 4]


def test_the_students_state_changes_are_seen_by_the_next_cell(judge):
    run(judge, "sum_of_squares(1)\nsum_of_squares(1)")
    run(judge, "assert counter == {'calls': 2}, counter")


def test_a_value_that_cannot_cross_fails_the_test_unless_the_instructor_defines_its_type(
    judge,
):
    with pytest.raises(CannotCheck, match="generator cannot be checked"):
        run(judge, "next(numbers())")
    with pytest.raises(Undecidable):
        run(judge, "s = make_stack()")
    with pytest.raises(Undecidable):
        run(judge, "isinstance(1, Stack)")
    assert judge.undecidable == "Stack"


def test_a_module_crosses_only_as_an_installed_module(tmp_path, monkeypatch):
    import sys
    import types

    from course.grading.server.wire import Peer

    peer = Peer(None, None)
    assert peer.decode(peer.encode(np)) is np
    with pytest.raises(WireError, match="not a module name"):
        peer.decode(peer.encode(types.ModuleType("os; import antigravity")))
    (tmp_path / "planted.py").write_text("raise SystemExit('the judge imported me')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(WireError, match="not an installed module"):
        peer.decode({"$": "module", "name": "planted"})
    assert "planted" not in sys.modules


def test_a_name_the_test_binds_stays_the_judges_even_if_the_student_has_one(judge):
    judge.student["_expected"] = 999  # a student who guessed a hidden test's variable
    run(judge, "_expected = 385")
    run(judge, "assert sum_of_squares(10) == _expected, _expected")


def test_what_a_student_function_prints_reaches_a_tests_redirected_stdout(judge):
    from course.grading.server.shell import Capture

    judge.pair.callee.capture = Capture()  # the student's side collects what it prints
    judge.pair.caller.capture = Capture()
    judge.student["_out"] = judge.pair.callee.capture
    exec("def greet(name):\n    _out.stream('stdout', f'hello {name}\\n')", judge.student)
    run(
        judge,
        "import contextlib, io\nbuf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n    greet('ada')\n"
        "assert buf.getvalue() == 'hello ada\\n', repr(buf.getvalue())",
    )


def test_the_types_that_send_a_cell_to_the_sandbox_come_from_the_instructors_notebook():
    from nbformat.v4 import new_code_cell, new_notebook

    from course.grading.execution import sandbox_types

    test = new_code_cell("class NotThis:\n    pass", metadata={"nbgrader": {"grade": True}})
    nb = new_notebook(
        cells=[
            new_code_cell("class Stack:\n    pass\n\ndef numbers():\n    yield 1"),
            new_code_cell("%matplotlib inline"),  # IPython syntax is skipped, not fatal
            new_code_cell("with open('data.txt') as f:\n    rows = f.read()"),
            test,
        ]
    )
    assert sandbox_types(nb) == {
        "Stack",
        "generator",
        "TextIOWrapper",
        "BufferedReader",
        "BufferedWriter",
    }


def test_the_files_a_run_writes_come_back_and_links_do_not(tmp_path):
    import base64

    from course.grading.server.files import fill_folder, produced_files

    (tmp_path / "left_over.txt").write_text("from the last submission")
    given = fill_folder(tmp_path, {"data.txt": base64.b64encode(b"1,2\n").decode()})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.txt"]
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "result.txt").write_text("42")
    (tmp_path / "secret").symlink_to("/etc/hostname")
    produced = produced_files(tmp_path, given)
    assert {k: base64.b64decode(v) for k, v in produced.items()} == {"out/result.txt": b"42"}


def test_a_file_the_students_code_writes_during_a_call_reaches_the_judges_folder(judge, tmp_path):
    from course.grading.server.files import changed_files, signatures, write_files

    student_folder, judge_folder = tmp_path / "student", tmp_path / "judge"
    student_folder.mkdir()
    judge_folder.mkdir()
    known = signatures(student_folder)
    judge.pair.callee.changed_files = lambda: changed_files(student_folder, known)
    judge.pair.caller.take_files = lambda files: write_files(judge_folder, files)
    judge.student["folder"] = str(student_folder)
    exec(
        "def save(text):\n    open(folder + '/out.txt', 'w').write(text)\n    return len(text)",
        judge.student,
    )
    run(judge, "assert save('abc') == 3")
    assert (judge_folder / "out.txt").read_text() == "abc"


def test_a_rebinding_kept_by_the_students_code_fails_in_a_later_cell(judge):
    exec("kept = []\ndef keeps(n):\n    kept.append(squares)\n    return squares(n)", judge.student)
    run(judge, "squares = lambda n: [7] * n\nassert keeps(2) == [7, 7]")
    exec("def uses_kept(n):\n    return kept[0](n)", judge.student)
    with pytest.raises(RemoteError, match="lent for one call"):
        run(judge, "uses_kept(2)")


@pytest.fixture
def outputs(judge):
    """A student whose functions print; ``outputs(code, hidden)`` runs a test cell and
    returns what it printed to stdout and stderr (the cell's outputs)."""
    import contextlib
    import io

    from course.grading.server.shell import Capture

    judge.pair.callee.capture = Capture()  # the student's side collects what it prints
    judge.pair.caller.capture = Capture()
    judge.student["_out"] = judge.pair.callee.capture
    exec(
        "def loud(x):\n"
        "    _out.stream('stdout', f'saw {x}\\n')\n"
        "    _out.stream('stderr', f'warned about {x}\\n')\n"
        "    _out.add({'output_type': 'display_data', 'data': {'text/plain': f'{x}'}})\n"
        "    return x\n"
        "def fails(x):\n"
        "    raise ValueError(f'bad input {x}')\n"
        "def named(x):\n"  # the class's name and a code line of its traceback carry x
        "    raise type(f'Saw{x}', (Exception,), {})('')\n",
        judge.student,
    )

    def cell(code, hidden=()):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            run(judge, code, hidden)
        return out.getvalue(), err.getvalue()

    return cell


HIDDEN_CELL = "loud(1)\nloud(12345)\nassert True"  # line 2 is hidden


def test_what_a_hidden_lines_call_prints_goes_to_the_instructors_log(judge, outputs):
    from course.grading.server.judge import HIDDEN_STDERR

    out, err = outputs(HIDDEN_CELL, hidden={2})
    assert out == "saw 1\n"  # the visible line's call, as before
    assert err == "warned about 1\n" + HIDDEN_STDERR  # the cell fails, as under nbgrader
    assert len(judge.pair.caller.capture.outputs) == 1  # the visible call's display only
    log = "".join(judge.hidden_log)
    assert "saw 12345" in log and "warned about 12345" in log and "displayed text/plain" in log
    out, _ = outputs(HIDDEN_CELL)  # without hidden lines, everything is shown
    assert "saw 12345" in out and judge.hidden_log == []


def test_a_hidden_test_that_reads_what_a_call_printed_still_gets_it(judge, outputs):
    out, _ = outputs(
        "import contextlib, io\nbuf = io.StringIO()\nwith contextlib.redirect_stdout(buf):\n"
        "    loud(12345)\nassert buf.getvalue() == 'saw 12345\\n', buf.getvalue()",
        hidden={1, 2, 3, 4, 5},
    )
    assert "12345" not in out


def test_an_error_of_a_hidden_lines_call_shows_its_type_not_its_message(judge, outputs):
    from course.grading.server.judge import HIDDEN_ERROR

    with pytest.raises(ValueError) as shown:
        outputs("x = 1\nfails(12345)", hidden={2})
    assert str(shown.value) == "bad input 12345"  # a test may still read the message
    assert shown.value.shown == HIDDEN_ERROR  # what the cell's output says instead
    assert shown.value.shown_ename == "ValueError"
    assert shown.value.remote_traceback == []  # its lines are the student's text too
    log = "".join(judge.hidden_log)
    assert "ValueError: bad input 12345" in log and "in fails" in log
    with pytest.raises(ValueError) as visible:
        outputs("fails(7)", hidden={2})
    assert not hasattr(visible.value, "shown")


def test_a_class_the_students_code_named_reads_exception_in_a_hidden_line(judge, outputs):
    with pytest.raises(RemoteError) as shown:
        outputs("x = 1\nnamed(12345)", hidden={2})
    assert type(shown.value).__name__ == "Saw12345"  # (a test may still catch it by name)
    assert shown.value.shown_ename == "Exception" and shown.value.remote_traceback == []
    assert "Saw12345" in "".join(judge.hidden_log)  # the instructor's log has it


def test_a_student_process_that_cannot_be_asked_fails_the_cell_saying_why(judge):
    class Unreachable:
        def names(self):
            raise RemoteError("the grader could not copy your notebook's process")

    judge.peer = Unreachable()
    with pytest.raises(RemoteError, match="could not copy"):
        run(judge, "squares(2)")
