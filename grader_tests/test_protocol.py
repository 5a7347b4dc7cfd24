"""What the grader accepts from its execution servers: shapes, outputs, budgets, descriptors.

The pure checks (:mod:`course.grading.protocol`, the framing's reader) are fast; the tests
that start an execution server (without the sandbox: the same code runs in it) are slow.
"""

import json
import os
import pickle
import struct
import threading
import tracemalloc

import nbformat
import pytest
from nbgrader.utils import determine_grade

from course.grading import execution, protocol, servers
from course.grading.results import cell_status
from course.grading.server import framing
from course.grading.server.framing import (
    MAX_MESSAGE_VALUES,
    MessageReader,
    MessageTooLarge,
    ProtocolError,
    parse_message,
    write_message,
)

STREAM = {"output_type": "stream", "name": "stdout", "text": "hello\n"}
ERROR = {"output_type": "error", "ename": "AssertionError", "evalue": "f(2)", "traceback": []}


def test_outputs_of_the_wrong_shape_are_dropped_with_a_note():
    raw = [
        STREAM,
        {**STREAM, "text": ["two ", "lines\n"], "transient": {"x": 1}},  # fields not kept
        {"output_type": "stream", "name": "stdin", "text": "?"},
        {"output_type": "display_data", "data": {"text/plain": 3}, "metadata": {}},
        {"output_type": "display_data", "data": {"application/json": {"a": [1]}}},
        {"output_type": "error", "ename": "E", "evalue": None, "traceback": []},
        {"output_type": "execute_result", "data": {}, "execution_count": "one"},
        ["not", "an", "output"],
        ERROR,
    ]
    outputs = protocol.clean_outputs(raw)
    assert outputs[0] == STREAM and outputs[-1] == ERROR
    assert outputs[1] == {**STREAM, "text": "two lines\n"}
    assert outputs[4]["data"] == {"application/json": {"a": [1]}}
    dropped = [o for o in outputs if "the grader dropped an output" in o.get("text", "")]
    assert len(dropped) == 5 and all(o["name"] == "stdout" for o in dropped)
    for out in outputs:  # what remains is valid nbformat
        nbformat.validator.validate(
            nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=[out])])
        )
    with pytest.raises(protocol.Invalid, match="not a list"):
        protocol.clean_outputs({"output_type": "stream"})


@pytest.mark.parametrize(
    "message, expected, why",
    [
        ({"ended": True}, {"result", "call"}, "'ended' message"),
        ({"result": {"outputs": []}, "call": {}}, {"result"}, "2 fields"),
        ({"result": ["outputs"]}, {"result"}, "not an object"),
        ({"result": {"outputs": "passed"}}, {"result"}, "not a list"),
        ({"result": {"outputs": [], "status": "ok"}}, {"result"}, "unknown fields"),
        ({"result": {"outputs": [], "execution_count": -1}}, {"result"}, "execution count"),
        ({"result": {"outputs": [], "seconds": "soon"}}, {"result"}, "not a number"),
        ({"dead": "bored"}, {"dead"}, "unknown reason"),
        ({"return": {"value": 1, "verdict": "passed"}}, {"return"}, "unknown fields"),
        ({"raise": {"ename": 3}}, {"raise"}, "ename is not text"),
        ({"raise": {"ename": "E", "traceback": [1]}}, {"raise"}, "list of strings"),
        ({"call": {"fn": "f"}}, {"call"}, "function handle"),
        ({"return": {"files": {"../x": ""}}}, {"return"}, "leaves its folder"),
    ],
)
def test_a_message_of_the_wrong_shape_is_refused(message, expected, why):
    with pytest.raises(protocol.Invalid, match=why):
        protocol.check(message, expected, ("died",))


def test_a_well_formed_message_is_accepted_with_its_outputs_cleaned():
    key, body = protocol.check(
        {"result": {"outputs": [STREAM, 7], "execution_count": 3, "seconds": 0.5}}, {"result"}
    )
    assert key == "result" and body["outputs"][0] == STREAM
    assert "could not read" in body["outputs"][1]["text"]
    assert set(body) == {"outputs"}  # the student's count and time are not kept
    judged = protocol.check_result(
        {"outputs": [], "calls": [["f", ["g"]]], "ename": None, "undecidable": None},
        judge=True,
    )
    assert judged["calls"] == [["f", ["g"]]] and judged["visible_ok"] is False
    assert protocol.check({"dead": "died"}, {"dead"}, ("died",)) == ("dead", "died")


@pytest.mark.parametrize("name", ["../escaped.txt", "a/../../b", "/etc/passwd", "", "nul\0byte"])
def test_file_names_that_leave_their_folder_are_refused(name):
    with pytest.raises(protocol.Invalid):
        protocol.check_files({name: "eA=="})


def test_files_that_stay_in_their_folder_are_accepted_if_base64():
    assert protocol.check_files({"out/data.csv": "eA=="}) == {"out/data.csv": "eA=="}
    with pytest.raises(protocol.Invalid, match="base64"):
        protocol.check_files({"data.csv": "not base64!"})


def _grade(outputs):
    cell = nbformat.v4.new_code_cell(outputs=[nbformat.from_dict(o) for o in outputs])
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "points": 3, "grade_id": "t"}
    return determine_grade(cell)[0], cell_status(outputs)


def _size(outputs):
    return sum(len(json.dumps(o)) for o in outputs)


BIG = "x" * 3_000_000


@pytest.mark.parametrize(
    "outputs",
    [
        [{**STREAM, "text": BIG}, {**STREAM, "text": BIG}, ERROR],
        [{**STREAM, "text": BIG}, {"output_type": "stream", "name": "stderr", "text": BIG}],
        [
            {"output_type": "display_data", "data": {"text/plain": BIG}, "metadata": {}},
            {"output_type": "execute_result", "data": {"text/plain": "2.0"}, "metadata": {},
             "execution_count": 4},
            {**ERROR, "evalue": BIG},
        ],
        [{**STREAM, "text": BIG}] * 3 + [{**ERROR, "ename": "CellTimeoutError"}],
        [{**STREAM, "text": BIG}] * 3,
    ],
)  # fmt: skip
def test_cutting_outputs_never_changes_a_grade_or_a_cells_message(outputs):
    kept, size = protocol.cap_outputs(outputs, 1_000_000)
    assert size == _size(kept) < 1_100_000
    assert "output cut" in kept[-1]["text"]
    assert _grade(kept)[0] == _grade(outputs)[0]
    status, message = cell_status(kept)
    assert status == cell_status(outputs)[0]
    assert message == cell_status(outputs)[1][: len(message)]  # at most shortened
    assert protocol.cap_outputs(outputs, 100 * 2**20) == (outputs, _size(outputs))


def test_a_message_past_the_limit_is_skipped_without_being_held():
    read, write = os.pipe()
    messages = [{"result": 1}, {"result": "x" * 2_000_000}, {"result": 3}]
    writer = threading.Thread(target=lambda: [write_message(write, m) for m in messages])
    writer.start()
    reader = MessageReader(read, max_bytes=1 << 20)
    held, fill = [], reader.fill

    def watched_fill():
        held.append(len(reader.buffer))
        return fill()

    reader.fill = watched_fill
    try:
        assert reader.read(timeout=10) == {"result": 1}
        with pytest.raises(MessageTooLarge, match="the limit is 1048576"):
            reader.read(timeout=10)
        assert reader.read(timeout=10) == {"result": 3}  # the stream is still in step
        assert max(held) <= 1 << 16
        write_message(write, {"result": [4]})
        with pytest.raises(MessageTooLarge, match="the limit is 10"):
            reader.read(timeout=10, limit=10)  # a tighter limit for this one read
    finally:
        writer.join()
        os.close(read)
        os.close(write)


def test_a_message_of_too_many_values_is_refused_before_they_are_all_built(monkeypatch):
    monkeypatch.setattr(framing, "MAX_MESSAGE_VALUES", 10_000)
    bomb = "[" + "[]," * 3_000_000 + "[]]"  # 9 MB; as Python lists, about 200 MB
    tracemalloc.start()
    try:
        with pytest.raises(MessageTooLarge, match="more than 10000 values"):
            parse_message(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20  # the values read before the limit, not all of them
    # text full of commas and brackets is one value: it is read, however it looks
    text = {"result": {"outputs": [{**STREAM, "text": "[0, 1], " * 1_000_000}]}}
    assert parse_message(json.dumps(text)) == text
    assert MAX_MESSAGE_VALUES == 500_000  # the real limit: a few tens of MB at most


@pytest.mark.parametrize(
    "data, why",
    [(b'{"a": 1', "not JSON"), (b"[1, 2]", "not a JSON object"), (b'"\xff"', "not UTF-8")],
)
def test_what_is_not_a_json_object_is_a_protocol_error(data, why):
    read, write = os.pipe()
    os.write(write, struct.pack(">I", len(data)) + data)
    try:
        with pytest.raises(ProtocolError, match=why):
            MessageReader(read).read(timeout=5)
    finally:
        os.close(read)
        os.close(write)


# --- in a real execution server (no sandbox: the same code as in it)

_LIST_FDS = (
    "import os\n"
    "fds = {}\n"
    "for name in os.listdir('/proc/self/fd'):\n"
    "    try:\n"
    "        fds[int(name)] = os.readlink(f'/proc/self/fd/{name}')\n"
    "    except OSError:\n"
    "        pass  # the listing's own descriptor, closed by now\n"
    "print(sorted(fds.items()))"
)


@pytest.mark.slow
def test_a_submissions_process_holds_only_its_own_pipes_and_dev_null():
    (cell,) = execution.run_cells([_LIST_FDS], timeout=20)
    fds = dict(eval(cell["outputs"][0]["text"]))  # noqa: S307 - our own cell's repr
    assert [fds[fd] for fd in (0, 1, 2)] == ["/dev/null"] * 3
    others = {fd: target for fd, target in fds.items() if fd > 2}
    assert len(others) == 2 and all(t.startswith("pipe:") for t in others.values()), fds


_SPY = (  # find the channel the answers go through, then write a server's message on it
    "import json, os, struct\n"
    "channel, real = [], os.writev\n"
    "def spy(fd, buffers):\n"
    "    channel.append(fd)\n"
    "    return real(fd, buffers)\n"
    "os.writev = spy"
)
_FORGE_DEAD = (
    "data = json.dumps({'dead': 'killed'}).encode()\n"
    "os.write(channel[0], struct.pack('>I', len(data)) + data)"
)


def test_a_protocol_violation_says_what_it_was_after_a_trip_through_a_dask_worker():
    error = pickle.loads(pickle.dumps(servers.ProtocolViolation("a 'dead' message")))
    assert str(error).count("broke the grader's protocol") == 1
    assert "a 'dead' message" in str(error) and isinstance(error, servers.WorkerLost)


def _ending_server(*messages):
    """A student server (the coordinator's handle) whose pipe holds ``messages``."""
    read, write = os.pipe()
    for message in messages:
        framing.write_message(write, message)
    os.close(write)
    server = servers.ServerProcess.__new__(servers.ServerProcess)
    server.reader = framing.MessageReader(read, max_bytes=framing.MAX_MESSAGE_BYTES)
    return server


def test_the_end_of_a_submission_skips_what_its_process_said_last_but_not_a_protocol_break():
    ended = {"ended": True, "files": {}}
    server = _ending_server({"result": {"outputs": []}}, {"dead": "killed"}, ended)
    server.ended(timeout=5)  # what the child said before it was stopped: thrown away
    assert server.produced == {}
    # the server stopped the child for a message nobody asked for (a test cell's copy
    # answering ahead for the cells after it): the notebook is not graded
    server = _ending_server({"result": {"outputs": []}}, {"dead": "protocol"}, ended)
    with pytest.raises(servers.ProtocolViolation, match="nobody asked for"):
        server.ended(timeout=5)


@pytest.mark.slow
def test_a_message_only_the_server_sends_stops_the_submission():
    with pytest.raises(servers.ProtocolViolation, match="only the server sends"):
        execution.run_cells([_SPY, _FORGE_DEAD, "print('after')"], timeout=20)


_REWRITE = (
    "import sys\n"
    "def rewrite(frame, event, value):\n"
    "    if event == 'return' and type(value) is dict and 'execution_count' in value:\n"
    "        value.update(execution_count=1000, seconds=-5.0)\n"
    "sys.setprofile(rewrite)"
)


@pytest.mark.slow
def test_execution_counts_are_the_graders_own():
    cells = execution.run_cells([_REWRITE, "1 + 1", "", "print(2)"], timeout=20)
    assert [c["execution_count"] for c in cells] == [1, 2, None, 3]


@pytest.mark.slow
def test_what_a_process_sends_is_read_within_the_notebooks_budget(monkeypatch):
    monkeypatch.setattr(protocol, "NOTEBOOK_BYTES", 2_500_000)
    prints = "print('y' * 1_000_000)"
    cells = execution.run_cells([prints, prints, prints, "print('never')"], timeout=20)
    assert [len(c["outputs"][0].get("text", "")) for c in cells[:2]] == [1_000_001] * 2
    assert cells[2]["outputs"][0]["evalue"].endswith("sent more than the grader accepts")
    assert "output cut" in cells[2]["outputs"][1]["text"]
    assert cells[3]["outputs"][0]["evalue"].startswith("not run")
