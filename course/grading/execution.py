"""Running a notebook on warm execution servers: the task every worker executes.

:func:`execute_notebook` is the one task of the grader. It takes and returns plain data (the
notebook as JSON text, numbers, strings), so it runs the same in a local thread pool and on a Dask
worker, and needs no shared filesystem. In each worker process it uses warm servers
(:mod:`course.grading.servers`), one pair per shared prefix of cells: a *student* server, sandboxed,
that runs the submission's code, and a *judge* server that runs the test cells and calls the
student's functions through the student server (:mod:`course.grading.server.wire`).

The student's process runs the notebook's cells first, all of them, test cells included (their
visible part, as the student's own kernel would: the *inside* run), and just before each test cell
it makes a copy of itself that waits (see :mod:`course.grading.server.forkserver`). Then, and only
then, the judge runs each test cell whole, hidden tests included (the *outside* run), on the state
the student's cells left before it, each call served by that cell's copy: that run decides the
points. So no hidden input reaches a process of the submission before every output the notebook
shows of its own is final. A test cell shows the inside run (made before any hidden input existed
in the submission's processes) and the judge's verdict, never the copy's text as it is: copies are
forks of one process and can pass data on to each other, so what the copy of a later cell prints
or returns could carry what an earlier one saw. A failure the inside run did not show is said in
the grader's words (a hidden line's error, in the test's own); the outside run's text goes to the
instructor's log. A cell whose visible checks pass inside but fail outside is graded by the judge,
with a note that explains the difference in plain words (a wrong building block the student's own
function compensates for, randomness, ...): honest causes exist, so it is never called
cheating. Where a value the test needs cannot leave the student's process (an instance of a class
the notebook defines, ...), the cell's copy runs the whole cell instead, as nbgrader would, and the
cell's verdict says it was decided in the sandbox. When the student's process ends in the middle of
the notebook, the copies end with it: a new process runs the cells again up to that point, for the
judge's runs of the test cells before it (the notebook shows the first run).

Nothing the student's process says decides anything: what comes from it is read within byte budgets
and checked (:mod:`course.grading.protocol`); times, execution counts and why the process stopped
are the coordinator's and the servers' own observations.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypedDict

from course.grading import protocol
from course.grading.notebooks import HIDDEN_DELIMITERS, has_code, split_hidden
from course.grading.server.framing import MAX_MESSAGE_BYTES
from course.grading.server.messages import HIDDEN_ERROR, HIDDEN_STDERR
from course.grading.servers import (
    ProtocolViolation,
    ServerProcess,
    WorkerLost,
    checkin,
    checkout,
    encode_files,
    seconds,
    start_servers,
)
from course.grading.session import STOPPED, ProcessStopped, Session

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = [
    "Task",
    "Verdict",
    "Executed",
    "execute_notebook",
    "run_cells",
    "cells_server",
    "make_task",
    "sandbox_types",
]


class Task(TypedDict):
    """One notebook to execute (:func:`make_task` says what each field holds): plain data."""

    notebook: str
    prefix: list[str]
    timeout: float | None
    sandboxed: bool
    exercises: list[str]
    files: dict[str, str]
    common_files: dict[str, str]
    hidden_markers: list[str]
    sandbox_types: list[str]


class Verdict(TypedDict):
    """How a test cell was decided (see :func:`_judge_test_cell`)."""

    decided: str  # "judge" or "sandbox": whose run gave the cell's outputs
    note: str  # why the student's run and the judge's disagree, or ""
    hidden_output: str  # what the student's code said in the hidden lines' calls


class Executed(TypedDict):
    """What :func:`execute_notebook` answers: plain data."""

    notebook: str  # the notebook's JSON text, with its outputs
    seconds: float  # time spent in the submission's cells
    status: str  # "ok", or why the student's process stopped (a key of session.STOPPED)
    cells: dict[str, Verdict]  # per test cell's grade_id
    files: dict[str, str]  # what the notebook wrote in its folder (relative path: base64)


def _code_cells(nb):
    return [cell for cell in nb["cells"] if cell.get("cell_type") == "code"]


def _source(cell):
    """A cell's source as one string (nbformat files may store it as a list of lines)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _is_test(cell):
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return isinstance(meta, dict) and bool(meta.get("grade")) and not meta.get("solution")


def make_task(
    notebook_json: str,
    prefix: Iterable[str],
    timeout: float | None,
    files: dict[str, bytes] | None = None,
    sandboxed: bool = True,
    exercises: Iterable[str] = (),
    *,
    common_files: dict[str, bytes] | None = None,
    hidden_markers: Iterable[str] = HIDDEN_DELIMITERS,
    sandbox_types: Iterable[str] = (),
) -> Task:
    """The plain-data task for :func:`execute_notebook`.

    Args:
        notebook_json: the sanitized notebook, as JSON text (test cells as the instructor
            wrote them: nbgrader restores them from the gradebook).
        prefix: sources of the locked code cells every submission starts with (may be
            empty); the judge always starts from them.
        timeout: seconds each cell may run, or None for no per-cell limit (nbgrader's
            ``Execute.timeout = None``; the submission's wall-clock limit still holds).
        files: ``{relative path: bytes}``: the whole folder the notebook runs in, as
            nbgrader prepares ``autograded/<student>/<assignment>/`` (without notebooks).
        sandboxed: run the student's code inside the bubblewrap sandbox.
        exercises: names of the graded functions, which the judge calls in the sandbox.
        common_files: the part of ``files`` that every submission shares (the source
            folder's files): the warm servers run the prefix in a folder holding them.
        hidden_markers: ``(begin, end)`` of the hidden-test regions (``ClearHiddenTests``'
            ``begin_test_delimeter`` and ``end_test_delimeter``).
        sandbox_types: the types the instructor's notebook defines (see
            :func:`sandbox_types`): a test cell that needs a value of one of them is decided
            in the student's process; any other value that cannot cross fails the test.
    """
    return {
        "notebook": notebook_json,
        "prefix": list(prefix),
        "timeout": None if timeout is None else float(timeout),
        "sandboxed": bool(sandboxed),
        "exercises": list(exercises),
        "files": encode_files(files),
        "common_files": encode_files(common_files),
        "hidden_markers": list(hidden_markers),
        "sandbox_types": sorted(sandbox_types),
    }


def sandbox_types(source_nb: NotebookNode) -> set[str]:
    """Types whose values a test cell of ``source_nb`` may need that cannot cross the wall.

    The classes the instructor's notebook defines outside its test cells (a student writes
    their own version of them), ``generator`` when it defines a generator function, and
    open files when it opens one. Only these make a cell be decided in the student's
    process: a submission cannot choose to be judged there by returning odd objects.

    Args:
        source_nb: the instructor's notebook (solutions in place).

    Returns:
        A set of type names.
    """
    import ast

    found = set()
    for cell in source_nb["cells"]:
        if cell.get("cell_type") != "code" or _is_test(cell):
            continue
        try:
            tree = ast.parse(_source(cell))
        except SyntaxError:
            continue  # IPython syntax (magics): no class definitions worth finding
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                found.add(node.name)
            elif isinstance(node, (ast.Yield, ast.YieldFrom)):
                found.add("generator")
            elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "open":
                found.update({"TextIOWrapper", "BufferedReader", "BufferedWriter"})
    return found


# what a test cell the student's process ran says until the judge has run it (a cell the
# judge never gets to keeps it: no output at all would read as passed)
NOT_JUDGED = "not judged: the notebook's process ended before the grader could run this test"


def _error(ename, evalue):
    return {
        "output_type": "error",
        "ename": ename,
        "evalue": evalue,
        "traceback": [f"{ename}: {evalue}"],
    }


def _not_run(cell, why, first):
    """Error outputs for a cell the child never finished (``first``) or never started."""
    ename, what = STOPPED.get(why, STOPPED["died"])
    if not first:
        ename, what = "DeadKernelError", f"not run: {what}"
    cell["outputs"] = [_error(ename, what)]
    if first and why == "overflow":
        cell["outputs"].append(
            protocol.note(
                f"output cut: the grader reads at most {MAX_MESSAGE_BYTES // 2**20} MB per "
                f"message, {protocol.CELL_BYTES // 2**20} MB per cell and "
                f"{protocol.NOTEBOOK_BYTES // 2**20} MB per notebook from a notebook's process"
            )
        )
    cell["execution_count"] = None


def _fails(output):
    """Whether nbgrader reads ``output`` as a failure: an error, or text on stderr."""
    kind = output["output_type"]
    return kind == "error" or (kind == "stream" and output.get("name") == "stderr")


def _failed(outputs):
    """Whether nbgrader gives a cell with ``outputs`` no points: a failure before any result
    (a result is its partial credit)."""
    for output in outputs:
        if _fails(output):
            return True
        if output["output_type"] == "execute_result":
            return False
    return False


# the words and names a test cell shows for what its judged run did, where that run's own
# would be the student's copy's text
GRADER_STDERR = "[text went to stderr when the grader ran this cell, which fails it: not shown]\n"
_STOPPED_WORDS = {
    "CellTimeoutError": "ran out of time",
    "DeadKernelError": "ended your notebook's process",
}
_CHECK_FAILED = {"AssertionError", "CheckFailed"}  # the errors a test raises on purpose
_PLAIN_DATA = "numbers, strings, NumPy arrays, and lists, tuples and dicts of them"
_GRADER_WORDS = {  # the grader's own errors, without the values or names they quote
    "CannotCheck": (
        "a value it needs cannot be checked outside your notebook's process (the grader "
        f"checks plain data: {_PLAIN_DATA})"
    ),
    "WireError": (
        "a value or name it needs cannot cross from your notebook's process (what crosses: "
        f"{_PLAIN_DATA}, not nested too deep, and installed modules)"
    ),
}
_GRADER_ENAMES = {"CheckFailed", "NoCopyError", *_STOPPED_WORDS, *_GRADER_WORDS}


def _shown_ename(ename):
    """An error's name as a student may see it: Python's own exceptions and the grader's;
    any other (a class the student's code named) reads ``Exception``."""
    known = getattr(builtins, ename, None) if isinstance(ename, str) else None
    if (isinstance(known, type) and issubclass(known, BaseException)) or ename in _GRADER_ENAMES:
        return ename
    return "Exception"


def _stream(text, name="stdout"):
    return {"output_type": "stream", "name": name, "text": text}


def _failure(judged, ename, where):
    """The outputs that stand for the judged run's failure, in the grader's words: one line
    for its stderr, and an error naming ``where`` it failed (``ename``: its error's name)."""
    errs = [o.get("text") for o in judged if o["output_type"] == "stream" and _fails(o)]
    shown = []
    if errs:  # (the judge's own line for a hidden test's call's stderr says where it was)
        shown.append(_stream(HIDDEN_STDERR if HIDDEN_STDERR in errs else GRADER_STDERR, "stderr"))
    if ename is not None:
        what = _STOPPED_WORDS.get(ename, "failed")
        words = f"{where} {what} when the grader ran this cell"
        if ename in _GRADER_WORDS:
            words += f": {_GRADER_WORDS[ename]}"
        shown.append(_error(_shown_ename(ename), words))
    return shown


def _hidden_failure(error):
    """A hidden line's error as the cell shows it: a failed check's own message (the test's
    words) or the judge's line for an error of the student's code; any other (Python's or
    NumPy's words about a value the student's code returned, which they may quote) is said
    in the grader's words."""
    if error["ename"] in _CHECK_FAILED or error["evalue"] == HIDDEN_ERROR:
        return error
    return _failure([], error["ename"], "a hidden line")[0]


def _score(judged, own):
    """The judged run's result (nbgrader reads partial credit from it), as a student may see
    it: the student's own when it reads the same, else the number it holds, else a line."""
    result = next(o for o in judged if o["output_type"] == "execute_result")
    mine = next((o for o in own if o["output_type"] == "execute_result"), {})
    text = result.get("data", {}).get("text/plain", "")
    if mine and mine.get("data", {}).get("text/plain") == text:
        return mine
    text = "".join(text) if isinstance(text, list) else str(text)
    try:
        text = repr(float(text))
    except ValueError:
        text = "[the grader's run of this cell ended on another value: not shown]"
    return {**result, "data": {"text/plain": text}, "metadata": {}}


def _shown(own, judged, failure):
    """What a test cell shows: the student's own run of its visible part, and the judge's
    verdict (nbgrader reads the same points from it as from ``judged``).

    Args:
        own: the outputs of the student's run of the cell's visible part, made before any
            hidden input reached the submission's process ([] when the part has no code).
        judged: the outputs of the run that decides the cell (the judge's, or the copy's),
            which may quote what the student's copy said: never shown as they are.
        failure: what stands for ``judged``'s failure when ``own`` shows none.

    Returns:
        (outputs, note): the outputs, and why the student's run and the decisive one
        disagree when the first fails and the second passes ("" otherwise).
    """
    kept = [o for o in own if o["output_type"] != "execute_result"]
    if _failed(judged):
        return (own, "") if _failed(own) else ([*kept, *failure], "")
    note = ""
    if _failed(own):  # its failure becomes text: the judge's run passed
        note = PASSES_OUTSIDE
        kept = [_as_text(o) if _fails(o) else o for o in kept]
        kept.append(_stream(f"{note}\n"))
    if any(o["output_type"] == "execute_result" for o in judged):
        kept.append(_score(judged, own))
    return kept, note


def _as_text(output):
    """A failing output (stderr, an error) as text on stdout, which fails nothing."""
    if output["output_type"] == "stream":
        return _stream(output.get("text", ""))
    return _stream(f"{output['ename']}: {output['evalue']}\n")


PASSES_OUTSIDE = (
    "this cell fails in your notebook but passes when the grader runs it: the grader tests "
    "each function with correct versions of the others it uses, so that a mistake costs "
    "points once, in the cell that tests it (or randomness, or the order the cells ran in)"
)


def _disagreement(outside, exercises, where):
    """Why a cell whose visible checks pass in the student's run fails in the judge's (at
    ``where``: the line's number and source)."""
    lead = "this cell's visible checks pass in your notebook but not when the grader runs them"
    for name, replaced in outside["calls"]:
        others = [n for n in replaced if n in exercises and n != name]
        if others:
            blocks = ", ".join(others)
            return (
                f"{lead}: your {name} passes with your own {blocks} but not with a correct "
                f"{blocks} (check what {name} expects of {blocks}; {where} failed)"
            )
    return (
        f"{lead} ({where} failed): the grader runs them on the state your notebook's earlier "
        "cells left, with its own copy of every check; look for randomness or for values that "
        "depend on the order the cells ran in"
    )


def _log_text(outputs):
    """Outputs as the instructor's log shows them (text only)."""
    lines = []
    for output in outputs:
        kind = output["output_type"]
        if kind == "stream":
            lines.append(f"[{output.get('name')}] {output.get('text', '')}")
        elif kind == "error":
            lines.append(f"[error] {output.get('ename')}: {output.get('evalue')}\n")
        else:
            data = output.get("data", {})
            text = data.get("text/plain", "") if kind == "execute_result" else ""
            text = "".join(text) if isinstance(text, list) else str(text)
            lines.append(f"[{kind}] {text or ', '.join(sorted(map(str, data)))}\n")
    text = "".join(lines)
    if len(text) > protocol.HIDDEN_OUTPUT_CHARS:
        text = f"{text[: protocol.HIDDEN_OUTPUT_CHARS]}\n[cut: {len(text)} characters]\n"
    return text


def _judge_test_cell(session, cell, hidden, inside, exercises):
    """The judge's run of one test cell, on the copy of the student's process kept for it.

    The judge runs the whole cell (``hidden``: the lines of its hidden regions) on the state
    the student's cells left before it (the copy ``session.copy``): that run decides the
    cell's points. The student's process ran the cell's visible part already (``inside``:
    that run's result, or None when it has no code), as the student's own kernel would,
    before any hidden input reached it: its outputs are the ones the cell shows, with the
    judge's verdict. What the judge's run printed (the copy's text may carry what another
    copy saw: copies are forks of one process) goes to the instructor's log only; a failure
    the student's run did not show is said in the grader's words (a hidden line's, in the
    test's own: the instructor's message). When a value the judge needs cannot leave the
    student's process, the copy runs the whole cell instead, as nbgrader would, and that run
    decides.

    Returns:
        ``{"decided": "judge" | "sandbox", "note": str, "hidden_output": str}``
        (``hidden_output``: what the student's code printed, displayed or raised in the
        calls of the judge's hidden lines, and what the judge's run showed, kept for the
        instructor only).
    """
    source = _source(cell)
    request = {"cell": {"source": source, "hidden": sorted(hidden)}}
    outside = session.cell("judge", request)
    own = [] if inside is None else inside["outputs"]
    decided, note = "judge", ""
    if outside["undecidable"]:
        decided = "sandbox"
        judged = session.cell("student", {"cell": source})["outputs"]
        first = next((o for o in judged if o["output_type"] == "error"), None)
        failure = _failure(judged, first and first["ename"], "a line (its hidden tests included)")
    else:
        judged = outside["outputs"]
        if outside["ename"] is not None and outside["visible_ok"]:  # a hidden line failed
            errors = [_hidden_failure(o) for o in judged if o["output_type"] == "error"]
            failure = [*_failure(judged, None, ""), *errors]
        else:
            line = outside.get("line")
            lines = source.splitlines()
            where = (
                f"line {line} (`{lines[line - 1].strip()[:120]}`)"
                if line and line <= len(lines)
                else "a line"
            )
            failure = _failure(judged, outside["ename"], where)
            ename = outside["ename"]  # None: it failed by writing to stderr alone
            stopped = ename is None or ename in _STOPPED_WORDS
            if not stopped and not session.dead and not _failed(own):
                note = _disagreement(outside, exercises, where)
                failure.append(_stream(f"{note}\n"))
    outputs, passes = _shown(own, judged, failure)
    cell["outputs"] = session.keep(outputs)
    log = outside["hidden_output"]
    if judged != own:  # what the instructor would not see otherwise
        log += f"[the grader's run of the cell]\n{_log_text(judged)}"
    return {"decided": decided, "note": note or passes, "hidden_output": log}


def _grade_id(cell):
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return str(meta.get("grade_id", "")) if isinstance(meta, dict) else ""


def _run_cells(session, cells, tests, first_cell, until=None):
    """Run ``cells`` (from index ``first_cell`` on, before index ``until`` when given) in the
    student's process; fill their outputs. Before each test cell's visible part, the
    student's process keeps a copy of itself for the judge's run of the cell.

    Returns:
        ``(ran, stopped_at)``: ``{test cell's index: (its copy's number, its visible part's
        result or None)}``, and the index of the cell during which the student's process
        stopped (None when it did not).

    Raises:
        ProtocolViolation: the student's side broke the protocol (the cells are left as
            they are: the notebook is not graded).
    """
    ran, stopped_at = {}, None
    last = len(cells) if until is None else until
    for i, cell in enumerate(cells[first_cell:last], start=first_cell):
        if session.dead:
            _not_run(cell, session.dead, first=False)
            continue
        session.new_cell()
        source = tests[i][0] if i in tests else _source(cell)
        request = {"cell": source, "keep": True} if i in tests else {"cell": source}
        try:
            result = session.cell("student", request)
        except ProcessStopped as dead:
            _not_run(cell, dead.why, first=True)
            stopped_at = i
            continue
        if i in tests:  # its outputs come with the judge's run; until then, it failed
            ran[i] = (len(ran), result if has_code(source) else None)
            cell["outputs"] = [_error("DeadKernelError", NOT_JUDGED)]
        else:
            cell["outputs"] = session.keep(result["outputs"])
        cell["execution_count"] = session.counted(source)
    return ran, stopped_at


def _judge_cells(session, cells, tests, ran, exercises):
    """The judge's runs of the test cells ``ran`` (see :func:`_run_cells`), in order, each on
    its copy; the student's process is done with every cell before the first.

    Returns:
        ``{grade_id: {"decided", "note", "hidden_output"}}`` (see :func:`_judge_test_cell`).
    """
    verdicts = {}
    for i, (number, inside) in sorted(ran.items()):
        cell = cells[i]
        if session.dead:
            _not_run(cell, session.dead, first=False)
            continue
        session.new_cell()
        session.copy = number
        try:
            hidden = tests[i][1]
            verdicts[_grade_id(cell)] = _judge_test_cell(session, cell, hidden, inside, exercises)
        except ProcessStopped as dead:
            _not_run(cell, dead.why, first=True)
        finally:
            session.copy = None
    return verdicts


def execute_notebook(task: Task) -> Executed:
    """Execute a sanitized notebook on a warm pair of fork servers of this process.

    Everything in the answer is the grader's own: the test cells show the student's run of
    their visible part with the judge's verdict, every output is checked and capped
    (:mod:`course.grading.protocol`), and times, execution counts and the status come from
    the coordinator's clocks and counts and from the servers' own observations.

    Args:
        task: a dict from :func:`make_task`.

    Returns:
        ``{"notebook": JSON text with outputs, "seconds": time spent in the submission's
        cells, "status": "ok" or why the student's process stopped, "cells": {grade_id:
        {"decided": "judge" or "sandbox", "note": why the student's run and the judge's
        disagree, or "", "hidden_output": what the student's code said in hidden tests}},
        "files": {relative path: base64} the notebook wrote}``.

    Raises:
        ProtocolViolation: the submission's process broke the protocol (its servers are
            stopped, and replaced for the next submission).
        WorkerLost: a server died twice in a row.
    """
    nb = json.loads(task["notebook"])
    cells = _code_cells(nb)
    prefix, timeout = task["prefix"], seconds(task["timeout"])
    files, common = task["files"], task.get("common_files", {})
    markers = tuple(task.get("hidden_markers", HIDDEN_DELIMITERS))
    # the warm set-up ran among the shared files: it stands for this submission's only if
    # the submission's folder holds the same files there
    shares_prefix = [_source(c) for c in cells[: len(prefix)]] == prefix and all(
        files.get(name) == data for name, data in common.items()
    )
    first = len(prefix) if shares_prefix else 0
    tests = {
        i: split_hidden(_source(c), markers)
        for i, c in enumerate(cells)
        if _is_test(c) and i >= first
    }
    limit = timeout * (len(cells) + len(tests))
    exercises, sandbox_types = task["exercises"], task.get("sandbox_types", [])
    for attempt in (1, 2):
        student_key, student = checkout(
            "student", prefix if shares_prefix else [], timeout, task["sandboxed"], common
        )
        judge_key, judge = checkout("judge", prefix, timeout, task["sandboxed"], common)
        ran = sum(1 for source in prefix if source.strip()) if shares_prefix else 0
        try:
            prefix_results = student.ready() if shares_prefix else []
            judge.ready()  # (a server still warming up is waited for before the clock starts)
            session = Session(student, judge, timeout, wall_seconds=limit, count=ran)
            prefix_outputs = [session.keep(result["outputs"]) for result in prefix_results]
            student.start(timeout, limit, files)  # both fork at the same time
            judge.start(timeout, limit, files, exercises, sandbox_types)
            student.started(timeout)
            judge.started(timeout)
            kept, stopped_at = _run_cells(session, cells, tests, first)
            student.freeze()  # what it hands in: nothing hidden has reached it yet
            judged, handed_in = session, None
            if stopped_at is not None and any(i <= stopped_at for i in tests):
                # its process ended, and the copies kept for the test cells with it: run the
                # notebook again up to that cell for the judge's runs of those before it
                judged, kept, handed_in = _run_again(
                    session, cells, (tests, first, stopped_at), limit, files
                )
            verdicts = _judge_cells(judged, cells, tests, kept, exercises)
            student.end()
            judge.end()
            student.ended(timeout)
            judge.ended(timeout)
            produced = student.produced if handed_in is None else handed_in
        except WorkerLost as exc:
            for server in (student, judge):
                server.close()
            if attempt == 2 or isinstance(exc, ProtocolViolation):
                raise
            continue
        except BaseException:  # the servers' state is unknown: they are never reused
            for server in (student, judge):
                server.close()
            raise
        checkin(student_key, student)
        checkin(judge_key, judge)
        break
    counts = iter(range(1, len(prefix) + 1))
    for cell, outputs in zip(cells, prefix_outputs):
        cell["outputs"] = outputs
        cell["execution_count"] = next(counts) if _source(cell).strip() else None
    return {
        "notebook": json.dumps(nb),
        "seconds": session.seconds + (judged.seconds if judged is not session else 0.0),
        "status": session.dead or judged.dead or "ok",
        "cells": verdicts,
        "files": produced,
    }


def _run_again(session, cells, where, limit, files):
    """Run the notebook's cells again in a new student's process, up to the cell during
    which the first one stopped, for the copies the judge needs (``where``: ``(tests,
    first, stopped_at)``, the test cells, the first cell the process runs, and that cell).

    What the new run's cells say is not kept: the notebook shows the first run. The test
    cell the first run stopped in gets its copy without its visible part running again.

    Returns:
        ``(session, kept, files)``: the new run's session (the judge's, the same), the
        copies it kept (see :func:`_run_cells`), and the files the first run handed in.
    """
    tests, first, stopped_at = where
    student, judge = session.servers["student"], session.servers["judge"]
    timeout = session.timeout
    student.end()
    student.ended(timeout)
    handed_in = student.produced
    student.start(timeout, limit, files)
    student.started(timeout)
    again = Session(student, judge, timeout, wall_seconds=limit)
    scratch = json.loads(json.dumps(cells))
    until = stopped_at + 1 if stopped_at in tests else stopped_at
    shown = {**tests, stopped_at: ("", tests[stopped_at][1])} if stopped_at in tests else tests
    kept, _ = _run_cells(again, scratch, shown, first, until=until)
    return again, kept, handed_in


def cells_server(timeout: float, warm: Iterable[str] = ()) -> ServerProcess:
    """Start the process :func:`run_cells` runs in; it imports ``warm`` while the caller works.

    Args:
        timeout: seconds each cell may run.
        warm: installed modules the cells will import (imported now, before any cell).
    """
    (server,) = start_servers("student", sandboxed=False, warm=list(warm))
    server.set_up([], timeout)
    return server


def run_cells(
    sources: list[str],
    timeout: float,
    files: dict[str, bytes] | None = None,
    server: ServerProcess | None = None,
) -> list[dict[str, Any]]:
    """Run code cells one after the other in a fresh process, without a sandbox.

    This is ``course check``: a student runs their own code, as their kernel would, in a
    process of its own (so that an endless loop or ``exit()`` ends only that process). Cells
    after one that ended the process get an error saying they were not run.

    Args:
        sources: the cells' code, in order.
        timeout: seconds each cell may run.
        files: ``{relative path: bytes}`` the cells' working folder holds.
        server: a process from :func:`cells_server` (started with the same ``timeout``);
            a new one when None. It is closed at the end.

    Returns:
        One ``{"source", "outputs", "execution_count"}`` dict per cell (nbformat outputs).

    Raises:
        WorkerLost: the process could not be started, or broke the protocol.
    """
    cells = [{"cell_type": "code", "source": source, "outputs": []} for source in sources]
    limit = timeout * max(1, len(cells))
    server = server or cells_server(timeout)
    try:
        server.start(timeout, limit, encode_files(files))
        server.started(timeout)
        _run_cells(Session(server, None, timeout, wall_seconds=limit), cells, {}, 0)
    finally:
        server.close()
    return cells
