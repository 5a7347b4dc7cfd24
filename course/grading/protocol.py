"""What the grader accepts from its execution servers: message shapes, outputs and budgets.

Nothing a submission's process says decides anything: it runs the student's code, which can
replace the cell runner and send whatever it likes. The coordinator
(:mod:`course.grading.execution`) therefore

* reads what the student's side sends within byte budgets (:data:`CELL_BYTES` and
  :data:`NOTEBOOK_BYTES`, on top of the per-message limit of the framing,
  :data:`~course.grading.server.framing.MAX_MESSAGE_BYTES`), before parsing or keeping it;
* checks every message against the shape the protocol gives it at that moment (this
  module: :func:`check`), and stops the submission at the first one that breaks it;
* keeps of the outputs only nbformat outputs with fields of the right types
  (:func:`clean_outputs`: anything else is dropped, with a note in the cell), capped per
  cell and per notebook (:func:`cap_outputs`: the cut is noted in the cell);
* decides every status itself: a test cell's outputs are the judge's own run of it,
  execution counts and times come from the coordinator's own counting and clocks, and why
  a process stopped from the servers' own observations (which process they killed or saw
  end), never from what the student's process reported.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from course.grading.server.messages import Call, CellResult, JudgeResult, Raise, Return, fields

if TYPE_CHECKING:
    from course.grading.server.framing import Message
    from course.grading.server.messages import Output

__all__ = [
    "Invalid",
    "CELL_BYTES",
    "NOTEBOOK_BYTES",
    "CELL_OUTPUT_BYTES",
    "NOTEBOOK_OUTPUT_BYTES",
    "check",
    "check_result",
    "check_files",
    "clean_outputs",
    "cap_outputs",
    "note",
]

# What the student's side may send (its answers to the judge's calls included); reading
# stops there and the submission's process is stopped ("overflow").
CELL_BYTES = 64 * 1024 * 1024  # during one cell
NOTEBOOK_BYTES = 256 * 1024 * 1024  # during one notebook
# What the autograded notebook keeps of the outputs, as JSON text.
CELL_OUTPUT_BYTES = 6 * 1024 * 1024
NOTEBOOK_OUTPUT_BYTES = 8 * 1024 * 1024
_KEPT_WHEN_CUT = 2000  # characters kept of each text of an output that decides a grade

# The fields of each message's body (the types of course.grading.server.messages).
_RESULT = fields(CellResult)
_JUDGE_RESULT = fields(JudgeResult)
_CALL, _RETURN, _RAISE = fields(Call), fields(Return), fields(Raise)
HIDDEN_OUTPUT_CHARS = 20_000  # kept of what hidden calls printed (for the instructor)
_JSON_MIME = re.compile(r"^application/(.*\+)?json$")  # nbformat: any JSON; else text


class Invalid(ValueError):
    """A message, or a part of one, that does not have the shape the protocol gives it."""


def note(text: str) -> Output:
    """A note from the grader in a cell's outputs (on stdout: it never fails a test cell)."""
    return {"output_type": "stream", "name": "stdout", "text": f"[{text}]\n"}


def _require(condition, what):
    if not condition:
        raise Invalid(what)


def _fields(body, allowed, what):
    _require(type(body) is dict, f"{what} that is not an object")
    extra = sorted(str(k)[:40] for k in set(body) - allowed)
    _require(not extra, f"{what} with unknown fields {extra[:5]}")


def _is_count(value):
    return value is None or (type(value) is int and value >= 0)


def _strings(value):
    return type(value) is list and all(type(v) is str for v in value)


def _text(value):
    """An nbformat multi-line string (a string or a list of strings) as one string."""
    if type(value) is str:
        return value
    _require(_strings(value), "a text that is not a string")
    return "".join(value)


def _output(raw):
    """``raw`` rebuilt as an nbformat output from its known fields; raises :class:`Invalid`."""
    _require(type(raw) is dict, "an output that is not an object")
    kind = raw.get("output_type")
    if kind == "stream":
        _require(raw.get("name") in ("stdout", "stderr"), "a stream that is not stdout or stderr")
        return {"output_type": "stream", "name": raw["name"], "text": _text(raw.get("text", ""))}
    if kind in ("display_data", "execute_result"):
        data, metadata = raw.get("data", {}), raw.get("metadata", {})
        _require(type(data) is dict and type(metadata) is dict, "display data that is not a map")
        clean = {}
        for mime, value in data.items():
            clean[mime] = value if _JSON_MIME.match(mime) else _text(value)
        out = {"output_type": kind, "data": clean, "metadata": metadata}
        if kind == "execute_result":
            _require(_is_count(raw.get("execution_count")), "an execution count that is not one")
            out["execution_count"] = raw.get("execution_count")
        return out
    if kind == "error":
        ename, evalue, traceback = raw.get("ename"), raw.get("evalue"), raw.get("traceback", [])
        _require(type(ename) is str and type(evalue) is str, "an error without a name or message")
        _require(_strings(traceback), "a traceback that is not a list of strings")
        return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": traceback}
    raise Invalid(f"an output of type {str(kind)[:40]!r}")


def clean_outputs(raw: Any) -> list[Output]:
    """The nbformat outputs of ``raw``; an output that is not one is replaced by a note.

    Raises:
        Invalid: ``raw`` is not a list.
    """
    _require(type(raw) is list, "outputs that are not a list")
    outputs = []
    for item in raw:
        try:
            outputs.append(_output(item))
        except Invalid as exc:
            outputs.append(note(f"the grader dropped an output it could not read: {exc}"))
    return outputs


def check_files(files: Any) -> dict[str, str]:
    """``files`` (``{relative path: base64}``) if every name stays inside its folder.

    Raises:
        Invalid: not such a map, a name that is absolute or climbs out (``..``), or data
            that is not base64.
    """
    _require(type(files) is dict, "files that are not a map")
    for name, data in files.items():
        parts = name.replace(os.sep, "/").split("/")
        _require(
            name and "\0" not in name and not os.path.isabs(name) and ".." not in parts,
            f"a file name that leaves its folder: {name[:80]!r}",
        )
        _require(type(data) is str, f"the file {name[:80]!r} is not base64 text")
        try:
            base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise Invalid(f"the file {name[:80]!r} is not base64 text") from None
    return files


def check_result(body: Any, judge: bool = False) -> dict[str, Any]:
    """A cell's result, outputs cleaned (:func:`clean_outputs`); raises :class:`Invalid`.

    Only the outputs are kept from a student's result: its execution count and time are
    checked for their type and not used (the grader counts and times cells itself).
    """
    _fields(body, _JUDGE_RESULT if judge else _RESULT, "a result")
    _require(_is_count(body.get("execution_count")), "an execution count that is not one")
    seconds = body.get("seconds", 0.0)
    _require(type(seconds) in (int, float), "a time that is not a number")
    result = {"outputs": clean_outputs(body.get("outputs"))}
    if judge:
        calls = body.get("calls", [])
        _require(
            type(calls) is list
            and all(
                type(c) is list and len(c) == 2 and type(c[0]) is str and _strings(c[1])
                for c in calls
            ),
            "calls that are not [name, [names]] pairs",
        )
        for key in ("ename", "undecidable"):
            _require(body.get(key) is None or type(body[key]) is str, f"a {key} that is not text")
        line = body.get("line")
        _require(line is None or (type(line) is int and line > 0), "a line that is not one")
        hidden_output = body.get("hidden_output", "")
        _require(type(hidden_output) is str, "a hidden_output that is not text")
        if len(hidden_output) > HIDDEN_OUTPUT_CHARS:
            hidden_output = (
                f"{hidden_output[:HIDDEN_OUTPUT_CHARS]}\n[output cut: {len(hidden_output)} "
                f"characters, {HIDDEN_OUTPUT_CHARS} kept]"
            )
        result.update(
            hidden_output=hidden_output,
            calls=calls,
            ename=body.get("ename"),
            undecidable=body.get("undecidable"),
            visible_ok=body.get("visible_ok") is True,
            line=line,
        )
    return result


def _check_call(body):
    _fields(body, _CALL, "a call")
    _require(type(body.get("fn")) is dict, "a call without a function handle")
    return body


def _check_answer(body, allowed, what):
    _fields(body, allowed, what)
    if "outputs" in body:
        body["outputs"] = clean_outputs(body["outputs"])
    if "files" in body:
        check_files(body["files"])
    return body


def _check_raise(body):
    body = _check_answer(body, _RAISE, "an exception")
    for key in ("ename", "evalue", "type"):
        _require(type(body.get(key, "")) is str, f"an exception whose {key} is not text")
    _require(_strings(body.get("traceback", [])), "a traceback that is not a list of strings")
    return body


_CHECKS = {
    "call": _check_call,
    "return": lambda body: _check_answer(body, _RETURN, "an answer"),
    "raise": _check_raise,
}


def check(
    message: Message,
    expected: Collection[str],
    dead_reasons: Collection[str] = (),
    judge: bool = False,
) -> tuple[str, Any]:
    """``(key, body)`` of ``message``, checked, if it is one of the ``expected`` messages.

    Args:
        message: a decoded message (a dict).
        expected: the keys the message may have now: ``result``, ``call``, ``return``,
            ``raise`` (the body is checked) or ``dead`` (a server's; its body must be one of
            ``dead_reasons``).
        judge: the message comes from the judge (whose results say more, see
            :func:`check_result`).

    Raises:
        Invalid: any other message, or a body that breaks its shape.
    """
    _require(len(message) == 1, f"a message of {len(message)} fields")
    key, body = next(iter(message.items()))
    _require(key in expected, f"a {str(key)[:40]!r} message where {sorted(expected)} was expected")
    if key == "dead":
        _require(body in dead_reasons, f"a stop for an unknown reason {str(body)[:40]!r}")
        return key, body
    if key == "result":
        return key, check_result(body, judge)
    return key, _CHECKS[key](body)


def _size(output):
    """What ``output`` takes in a notebook file, at most (as JSON text, escapes included)."""
    return len(json.dumps(output))


def _shortened(text, size):
    """The start of ``text`` whose JSON text takes at most about ``size`` characters."""
    text = text[:size]
    while len(text) and (length := _size(text)) > size:
        text = text[: len(text) * size // length - 1]
    return text


def _decisive(outputs):
    """The outputs nbgrader's score and the cell's message depend on (their indexes).

    nbgrader gives 0 at the first error or write to stderr and reads partial credit from
    the first ``execute_result`` before them; the cell's message is its last error's, or
    its first write to stderr's.
    """

    def deciding(o):
        return o["output_type"] in ("error", "execute_result") or o.get("name") == "stderr"

    errors = [i for i, o in enumerate(outputs) if o["output_type"] == "error"]
    stderr = [i for i, o in enumerate(outputs) if o.get("name") == "stderr"]
    first = [i for i, o in enumerate(outputs) if deciding(o)]
    return set(first[:1] + errors[-1:] + stderr[:1])


def _cut_to(output, size):
    """``output`` with each of its texts cut to about ``size`` characters."""
    kind = output["output_type"]
    if kind == "stream":
        return {**output, "text": _shortened(output["text"], size)}
    if kind == "error":
        traceback = [_shortened(line, size // 4) for line in output["traceback"][-4:]]
        return {
            **output,
            "ename": _shortened(output["ename"], 200),
            "evalue": _shortened(output["evalue"], size),
            "traceback": traceback,
        }
    plain = _text(output["data"].get("text/plain", ""))
    return {**output, "data": {"text/plain": _shortened(plain, size)}, "metadata": {}}


def cap_outputs(outputs: list[Output], limit: int) -> tuple[list[Output], int]:
    """``(kept, size)``: ``outputs`` cut to ``limit`` bytes of JSON text, with a note when cut.

    What decides the cell's score and message is kept, shortened (:func:`_decisive`):
    cutting never changes a grade. Past the limit every other output is dropped.
    """
    sizes = [_size(o) for o in outputs]
    if sum(sizes) <= limit:
        return outputs, sum(sizes)
    keep = _decisive(outputs)
    reserve = sum(min(sizes[i], 2 * _KEPT_WHEN_CUT) for i in keep)  # room for what decides
    kept, used, cut = [], 0, False
    for i, (output, size) in enumerate(zip(outputs, sizes)):
        if i in keep:
            reserve -= min(size, 2 * _KEPT_WHEN_CUT)
        room = limit - used - reserve
        if not cut and size <= room:
            kept.append(output)
        elif i in keep:
            kept.append(_cut_to(output, max(_KEPT_WHEN_CUT, room)))
            cut = cut or _size(kept[-1]) < size
        elif not cut and output.get("name") == "stdout" and room > 100:
            kept.append(_cut_to(output, room))
            cut = True
        else:
            cut = True
            continue
        used += _size(kept[-1])
    if cut:
        kept.append(
            note(
                f"output cut: the grader keeps {CELL_OUTPUT_BYTES // 2**20} MB of outputs per "
                f"cell and {NOTEBOOK_OUTPUT_BYTES // 2**20} MB per notebook; of this cell's "
                f"{sum(sizes) / 2**20:.1f} MB, what decides its score was kept"
            )
        )
        used += _size(kept[-1])
    return kept, used
