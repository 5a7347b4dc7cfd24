"""One submission's routing between the student's process and the judge (``session.Session``).

The session is driven here by two scripted servers in memory (:class:`ScriptedServer`, the
interface of ``servers.ServerProcess`` a session uses): calls nested both ways, a student
that stops in the middle of a call, messages that break the protocol, the wall-clock
deadline, and the byte budgets of what the student's side may send.
"""

import collections
import json
import time

import pytest

from course.grading import protocol
from course.grading.server.framing import MessageTooLarge, frame
from course.grading.servers import SILENCE_SECONDS, ProtocolViolation, WorkerLost
from course.grading.session import STOPPED, ProcessStopped, Session, stopped_error

TIMEOUT = 7.0
STREAM = {"output_type": "stream", "name": "stdout", "text": "hi\n"}
NAMES = {"fn": {"names": True}}  # the judge's first call of a test cell


class ScriptedServer:
    """A server as a :class:`Session` uses one, its answers scripted.

    ``script`` is a generator function: each message the session sends is sent into it, and
    it yields the list of messages the server answers with. ``receive`` gives them in order
    and, as the real reader does, refuses (and drops) one larger than its ``limit``.
    """

    def __init__(self, script):
        self.sent, self.receives = [], []  # what the session sent; (timeout, limit) asked
        self.outbox = collections.deque()
        self.reader = type("Reader", (), {"last_size": 0})()
        self.script = script()
        self.outbox.extend(next(self.script) or [])

    def send(self, message):
        self.sent.append(message)
        try:
            self.outbox.extend(self.script.send(message) or [])
        except StopIteration:
            pass

    def receive(self, timeout=None, limit=None):
        self.receives.append((timeout, limit))
        if not self.outbox:  # what the real server does when it stays silent too long
            raise WorkerLost("the scripted server has nothing more to say")
        message = self.outbox.popleft()
        size = len(frame(message))
        if limit is not None and size > limit:
            raise MessageTooLarge(f"a message of {size} bytes (the limit is {limit})")
        self.reader.last_size = size
        return message

    def log_tail(self, lines=3):
        return "the judge's last words"


def result(*outputs, **judged):
    return {"result": {"outputs": list(outputs), "execution_count": 1, "seconds": 0.1, **judged}}


def judged(*outputs, **fields):
    return result(*outputs, **{"calls": [], "ename": None, "undecidable": None} | fields)


def runs_cells():
    """A student's process that answers every cell with one line printed."""
    message = yield
    while True:
        message = yield [result(STREAM)] if "cell" in message else []


def pair(student_script, judge_script=runs_cells, **kwargs):
    student, judge = ScriptedServer(student_script), ScriptedServer(judge_script)
    return student, judge, Session(student, judge, TIMEOUT, wall_seconds=60, **kwargs)


def test_a_cell_gives_its_checked_result_and_the_session_counts_and_times_it():
    student, _, session = pair(runs_cells, count=2)
    assert session.cell("student", {"cell": "print('hi')"}) == {"outputs": [STREAM]}
    assert session.counted("print('hi')") == 3 and session.counted("  \n") is None
    assert session.count == 3 and session.seconds > 0
    assert student.sent == [{"cell": "print('hi')"}]
    # the student's result is read within the cell's and the notebook's budgets
    assert student.receives == [(TIMEOUT + SILENCE_SECONDS, protocol.CELL_BYTES)]


def test_calls_nested_both_ways_are_routed_to_the_side_that_waits_for_them():
    f_of_2 = {"call": {"fn": {"yours": 1}, "args": [2]}}  # the test calls the student's f(2)
    reference = {"call": {"fn": {"mine": 5}, "args": [2]}}  # f calls the test's reference

    def judge():
        yield
        yield [{"call": NAMES}]  # the cell starts: the student's names
        callback = yield [f_of_2]
        assert callback == reference
        answer = yield [{"return": {"value": 10}}]
        assert answer == {"return": {"value": 11}}
        yield [judged(STREAM, calls=[["f", []]])]

    def student():
        message = yield
        assert message == {"call": NAMES}
        message = yield [{"return": {"value": ["f"]}}]
        assert message == f_of_2
        message = yield [reference]
        assert message == {"return": {"value": 10}}
        yield [{"return": {"value": 11}}]

    s, j, session = pair(student, judge)
    request = {"cell": {"source": "assert f(2) == 11", "hidden": []}}
    got = session.cell("judge", request)
    assert got["outputs"] == [STREAM] and got["calls"] == [["f", []]]
    assert got["visible_ok"] is False  # only the judge's own true says so
    assert j.sent == [request, {"return": {"value": ["f"]}}, reference, {"return": {"value": 11}}]
    assert s.sent == [{"call": NAMES}, f_of_2, {"return": {"value": 10}}]
    # the judge's messages are read without the student's budgets
    assert {limit for _, limit in j.receives} == {None}
    assert None not in {limit for _, limit in s.receives}


def test_a_student_that_stops_in_the_middle_of_a_call_raises_there_and_runs_no_more():
    def judge():
        yield
        error = yield [{"call": {"fn": {"yours": 1}}}]
        assert error == {"raise": stopped_error("died")}
        again = yield [{"call": {"fn": {"yours": 1}}}]  # the next call: answered at once
        assert again == {"raise": stopped_error("died")}
        yield [judged(STREAM, ename="DeadKernelError")]

    def student():
        yield
        yield [{"dead": "died"}]  # the server saw its child end

    s, j, session = pair(student, judge)
    got = session.cell("judge", {"cell": {"source": "f()\nf()", "hidden": []}})
    assert got["ename"] == "DeadKernelError" and session.dead == "died"
    assert s.sent == [{"call": {"fn": {"yours": 1}}}]  # not called again once dead
    assert stopped_error("died")["ename"] == "DeadKernelError"
    with pytest.raises(ProcessStopped) as stopped:
        session.cell("student", {"cell": "print(1)"})
    assert stopped.value.why == "died" and len(s.sent) == 1  # not even sent


@pytest.mark.parametrize("why", sorted(STOPPED))
def test_a_student_that_stops_during_its_own_cell_stops_the_session(why):
    def student():
        yield
        yield [{"dead": why}]

    _, _, session = pair(student)
    with pytest.raises(ProcessStopped) as stopped:
        session.cell("student", {"cell": "import os; os._exit(0)"})
    assert stopped.value.why == why == session.dead


@pytest.mark.parametrize(
    "answer, why",
    [
        (result(STREAM) | {"return": {}}, "2 fields"),
        ({"result": {"outputs": [], "verdict": "passed"}}, "unknown fields"),
        ({"ended": True}, "'ended' message"),
        ({"return": {"value": 1}}, "'return' message where"),  # no call is under way
        ({"dead": "bored"}, "unknown reason"),
        ({"dead": "protocol"}, "nobody asked for"),  # the server saw the child break it
    ],
)
def test_a_student_message_that_breaks_the_protocol_stops_the_submission(answer, why):
    def student():
        yield
        yield [answer]

    _, _, session = pair(student)
    with pytest.raises(ProtocolViolation, match=why):
        session.cell("student", {"cell": "x"})


def test_a_student_answer_of_the_wrong_shape_inside_a_call_is_a_violation_too():
    def judge():
        yield
        yield [{"call": {"fn": {"yours": 1}}}]

    def student():
        yield
        yield [{"raise": {"ename": 3}}]

    _, _, session = pair(student, judge)
    with pytest.raises(ProtocolViolation, match="ename is not text"):
        session.cell("judge", {"cell": {"source": "f()", "hidden": []}})


@pytest.mark.parametrize(
    "answer, why",
    [
        ({"result": {"outputs": [], "visible_ok": "yes", "calls": "f"}}, "the judge sent"),
        ({"dead": "died"}, "the judge's process stopped \\(died\\): the judge's last words"),
    ],
)
def test_a_judge_that_breaks_the_protocol_or_stops_is_a_lost_server_not_the_students_fault(
    answer, why
):
    def judge():
        yield
        yield [answer]

    _, _, session = pair(runs_cells, judge)
    with pytest.raises(WorkerLost, match=why) as lost:
        session.cell("judge", {"cell": {"source": "x", "hidden": []}})
    assert not isinstance(lost.value, ProtocolViolation)


def killed_at_the_wall():
    """A student's process that would answer, but is stopped first: it drains, then ends."""
    message = yield
    while True:
        if "kill" in message:
            message = yield [{"dead": "wall"}]
        elif "cell" in message:
            message = yield [result({**STREAM, "text": "x" * 10_000})]  # thrown away unread
        else:
            message = yield [{"return": {"value": 1}}]


def test_past_the_deadline_the_student_is_stopped_before_its_answer_is_read():
    student, _, session = pair(killed_at_the_wall)
    session.deadline = time.monotonic() - 1
    with pytest.raises(ProcessStopped) as stopped:
        session.cell("student", {"cell": "while True: pass"})
    assert stopped.value.why == "wall" == session.dead
    assert student.sent == [{"cell": "while True: pass"}, {"kill": True}]
    assert student.receives[-1][1] == 4096  # drained: large messages are not even read


def test_past_the_deadline_a_call_of_the_judge_gets_the_timeout_as_its_exception():
    def judge():
        yield
        error = yield [{"call": {"fn": {"yours": 1}}}]
        assert error == {"raise": stopped_error("wall")}
        yield [judged(ename="CellTimeoutError")]

    student, _, session = pair(killed_at_the_wall, judge)
    session.deadline = time.monotonic() - 1
    got = session.cell("judge", {"cell": {"source": "f()", "hidden": []}})  # the judge is not
    assert got["ename"] == "CellTimeoutError" and session.dead == "wall"  # held to the wall
    assert student.sent == [{"call": {"fn": {"yours": 1}}}, {"kill": True}]
    assert stopped_error("wall")["ename"] == "CellTimeoutError"


def prints(size):
    """A student's process whose every cell prints ``size`` characters."""
    message = yield
    while True:
        if "kill" in message:
            message = yield [{"dead": "overflow"}]
        else:
            message = yield [result({**STREAM, "text": "y" * size})]


def test_a_cell_that_sends_more_than_the_cells_budget_is_stopped(monkeypatch):
    monkeypatch.setattr(protocol, "CELL_BYTES", 5_000)
    student, _, session = pair(lambda: prints(6_000))
    with pytest.raises(ProcessStopped) as stopped:
        session.cell("student", {"cell": "print('y' * 6000)"})
    assert stopped.value.why == "overflow" == session.dead
    assert student.sent[-1] == {"kill": True}


def test_the_notebooks_budget_runs_out_over_several_cells(monkeypatch):
    monkeypatch.setattr(protocol, "CELL_BYTES", 5_000)
    monkeypatch.setattr(protocol, "NOTEBOOK_BYTES", 9_000)
    student, _, session = pair(lambda: prints(4_000))
    for _ in range(2):
        session.new_cell()
        session.cell("student", {"cell": "print('y' * 4000)"})
    size = student.reader.last_size
    assert session.read_left == 9_000 - 2 * size
    # each cell may send what the notebook has left, up to a cell's budget
    assert [limit for _, limit in student.receives] == [5_000, 9_000 - size]
    session.new_cell()
    with pytest.raises(ProcessStopped, match="overflow"):
        session.cell("student", {"cell": "print('y' * 4000)"})
    assert student.receives[-2][1] == session.read_left == 9_000 - 2 * size


def test_the_students_answers_to_the_judge_count_against_its_budget(monkeypatch):
    monkeypatch.setattr(protocol, "CELL_BYTES", 5_000)

    def judge():
        yield
        yield [{"call": {"fn": {"yours": 1}}}]
        yield [{"call": {"fn": {"yours": 1}}}]
        yield [judged()]

    def student():
        yield
        yield [{"return": {"value": "z" * 3_000}}]
        yield [{"return": {"value": "z" * 3_000}}]  # the second is past the cell's budget
        yield [{"dead": "overflow"}]

    student_server, _, session = pair(student, judge)
    session.new_cell()
    got = session.cell("judge", {"cell": {"source": "f()\nf()", "hidden": []}})
    assert got["outputs"] == [] and session.dead == "overflow"
    assert student_server.sent[-1] == {"kill": True}


def test_what_a_notebook_keeps_of_its_outputs_is_capped_per_cell_and_per_notebook(monkeypatch):
    monkeypatch.setattr(protocol, "NOTEBOOK_OUTPUT_BYTES", 3_000)
    _, _, session = pair(runs_cells)
    big = [{**STREAM, "text": "w" * 2_000}]
    assert session.keep(big) == big
    cut = session.keep(big)  # 1 000 bytes left for the notebook
    assert "output cut" in cut[-1]["text"] and len(cut[0]["text"]) < 2_000
    assert session.kept_left <= 0
    nothing = session.keep(big)
    assert len(nothing) == 1 and "output cut" in nothing[0]["text"]


def _test_cell(source, grade_id):
    nbgrader = {"grade": True, "solution": False, "grade_id": grade_id, "points": 1}
    return {"cell_type": "code", "source": source, "metadata": {"nbgrader": nbgrader}}


def test_the_judge_runs_the_test_cells_on_their_copies_once_every_cell_has_run():
    from course.grading import execution
    from course.grading.results import cell_status

    def judge():  # its run of test_b only: test_a's never comes (its notebook ended first)
        message = yield
        assert message["cell"]["source"] == "assert b == 2"
        yield [{"call": NAMES}]
        yield [judged(STREAM)]

    def student():  # runs cells, and answers the judge's calls
        message = yield
        while True:
            message = yield [result(STREAM) if "cell" in message else {"return": {"value": []}}]

    student, _, session = pair(student, judge)
    cells = [
        {"cell_type": "code", "source": "a = 1", "metadata": {}},
        _test_cell("assert a == 1", "test_a"),
        {"cell_type": "code", "source": "b = 2", "metadata": {}},
        _test_cell("assert b == 2", "test_b"),
    ]
    tests = {1: ("assert a == 1", []), 3: ("assert b == 2", [])}
    kept, stopped_at = execution._run_cells(session, cells, tests, 0)
    assert stopped_at is None
    assert kept == {1: (0, {"outputs": [STREAM]}), 3: (1, {"outputs": [STREAM]})}
    # every cell ran in the student's process, each test cell's copy kept before it
    assert student.sent == [
        {"cell": "a = 1"},
        {"cell": "assert a == 1", "keep": True},
        {"cell": "b = 2"},
        {"cell": "assert b == 2", "keep": True},
    ]
    # a test cell says it failed until the judge has run it: one it never runs stays failed
    assert all(cell_status(cells[i]["outputs"])[0] == "error" for i in tests)
    verdicts = execution._judge_cells(session, cells, tests, {3: kept[3]}, ())
    assert verdicts == {"test_b": {"decided": "judge", "note": "", "hidden_output": ""}}
    assert student.sent[4:] == [{"call": NAMES, "copy": 1}]  # the judge's calls: its copy
    assert cells[3]["outputs"] == [STREAM] and cell_status(cells[3]["outputs"])[0] == "passed"
    assert cell_status(cells[1]["outputs"])[1] == f"DeadKernelError: {execution.NOT_JUDGED}"


# --- what a test cell shows: the student's own run and the judge's verdict

LEAK = "-4.0, 0.5"  # what a copy could have learnt from another: never shown as it is


def _error_output(ename, evalue):
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": [evalue]}


def _result_output(text):
    return {"output_type": "execute_result", "execution_count": 1, "data": {"text/plain": text},
            "metadata": {}}  # fmt: skip


def _points(outputs):
    """nbgrader's points for a 3-point test cell with ``outputs``."""
    import nbformat
    from nbgrader.utils import determine_grade

    cell = nbformat.v4.new_code_cell("", metadata={"nbgrader": {"grade": True, "points": 3}})
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    return determine_grade(cell)[0]


OWN_PASSES = [{**STREAM, "text": "my_dense returned [1. 2.]\n"}]
OWN_FAILS = [*OWN_PASSES, _error_output("CheckFailed", "my_dense has wrong values")]
COPY_TALKS = {**STREAM, "text": f"copied {LEAK}\n"}
CASES = {  # (own, judged): the judged run as a copy that passes data on could make it
    "both pass": (OWN_PASSES, [COPY_TALKS]),
    "the judge's fails": (OWN_PASSES, [COPY_TALKS, _error_output("Saw", LEAK)]),
    "stderr in the judge's": (OWN_PASSES, [{**COPY_TALKS, "name": "stderr"}]),
    "both fail": (OWN_FAILS, [COPY_TALKS, _error_output("CheckFailed", LEAK)]),
    "only the student's fails": (OWN_FAILS, [COPY_TALKS]),
    "partial credit": ([_result_output("3.0")], [COPY_TALKS, _result_output("2.0")]),
    "a value for a result": ([_result_output("3.0")], [_result_output(f"'{LEAK}'")]),
}


@pytest.mark.parametrize("case", CASES)
def test_a_test_cell_shows_the_students_run_and_scores_the_judges(case):
    from course.grading import execution

    own, judged_outputs = CASES[case]
    failure = execution._failure(judged_outputs, "Saw", "line 2 (`check(x)`)")
    shown, note = execution._shown(own, judged_outputs, failure)
    assert _points(shown) == _points(judged_outputs)  # the judge's points, as nbgrader reads
    assert LEAK not in json.dumps(shown)  # and nothing the copy said
    assert all(o in shown for o in own if o["output_type"] == "stream" and o["name"] == "stdout")
    assert (note == execution.PASSES_OUTSIDE) == (case == "only the student's fails")


def test_a_failure_the_students_run_did_not_show_is_said_in_the_graders_words():
    from course.grading import execution

    judged_outputs = [{**STREAM, "name": "stderr"}, _error_output("Saw", LEAK)]
    failure = execution._failure(judged_outputs, "Saw", "line 2 (`check(x)`)")
    assert failure == [
        {**STREAM, "name": "stderr", "text": execution.GRADER_STDERR},
        execution._error("Exception", "line 2 (`check(x)`) failed when the grader ran this cell"),
    ]  # a class the student's code named reads Exception; Python's own keep their names
    assert execution._failure([], "ValueError", "a line")[0]["ename"] == "ValueError"
    words = execution._failure([], "CannotCheck", "line 1")[0]  # the grader's own, unquoted
    assert "cannot be checked outside" in words["evalue"] and words["ename"] == "CannotCheck"
    stopped = execution._failure([], "CellTimeoutError", "line 1")[0]
    assert stopped["evalue"] == "line 1 ran out of time when the grader ran this cell"


def test_the_judges_run_of_a_test_cell_shows_its_hidden_checks_words_not_the_copys():
    from course.grading import execution

    hidden_fails = _error_output("AssertionError", "g squares")  # the test's own message

    def judge():  # a visible line's call printed what a copy could have learnt; a hidden failed
        yield
        yield [judged({**STREAM, "text": f"{LEAK}\n"}, hidden_fails, ename="AssertionError",
                      visible_ok=True, line=3)]  # fmt: skip

    _, _, session = pair(runs_cells, judge)
    session.new_cell()
    cell = _test_cell("g(2)\nprint('x')\nassert g(_x) == 16", "test_g")
    verdict = execution._judge_test_cell(session, cell, [3], {"outputs": [STREAM]}, ())
    assert cell["outputs"] == [STREAM, hidden_fails]
    assert verdict["note"] == "" and LEAK in verdict["hidden_output"]  # the instructor's

    def judge_numpy():  # a hidden line fails in NumPy, whose message quotes the value
        yield
        yield [judged(_error_output("ValueError", f"could not convert string to float: {LEAK}"),
                      ename="ValueError", visible_ok=True, line=3)]  # fmt: skip

    _, _, session = pair(runs_cells, judge_numpy)
    session.new_cell()
    execution._judge_test_cell(session, cell, [3], {"outputs": [STREAM]}, ())
    assert cell["outputs"] == [
        STREAM, execution._error("ValueError", "a hidden line failed when the grader ran this cell")
    ]  # fmt: skip

    def judge_visible():  # now a visible line fails, in the copy only
        yield
        yield [judged(_error_output("CheckFailed", LEAK), ename="CheckFailed", line=1)]

    _, _, session = pair(runs_cells, judge_visible)
    session.new_cell()
    verdict = execution._judge_test_cell(session, cell, [3], {"outputs": [STREAM]}, ())
    assert LEAK not in json.dumps(cell["outputs"]) and "line 1 (`g(2)`) failed" in str(cell)
    assert "pass in your notebook but not when the grader runs them" in verdict["note"]
