"""Checks that visible (and hidden) test cells call, with messages that teach.

Each check looks at one thing, in the order a student should fix them: the type, then the
shape, then the values. A failed check raises :class:`CheckFailed` (an ``AssertionError``)
whose message says what is wrong and names the most likely mistake. In Jupyter, a failed
check shows that message in red, without a traceback through these helpers.

:func:`check_notebook` runs every visible check of the saved notebook at once and shows a
table (the last cell of every notebook calls it).

Example:
    >>> check_array(np.zeros((3, 1)), np.zeros((3, 1)), "dW")
    >>> passed("my_dense passes the visible checks")  # prints a green line
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from course.terminal import colour

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = [
    "CheckFailed",
    "check_type",
    "check_shape",
    "check_values",
    "check_array",
    "check_unchanged",
    "passed",
    "check_notebook",
    "colour",
]


class CheckFailed(AssertionError):
    """A check found a mistake; the message says which and what to try.

    IPython (and so Jupyter) shows it as its message in red, instead of a traceback that
    would lead through these helpers: the mistake is in the function being checked.
    """

    def _render_traceback_(self):
        # IPython's hook for an exception's own display: a list of lines
        lines = str(self).splitlines() or ["a check failed"]
        return [colour(f"\u2717 {lines[0]}", "red"), *lines[1:]]


def _fail(message):
    raise CheckFailed(message)


def _shape(value):
    return np.shape(value)


def check_type(value: object, expected_type: type | tuple[type, ...], name: str) -> None:
    """Fail unless ``value`` is an instance of ``expected_type``.

    Args:
        value: what the student's code returned.
        expected_type: a type or tuple of types, e.g. ``np.ndarray`` or ``(int, float)``.
        name: how to call the value in the message, e.g. ``"my_dense(x, W, b, sigmoid)"``.
    """
    if isinstance(value, expected_type):
        return
    wanted = (
        " or ".join(t.__name__ for t in expected_type)
        if isinstance(expected_type, tuple)
        else expected_type.__name__
    )
    got = type(value).__name__
    if value is None:
        hint = "did you forget the return statement?"
    elif isinstance(value, tuple) and expected_type is np.ndarray:
        hint = "did you return several values (a tuple) where one array is expected?"
    elif isinstance(value, list) and expected_type is np.ndarray:
        hint = "build the result with NumPy (np.zeros, np.dot, @) instead of a Python list."
    elif isinstance(value, np.ndarray) and expected_type is float:
        hint = "turn a one-element array into a number with float(...) or .item()."
    else:
        hint = f"return a {wanted}."
    _fail(f"{name} should be a {wanted} but is a {got}: {hint}")


def _shape_hint(got, expected):
    if len(got) == 2 and got == expected[::-1]:
        return "it looks transposed: check the order of the factors in the product (or a .T)."
    if len(got) == 1 and len(expected) == 2 and got[0] in expected and 1 in expected:
        return (
            f"this is a rank-1 array; keep the second axis with keepdims=True or "
            f".reshape{expected}."
        )
    if len(got) == 2 and len(expected) == 1 and got in ((1, expected[0]), (expected[0], 1)):
        return f"there is an extra axis of length 1; the contract asks for shape {expected}."
    if len(got) == 2 and len(expected) == 2 and 1 in expected and got[0] == got[1] > 1:
        return (
            "a square result often comes from broadcasting a (n,) array against a (n, 1) one; "
            "check the shapes of the two operands."
        )
    if len(got) == len(expected):
        wrong = [i for i, (g, e) in enumerate(zip(got, expected)) if g != e]
        return f"axis {wrong[0]} has the wrong length; check which dimension you loop or sum over."
    return f"the result has {len(got)} axes instead of {len(expected)}."


def check_shape(value: ArrayLike, expected_shape: Iterable[int], name: str) -> None:
    """Fail unless ``np.shape(value) == expected_shape``.

    Args:
        value: an array (or anything ``np.shape`` accepts).
        expected_shape: the tuple the contract asks for.
        name: how to call the value in the message.
    """
    expected_shape = tuple(expected_shape)
    got = _shape(value)
    if got != expected_shape:
        _fail(
            f"{name} has shape {got} but shape {expected_shape} is expected: "
            f"{_shape_hint(got, expected_shape)}"
        )


def _close(a, b, atol, rtol):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.allclose(a, b, atol=atol, rtol=rtol))


def _values_hint(got, expected, atol, rtol):
    if expected.ndim == 2 and expected.shape[0] == expected.shape[1] > 1:
        if _close(got, expected.T, atol, rtol):
            return "the values equal the expected ones transposed: check the product's order."
    if _close(got, -expected, atol, rtol) and np.any(np.abs(expected) > atol):
        return "every value has the wrong sign."
    nonzero = np.abs(expected) > 1e-12
    if nonzero.any() and np.all(np.abs(got[~nonzero]) <= atol):
        ratios = got[nonzero] / expected[nonzero]
        if np.allclose(ratios, ratios.flat[0], rtol=1e-6) and not np.isclose(ratios.flat[0], 1):
            if ratios.flat[0] == 0:
                return "every value is 0: is the result computed and stored where it is returned?"
            return f"every value is off by the same factor {ratios.flat[0]:.6g}."
    shift = got - expected
    if np.allclose(shift, shift.flat[0], atol=atol) and expected.size > 1:
        return f"every value is off by the same amount {shift.flat[0]:.6g}: check the bias."
    if (
        np.allclose(got, got.flat[0])
        and expected.size > 1
        and not np.allclose(expected, expected.flat[0])
    ):
        return "every value is the same: is one unit's result copied to all of them?"
    return None


def check_values(
    value: object,
    expected: ArrayLike,
    name: str,
    *,
    atol: float = 1e-7,
    rtol: float = 1e-6,
    mistakes: dict[str, ArrayLike] | None = None,
    show_expected: bool = True,
) -> None:
    """Fail unless ``value`` is close to ``expected`` element by element.

    Args:
        value: the student's array (already known to have the right shape).
        expected: the correct array.
        name: how to call the value in the message.
        atol, rtol: tolerances as in ``np.allclose``.
        mistakes: optional dict mapping a description of a likely mistake (for example
            ``"the bias b is not added"``) to the result that mistake produces; when the
            value matches one, the message names it.
        show_expected: include the expected values in the message (False in hidden tests).
    """
    try:
        got = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        _fail(f"{name} should hold numbers but is a {type(value).__name__}: return a NumPy array.")
    expected = np.asarray(expected, dtype=float)
    if got.shape != expected.shape:
        check_shape(got, expected.shape, name)
    if np.isnan(got).any():
        _fail(
            f"{name} contains nan: look for 0/0, log of a negative number or of 0, or an "
            "overflowing exp."
        )
    if np.allclose(got, expected, atol=atol, rtol=rtol):
        return
    for description, result in (mistakes or {}).items():
        if _close(got, result, atol, rtol):
            _fail(f"{name} has wrong values: it looks like {description}.")
    hint = _values_hint(got, expected, atol, rtol)
    worst = np.unravel_index(np.argmax(np.abs(got - expected)), got.shape)
    message = f"{name} has wrong values"
    if got.ndim:
        message += f" (largest difference at index {tuple(int(i) for i in worst)})"
    if hint:
        message += f": {hint}"
    if show_expected:
        with np.printoptions(precision=8, suppress=True):
            for label, array in (("got:      ", got), ("expected: ", expected)):
                # rows of a matrix line up under the first one
                message += f"\n  {label}{np.array2string(array, prefix='  ' + label)}"
    _fail(message)


def check_array(
    value: object,
    expected: ArrayLike,
    name: str,
    *,
    atol: float = 1e-7,
    rtol: float = 1e-6,
    mistakes: dict[str, ArrayLike] | None = None,
    show_expected: bool = True,
) -> None:
    """Check an array in teaching order: it is an ndarray, then its shape, then its values.

    Args:
        value: what the student's code returned.
        expected: the correct array.
        name: how to call the value in the message.
        atol, rtol, mistakes, show_expected: as in :func:`check_values`.
    """
    expected = np.asarray(expected)
    check_type(value, np.ndarray, name)
    check_shape(value, expected.shape, name)
    check_values(
        value, expected, name, atol=atol, rtol=rtol, mistakes=mistakes, show_expected=show_expected
    )


def check_unchanged(before: ArrayLike, after: ArrayLike, name: str) -> None:
    """Fail if an input argument was modified in place.

    Args:
        before: a copy of the argument taken before the call.
        after: the argument after the call.
        name: the argument's name.
    """
    if np.shape(before) != np.shape(after) or not np.array_equal(before, after):
        _fail(
            f"{name} was modified in place: work on a copy (x = x.copy()) or build a new "
            "array instead of assigning into the argument."
        )


def passed(message: str) -> None:
    """Print ``message`` as a green line with a check mark, e.g. after the visible checks."""
    print(colour(f"\u2713 {message}", "green"))


def _this_notebook():
    """The notebook this kernel runs, or None: JupyterLab names it in ``JPY_SESSION_NAME``."""
    named = os.environ.get("JPY_SESSION_NAME", "")
    if named.endswith(".ipynb") and Path(named).is_file():
        return Path(named)
    here = sorted(Path.cwd().glob("*.ipynb"))
    return here[0] if len(here) == 1 else None


def _ago(seconds):
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.0f} h ago"


def check_notebook(path: Path | str | None = None) -> None:
    """Run every visible check of the notebook as last saved, and print a table of exercises.

    The same as ``course check NOTEBOOK`` in a terminal. It reads the file, so save the
    notebook first (Ctrl+S). While the notebook is being graded (nbgrader and the course's
    grader set ``NBGRADER_EXECUTION``) it prints one line and does nothing else.

    Args:
        path: the notebook file (default: the notebook this kernel runs, as JupyterLab says,
            or the only notebook in the current folder).
    """
    if os.environ.get("NBGRADER_EXECUTION"):
        print("course check: skipped while the notebook is being graded")
        return
    notebook = Path(path) if path else _this_notebook()
    if notebook is None or not notebook.is_file():
        print(
            colour(
                f"course check: cannot find the saved notebook ({notebook or 'no file name'}): "
                "call check_notebook('NAME.ipynb') with its file name, or run "
                "`course check NAME.ipynb` in a terminal",
                "yellow",
            )
        )
        return
    # deferred: the grader's machinery, which the checks themselves do not need
    from course.grading.check import run_visible_tests
    from course.grading.nbgrader_driver import CourseError
    from course.grading.notebooks import UngradableNotebook
    from course.grading.text import format_check

    saved = _ago(max(0.0, time.time() - notebook.stat().st_mtime))
    print(
        f"Checking {notebook.name} as saved {saved}: save first (Ctrl+S) to check your "
        "latest changes.\n"
    )
    try:
        result = run_visible_tests(notebook)
    except (UngradableNotebook, CourseError) as exc:
        raise CheckFailed(f"course check: {exc}") from None
    print(format_check(result, colour=True))
