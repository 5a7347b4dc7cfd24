"""Plain data and calls across the sandbox wall (``course.grading.server.wire``)."""

import base64
import math
import os
import threading

import numpy as np
import pytest

from course.activations import sigmoid
from course.grading.server.framing import MessageReader, ProtocolError, write_message
from course.grading.server.shell import CellTimeoutError
from course.grading.server.wire import (
    MAX_DEPTH,
    DeadKernelError,
    Peer,
    RemoteError,
    RemoteFunction,
    WireError,
    error_class,
)


def roundtrip(value):
    peer = Peer(None, None)
    return peer.decode(peer.encode(value))


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -(2**70),
        1.5,
        float("inf"),
        "text",
        np.float64(0.1),
        np.int32(-3),
        np.bool_(True),
        np.arange(6.0).reshape(2, 3),
        np.arange(6).reshape(2, 3).T,  # not contiguous
        np.zeros((0, 4)),
        np.array(2.5),  # 0-d
        np.array([1 + 2j]),
        (1, [2.0, {"k": np.ones(2)}], ()),
        {"W1": np.eye(2), 3: "three"},
    ],
)
def test_plain_values_cross_unchanged_in_type_and_value(value):
    back = roundtrip(value)
    assert type(back) is type(value)
    if isinstance(value, np.ndarray):
        assert back.dtype == value.dtype and back.shape == value.shape
        np.testing.assert_array_equal(back, value)
    elif isinstance(value, (tuple, dict)):
        assert repr(back) == repr(value)
    else:
        assert back == value


def test_nan_crosses():
    assert np.isnan(roundtrip(float("nan")))


def test_lying_objects_arrive_as_the_plain_data_they_hold():
    class Liar(int):
        def __eq__(self, other):
            return True

        __hash__ = int.__hash__

    class Lie(np.ndarray):
        def __eq__(self, other):
            return True

    liar = roundtrip(Liar(7))
    assert type(liar) is int and liar != 4
    lie = roundtrip(np.zeros(3).view(Lie))
    assert type(lie) is np.ndarray and not (lie == 1).any()


@pytest.mark.parametrize(
    "value",
    [object(), np.array(["a", "b"]), np.array([object()]), {(1, 2): 3}, np.datetime64("2020")],
)
def test_values_that_are_not_plain_data_cannot_cross(value):
    with pytest.raises(WireError):
        Peer(None, None).encode(value)


@pytest.mark.parametrize(
    "data",
    [
        {"$": "fn", "ref": "os.system"},
        {"$": "fn", "ref": "numpy.load"},  # not a ufunc: it could unpickle
        {"$": "fn", "ref": "course.activations._as_float_array"},
        {"$": "array", "dtype": "|O", "shape": [1], "data": ""},
        {"$": "array", "dtype": "<f8", "shape": [2], "data": "AAAA"},  # too few bytes
        {"$": "pickle", "data": ""},
        {"$": "fn", "yours": 12},  # a handle that was never given
    ],
)
def test_decoding_never_runs_or_imports_what_a_message_names(data):
    with pytest.raises(WireError):
        Peer(None, None).decode(data)


class Name(str):
    pass


class Ratio(float):
    pass


@pytest.mark.parametrize(
    "value",
    [
        1 + 2j,
        complex(0, -1.5),
        b"",
        b"\x00\xffraw",
        set(),
        {1, "a", 2.5, (1, 2)},
        frozenset({(1, 2), "b"}),
        [],
        {},
        (),
        "",
        "\u00fcn\u00efcode \u2603",
        {1: "an int key", "1": "a str key"},
        np.float16(1.5),
        np.uint8(255),
        np.complex64(1 - 1j),
        np.array([True, False]),
        np.arange(4, dtype=np.uint16),
        np.array([1 + 1j], dtype=np.complex64),
        np.ones((2, 0, 3)),
    ],
)
def test_the_other_plain_values_cross_unchanged_in_type_and_value(value):
    back = roundtrip(value)
    assert type(back) is type(value)
    if isinstance(value, np.ndarray):
        assert back.dtype == value.dtype and back.shape == value.shape
        np.testing.assert_array_equal(back, value)
    else:
        assert back == value
        if isinstance(value, dict):
            assert [type(k) for k in back] == [type(k) for k in value]


@pytest.mark.parametrize(
    "cls", [int, float, complex, str, bytes, list, tuple, dict, set, frozenset, type(None)]
)
def test_plain_types_cross_as_themselves(cls):
    assert roundtrip(cls) is cls
    for numpy_type in (np.ndarray, np.float32, np.int64, np.bool_, np.complex128):
        assert roundtrip(numpy_type) is numpy_type


def test_installed_modules_cross_by_name_as_the_receivers_own_copy():
    peer = Peer(None, None)
    assert peer.encode(np) == {"$": "module", "name": "numpy"}
    assert roundtrip(np) is np and roundtrip(math) is math


def test_subclasses_of_plain_values_arrive_as_the_plain_value():
    for value, plain in [(Name("W1"), "W1"), (Ratio(0.5), 0.5)]:
        back = roundtrip(value)
        assert type(back) is type(plain) and back == plain


def nested(depth):
    value = 1
    for _ in range(depth):
        value = [value]
    return value


def test_a_value_nested_past_the_limit_cannot_cross_either_way():
    peer = Peer(None, None)
    assert roundtrip(nested(MAX_DEPTH)) == nested(MAX_DEPTH)
    with pytest.raises(WireError, match=f"nested more than {MAX_DEPTH} levels"):
        peer.encode(nested(MAX_DEPTH + 1))
    with pytest.raises(WireError, match=f"nested more than {MAX_DEPTH} levels"):
        peer.encode({"$": [(1, nested(MAX_DEPTH))]})  # dicts and tuples count as levels
    with pytest.raises(WireError, match="nested more than"):  # refused, never a RecursionError
        peer.decode(nested(50_000))
    deep_tuple = {"$": "tuple", "items": [1]}
    for _ in range(MAX_DEPTH):
        deep_tuple = {"$": "tuple", "items": [deep_tuple]}
    with pytest.raises(WireError, match="nested more than"):
        peer.decode(deep_tuple)


class Layer:
    pass


def squares():
    yield 1


@pytest.mark.parametrize(
    "value, type_name",
    [
        (Layer(), "Layer"),
        (Layer, "Layer"),  # a class of the notebook's
        (squares(), "generator"),
        (np.str_("a"), None),
        (np.zeros(2, dtype=[("a", "<f8")]), None),
        ({1.5: "a float key"}, None),
        ({"ok": [{(1,): 1}]}, None),
    ],
)
def test_a_value_that_cannot_cross_is_refused_naming_its_type_when_that_is_why(value, type_name):
    with pytest.raises(WireError) as refused:
        Peer(None, None).encode(value)
    assert refused.value.type_name == type_name


def test_an_open_file_cannot_cross(tmp_path):
    with open(tmp_path / "data.csv", "w") as f, pytest.raises(WireError) as refused:
        Peer(None, None).encode(f)
    assert refused.value.type_name == "TextIOWrapper"


def b64(data):
    return base64.b64encode(data).decode()


@pytest.mark.parametrize(
    "data, why",
    [
        ({"$": "scalar", "dtype": "<U1", "data": b64(b"a\0\0\0")}, "not numeric"),
        ({"$": "array", "dtype": "V8", "shape": [1], "data": b64(bytes(8))}, "not numeric"),
        ({"$": "array", "dtype": "<M8[s]", "shape": [1], "data": b64(bytes(8))}, "not numeric"),
        ({"$": "array", "dtype": "<f8", "shape": [3], "data": b64(bytes(16))}, "malformed"),
        ({"$": "array", "dtype": "<f8", "shape": [2]}, "malformed"),
        ({"$": "bytes", "data": "!!"}, "malformed"),
        ({"$": "complex", "re": "one", "im": 0}, "malformed"),
        ({"$": "set", "items": [[1]]}, "malformed"),  # a list cannot be in a set
        ({"$": "dict", "items": [[[1, 2], 3]]}, "not a string or an int"),
        ({"$": "dict", "items": [[{"$": "tuple", "items": []}, 3]]}, "not a string or an int"),
        ({"$": "type", "name": "os.system"}, "cannot cross"),
        ({"$": "type", "name": "numpy.dtype"}, "cannot cross"),
        ({"$": "fn"}, "malformed function handle"),
        ({"no": "kind"}, "unknown value kind None"),
        (b"raw", "unexpected bytes"),
    ],
)
def test_decoding_refuses_what_encode_never_makes(data, why):
    with pytest.raises(WireError, match=why):
        Peer(None, None).decode(data)


@pytest.mark.parametrize(
    "ename, cls",
    [
        ("ValueError", ValueError),
        ("ZeroDivisionError", ZeroDivisionError),
        ("CellTimeoutError", CellTimeoutError),
        ("DeadKernelError", DeadKernelError),
    ],
)
def test_an_exception_of_the_other_side_is_the_same_class_here_when_it_is_a_known_one(ename, cls):
    assert error_class(ename) is cls


@pytest.mark.parametrize(
    "ename, name",
    [
        ("LinAlgError", "LinAlgError"),  # the notebook's or a library's own
        ("SystemExit", "SystemExit"),  # a BaseException: no test may catch it by accident
        ("KeyboardInterrupt", "KeyboardInterrupt"),
        ("print", "print"),  # a builtin that is no exception
        ("not a name", "RemoteError"),
        ("E" * 101, "RemoteError"),
    ],
)
def test_any_other_exception_is_a_remote_error_of_its_name(ename, name):
    cls = error_class(ename)
    assert issubclass(cls, RemoteError) and cls.__name__ == cls.ename == name
    assert error_class(ename) is cls  # one class per name: `except` clauses keep working


def test_course_activations_and_ufuncs_cross_by_name():
    peer = Peer(None, None)
    assert peer.decode(peer.encode(sigmoid)) is sigmoid
    assert peer.decode(peer.encode(np.tanh)) is np.tanh


class Pair:
    """A caller peer here, and a callee peer serving calls in a thread (the 'student')."""

    def __init__(self, namespace):
        down_r, down_w = os.pipe()
        up_r, up_w = os.pipe()
        self.fds = (down_r, down_w, up_r, up_w)
        self.caller = Peer(MessageReader(up_r), lambda m: write_message(down_w, m))
        self.callee = Peer(
            MessageReader(down_r), lambda m: write_message(up_w, m), namespace=namespace
        )
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            message = self.callee.reader.read()
            if message is None or "call" not in message:
                return
            self.callee.write(self.callee.serve(message["call"]))

    def function(self, name):
        return RemoteFunction(self.caller, {"name": name}, name)

    def close(self):
        write_message(self.fds[1], {"end": True})
        self.thread.join(timeout=5)
        for fd in self.fds:
            os.close(fd)


# The "student's" functions, defined in the namespace they are looked up in (as in a kernel).
STUDENT_CODE = """
import numpy as np

def zero_first(a):
    a[0] = 0.0
    return a.sum()

def grow(params):
    params["W1"] = params["W1"] * 2  # rebinds the caller's dict item
    params["new"] = 1
    params.pop("b1")

def draw(n):
    return np.random.randn(n)

def fail(kind):
    raise {"value": ValueError("bad shape (3,)"), "exit": SystemExit(0)}[kind]

def apply(g, x):
    return g(x)

def helper(x):
    return x + 1

def uses_helper(x):
    return helper(x)

def weird():
    return object()

def coin_flips(rng, n):
    return rng.random(n) < 0.5

kept = []

def keep_in_a_list(g, x):
    kept.append(g)
    return g(x)

def keep_in_a_closure(g, x):
    global use_kept
    def use_kept(y):
        return g(y)
    return g(x)

def keep_as_a_default(g, x):
    global use_kept
    def use_kept(y, g=g):
        return g(y)
    return g(x)

def use_the_list(x):
    return kept[0](x)

def keep_helper(x):
    kept.append(helper)
    return helper(x)

def extend(items, pair, *, params):
    items.append(len(items))
    items[0] = "changed"
    pair[0][:] = pair[0] * 2
    params["W"] += 1
    del params["unused"]
"""


@pytest.fixture
def pair():
    namespace = {}
    exec(STUDENT_CODE, namespace)
    pair = Pair(namespace)
    yield pair
    pair.close()


def test_in_place_changes_come_back_to_the_callers_arguments(pair):
    x = np.arange(1.0, 4.0)
    assert pair.function("zero_first")(x) == 5.0
    np.testing.assert_array_equal(x, [0.0, 2.0, 3.0])
    params = {"W1": np.ones(2), "b1": np.zeros(1)}
    pair.function("grow")(params)
    assert sorted(params) == ["W1", "new"]
    np.testing.assert_array_equal(params["W1"], [2.0, 2.0])


def test_changes_to_lists_tuples_and_keyword_arguments_come_back_too(pair):
    items, pair_of, params = [1, 2], (np.ones(2), "label"), {"W": np.zeros(2), "unused": 0}
    first = pair_of[0]
    pair.function("extend")(items, pair_of, params=params)
    assert items == ["changed", 2, 2]
    assert pair_of[0] is first  # the same array, changed in place
    np.testing.assert_array_equal(first, [2.0, 2.0])
    assert sorted(params) == ["W"]
    np.testing.assert_array_equal(params["W"], [1.0, 1.0])


def test_numpys_global_random_state_travels_with_the_call(pair):
    np.random.seed(3)
    here = [np.random.randn(2), pair.function("draw")(3), np.random.randn(1)]
    np.random.seed(3)
    one_process = [np.random.randn(2), np.random.randn(3), np.random.randn(1)]
    for a, b in zip(here, one_process):
        np.testing.assert_array_equal(a, b)


def test_a_random_generator_crosses_and_its_draws_come_back(pair):
    rng, alone = np.random.default_rng(5), np.random.default_rng(5)
    first = pair.function("coin_flips")(rng, 6)
    np.testing.assert_array_equal(first, alone.random(6) < 0.5)
    # the caller's generator continues after the callee's draws, as in one process
    np.testing.assert_array_equal(rng.random(3), alone.random(3))
    again = pair.function("coin_flips")(rng, 4)
    np.testing.assert_array_equal(again, alone.random(4) < 0.5)


@pytest.mark.parametrize("bit_generator", [np.random.PCG64, np.random.MT19937, np.random.Philox])
def test_a_generator_of_numpys_bit_generators_crosses_as_its_state(bit_generator):
    rng = np.random.Generator(bit_generator(11))
    back = roundtrip(rng)
    assert type(back) is np.random.Generator and back is not rng
    np.testing.assert_array_equal(back.random(5), rng.random(5))


@pytest.mark.parametrize(
    "state",
    [
        {"$": "dict", "items": [["bit_generator", "os.system"]]},
        {"$": "dict", "items": [["bit_generator", "PCG64"], ["state", "not a state"]]},
        "PCG64",
        # what NumPy refuses with errors of other kinds: OverflowError, IndexError
        {
            "$": "dict",
            "items": [
                ["bit_generator", "PCG64"],
                ["state", {"$": "dict", "items": [["state", 2**300], ["inc", 1]]}],
                ["has_uint32", 0],
                ["uinteger", 0],
            ],
        },
        {
            "$": "dict",
            "items": [
                ["bit_generator", "MT19937"],
                ["state", {"$": "dict", "items": [["key", [0, 0, 0]], ["pos", 0]]}],
            ],
        },
    ],
)
def test_a_generator_state_that_names_no_bit_generator_of_numpy_is_refused(state):
    with pytest.raises(WireError):
        Peer(None, None).decode({"$": "generator", "state": state})


def test_exceptions_come_back_by_name_and_never_as_system_exit(pair):
    with pytest.raises(ValueError, match=r"bad shape \(3,\)"):
        pair.function("fail")("value")
    with pytest.raises(RemoteError) as info:
        pair.function("fail")("exit")
    assert type(info.value).__name__ == "SystemExit"
    with pytest.raises(NameError):
        pair.function("missing")()
    with pytest.raises(RemoteError, match="cannot leave the student's process"):
        pair.function("weird")()


def test_a_function_passed_along_is_called_back_on_its_own_side(pair):
    calls = []

    def reference(z):
        calls.append(z)
        return z * 10

    assert pair.function("apply")(reference, 4) == 40
    assert calls == [4]  # it ran here, called back from the other side


def test_overrides_rebind_names_on_the_other_side_during_the_call(pair):
    fn = pair.function("uses_helper")
    assert fn(1) == 2
    assert pair.caller.call(fn, (1,), {}, overrides={"helper": lambda x: x * 100}) == 100
    assert fn(1) == 2  # restored afterwards


def test_a_message_past_the_size_limit_is_refused():
    r, w = os.pipe()
    try:
        write_message(w, {"x": "y" * 100})
        reader = MessageReader(r, max_bytes=50)
        reader.fill()
        with pytest.raises(ProtocolError):
            reader.pop()
    finally:
        os.close(r)
        os.close(w)


def reference(z):
    return z * 10


def another(z):
    return -z


@pytest.mark.parametrize(
    "keep, use",
    [
        ("keep_in_a_list", "use_the_list"),
        ("keep_in_a_closure", "use_kept"),
        ("keep_as_a_default", "use_kept"),
    ],
)
def test_a_lent_function_works_only_during_the_call_it_was_lent_for(pair, keep, use):
    assert pair.function(keep)(reference, 4) == 40
    with pytest.raises(RemoteError, match="lent for one call") as kept_later:
        pair.function(use)(5)  # a later call: the same function lent again is a new handle
    assert type(kept_later.value).__name__ == "WireError"
    # the next call lends another function: the kept handle does not reach it either
    assert pair.function("apply")(another, 4) == -4
    with pytest.raises(RemoteError, match="lent for one call"):
        pair.function(use)(5)
    assert pair.caller.local == {}  # nothing stays lent


def test_a_rebinding_is_lent_for_its_call_only(pair):
    fn = pair.function("keep_helper")
    assert pair.caller.call(fn, (1,), {}, overrides={"helper": reference}) == 10
    with pytest.raises(RemoteError, match="lent for one call"):
        pair.function("use_the_list")(1)


def test_a_kept_handle_is_refused_outside_any_call(pair):
    pair.function("keep_in_a_list")(reference, 1)
    (handle,) = [g._handle for g in pair.callee.namespace["kept"]]
    # what a later cell of the student's process would send, with no call of ours under way
    reply = pair.caller.serve({"fn": handle, "args": [2], "kwargs": {}})
    assert reply["raise"]["ename"] == "WireError"
    assert "lent for one call" in reply["raise"]["evalue"]
