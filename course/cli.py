"""The ``course`` command (also ``python -m course``)."""

import argparse
import json
import sys

from course.grading import nbgrader_driver as driver
from course.grading.notebooks import UngradableNotebook
from course.grading.results import format_class_table, format_result

EXIT_UNGRADABLE = 2


def _cmd_grade(args):
    result = driver.grade_notebook(args.notebook, assignment=args.assignment)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(format_result(result))
    return 0


def _cmd_release(args):
    root = driver.find_course_root()
    released, kept = driver.release(root, args.assignments)
    for path in released:
        print(f"released {path.relative_to(root)}")
    for path in kept:
        print(f"kept the previous version (it differed) as {path.relative_to(root)}")
    return 0


def _progress(done, total, student):
    if student is None:
        print(f"[{done}/{total}] done", file=sys.stderr)
    else:
        print(f"[{done + 1}/{total}] grading {student}", file=sys.stderr)


def _cmd_autograde(args):
    root = driver.find_course_root()
    results, errors = driver.autograde(root, args.assignment, args.student, progress=_progress)
    if args.json:
        print(
            json.dumps(
                {
                    "assignment": args.assignment,
                    "students": {s: r.to_json() for s, r in sorted(results.items())},
                    "errors": errors,
                },
                indent=2,
            )
        )
    else:
        print(format_class_table(results, errors))
    return 0


def build_parser():
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
    grade.set_defaults(func=_cmd_grade)

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
        help="autograde the submissions of an assignment",
        description="Autograde submitted/<student>/ASSIGNMENT/ with nbgrader, record the "
        "grades in gradebook.db, and print a table of scores per student and exercise.",
    )
    autograde.add_argument("assignment", metavar="ASSIGNMENT", help="assignment to grade")
    autograde.add_argument(
        "--student",
        action="append",
        metavar="ID",
        help="grade only this student (repeatable; default: everyone)",
    )
    autograde.add_argument("--json", action="store_true", help="print one JSON object")
    autograde.set_defaults(func=_cmd_autograde)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UngradableNotebook as exc:
        print(f"course {args.command}: {exc}", file=sys.stderr)
        return EXIT_UNGRADABLE
    except driver.CourseError as exc:
        print(f"course {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
