"""The installable package: it holds no answer, and its command line documents itself."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import course
from course.grading.notebooks import exercises, read_notebook

PACKAGE = Path(course.__file__).parent

# Graded function names other tools rely on, for every week: renaming one breaks them.
DESIGN_NAMES = {
    "my_dense",
    "my_sequential",
    "my_dense_v",
    "my_sequential_v",
    "normalize_rows",
    "L1",
    "L2",
    "initialize_with_zeros",
    "propagate",
    "optimize",
    "predict",
    "model",
    "layer_sizes",
    "initialize_parameters",
    "forward_propagation",
    "compute_cost",
    "backward_propagation",
    "update_parameters",
    "nn_model",
    "initialize_parameters_deep",
    "linear_forward",
    "linear_activation_forward",
    "L_model_forward",
    "linear_backward",
    "linear_activation_backward",
    "L_model_backward",
    "two_layer_model",
    "L_layer_model",
}


def graded_names(repo):
    names = set(DESIGN_NAMES)
    for path in sorted((repo / "source").glob("*/*.ipynb")):
        names.update(exercises(read_notebook(path)))
    return names


def definitions(source):
    """Every name a module binds: functions, classes, assignments and imports (not arguments)."""
    bound = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
    return bound


def test_definitions_detector_finds_planted_answers():
    planted = "def my_dense(a, W, b, g):\n    return g(a @ W + b)\nL_model_backward = len\n"
    assert {"my_dense", "L_model_backward"} <= definitions(planted)
    assert "predict" in definitions("from x import y as predict\n")


def test_package_defines_no_graded_function(repo):
    names = graded_names(repo)
    assert {"my_dense", "my_sequential_v"} <= names
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        found = definitions(path.read_text()) & names
        if found:
            offenders[str(path.relative_to(PACKAGE))] = sorted(found)
    assert offenders == {}, f"the package must not define graded functions: {offenders}"


COMMANDS = ["grade", "check", "release", "autograde", "feedback", "report"]


def run_course(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "course", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_help_lists_every_command():
    out = run_course("--help")
    assert out.returncode == 0
    for command in COMMANDS:
        assert command in out.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    out = run_course(command, "--help")
    assert out.returncode == 0
    assert "usage: course" in out.stdout and len(out.stdout.splitlines()) > 4


def test_every_option_has_help():
    import argparse

    from course.cli import build_parser

    (commands,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert sorted(commands.choices) == sorted(COMMANDS)
    for name, parser in commands.choices.items():
        for action in parser._actions:
            assert action.help, f"course {name}: {action.dest} has no help text"


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "course"
    out = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "grade" in out.stdout


def test_unknown_assignment_is_a_clear_error(repo):
    out = run_course("release", "week99", cwd=repo)
    assert out.returncode == 1
    assert "no assignment week99" in out.stderr and "known: week1" in out.stderr
