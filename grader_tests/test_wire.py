"""Plain data and calls across the sandbox wall (``course.grading.server.wire``)."""

import os
import threading

import numpy as np
import pytest

from course.activations import sigmoid
from course.grading.server.framing import MessageReader, ProtocolError, write_message
from course.grading.server.wire import Peer, RemoteError, RemoteFunction, WireError


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


def test_numpys_global_random_state_travels_with_the_call(pair):
    np.random.seed(3)
    here = [np.random.randn(2), pair.function("draw")(3), np.random.randn(1)]
    np.random.seed(3)
    one_process = [np.random.randn(2), np.random.randn(3), np.random.randn(1)]
    for a, b in zip(here, one_process):
        np.testing.assert_array_equal(a, b)


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
