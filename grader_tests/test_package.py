"""The installable package: it holds no answer, its functions say their types, and its
command line documents itself."""

import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys
import types
import typing
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
    "softmax",
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


def package_modules():
    """Every module of the package, imported (not ``__main__`` ones: importing runs them)."""
    for info in pkgutil.walk_packages(course.__path__, "course."):
        if info.name.rpartition(".")[2] != "__main__":
            yield importlib.import_module(info.name)


def public_functions(module):
    """``{qualified name: function}`` of what ``module`` defines that others call.

    Its functions and its classes' methods (properties, static and class methods included)
    whose name has no leading underscore, and its public classes' constructors.
    """

    def own(obj):
        obj = inspect.unwrap(obj)  # functools.cache, contextmanager
        code = getattr(obj, "__code__", None)
        return obj if code is not None and code.co_filename == module.__file__ else None

    found = {}
    for name, obj in vars(module).items():
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_") and not (attr == "__init__" and name[0] != "_"):
                    continue
                if isinstance(member, (staticmethod, classmethod)):
                    member = member.__func__
                elif isinstance(member, property):
                    member = member.fget
                if callable(member) and own(member):
                    found[f"{module.__name__}.{name}.{attr}"] = own(member)
        elif not name.startswith("_") and callable(obj) and own(obj):
            found[f"{module.__name__}.{name}"] = own(obj)
    return found


def unannotated(fn):
    """The parameters of ``fn`` without an annotation (``return`` for its result).

    ``self`` and ``cls``, ``*args`` and ``**kwargs`` need none.
    """
    signature = inspect.signature(fn)
    missing = [
        p.name
        for i, p in enumerate(signature.parameters.values())
        if p.annotation is p.empty
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        and not (i == 0 and p.name in ("self", "cls"))
    ]
    return missing + (["return"] if signature.return_annotation is signature.empty else [])


def type_names(module):
    """The names ``module``'s annotations may use: its globals, and what it imports only
    for type checkers (``if TYPE_CHECKING:``), imported here."""
    names = dict(vars(module))
    for node in ast.parse(Path(module.__file__).read_text()).body:
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            exec(compile(ast.Module(node.body, []), module.__file__, "exec"), names)
    return names


PLANTED = """
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from pathlib import Path
def typed(x: int, *args, flag: bool = False, **kwargs) -> "Path": ...
def untyped(x, y: int): ...
class Public:
    def __init__(self, size): ...
    @property
    def size(self) -> int: ...
    def method(self, y: "Unknown") -> None: ...
class _Private:
    def __init__(self, size): ...
    def method(self): ...
"""


def planted_module(folder):
    path = folder / "planted.py"
    path.write_text(PLANTED)
    module = types.ModuleType("planted")
    module.__file__ = str(path)
    exec(compile(PLANTED, module.__file__, "exec"), vars(module))
    return module


def test_the_annotation_checks_find_what_is_missing_or_unknown(tmp_path):
    module = planted_module(tmp_path)
    found = public_functions(module)
    assert set(found) == {
        "planted.typed",
        "planted.untyped",
        "planted.Public.__init__",
        "planted.Public.size",
        "planted.Public.method",
        "planted._Private.method",
    }
    assert {name: unannotated(fn) for name, fn in found.items() if unannotated(fn)} == {
        "planted.untyped": ["x", "return"],
        "planted.Public.__init__": ["size", "return"],
        "planted._Private.method": ["return"],
    }
    names = type_names(module)
    assert typing.get_type_hints(found["planted.typed"], names)["return"] is Path
    with pytest.raises(NameError, match="Unknown"):
        typing.get_type_hints(found["planted.Public.method"], names)


def test_every_public_function_annotates_its_parameters_and_result():
    missing = {}
    for module in package_modules():
        for name, fn in public_functions(module).items():
            if unannotated(fn):
                missing[name] = unannotated(fn)
    assert missing == {}, f"annotate these parameters (and results: 'return'): {missing}"


def test_every_annotation_names_a_type_that_exists():
    wrong = {}
    for module in package_modules():
        names = type_names(module)
        for name, fn in public_functions(module).items():
            try:
                typing.get_type_hints(fn, names)
            except Exception as exc:  # NameError, or a bad expression
                wrong[name] = f"{type(exc).__name__}: {exc}"
    assert wrong == {}, f"annotations that name nothing importable: {wrong}"


COMMANDS = ["grade", "check", "release", "autograde", "feedback", "report", "export", "similarity"]


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
