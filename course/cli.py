"""The ``course`` command (also ``python -m course``).

Student ids, notebook names and messages come from submissions: every line printed here is
:func:`~course.grading.untrusted.printable` (the tables of ``course.grading.results`` make
their own cells printable; JSON escapes control characters itself).
"""

import argparse
import json
import os
import sys

from course.grading import autograde, check, feedback, report, selfstudy, similarity
from course.grading import nbgrader_driver as driver
from course.grading.notebooks import UngradableNotebook
from course.grading.text import (
    format_check,
    format_class_table,
    format_result,
    format_summary,
    submissions,
)
from course.grading.untrusted import printable

EXIT_UNGRADABLE = 2


_UNSAFE_WARNING = (
    "warning: --unsafe-no-sandbox: student code runs with your rights; it can read the "
    "hidden tests and the gradebook, change files, and fake its scores"
)


def _say(text, file=None):
    """Print one line that may hold text from a submission, as :func:`printable` makes it."""
    print(printable(text), file=file or sys.stdout)


def _sandbox_choice(args):
    if args.unsafe_no_sandbox:
        print(_UNSAFE_WARNING, file=sys.stderr)
    return not args.unsafe_no_sandbox


def _colour():
    """Colour the tables on a terminal, not when piped (nor with NO_COLOR set)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _cmd_grade(args):
    result = selfstudy.grade_notebook(
        args.notebook, assignment=args.assignment, sandboxed=_sandbox_choice(args)
    )
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(format_result(result, colour=_colour()))
    return 0


def _cmd_check(args):
    result = check.run_visible_tests(args.notebook, timeout=args.timeout or check.TIMEOUT)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(format_check(result, colour=_colour()))
    return 0


def _cmd_release(args):
    root = driver.find_course_root()
    released, kept = driver.release(root, args.assignments)
    for path in released:
        _say(f"released {path.relative_to(root)}")
    for path in kept:
        _say(f"kept the previous version (it differed) as {path.relative_to(root)}")
    return 0


class _ProgressBar:
    """A tqdm progress bar with ETA on stderr (hidden when stderr is not a terminal).

    Args:
        doing: what is done per student, for the line an error prints (``"grade"``).
    """

    def __init__(self, doing):
        self.doing = doing
        self.bar = None

    def __call__(self, event, student, total=None):
        from tqdm import tqdm

        if event == "start":
            self.bar = tqdm(total=total, unit="submission", file=sys.stderr, disable=None)
            return
        if event == "regrading":  # student: why graded submissions are graded again
            self.bar.write(printable(f"{student}: regrading {submissions(total)}"), sys.stderr)
            return
        self.bar.update(1)
        if event == "error":
            line = printable(f"could not {self.doing} {student} (see the summary)")
            self.bar.write(line, file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _cmd_autograde(args):
    root = driver.find_course_root()
    bar = _ProgressBar("grade")
    try:
        summary = autograde.autograde(
            root,
            args.assignment,
            args.student,
            workers=args.workers,
            scheduler=args.scheduler,
            timeout=args.timeout,
            force=args.force,
            progress=bar,
            sandboxed=_sandbox_choice(args),
        )
    finally:
        bar.close()
    if args.json:
        print(
            json.dumps(
                {
                    "assignment": args.assignment,
                    "students": {s: r.to_json() for s, r in sorted(summary.results.items())},
                    "graded": summary.graded,
                    "skipped": summary.skipped,
                    "regraded": summary.regraded,
                    "errors": summary.errors,
                },
                indent=2,
            )
        )
    else:
        print(format_class_table(summary.results))
        print(format_summary(summary))
    return 1 if summary.errors else 0


def _cmd_feedback(args):
    root = driver.find_course_root()
    bar = _ProgressBar("write the feedback of")
    try:
        written, errors = feedback.write_feedback(root, args.assignment, args.student, progress=bar)
    finally:
        bar.close()
    for student, paths in sorted(written.items()):
        for path in paths:
            _say(f"{student}: {path.relative_to(root)}")
    count = sum(len(paths) for paths in written.values())
    _say(f"{args.assignment}: {count} feedback pages written for {len(written)} students")
    for student, message in sorted(errors.items()):
        _say(f"  no feedback for {student}: {message}")
    return 1 if errors else 0


def _cmd_report(args):
    root = driver.find_course_root()
    bar = _ProgressBar("read the grades of")
    try:
        folder, errors = report.write_report(root, args.assignment, progress=bar)
    finally:
        bar.close()
    for path in sorted(folder.iterdir()):
        _say(path.relative_to(root))
    for student, message in sorted(errors.items()):
        _say(f"  not in the report: {student}: {message}")
    from course.grading import export  # nbgrader's exporters: imported when used

    for path in export.recorded_exports(root, args.assignment):
        _say(f"grades export holding {args.assignment} (course export): {path}")
    _say(f"open {(folder / 'index.html').relative_to(root)} in a browser")
    return 1 if errors else 0


def _cmd_export(args):
    from course.grading import export  # nbgrader's exporters: imported when used

    root = driver.find_course_root()
    path = export.export(root, args.assignments, fmt=args.format, output=args.output)
    _say(f"{', '.join(args.assignments)}: {args.format} grades written to {path}")
    return 0


def _cmd_similarity(args):
    root = driver.find_course_root()
    result = similarity.analyze(root, args.assignment, threshold=args.threshold)
    page = similarity.write_page(root, result)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
        return 0
    pairs = result.pairs()
    for pair in pairs:
        _say(f"{pair.score:5.2f}  {pair.exercise}: {pair.students[0]} and {pair.students[1]}")
    _say(
        f"{args.assignment}: {len(pairs)} pair{'' if len(pairs) == 1 else 's'} from a score of "
        f"{args.threshold:g} (this decides nothing: look at the code)"
    )
    _say(f"open {page.relative_to(root)} in a browser")
    return 0


def _threshold(text):
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be a score from 0 to 1, got {text}")
    return value


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text):
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def _add_unsafe_flag(parser):
    parser.add_argument(
        "--unsafe-no-sandbox",
        action="store_true",
        help="run student code without the bubblewrap sandbox (not for untrusted code)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="course",
        description="Neural Networks from Scratch: release, grade and autograde the course's "
        "notebooks.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    grade = sub.add_parser(
        "grade",
        help="grade one notebook with the full hidden tests",
        description="Grade one notebook with the full hidden tests, as the instructor's "
        "autograder would, and print the score of every test cell.",
    )
    grade.add_argument("notebook", help="path to the .ipynb file to grade")
    grade.add_argument(
        "--assignment",
        metavar="ID",
        help="assignment the notebook belongs to (default: found from the file)",
    )
    grade.add_argument("--json", action="store_true", help="print one JSON object")
    _add_unsafe_flag(grade)
    grade.set_defaults(func=_cmd_grade)

    check_ = sub.add_parser(
        "check",
        help="run one notebook's visible checks and show which exercises pass",
        description="Run the visible checks of a notebook, as saved, and print one row per "
        "exercise: whether its visible checks pass, the points it is worth, and the message "
        "of the first check that fails. The hidden tests, which decide the grade, are not "
        "run (`course grade` runs them). Coloured on a terminal, plain when piped.",
    )
    check_.add_argument("notebook", help="path to the .ipynb file to check")
    check_.add_argument(
        "--timeout",
        type=_positive_float,
        metavar="S",
        help=f"seconds each cell may run (default: {check.TIMEOUT:g})",
    )
    check_.add_argument("--json", action="store_true", help="print one JSON object")
    check_.set_defaults(func=_cmd_check)

    release = sub.add_parser(
        "release",
        help="generate release/ from source/ (nbgrader generate_assignment)",
        description="Generate the student notebooks in release/ from the instructor's "
        "notebooks in source/, and record the assignments in gradebook.db.",
    )
    release.add_argument(
        "assignments", nargs="*", metavar="ASSIGNMENT", help="assignments to release (default: all)"
    )
    release.set_defaults(func=_cmd_release)

    autograde = sub.add_parser(
        "autograde",
        help="autograde the submissions of an assignment, in parallel",
        description="Autograde submitted/<student>/ASSIGNMENT/ with the hidden tests, in "
        "parallel on warm execution servers (or on a Dask cluster), record every grade in "
        "nbgrader's gradebook.db and write autograded/. Submissions already graded and "
        "unchanged are skipped. Exits 1 if any submission could not be graded.",
    )
    autograde.add_argument("assignment", metavar="ASSIGNMENT", help="assignment to grade")
    autograde.add_argument(
        "--student",
        action="append",
        metavar="ID",
        help="grade only this student (repeatable; default: everyone)",
    )
    autograde.add_argument(
        "--workers",
        type=_positive_int,
        metavar="N",
        help="notebooks run at once on this machine (default: the number of cores)",
    )
    autograde.add_argument(
        "--scheduler",
        metavar="ADDR",
        help="run on the Dask cluster whose scheduler is at ADDR (tcp://HOST:PORT)",
    )
    autograde.add_argument(
        "--timeout",
        type=_positive_float,
        metavar="S",
        help="seconds each cell may run (default: Execute.timeout in nbgrader_config.py)",
    )
    autograde.add_argument(
        "--force", action="store_true", help="grade again what is already graded and unchanged"
    )
    autograde.add_argument("--json", action="store_true", help="print one JSON object")
    _add_unsafe_flag(autograde)
    autograde.set_defaults(func=_cmd_autograde)

    feedback_ = sub.add_parser(
        "feedback",
        help="write one HTML feedback page per autograded student",
        description="Write feedback/<student>/ASSIGNMENT/<notebook>.html for every "
        "autograded student: the score of each exercise, every test's result and message, "
        "and the student's own code and outputs. Hidden tests' code and expected values are "
        "never shown. Exits 1 if a page could not be written.",
    )
    feedback_.add_argument("assignment", metavar="ASSIGNMENT", help="assignment to report on")
    feedback_.add_argument(
        "--student",
        action="append",
        metavar="ID",
        help="only this student (repeatable; default: everyone autograded)",
    )
    feedback_.set_defaults(func=_cmd_feedback)

    report_ = sub.add_parser(
        "report",
        help="write the class report of an assignment under reports/",
        description="Write reports/ASSIGNMENT/: grades.csv (the columns of `nbgrader "
        "export`), a histogram of the total scores, a bar chart of each exercise's pass "
        "rate, the most common failure messages per exercise, and index.html showing all "
        "of it, with links to the similarity page (course similarity) and the files of "
        "course export that hold the assignment. Exits 1 if some autograded student's "
        "grades could not be read.",
    )
    report_.add_argument("assignment", metavar="ASSIGNMENT", help="assignment to report on")
    report_.set_defaults(func=_cmd_report)

    export_ = sub.add_parser(
        "export",
        help="write the gradebook's grades of assignments to a file for the LMS",
        description="Write the grades of the assignments from nbgrader's gradebook, late "
        "penalties taken off as nbgrader takes them, one row per student of its student "
        "table. canvas: the CSV file Canvas's gradebook import reads (a column per "
        "assignment titled with its maximum, a Points Possible row, lms_user_id as the ID, "
        "an empty cell where nothing was handed in). csv: the columns of `nbgrader export`. "
        "The same Canvas exporter works as `nbgrader export "
        "--exporter=course.grading.export.CanvasExportPlugin`.",
    )
    export_.add_argument(
        "assignments", nargs="+", metavar="ASSIGNMENT", help="assignments to export, in order"
    )
    export_.add_argument(
        "--format", choices=["canvas", "csv"], default="canvas", help="default: canvas"
    )
    export_.add_argument(
        "--output",
        metavar="FILE",
        help="file to write (default: reports/canvas.csv, or reports/grades.csv for csv)",
    )
    export_.set_defaults(func=_cmd_export)

    similarity_ = sub.add_parser(
        "similarity",
        help="find students whose code shares much that is unusual (decides nothing)",
        description="Compare, exercise by exercise, the code every student wrote in the "
        "solution cells of ASSIGNMENT (autograded/, else submitted/), with names, comments, "
        "formatting and statement order ignored and the release's stub and code many "
        "students share removed. Write reports/ASSIGNMENT/similarity.html: the pairs from "
        "the threshold with both codes side by side, the shared lines highlighted, the "
        "distribution of scores, and how much of each exercise was stub or common code. It "
        "decides nothing: it shows where a human may want to look.",
    )
    similarity_.add_argument("assignment", metavar="ASSIGNMENT", help="assignment to compare")
    similarity_.add_argument(
        "--threshold",
        type=_threshold,
        default=similarity.THRESHOLD,
        metavar="T",
        help=f"list pairs from this score, 0 to 1 (default: {similarity.THRESHOLD:g})",
    )
    similarity_.add_argument(
        "--json",
        action="store_true",
        help='print {"assignment", "threshold", "pairs": [{"exercise", "students", "score"}]}',
    )
    similarity_.set_defaults(func=_cmd_similarity)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UngradableNotebook as exc:
        _say(f"course {args.command}: {exc}", file=sys.stderr)
        return EXIT_UNGRADABLE
    except driver.CourseError as exc:
        _say(f"course {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
