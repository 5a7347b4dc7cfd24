"""``make demo``: release every assignment, hand in a sample class, autograde it, report,
compare its code (``course similarity``) and export its grades for Canvas (``course export``).

Run as ``python -m course.grading.demo`` from the course directory. The sample students are
named ``demo-...`` so that they are easy to tell from (and never overwrite) a real class.
"""

import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import nbformat

from course.grading import autograde, export, report, similarity
from course.grading import nbgrader_driver as driver
from course.grading.notebooks import exercises, fill_solutions, read_notebook
from course.grading.text import format_class_table, format_summary

# assignment -> (what the mistake is, {exercise: (old, new)}): the sample class's one
# plausible mistake per assignment, made by ``demo-mistake``
MISTAKES = {
    "week1": ("my_dense_v forgets the bias", {"my_dense_v": ("A_in @ W + b", "A_in @ W")}),
    "week2": (
        "propagate forgets 1/m in dw",
        {"propagate": ("dw = (X @ dZ.T) / m", "dw = X @ dZ.T")},
    ),
    "week3": (
        "backward_propagation takes tanh's derivative from Z1",
        {"backward_propagation": ("(1 - A1**2)", '(1 - cache["Z1"] ** 2)')},
    ),
    "week4": (
        "linear_backward forgets 1/m in dW",
        {"linear_backward": ("dW = dZ @ A_prev.T / m", "dW = dZ @ A_prev.T")},
    ),
    "week5": (
        "Adam has no bias correction of the first moment",
        {"update_parameters_with_adam": (" / (1 - beta1**t)", "")},
    ),
    "week6": (
        "dropout_forward forgets to divide by keep_prob",
        {"dropout_forward": ("A_dropped = A * D / keep_prob", "A_dropped = A * D")},
    ),
}


def sample_class(
    assignment: str, names: list[str]
) -> dict[str, tuple[str, list[str] | None, dict[str, tuple[str, str]] | None]]:
    """``{student: (what the submission shows, exercises filled in, mistakes)}``."""
    students = {
        "demo-complete": ("every exercise done right", None, None),
        "demo-partial": (
            f"{', '.join(names[: len(names) // 2])} done, the rest not started",
            names[: len(names) // 2],
            None,
        ),
        "demo-blank": ("the release, untouched", [], None),
    }
    if assignment in MISTAKES:
        what, replace = MISTAKES[assignment]
        students["demo-mistake"] = (f"all done, but {what}", None, replace)
    return students


def write_sample_class(root: Path | str, assignment: str) -> dict[str, str]:
    """Write the sample submissions to ``submitted/demo-*/<assignment>/`` (replacing old ones).

    Returns:
        ``{student: what the submission shows}``.
    """
    root = Path(root)
    pairs = {
        name: tuple(
            read_notebook(root / side / assignment / f"{name}.ipynb")
            for side in ("source", "release")
        )
        for name in driver.source_notebooks(root, assignment)
    }
    stamp = datetime.now(UTC).strftime(driver.TIMESTAMP_FORMAT)
    every = [name for source, _ in pairs.values() for name in exercises(source)]
    students = sample_class(assignment, every)
    for student, (_, names, replace) in students.items():
        folder = root / "submitted" / student / assignment
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for notebook, (source, release) in pairs.items():
            own = None if names is None else [n for n in names if n in exercises(source)]
            nb = fill_solutions(release, source, names=own, replace=replace)
            nbformat.write(nb, folder / f"{notebook}.ipynb")
        (folder / "timestamp.txt").write_text(stamp + "\n")
    return {student: what for student, (what, _, _) in students.items()}


def _progress(event, student, total=None):
    if student:
        print(f"   {event:<8} {student}", flush=True)


def main() -> int:
    root = driver.find_course_root()
    assignments = driver.assignments(root)
    print(f"1. releasing {', '.join(assignments)} from source/ to release/ (nbgrader)")
    released, kept = driver.release(root, assignments)
    for path in released:
        print(f"   {path.relative_to(root)}")
    for path in kept:
        print(f"   (the previous release/ notebook differed: kept as {path.relative_to(root)})")
    failed = False
    for step, assignment in enumerate(assignments, start=2):
        print(f"\n{step}. {assignment}: handing in a sample class to submitted/")
        students = write_sample_class(root, assignment)
        for student, what in students.items():
            print(f"   {student:<14} {what}")
        print("   autograding with the hidden tests (course autograde, in parallel) ...")
        summary = autograde.autograde(
            root, assignment, list(students), force=True, progress=_progress
        )
        print(f"\nScores for {assignment} (points per exercise, hidden tests included):\n")
        print(format_class_table(summary.results))
        print(format_summary(summary))
        failed = failed or bool(summary.errors)
    print(
        f"\nGrades are in {root / 'gradebook.db'}; graded notebooks in "
        f"{root / 'autograded'}/<student>/<assignment>/."
    )
    step = len(assignments) + 2
    print(f"\n{step}. code similarity (course similarity): pairs to look at, nothing decided")
    pages = []
    for assignment in assignments:
        result = similarity.analyze(root, assignment)
        pages.append(similarity.write_page(root, result))
        print(f"   {assignment}: {len(result.pairs())} pairs listed")
    print(f"\n{step + 1}. grades for Canvas's gradebook import (course export)")
    canvas = export.export(root, assignments, fmt="canvas")
    print(f"\n{step + 2}. class reports (course report), which link to both")
    for assignment in assignments:
        folder, errors = report.write_report(root, assignment)
        print(f"   {assignment}: {folder / 'index.html'}")
        failed = failed or bool(errors)
    print("\nOpen in a browser the similarity pages (they decide nothing):")
    for page in pages:
        print(f"   {page}")
    print(f"and import into Canvas's gradebook (Grades > Import): {canvas}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
