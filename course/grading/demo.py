"""``make demo``: release week 1, hand in a small sample class, autograde it, show the scores.

Run as ``python -m course.grading.demo`` from the course directory. The sample students are
named ``demo-...`` so that they are easy to tell from (and never overwrite) a real class.
"""

import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import nbformat

from course.grading import engine
from course.grading import nbgrader_driver as driver
from course.grading.notebooks import fill_solutions, read_notebook
from course.grading.results import format_class_table, format_summary

ASSIGNMENT = "week1"
NOTEBOOK = "dense_layers"

# student id -> (what the sample shows, exercises filled in, mistakes introduced)
SAMPLE_CLASS = {
    "demo-complete": ("every exercise done right", None, None),
    "demo-partial": (
        "my_dense and my_sequential done, the rest not started",
        ["my_dense", "my_sequential"],
        None,
    ),
    "demo-no-bias": (
        "all done, but my_dense_v forgets the bias",
        None,
        {"my_dense_v": ("A_in @ W + b", "A_in @ W")},
    ),
    "demo-blank": ("the release, untouched", [], None),
}


def write_sample_class(root):
    """Write the sample submissions to ``submitted/demo-*/week1/`` (replacing old ones).

    Returns:
        The list of student ids written.
    """
    root = Path(root)
    source = read_notebook(root / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    release = read_notebook(root / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    stamp = datetime.now(UTC).strftime(driver.TIMESTAMP_FORMAT)
    for student, (_, names, replace) in SAMPLE_CLASS.items():
        folder = root / "submitted" / student / ASSIGNMENT
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        nb = fill_solutions(release, source, names=names, replace=replace)
        nbformat.write(nb, folder / f"{NOTEBOOK}.ipynb")
        (folder / "timestamp.txt").write_text(stamp + "\n")
    return list(SAMPLE_CLASS)


def main():
    root = driver.find_course_root()
    print(f"1. releasing {ASSIGNMENT} from source/ to release/ (nbgrader generate_assignment)")
    released, kept = driver.release(root, [ASSIGNMENT])
    for path in released:
        print(f"   {path.relative_to(root)}")
    for path in kept:
        print(f"   (the previous release/ notebook differed: kept as {path.relative_to(root)})")
    print("2. handing in a sample class to submitted/:")
    for student in write_sample_class(root):
        print(f"   {student:<14} {SAMPLE_CLASS[student][0]}")
    print("3. autograding with the hidden tests (course autograde, in parallel)")

    def progress(event, student, total=None):
        if student:
            print(f"   {event:<8} {student}", flush=True)

    summary = engine.autograde(root, ASSIGNMENT, list(SAMPLE_CLASS), force=True, progress=progress)
    print(f"\nScores for {ASSIGNMENT} (points per exercise, hidden tests included):\n")
    print(format_class_table(summary.results))
    print(format_summary(summary))
    print(
        f"\nGrades are in {root / 'gradebook.db'}; graded notebooks in "
        f"{root / 'autograded'}/<student>/{ASSIGNMENT}/."
    )
    return 1 if summary.errors else 0


if __name__ == "__main__":
    sys.exit(main())
