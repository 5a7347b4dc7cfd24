"""The check helpers: they pass correct values and name the likely mistake otherwise."""

import numpy as np
import pytest

from course.testing import (
    CheckFailed,
    check_array,
    check_shape,
    check_type,
    check_unchanged,
    check_values,
    passed,
)

EXPECTED = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])


def fails_with(match, func, *args, **kwargs):
    with pytest.raises(CheckFailed, match=match) as info:
        func(*args, **kwargs)
    assert isinstance(info.value, AssertionError)  # nbgrader counts it as a failed test
    return str(info.value)


def test_correct_values_pass_silently():
    check_array(EXPECTED.copy(), EXPECTED, "A")
    check_array(EXPECTED + 1e-9, EXPECTED, "A")
    check_type(1.5, float, "cost")
    check_shape(np.zeros((2, 1)), (2, 1), "db")
    check_unchanged(EXPECTED.copy(), EXPECTED, "W")


@pytest.mark.parametrize(
    "value, expected_type, match",
    [
        (None, np.ndarray, "forget the return statement"),
        ((1, 2), np.ndarray, "a tuple"),
        ([1.0, 2.0], np.ndarray, "instead of a Python list"),
        (np.array([0.5]), float, r"float\(\.\.\.\) or \.item\(\)"),
        ("text", (int, float), "should be a int or float but is a str"),
    ],
)
def test_type_messages(value, expected_type, match):
    fails_with(match, check_type, value, expected_type, "result")


@pytest.mark.parametrize(
    "got, expected, match",
    [
        ((3, 2), (2, 3), "looks transposed"),
        ((3,), (3, 1), "rank-1 array.*keepdims=True"),
        ((1, 3), (3,), "extra axis of length 1"),
        ((4, 4), (4, 1), "broadcasting a \\(n,\\) array against a \\(n, 1\\)"),
        ((2, 5), (2, 3), "axis 1 has the wrong length"),
        ((2, 3, 1), (2, 3), "3 axes instead of 2"),
    ],
)
def test_shape_messages(got, expected, match):
    message = fails_with(match, check_shape, np.zeros(got), expected, "dW")
    assert f"has shape {got}" in message


def test_value_messages_name_the_mistake():
    fails_with(
        "expected ones transposed",
        check_values,
        np.array([[1.0, 3.0], [2.0, 4.0]]),
        np.array([[1.0, 2.0], [3.0, 4.0]]),
        "W",
    )
    fails_with("wrong sign", check_values, -EXPECTED, EXPECTED, "A")
    fails_with("off by the same factor 0.5", check_values, EXPECTED / 2, EXPECTED, "dW")
    fails_with("every value is 0: is the result", check_values, EXPECTED * 0, EXPECTED, "A")
    fails_with(
        "off by the same amount 0.1: check the bias", check_values, EXPECTED + 0.1, EXPECTED, "Z"
    )
    fails_with("every value is the same", check_values, np.full((2, 3), 0.7), EXPECTED, "A")
    fails_with("contains nan", check_values, np.full((2, 3), np.nan), EXPECTED, "cost")
    fails_with(
        "it looks like the bias b is not added",
        check_values,
        EXPECTED - 3,
        EXPECTED,
        "A",
        mistakes={"the bias b is not added": EXPECTED - 3},
    )


def test_values_that_are_not_numbers_fail_with_a_message():
    fails_with("should hold numbers but is a dict", check_values, {"a": 1.0}, EXPECTED, "A")
    fails_with("should hold numbers but is a str", check_values, "1.0 2.0", EXPECTED, "A")


def test_expected_values_are_shown_only_when_allowed():
    secret = np.array([0.123456, 0.654321])
    visible = fails_with("wrong values", check_values, np.array([0.3, 0.1]), secret, "a")
    assert "0.123456" in visible and "largest difference at index (1,)" in visible
    hidden = fails_with(
        "wrong values", check_values, np.array([0.3, 0.1]), secret, "a", show_expected=False
    )
    assert "0.123456" not in hidden and "0.654321" not in hidden


def test_check_array_checks_type_then_shape_then_values():
    fails_with("should be a ndarray", check_array, EXPECTED.tolist(), EXPECTED, "A")
    fails_with("looks transposed", check_array, EXPECTED.T.copy(), EXPECTED, "A")
    fails_with("wrong values", check_array, EXPECTED * 0, EXPECTED, "A")


def test_check_unchanged_catches_in_place_edits():
    before = EXPECTED.copy()
    after = EXPECTED.copy()
    after[0, 0] = 99
    fails_with("W was modified in place", check_unchanged, before, after, "W")


def test_a_failed_check_shows_itself_in_ipython_as_its_message_in_red():
    shown = CheckFailed("dW has wrong values\n  got: 1")._render_traceback_()
    assert shown == ["\033[31m\u2717 dW has wrong values\033[0m", "  got: 1"]


def test_passed_prints_a_green_line(capsys):
    passed("my_dense passes the visible checks")
    out = capsys.readouterr().out
    assert "my_dense passes the visible checks" in out and "\033[32m" in out
