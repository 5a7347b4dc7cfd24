"""Every test cell computes its expectations before the student's call (``late_reads.py``)."""

import pytest
import toy_course as toy
from late_reads import cells_late_reads, late_reads

from course.grading import notebooks


def _problems(source):
    """The rule's findings on one test cell ``source`` of a notebook whose exercise is ``f``."""
    return sorted({(line, name) for _, line, name, _ in cells_late_reads([("t", source)], ["f"])})


@pytest.mark.parametrize(
    "source, expected",
    [
        # the expectation after the call, in the same statement or the next
        ("x = np.ones(3)\ncheck(f(x), 2 * x)", [(2, "x")]),
        ("x = np.ones(3)\nout = f(x)\nexpected = 2 * x", [(3, "x")]),
        # before the call, or from a copy, or re-drawn: fine
        ("x = np.ones(3)\nexpected = 2 * x\ncheck(f(x), expected)", []),
        ("x = np.ones(3)\nbefore = x.copy()\nout = f(x)\ncheck(out, 2 * before)", []),
        ("x = np.ones(3)\nout = f(x)\nx = np.zeros(3)\ncheck(out, x)", []),
        # another student call, an unchanged-check, a call of a passed function: fine
        ("x = np.ones(3)\na = f(x)\nb = f(x, x)\ncheck_unchanged(c, x, 'x')\ng(1)", []),
        ("x = np.ones(3)\na = f(x, g)\ny = g(2)", []),
        ("x = np.ones(3)\na = f(x)\n_check_unchanged_dict(c, x, 'x', 'n')", []),
        # a name bound to what was passed is held to the rule too
        ("a = f(x)\nfor c, y in zip(b, (x,)):\n    check_unchanged(c, y, 'x')", []),
        ("a = f(x)\nfor c, y in zip(b, (x,)):\n    check(c, y)", [(3, "y")]),
        ("a = f(x)\ny = x\ncheck(a, y)", [(3, "y")]),
        # views, items and containers share memory with the name
        ("out = f(x[:, :1])\ncheck(out, x[:, :1])", [(2, "x")]),
        ("row = b.reshape(1, 3)\nout = f(row)\ncheck(out, b)", [(3, "b")]),
        ("v = x.T\nout = f(x)\ncheck(out, v)", [(3, "v")]),
        ("p = {'W': w}\nout = f(p)\ncheck(out, w)", [(3, "w")]),
        ("out = f((x, y))\ncheck(out, y)", [(2, "y")]),
        ("out = f(p)\nw = p['W']\ncheck(out, w)", [(3, "w")]),
        ("out = f(p['W'])\ncheck(out, p['b'])", [(2, "p")]),
        ("acts = [x]\nacts.append(2 * x)\nwant = {'a': acts[1]}\nout = f(x)\ncheck(out, want)", []),
        ("acts = [x]\nout = f(acts)\ncheck(out, 2 * x)", [(3, "x")]),
        ("cases = []\ncases.append((x, 1))\nfor c, n in cases:\n    out = f(c)\ne = 2 * x",
         [(5, "x")]),
        ("d = {}\nd.update(w=x)\nout = f(d)\ne = 2 * x", [(4, "x")]),
        # ... but an item is not changed by passing another one
        ("a, b = pair\nout = f(b)\ncheck(out, 2 * a)", []),
        # ... unless it was passed as some item of their container
        ("a, b = pair\nout = f(pair[1])\ncheck(out, 2 * a)", [(3, "a")]),
        ("params = [w, b]\nout = f(*params)\ncheck(out, 2 * w)", [(3, "w")]),
        ("out = f(**kw)\nn = kw['n']\ncheck(out, n)", [(3, "n")]),
        ("out = f(**kw)\ncheck(out, kw)", [(2, "kw")]),
        # a loop: passed at the end of one round, read at the start of the next
        ("for i in range(2):\n    e = 2 * x\n    out = f(x)", [(2, "x")]),
        # a loop over cases: each round's items are new, but not after the loop
        ("for x, y in cases:\n    e = x + y\n    out = f(x, y)\nz = 2 * cases[0]", [(4, "cases")]),
        ("for s, x in cases:\n    out = f(x)\n    e = 2 * s", []),
        # a branch that passes it counts
        ("if c:\n    out = f(x)\nelse:\n    out = 0\ne = x + 1", [(5, "x")]),
        # a helper the cell defines that calls a graded function, directly or as a parameter
        ("def run(v):\n    return f(v)\nout = run(x)\ne = x + 1", [(4, "x")]),
        ("def run(fn, v):\n    return fn(v)\nout = run(f, x)\ne = x + 1", [(4, "x")]),
        ("def run(fn, v):\n    out = fn(v)\n    return out, v * 2\nrun(f, x)", [(3, "v")]),
        # inside a comprehension, in the order it runs
        ("out = [f(x) for _ in range(2)]\ne = [2 * x for _ in range(2)]", [(2, "x")]),
        ("out = [f(v) for v in xs]\ne = [2 * v for v in xs]", [(2, "v")]),
        # numbers, strings and shapes cannot change: reading them is fine
        ("n = 3\nfor m, s in [(1, 'a'), (2, 'b')]:\n    out = f(n, m, s, x)\n"
         "    e = n * m + x.shape[0] + len(s)", []),
    ],
)  # fmt: skip
def test_the_rule_finds_late_reads(source, expected):
    assert _problems(source) == expected


def test_the_toy_course_follows_the_rule():
    """Its attack on argument mutation (attacks.py) has a hidden check to fool."""
    assert late_reads(toy.source_notebook()) == []


@pytest.fixture(scope="module")
def source_notebooks(repo):
    paths = sorted((repo / "source").glob("*/*.ipynb"))
    return {path.parent.name: notebooks.read_notebook(path) for path in paths}


def test_every_assignment_is_read(source_notebooks):
    assert sorted(source_notebooks) == ["week1", "week2", "week3", "week4", "week5", "week6"]


@pytest.mark.parametrize("assignment", ["week1", "week2", "week3", "week4", "week5", "week6"])
def test_checks_compute_their_expectations_before_the_call(source_notebooks, assignment):
    found = late_reads(source_notebooks[assignment])
    assert not found, (
        f"{len(found)} read(s) after a call that may have changed what they read: compute the "
        "expected values before the call, from the arguments or copies of them (the rule is "
        "in grader_tests/late_reads.py)\n" + "\n".join(found)
    )
