"""``make bench``: ``course autograde`` against ``nbgrader autograde`` on the same class.

For every assignment in ``source/`` it builds a class (correct, partly done, blank and slow
submissions), grades identical copies with both in this one run, checks that every cell's
score is the same, and prints a table with the speed targets:

* overhead: at most 0.15 s per submission beyond the submissions' own execution time,
  ``(wall x workers - sum of own times) / submissions``; the table also shows the part of
  it spent before the first submission could run (``start``: the warm servers importing
  their modules and running the set-up cells, ``start seconds x workers / submissions``);
* throughput: at least 5x nbgrader's on week 1, at least 2.3x on compute-bound weeks;
* floor: wall time within 1.3x of ``sum of own times / workers``.

It also times ``course check`` (the command a student runs: the visible checks of one
correct notebook), the best of three runs: under 3 s on week 1; and ``course grade`` (a
student grading one finished notebook, sandbox and judge on) against ``jupyter nbconvert
--to notebook --execute`` on the same notebook, each the best of two runs taken in turn:
``course grade`` within 1.3x of nbconvert's time on every week.

The command exits 1 when any target misses for any assignment.

A submission's own time is the time its cells take to run, measured by the executor
(the shared locked cells before the first exercise run once per worker, not per student).
Usage: ``python grader_tests/bench_autograde.py [ASSIGNMENT...] [--size N]``.
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from course.grading import autograde
from course.grading import nbgrader_driver as driver
from course.grading.notebooks import exercises, fill_solutions, nbgrader_meta, read_notebook

REPO = Path(__file__).resolve().parents[1]
# share of the class in each kind of submission
MIX = {"correct": 0.4, "partly done": 0.27, "blank": 0.2, "slow": 0.13}
SLOW_SECONDS = 0.5
# assignments whose training cells make them compute-bound
COMPUTE_BOUND = {"week2", "week3", "week4", "week5", "week6"}
TARGETS = {"overhead": 0.15, "floor": 1.3, "grade": 1.3}
CHECK_SECONDS = {"week1": 3.0}  # `course check` targets, per assignment


def time_check(notebook, runs=3):
    """Best wall time of the ``course check`` command on ``notebook`` (all must pass)."""
    command = [str(Path(sys.executable).parent / "course"), "check", str(notebook), "--json"]
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        best = min(best, time.perf_counter() - start)
        report = json.loads(done.stdout)
        if report["passed"] != len(report["exercises"]):
            raise RuntimeError(f"course check failed a correct notebook: {done.stdout}")
    return best


def time_grade(notebook, runs=2):
    """Best wall times of ``course grade`` and of ``jupyter nbconvert --execute`` on
    ``notebook``, run in turn ``runs`` times: ``(grade, nbconvert)``.

    ``course grade`` must give the notebook full marks; nbconvert writes its executed copy
    to a temporary folder and must run every cell without an error.
    """
    bin_ = Path(sys.executable).parent
    grade = [str(bin_ / "course"), "grade", str(notebook), "--json"]
    best = {"grade": float("inf"), "nbconvert": float("inf")}
    with tempfile.TemporaryDirectory(prefix="course-bench-nbconvert-") as out:
        execute = [
            str(bin_ / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
            "--ExecutePreprocessor.timeout=600", "--output-dir", out, str(notebook),
        ]  # fmt: skip
        for _ in range(runs):
            for name, command in (("nbconvert", execute), ("grade", grade)):
                start = time.perf_counter()
                done = subprocess.run(command, capture_output=True, text=True)
                best[name] = min(best[name], time.perf_counter() - start)
                if done.returncode != 0:
                    raise RuntimeError(f"{' '.join(command)} failed: {done.stderr[-2000:]}")
                result = json.loads(done.stdout) if name == "grade" else None
                if result and result["score"] != result["max_score"]:
                    raise RuntimeError(f"course grade did not give full marks: {done.stdout}")
    return best["grade"], best["nbconvert"]


def build_class(root, assignment, size):
    """Hand in ``size`` submissions of ``assignment`` under ``root/submitted``."""
    (notebook_id,) = driver.source_notebooks(root, assignment)  # the course's have one each
    release = read_notebook(root / "release" / assignment / f"{notebook_id}.ipynb")
    source = read_notebook(root / "source" / assignment / f"{notebook_id}.ipynb")
    names = exercises(source)
    slow = fill_solutions(release, source)
    for cell in slow.cells:
        if nbgrader_meta(cell).get("grade_id") == names[0]:
            cell.source += f"\n\nimport time\ntime.sleep({SLOW_SECONDS})  # a slow student"
    kinds = {
        "correct": fill_solutions(release, source),
        "partly done": fill_solutions(release, source, names=names[: len(names) // 2]),
        "blank": release,
        "slow": slow,
    }
    counts = {kind: max(1, round(share * size)) for kind, share in MIX.items()}
    counts["correct"] += size - sum(counts.values())
    for kind, count in counts.items():
        for k in range(count):
            folder = root / "submitted" / f"{kind.replace(' ', '-')}-{k:03d}" / assignment
            folder.mkdir(parents=True)
            nbformat.write(kinds[kind], folder / f"{notebook_id}.ipynb")
    return counts


def bench(assignment, size, workdir):
    ours = workdir / assignment / "ours"
    ours.mkdir(parents=True)
    shutil.copy2(REPO / "nbgrader_config.py", ours / "nbgrader_config.py")
    shutil.copytree(REPO / "source" / assignment, ours / "source" / assignment)
    driver.release(ours, [assignment])
    counts = build_class(ours, assignment, size)
    theirs = workdir / assignment / "theirs"
    shutil.copytree(ours, theirs)

    start = time.perf_counter()
    _, errors = driver.nbgrader_autograde(theirs, assignment)
    nbgrader_seconds = time.perf_counter() - start
    start = time.perf_counter()
    summary = autograde.autograde(ours, assignment)
    our_seconds = time.perf_counter() - start
    same = driver.gradebook_scores(ours, assignment) == driver.gradebook_scores(theirs, assignment)
    (notebook_id,) = driver.source_notebooks(ours, assignment)
    correct = ours / "submitted" / "correct-000" / assignment / f"{notebook_id}.ipynb"
    check = time_check(correct)
    grade, nbconvert = time_grade(correct)
    n = len(summary.graded)
    own = sum(summary.own_seconds.values())
    floor = own / summary.workers
    return {
        "assignment": assignment,
        "submissions": n,
        "mix": counts,
        "nbgrader": nbgrader_seconds,
        "ours": our_seconds,
        "ratio": nbgrader_seconds / our_seconds,
        "overhead": (our_seconds * summary.workers - own) / n,
        "start": summary.start_seconds * summary.workers / n,
        "floor": floor,
        "to_floor": our_seconds / floor if floor else float("inf"),
        "same": same and not errors and not summary.errors,
        "workers": summary.workers,
        "check": check,
        "grade": grade,
        "nbconvert": nbconvert,
    }


def report(rows):
    header = (
        "| assignment | submissions | nbgrader s | course s | speed-up | overhead s/sub "
        "| of which start | floor s | wall/floor | same scores | check s |"
    )
    lines = [header, "|" + "---|" * 11]
    for r in rows:
        lines.append(
            f"| {r['assignment']} | {r['submissions']} | {r['nbgrader']:.1f} | {r['ours']:.1f} "
            f"| {r['ratio']:.1f}x | {r['overhead']:.3f} | {r['start']:.3f} | {r['floor']:.1f} "
            f"| {r['to_floor']:.2f} | {'yes' if r['same'] else 'NO'} | {r['check']:.2f} |"
        )
    lines += [
        "",
        "| assignment | nbconvert --execute s | course grade s | course grade / nbconvert |",
        "|" + "---|" * 4,
    ]
    for r in rows:
        lines.append(
            f"| {r['assignment']} | {r['nbconvert']:.1f} | {r['grade']:.1f} "
            f"| {r['grade'] / r['nbconvert']:.2f} |"
        )
    return "\n".join(lines)


def verdicts(rows):
    failed = []
    for r in rows:
        needed = 2.3 if r["assignment"] in COMPUTE_BOUND else 5.0
        checks = {
            f"speed-up >= {needed}x": r["ratio"] >= needed,
            f"overhead <= {TARGETS['overhead']} s": r["overhead"] <= TARGETS["overhead"],
            f"wall/floor <= {TARGETS['floor']}": r["to_floor"] <= TARGETS["floor"],
            "identical scores": r["same"],
            f"course grade <= {TARGETS['grade']}x nbconvert --execute": r["grade"]
            <= TARGETS["grade"] * r["nbconvert"],
        }
        if r["assignment"] in CHECK_SECONDS:
            target = CHECK_SECONDS[r["assignment"]]
            checks[f"course check < {target:g} s"] = r["check"] < target
        for name, ok in checks.items():
            print(f"  {r['assignment']}: {name}: {'ok' if ok else 'MISSED'}")
            if not ok:
                failed.append(f"{r['assignment']}: {name}")
    return failed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", help="default: every assignment in source/")
    parser.add_argument("--size", type=int, default=60, help="submissions per class")
    args = parser.parse_args(argv)
    names = args.assignments or driver.assignments(REPO)
    with tempfile.TemporaryDirectory(prefix="course-bench-") as tmp:
        rows = []
        for name in names:
            print(f"benchmarking {name} with {args.size} submissions ...", flush=True)
            rows.append(bench(name, args.size, Path(tmp)))
            print(report(rows[-1:]).splitlines()[2], flush=True)  # its row, as soon as known
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {platform.system()} {platform.release()}\n"
    )
    print(report(rows))
    print()
    failed = verdicts(rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
