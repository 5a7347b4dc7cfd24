"""``course similarity``: which students share unusual code, exercise by exercise.

It compares the code each student wrote in each solution cell (from ``autograded/``, or
``submitted/`` when not autograded) with every other student's, and writes
``reports/<assignment>/similarity.html``. It decides nothing: a pair above the threshold is
a place for a human to look, and two students may share code for good reasons.

How code is compared (:func:`fingerprint`, :func:`compare`):

1. *Normalized*: the cell is parsed with Python's ``ast`` (never run). Every name the cell
   binds (its function's parameters, local variables, loop variables, helpers it defines)
   becomes the same placeholder, names it only reads (``np``, ``sigmoid``, ``len``) stay;
   comments, docstrings, string statements and formatting go (``ast.unparse``). Each
   statement is a *unit* (a compound statement's header is one, each statement of its
   body another): the fingerprints of a cell are the hashes of its units and of every run
   of :data:`K` tokens inside a unit. A *set* of fingerprints, so the order of statements
   does not count. A cell that is not valid Python is compared line by line as text, with
   a note.
2. *What no one wrote themselves is removed*: the fingerprints of the release's stub (the
   function's header, ``raise NotImplementedError()``), and *common* ones, found in at
   least :data:`COMMON_SHARE` of the students who wrote something (and at least
   :data:`COMMON_MIN` of them): the reference everyone converges on, the one obvious line.
3. *Scored*: a pair's score is the Jaccard index of what remains of their two sets,
   shared / (in either). A pair is reported when the score is at least the threshold and
   they share at least :data:`MIN_SHARED_STATEMENTS` whole statements: one line alone is
   what anyone might write.

Why our own small core rather than ``copydetect`` (0.5.0, last released 2024-03, not
maintained since) or MOSS (a web service: the code would leave the machine): both
fingerprint whole files as token streams in order (winnowing), so two swapped statements
break the matches around them, and know nothing of notebooks, solution cells or exercises;
copydetect removes boilerplate the instructor gives as files, not code that a class shares.
What we need is per exercise, insensitive to statement order, with the stub and the class's
common code removed: a small core on Python's own ``ast``, with no new dependency.

Student code is untrusted text: it is parsed, never executed; a cell is cut at
:data:`MAX_CELL_CHARS` and a notebook above :data:`MAX_NOTEBOOK_BYTES` is skipped (both
with a note), symbolic links and special files are never read, and the page shows the
code escaped (Jinja2 autoescape, :mod:`course.grading.pages`).
"""

from __future__ import annotations

import ast
import base64
import io
import json
import math
import os
import re
import stat
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

from course.grading import nbgrader_driver as driver
from course.grading import pages
from course.grading.notebooks import exercises, nbgrader_meta, read_notebook

__all__ = [
    "Code",
    "Pair",
    "ExerciseComparison",
    "Similarity",
    "fingerprint",
    "compare",
    "solution_cells",
    "analyze",
    "write_page",
    "page_path",
    "THRESHOLD",
    "K",
    "COMMON_SHARE",
    "COMMON_MIN",
    "MIN_SHARED_STATEMENTS",
    "MAX_CELL_CHARS",
    "MAX_NOTEBOOK_BYTES",
]

THRESHOLD = 0.5  # default: pairs sharing at least half of their uncommon code
K = 5  # tokens per k-gram fingerprint
COMMON_SHARE = 0.1  # code found in this share of the students is common (not theirs)...
COMMON_MIN = 4  # ... and in at least this many: a group of up to three is what we look for
MIN_SHARED_STATEMENTS = 2  # a pair sharing fewer uncommon whole statements is not reported
MAX_CELL_CHARS = 20_000  # the most of a solution cell compared (the rest cut, with a note)
MAX_NOTEBOOK_BYTES = 20 * 2**20  # a bigger notebook is not read (a note says so)
MAX_PAIRS_SHOWN = 100  # pairs the page shows with their code (--json lists them all)

_SIDES = ("autograded", "submitted")  # where a student's code is read, the first found
_TOKEN = re.compile(r"\w+|[^\w\s]")
_PLACEHOLDER = "_v"
_COMPOUND = (
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.If,
    ast.With,
    ast.AsyncWith,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Try,
    ast.TryStar,
)
_BODIES = ("body", "orelse", "finalbody", "handlers")


@dataclass(frozen=True)
class Unit:
    """One statement (a compound statement's header alone) of a cell.

    Attributes:
        lines: ``(first, last)``: the 1-based lines of the cell it spans.
        statement: the fingerprint of the whole (normalized) statement.
        fingerprints: that, and the fingerprints of its runs of :data:`K` tokens.
    """

    lines: tuple[int, int]
    statement: int
    fingerprints: frozenset[int]


@dataclass
class Code:
    """A cell's code as compared: the text shown, its units, and a note when it was cut or
    could not be parsed."""

    text: str
    units: list[Unit]
    note: str = ""

    @property
    def fingerprints(self) -> set[int]:
        return set().union(*(u.fingerprints for u in self.units))


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _normalize(tree):
    """Rename, in place, every name the code binds to one placeholder (one walk of the tree).

    Bound: assigned or deleted, a parameter, a def or class, an import, a ``global``, an
    exception's name. Names only read (``np``, ``len``) stay. Annotations go.
    """
    bound, names = set(), []
    for node in ast.walk(tree):
        kind = type(node)
        if kind is ast.Name:
            names.append(node)
            if type(node.ctx) is not ast.Load:
                bound.add(node.id)
        elif kind is ast.arg:
            bound.add(node.arg)
            node.arg, node.annotation = _PLACEHOLDER, None
        elif kind in _DEFINITIONS:
            bound.add(node.name)
            node.name = _PLACEHOLDER
            if kind is not ast.ClassDef:
                node.returns = None
        elif kind is ast.alias:
            bound.add(node.asname or node.name.split(".")[0])
        elif kind is ast.Global or kind is ast.Nonlocal:
            bound.update(node.names)
        elif kind is ast.ExceptHandler and node.name:
            bound.add(node.name)
            node.name = _PLACEHOLDER
    for node in names:
        if node.id in bound:
            node.id = _PLACEHOLDER


def _is_string_statement(stmt):
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def _fingerprints(text):
    """``(statement, fingerprints)`` of a unit's normalized text (hashes: this process's)."""
    tokens = _TOKEN.findall(text)
    statement = hash(("S", text))
    grams = {hash(("K", *tokens[i : i + K])) for i in range(len(tokens) - K + 1)}
    return statement, frozenset({statement, *grams})


def _units(statements, out):
    """Append the :class:`Unit` of each statement (docstrings and other strings left out)."""
    for stmt in statements:
        if _is_string_statement(stmt):
            continue
        if isinstance(stmt, _COMPOUND):
            children = [child for name in _BODIES for child in getattr(stmt, name, None) or []]
            header = ast.copy_location(type(stmt)(**dict(ast.iter_fields(stmt))), stmt)
            for name in _BODIES:
                if hasattr(header, name):
                    setattr(header, name, [ast.Pass()] if name == "body" else [])
            header.decorator_list = []
            first_child = min((c.lineno for c in children), default=stmt.lineno + 1)
            text = ast.unparse(header)
            out.append(_unit(text, stmt.lineno, max(stmt.lineno, first_child - 1)))
            for child in children:
                if isinstance(child, ast.ExceptHandler):
                    handler = ast.ExceptHandler(type=child.type, name=child.name, body=[])
                    handler.body = [ast.Pass()]
                    out.append(_unit(ast.unparse(handler), child.lineno, child.lineno))
                    _units(child.body, out)
                else:
                    _units([child], out)
        else:
            text = ast.unparse(stmt)
            out.append(_unit(text, stmt.lineno, stmt.end_lineno or stmt.lineno))
    return out


def _unit(text, first, last):
    statement, prints = _fingerprints(text)
    return Unit(lines=(first, last), statement=statement, fingerprints=prints)


def _as_text(code):
    """Units of code that does not parse: one per line, comments and spacing removed."""
    units = []
    for number, line in enumerate(code.split("\n"), start=1):
        text = " ".join(_TOKEN.findall(line.split("#", 1)[0]))
        if text:
            units.append(_unit(text, number, number))
    return units


def fingerprint(code: str) -> Code:
    """The :class:`Code` of a cell's source: its units, normalized (see the module)."""
    note = ""
    if len(code) > MAX_CELL_CHARS:
        code = code[:MAX_CELL_CHARS]
        note = f"cut at {MAX_CELL_CHARS} characters: only those were compared"
    try:
        tree = ast.parse(code)
        _normalize(tree)
        units = _units(tree.body, [])
    except SyntaxError as exc:
        where = f"line {exc.lineno}: " if exc.lineno else ""
        why = f"not valid Python ({where}{exc.msg}): compared as text"
        note, units = "; ".join(filter(None, [note, why])), _as_text(code)
    except (RecursionError, MemoryError, ValueError) as exc:  # nested too deep, NUL bytes
        why = f"not parsed ({type(exc).__name__}): compared as text"
        note, units = "; ".join(filter(None, [note, why])), _as_text(code)
    return Code(text=code, units=units, note=note)


@dataclass
class Pair:
    """Two students' code on one exercise that share uncommon code.

    Attributes:
        exercise: the exercise.
        students: the two students, sorted.
        score: the Jaccard index of their uncommon fingerprints, in [0, 1].
        statements: how many uncommon whole statements they share.
        shared: the fingerprints they share (to highlight the code).
    """

    exercise: str
    students: tuple[str, str]
    score: float
    statements: int
    shared: frozenset[int] = field(default=frozenset(), repr=False)


@dataclass
class ExerciseComparison:
    """One exercise across the class.

    Attributes:
        exercise: its name.
        pairs: the pairs above the threshold, highest score first.
        scores: the score of every pair that shares any uncommon code (for the plot).
        students: how many students wrote code of their own (more than the stub).
        stub, common, own: the share of the class's fingerprints that was the release's
            stub, code shared by many (common), and the rest, which is compared.
    """

    exercise: str
    pairs: list[Pair]
    scores: list[float]
    students: int
    stub: float
    common: float
    own: float


def compare(
    exercise: str, codes: dict[str, Code], stub: Code | None, threshold: float = THRESHOLD
) -> ExerciseComparison:
    """Compare every student's code of one exercise with every other's (see the module)."""
    stub_prints = stub.fingerprints if stub else set()
    every = {student: code.fingerprints for student, code in codes.items()}
    own = {s: prints - stub_prints for s, prints in every.items()}
    writers = [s for s, prints in own.items() if prints]
    counts = Counter(fp for s in writers for fp in own[s])
    common_at = max(COMMON_MIN, math.ceil(COMMON_SHARE * len(writers)))
    common = {fp for fp, n in counts.items() if n >= common_at}
    rare = {s: own[s] - common for s in writers}
    statements = {u.statement for s in writers for u in codes[s].units}
    holders = defaultdict(list)
    for student in sorted(rare):
        for fp in rare[student]:
            holders[fp].append(student)
    # fingerprints held by the same students count together: a group sharing a long cell
    # costs one pass over its pairs, not one per fingerprint
    groups = Counter(
        (tuple(students), fp in statements) for fp, students in holders.items() if len(students) > 1
    )
    shared, shared_statements = Counter(), Counter()
    for (students, is_statement), count in groups.items():
        for pair in combinations(students, 2):
            shared[pair] += count
            if is_statement:
                shared_statements[pair] += count
    pairs, scores = [], []
    for (a, b), count in shared.items():
        score = count / (len(rare[a]) + len(rare[b]) - count)
        scores.append(score)
        if score >= threshold and shared_statements[(a, b)] >= MIN_SHARED_STATEMENTS:
            pairs.append(
                Pair(exercise, (a, b), score, shared_statements[(a, b)], rare[a] & rare[b])
            )
    pairs.sort(key=lambda p: (-p.score, -p.statements, p.students))
    total = sum(len(p) for p in every.values()) or 1
    stub_n = sum(len(p & stub_prints) for p in every.values())
    common_n = sum(len(own[s] & common) for s in writers)
    return ExerciseComparison(
        exercise=exercise,
        pairs=pairs,
        scores=scores,
        students=len(writers),
        stub=stub_n / total,
        common=common_n / total,
        own=(total - stub_n - common_n) / total if any(every.values()) else 0.0,
    )


def _read_json(path):
    """A notebook's JSON (as a dict), read without following links; ``(None, why)`` when not."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None, ""
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror})"
    if not stat.S_ISREG(info.st_mode):
        return None, f"is {driver.special_file(info.st_mode) or 'not a regular file'}: not read"
    if info.st_size > MAX_NOTEBOOK_BYTES:
        size, most = info.st_size / 2**20, MAX_NOTEBOOK_BYTES // 2**20
        return None, f"is {size:.0f} MB (more than {most} MB): not read"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as f:
            data = json.loads(f.read(MAX_NOTEBOOK_BYTES + 1).decode("utf-8"))
    except (OSError, ValueError) as exc:
        return None, f"is not a readable notebook ({type(exc).__name__})"
    return (data, "") if isinstance(data, dict) else (None, "is not a notebook")


def solution_cells(nb: dict) -> dict[str, str]:
    """``{grade_id: source}`` of a notebook's solution cells (nbgrader ``solution: true``)."""
    found = {}
    cells = nb.get("cells")
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        meta = nbgrader_meta(cell)
        grade_id = meta.get("grade_id")
        if meta.get("solution") and isinstance(grade_id, str):
            source = cell.get("source", "")
            if isinstance(source, list):
                source = "".join(s for s in source if isinstance(s, str))
            found.setdefault(grade_id, source if isinstance(source, str) else "")
    return found


def _students(root, assignment):
    """Everyone with a folder of ``assignment`` in ``autograded/`` or ``submitted/``."""
    return sorted(
        {p.parent.name for side in _SIDES for p in (Path(root) / side).glob(f"*/{assignment}")}
    )


def _refused(folder):
    """Why a student's folder is not read (a symbolic link, a special file), or ``""``."""
    try:
        mode = os.lstat(folder).st_mode
    except FileNotFoundError:
        return ""
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISDIR(mode):
        return ""
    return f"is {driver.special_file(mode) or 'not a folder'}: not read"


@dataclass
class Similarity:
    """An assignment's comparison: per exercise, and what the page and ``--json`` show.

    Attributes:
        assignment: its name.
        threshold: the score from which a pair is reported.
        exercises: one :class:`ExerciseComparison` per exercise, in notebook order.
        codes: ``{exercise: {student: Code}}``, for the page.
        notes: ``(student, what)``: cells cut or compared as text, notebooks not read.
    """

    assignment: str
    threshold: float
    exercises: list[ExerciseComparison]
    codes: dict[str, dict[str, Code]]
    notes: list[tuple[str, str]] = field(default_factory=list)

    def pairs(self) -> list[Pair]:
        """Every reported pair, highest score first."""
        found = [p for e in self.exercises for p in e.pairs]
        return sorted(found, key=lambda p: (-p.score, p.exercise, p.students))

    def to_json(self) -> dict:
        return {
            "assignment": self.assignment,
            "threshold": self.threshold,
            "pairs": [
                {"exercise": p.exercise, "students": list(p.students), "score": round(p.score, 3)}
                for p in self.pairs()
            ],
        }


def analyze(root: Path | str, assignment: str, threshold: float = THRESHOLD) -> Similarity:
    """Compare the solution cells of every student of ``assignment``, exercise by exercise.

    Raises:
        CourseError: the assignment is unknown or nobody handed it in.
    """
    root = Path(root)
    driver.check_assignment(root, assignment)
    if not 0 <= threshold <= 1:
        raise driver.CourseError(f"the threshold is a score from 0 to 1, got {threshold:g}")
    students = _students(root, assignment)
    if not students:
        raise driver.CourseError(
            f"no submissions of {assignment}: expected submitted/<student>/{assignment}/"
        )
    names, stubs = [], {}
    for notebook in driver.source_notebooks(root, assignment):
        names += exercises(read_notebook(root / "source" / assignment / f"{notebook}.ipynb"))
        released, _ = _read_json(root / "release" / assignment / f"{notebook}.ipynb")
        stubs.update(solution_cells(released or {}))
    codes = {name: {} for name in names}
    notes, sources = [], {}
    notebooks = driver.source_notebooks(root, assignment)
    for student in students:
        for notebook in notebooks:
            cells, why = None, ""
            for side in _SIDES:
                folders = (root / side / student, root / side / student / assignment)
                why = next(filter(None, map(_refused, folders)), "")
                if why:
                    notes.append((student, f"{side}/{student}/{assignment} {why}"))
                    continue
                path = folders[1] / f"{notebook}.ipynb"
                nb, why = _read_json(path)
                if nb is not None or why:
                    cells = solution_cells(nb or {})
                    if why:
                        notes.append((student, f"{side}/.../{notebook}.ipynb {why}"))
                    break
            for name, source in (cells or {}).items():
                if name in codes:
                    sources[(name, student)] = source
    # each distinct cell once: the stub, the cells handed in alike
    fingerprinted = {source: fingerprint(source) for source in set(sources.values())}
    for (name, student), source in sources.items():
        code = codes[name][student] = fingerprinted[source]
        if code.note:
            notes.append((student, f"{name}: {code.note}"))
    compared = [
        compare(name, codes[name], fingerprint(stubs[name]) if name in stubs else None, threshold)
        for name in names
    ]
    return Similarity(assignment, threshold, compared, codes, list(dict.fromkeys(notes)))


def page_path(root: Path | str, assignment: str) -> Path:
    """Where the similarity page of ``assignment`` is: ``reports/<assignment>/similarity.html``."""
    return Path(root) / "reports" / assignment / "similarity.html"


def _histogram(scores, threshold):
    """A PNG (base64) of the pairs' scores with the threshold's line."""
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, nothing global

    fig = Figure(figsize=(6.4, 3.0), layout="constrained")
    ax = fig.subplots()
    ax.hist(scores, bins=[i / 20 for i in range(21)], color="#4878d0", edgecolor="white")
    ax.axvline(threshold, color="#cf222e", linestyle="--", label=f"threshold {threshold:g}")
    ax.set(xlim=(0, 1), xlabel="score (share of uncommon code in common)", ylabel="pairs")
    ax.set_title("Pairs that share any uncommon code, by score")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend(loc="upper right")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _lines(code: Code, shared: Iterable[int]):
    """The code's lines for the page, each ``{"text", "shared"}``: shared when a unit on it
    holds a fingerprint of ``shared``."""
    shared = set(shared)
    marked = set()
    for unit in code.units:
        if unit.fingerprints & shared:
            marked.update(range(unit.lines[0], unit.lines[1] + 1))
    text = pages.clip(code.text)
    return [
        {"text": line, "shared": number in marked}
        for number, line in enumerate(text.split("\n"), start=1)
    ]


def write_page(root: Path | str, result: Similarity) -> Path:
    """Write ``reports/<assignment>/similarity.html`` for ``result``; return its path."""
    pairs = result.pairs()
    shown = [
        {
            "exercise": p.exercise,
            "students": p.students,
            "score": p.score,
            "statements": p.statements,
            "sides": [_lines(result.codes[p.exercise][s], p.shared) for s in p.students],
        }
        for p in pairs[:MAX_PAIRS_SHOWN]
    ]
    scores = [s for e in result.exercises for s in e.scores]
    page = pages.render(
        "similarity.html",
        title=f"{result.assignment}: code similarity",
        result=result,
        pairs=shown,
        more=len(pairs) - len(shown),
        plot=_histogram(scores, result.threshold) if scores else None,
        constants={
            "common_share": COMMON_SHARE,
            "common_min": COMMON_MIN,
            "statements": MIN_SHARED_STATEMENTS,
        },
    )
    path = page_path(root, result.assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
