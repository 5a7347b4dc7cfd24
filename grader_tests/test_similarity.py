"""``course similarity``: a disguised copy is the top pair, independent code is not listed.

The comparisons run on code alone (no grading): the classes are built from the source and
release notebooks (``similar_class``); the command is run once on a course folder.
"""

import json
import os
import shutil

import nbformat
import pytest
from course_cli import course
from similar_class import (
    ONE_LINE_VARIANTS,
    OWN_WEEK4,
    disguise,
    solution_lines,
    solutions,
    with_body,
)

from course.grading import similarity
from course.grading.notebooks import fill_solutions, read_notebook
from course.grading.similarity import compare, fingerprint


def compare_class(codes_by_student, stubs, threshold=similarity.THRESHOLD):
    """``{exercise: ExerciseComparison}`` of a class given as ``{student: {exercise: code}}``."""
    out = {}
    for exercise, stub in stubs.items():
        codes = {s: fingerprint(c[exercise]) for s, c in codes_by_student.items()}
        out[exercise] = compare(exercise, codes, fingerprint(stub), threshold)
    return out


def test_normalizing_ignores_names_comments_docstrings_layout_and_order():
    code = 'def f(a, b):\n    """Doc."""\n    s = a + b  # sum\n    p = a * b\n    return s - p\n'
    other = "def g(x,y):\n    prod=x*y\n    total = (x\n      + y)\n    return total-prod"
    assert fingerprint(code).fingerprints == fingerprint(other).fingerprints
    assert (
        fingerprint(code).fingerprints != fingerprint(code.replace("a * b", "a ** b")).fingerprints
    )


def test_code_that_is_not_python_is_compared_as_text_with_a_note():
    code = fingerprint("def f(x:\n    return x + 1  # note\n")
    assert "not valid Python (line 1" in code.note and "compared as text" in code.note
    assert len(code.units) == 2
    deep = fingerprint("x = " + "(" * 400 + "1" + ")" * 400)
    assert "compared as text" in deep.note  # nested too deep: never a crash
    long = fingerprint("x = 1\n" * (similarity.MAX_CELL_CHARS // 4))
    assert long.note.startswith("cut at") and len(long.text) == similarity.MAX_CELL_CHARS


def test_a_disguised_copy_is_the_top_pair_of_every_longer_exercise(repo):
    reference, stubs = solutions(repo, "week4", "deep_network")
    longer = [name for name, code in reference.items() if solution_lines(code) > 3]
    assert sorted(longer) == sorted(OWN_WEEK4)  # every exercise of more than a few lines
    own = {name: with_body(reference[name], body) for name, body in OWN_WEEK4.items()}
    original = {**reference, **own}
    copy, swaps = {}, 0
    for name, code in original.items():
        copy[name], swapped = disguise(code)
        swaps += swapped
        assert copy[name] != code
    assert swaps >= len(longer) - 2  # two independent statements swapped almost everywhere
    class_ = {f"ref{i:02d}": reference for i in range(25)}
    class_.update({f"half{i}": {**stubs, **dict(list(reference.items())[:6])} for i in range(6)})
    # a student with some of the same ideas as the original, in the reference otherwise
    near = {**reference, "update_parameters": own["update_parameters"].replace("copy.", "_c.")}
    class_.update({"original": original, "copier": copy, "near": near, "blank": stubs})
    compared = compare_class(class_, stubs)
    for name in longer:
        pairs = compared[name].pairs
        assert pairs, name
        assert pairs[0].students == ("copier", "original"), (name, pairs[:2])
        assert all(p.score < pairs[0].score for p in pairs[1:]), name
    for name in set(reference) - set(longer):  # the copy of the reference: common code
        assert compared[name].pairs == [], name


def test_a_class_of_independent_variants_lists_no_pair_on_one_line_exercises(repo):
    reference, stubs = solutions(repo, "week2", "logistic_regression")
    one_line = [name for name, code in reference.items() if solution_lines(code) == 1]
    assert sorted(one_line) == sorted(ONE_LINE_VARIANTS)
    students = {}
    for name, variants in ONE_LINE_VARIANTS.items():
        bodies = [body for body, count in variants for _ in range(count)]
        assert len(bodies) == 40
        for i, body in enumerate(bodies):
            students.setdefault(f"s{i:02d}", dict(reference))[name] = with_body(
                reference[name], body
            )
    compared = compare_class(students, {name: stubs[name] for name in one_line})
    for name in one_line:
        assert compared[name].pairs == [], name
        # the same uncommon line written by two students scores 1 yet is not listed: one
        # line alone is what anyone might write
        assert max(compared[name].scores) == 1.0
        assert compared[name].common > 0.3  # the reference's line, the loops: common code


def _course(tmp_path, repo, assignment):
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy2(repo / "nbgrader_config.py", root)
    for side in ("source", "release"):
        shutil.copytree(repo / side / assignment, root / side / assignment)
    return root


def _hand_in(root, student, assignment, nb, notebook="dense_layers"):
    folder = root / "submitted" / student / assignment
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{notebook}.ipynb")
    return folder


def test_a_blank_class_reports_nothing(tmp_path, repo):
    root = _course(tmp_path, repo, "week1")
    release = read_notebook(root / "release" / "week1" / "dense_layers.ipynb")
    for i in range(12):
        _hand_in(root, f"blank{i}", "week1", release)
    os.symlink(root / "submitted" / "blank0", root / "submitted" / "linked")
    result = similarity.analyze(root, "week1")
    assert result.pairs() == []
    assert result.notes == [("linked", "submitted/linked/week1 is a symbolic link: not read")]
    assert all(e.students == 0 and e.scores == [] for e in result.exercises)
    page = similarity.write_page(root, result).read_text()
    assert "decides nothing" in page and "No pair." in page


@pytest.mark.slow
def test_the_command_prints_json_and_writes_the_page(tmp_path, repo):
    root = _course(tmp_path, repo, "week1")
    source = read_notebook(root / "source" / "week1" / "dense_layers.ipynb")
    release = read_notebook(root / "release" / "week1" / "dense_layers.ipynb")
    reference, _ = solutions(repo, "week1", "dense_layers")
    own = with_body(
        reference["my_dense"],
        "out = []\nfor col in W.T:\n    out.append(g(a_in @ col))\nout = np.array(out) + 0 * b\n"
        "# </pre><script>alert(1)</script>\nreturn g(np.array([a_in @ W[:, j] + b[j] "
        "for j in range(W.shape[1])]))",
    )
    original = fill_solutions(release, source, replace={"my_dense": (reference["my_dense"], own)})
    copy = fill_solutions(
        release, source, replace={"my_dense": (reference["my_dense"], disguise(own)[0])}
    )
    _hand_in(root, "=ada", "week1", original)
    _hand_in(root, "bob\x1b[2J", "week1", copy)
    for i in range(4):
        _hand_in(root, f"ref{i}", "week1", fill_solutions(release, source))
    secret = tmp_path / "secret.ipynb"
    secret.write_text(json.dumps({"cells": [], "secret": "do not read"}))
    os.symlink(secret, _hand_in(root, "linker", "week1", release) / "other.ipynb")
    (root / "submitted" / "linker" / "week1" / "dense_layers.ipynb").unlink()
    os.symlink(secret, root / "submitted" / "linker" / "week1" / "dense_layers.ipynb")

    run = course("similarity", "week1", "--json", "--threshold", "0.4", cwd=root)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert list(out) == ["assignment", "threshold", "pairs"]
    assert out["assignment"] == "week1" and out["threshold"] == 0.4
    assert out["pairs"][0] == {
        "exercise": "my_dense",
        "students": ["=ada", "bob\x1b[2J"],
        "score": 1.0,
    }
    assert [p["score"] for p in out["pairs"]] == sorted(
        (p["score"] for p in out["pairs"]), reverse=True
    )
    assert all(set(p) == {"exercise", "students", "score"} for p in out["pairs"])
    page = (root / "reports" / "week1" / "similarity.html").read_text()
    assert "<script>" not in page and "&lt;/pre&gt;&lt;script&gt;" in page
    assert "\x1b" not in page and "<mark>" in page and "data:image/png;base64," in page
    assert "do not read" not in page and "symbolic link" in page

    plain = course("similarity", "week1", cwd=root)
    assert plain.returncode == 0, plain.stderr
    assert "my_dense: =ada and bob\\x1b[2J" in plain.stdout  # escaped on the terminal
    assert "decides nothing" in plain.stdout
    wrong = course("similarity", "week1", "--threshold", "2", cwd=root)
    assert wrong.returncode == 2 and "from 0 to 1" in wrong.stderr
