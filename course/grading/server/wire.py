"""Plain data across the sandbox wall, and function calls through it.

The grader runs a student's code in one process (inside the sandbox) and the tests in
another (the *judge*, which never runs student code). A test calls the student's functions
through :class:`RemoteFunction`; arguments and results cross as **plain data only**: ``None``,
booleans, numbers, strings, numeric NumPy arrays and scalars, and tuples, lists and dicts of
those. Everything is JSON, arrays are their raw bytes (base64) with a dtype and a shape; no
pickle, so reading a message can never run code. A value that is not plain data cannot cross
(:class:`WireError`): an object with a lying ``__eq__`` or ``__array__`` arrives, at best, as
the plain numbers it holds.

Functions cross as handles: the course's activation functions and NumPy ufuncs by name (the
receiver looks them up in its own copy), anything else as a handle the receiver calls back
through. A function a call passes (an argument, a name the test rebound, or one in an answer
given while the call runs) is *lent* for that call: its handle works only until the call
returns, then it is revoked, and handles are never reused. A handle the receiver kept (in a
global, a closure, a default argument, a container) fails cleanly afterwards, with an error
in the receiver's code. A function of the student's notebook that the judge looked up keeps
working in later test cells, served by later copies of the student's process, as long as its
name still binds it (:meth:`Peer._global_function`). After a call, the callee sends the
final state of the mutable arguments back, and the caller applies it, so a function that
modifies its inputs in place is seen doing so.
NumPy's global random state travels with every call and every answer, so seeded tests give
the same numbers as in a single kernel. A ``np.random.Generator`` (of one of NumPy's bit
generators) crosses as its state, and is an argument like an array: the draws the callee made
from it come back, so the caller's generator continues where the callee's stopped.

Messages, each a JSON object on the framed pipes of :mod:`course.grading.forkserver`::

    {"call": {"fn": handle, "args": [...], "kwargs": {...}, "overrides": {name: handle},
              "rng": state}}
    {"return": {"value": v, "args": [...], "kwargs": {...}, "rng": state, "outputs": [...],
                "files": {path: base64}}}
    {"raise": {"ename": str, "evalue": str, "traceback": [str], "rng": state, "outputs": [...],
               "files": {path: base64}}}

(``files``: what the student's code wrote in its folder since the last answer.)

While a peer waits for the answer to its call it serves the calls it receives (a test's
reference function called back by the student's code, for example).
"""

from __future__ import annotations

import base64
import builtins
import importlib
import importlib.util
import itertools
import os
import signal
import sys
import traceback
import types
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from course.grading.server.shell import CellTimeoutError

if TYPE_CHECKING:
    from course.grading.server.framing import Message, MessageReader
    from course.grading.server.messages import Call, Output, Raise, Return
    from course.grading.server.shell import Capture

__all__ = [
    "WireError",
    "RemoteError",
    "RemoteFunction",
    "Peer",
    "MAX_DEPTH",
]

MAX_DEPTH = 64  # nesting of containers a value may have
_KINDS = "biufc"  # numeric dtypes only: bool, int, uint, float, complex
_REF_MODULES = ("course.activations",)  # functions that cross by name (and NumPy ufuncs)


class WireError(TypeError):
    """A value that cannot cross between the student's process and the judge.

    ``type_name`` names the value's type when that is why (an instance of a class the
    notebook defines, a generator, an open file, ...), else it is None.
    """

    def __init__(self, message: str, type_name: str | None = None) -> None:
        super().__init__(message)
        self.type_name = type_name


CANNOT_CROSS = "CannotCross"  # the ename of a call whose answer could not cross the wall


class RemoteError(Exception):
    """An exception raised on the other side of a call; ``ename`` is its class name there."""

    ename = "RemoteError"
    remote_traceback = ()


class DeadKernelError(RemoteError):
    """The student's process ended (or was stopped) while a call was under way."""

    ename = "DeadKernelError"


_ERROR_CLASSES = {}
_STOPS = {
    CellTimeoutError: "the cell ran out of time",
    DeadKernelError: "the other side of the call went away",
}


def error_class(ename: str) -> type[BaseException]:
    """The exception class that stands for a remote ``ename`` on this side.

    Built-in ``Exception`` subclasses are themselves (a test that expects a ``ValueError``
    sees one); ``CellTimeoutError`` is the local one (it is a BaseException that test code
    does not catch); anything else is a :class:`RemoteError` subclass with that name.
    """
    if ename == "CellTimeoutError":
        return CellTimeoutError
    if ename == "DeadKernelError":
        return DeadKernelError
    known = getattr(builtins, ename, None) if ename.isidentifier() else None
    if isinstance(known, type) and issubclass(known, Exception):
        return known
    if not ename.isidentifier() or len(ename) > 100:
        ename = "RemoteError"
    if ename not in _ERROR_CLASSES:
        _ERROR_CLASSES[ename] = type(ename, (RemoteError,), {"ename": ename})
    return _ERROR_CLASSES[ename]


def _ref_name(fn):
    """``module.name`` for a function that crosses by name, else None."""
    if isinstance(fn, np.ufunc):
        return f"numpy.{fn.__name__}" if getattr(np, fn.__name__, None) is fn else None
    module, name = getattr(fn, "__module__", None), getattr(fn, "__name__", None)
    if module in _REF_MODULES and isinstance(name, str) and not name.startswith("_"):
        import importlib

        if getattr(importlib.import_module(module), name, None) is fn:
            return f"{module}.{name}"
    return None


def _resolve_ref(ref):
    """The function named ``ref`` if it may cross by name (never an arbitrary import)."""
    if not isinstance(ref, str) or "." not in ref:
        raise WireError(f"bad function name {ref!r}")
    module, name = ref.rsplit(".", 1)
    if name.startswith("_"):
        raise WireError(f"{ref} cannot be called across")
    if module == "numpy":
        fn = getattr(np, name, None)
        if isinstance(fn, np.ufunc):
            return fn
    elif module in _REF_MODULES:
        import importlib

        fn = getattr(importlib.import_module(module), name, None)
        if callable(fn):
            return fn
    raise WireError(f"{ref} cannot be called across")


# types that cross by name: Python's plain types and NumPy's scalar types
_PLAIN_TYPES = {
    t.__name__: t
    for t in (bool, int, float, complex, str, bytes, list, tuple, dict, set, frozenset)
}
_PLAIN_TYPES.update(
    {
        f"numpy.{t.__name__}": t
        for t in set(np.sctypeDict.values())
        if issubclass(t, (np.number, np.bool_))
    }
)
_PLAIN_TYPES["numpy.ndarray"] = np.ndarray
_PLAIN_TYPES["NoneType"] = type(None)

# the bit generators whose np.random.Generator crosses as its state
_BIT_GENERATORS = {
    name: getattr(np.random, name) for name in ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
}


def _type_name(cls):
    """The name a plain type crosses by (``numpy.`` before NumPy's), or None."""
    name = getattr(cls, "__name__", None)
    if getattr(cls, "__module__", None) == "numpy":
        name = f"numpy.{name}"
    return name if _PLAIN_TYPES.get(name) is cls else None


def _import_module(name):
    """The module ``name``, imported here, if it is installed code (never a local file).

    A module crosses by name: the receiver imports its own copy. Only modules of Python's
    standard library and of the installed packages qualify: a file in the notebook's folder
    (which the student may have written) is never imported on the judge's side.
    """
    if not isinstance(name, str) or not all(p.isidentifier() for p in name.split(".")):
        raise WireError(f"{str(name)[:80]!r} is not a module name")
    if name in sys.modules:
        return sys.modules[name]
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    origin = getattr(spec, "origin", None)
    installed = (sys.prefix, sys.base_prefix, sys.exec_prefix)
    if spec is None or not (
        origin in ("built-in", "frozen")
        or (origin and os.path.realpath(origin).startswith(installed))
    ):
        raise WireError(f"the module {name} is not an installed module", type_name="module")
    return importlib.import_module(name)


class RemoteFunction:
    """A function that lives on the other side: calling it is a call through ``peer``.

    Args:
        peer: the :class:`Peer` to call through.
        handle: the other side's handle (``{"yours": id}`` or ``{"name": name}``).
        name: how it is called in messages (its ``__name__``).
    """

    def __init__(self, peer: Peer, handle: dict[str, Any], name: str) -> None:
        self._peer, self._handle = peer, handle
        self.__name__ = self.__qualname__ = name

    def __call__(self, *args, **kwargs):
        return self._peer.call(self, args, kwargs)

    def __repr__(self):
        return f"<function {self.__name__}>"


def _b64(data):
    return base64.b64encode(data).decode("ascii")


class Peer:
    """One side of the conversation: encodes, decodes, calls and serves calls.

    Args:
        reader: a ``MessageReader`` for incoming messages.
        write: ``write(message)`` sends one message.
        namespace: where ``{"name": ...}`` handles are looked up (the student's globals), or
            None on the judge's side.
        timeout: seconds a served call may run (None: no limit).
        capture: the output capture of this process (outputs of a served call are sent
            back with its answer), or None.
    """

    def __init__(
        self,
        reader: MessageReader,
        write: Callable[[Message], None],
        namespace: dict[str, Any] | None = None,
        timeout: float | None = None,
        capture: Capture | None = None,
    ) -> None:
        self.reader, self.write = reader, write
        self.namespace = namespace
        self.timeout = timeout
        self.capture = capture
        # () -> ({name: value}, [deleted names]) the callee applies during every call (the
        # judge's: what the test cell rebound or deleted of the student's names)
        self.overrides = None
        # (type_name, message) -> the exception to raise when an answer could not cross
        self.uncrossable = None
        self.log = None  # a list: each call made is appended as (name, [overridden names])
        # () -> {relative path: base64}: the files this side's code wrote since last asked,
        # sent with every answer; ({relative path: base64}) -> None takes them on the other
        self.changed_files = None
        self.take_files = None
        # (outputs) -> None: takes what the other side's code printed or displayed during a
        # call of ours (default: :meth:`print_outputs`); (error) -> None: sees each error
        # the other side raised before it is raised here (the judge's: a hidden test's calls)
        self.take_outputs = None
        self.take_error = None
        self.local = {}  # handle id -> a function of ours the other side may call
        self._ids = {}  # id(function) -> its handle id, for the functions in self.local
        self._handles = itertools.count(1)  # handle ids: never reused
        self._lent = []  # per call of ours under way, innermost last: the handles it lent

    # ----------------------------------------------------------------- values
    def encode(self, value: Any, depth: int = 0) -> Any:
        """``value`` as JSON-able plain data; raises :class:`WireError` if it cannot cross."""
        if depth > MAX_DEPTH:
            raise WireError(f"a value nested more than {MAX_DEPTH} levels deep")
        if value is None or type(value) in (bool, int, float, str):
            return value
        if isinstance(value, np.generic):
            if value.dtype.kind not in _KINDS:
                raise WireError(f"a NumPy {value.dtype} scalar is not a number")
            return {"$": "scalar", "dtype": value.dtype.str, "data": _b64(value.tobytes())}
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in _KINDS:
                raise WireError(f"an array of dtype {value.dtype} is not numeric data")
            plain = np.ndarray.view(value, np.ndarray)  # a subclass's own methods are not used
            return {
                "$": "array",
                "dtype": plain.dtype.str,
                "shape": list(plain.shape),
                "data": _b64(plain.tobytes(order="C")),
            }
        # subclasses of int, float and str cross as the plain value they hold
        if isinstance(value, int):
            return int.__index__(value)
        if isinstance(value, float):
            return float.__float__(value)
        if isinstance(value, str):
            return str.__str__(value)
        if type(value) is np.random.Generator:
            bit_generator = value.bit_generator
            name = type(bit_generator).__name__
            if _BIT_GENERATORS.get(name) is not type(bit_generator):
                raise WireError(f"a Generator of {name} cannot cross", type_name=name)
            return {"$": "generator", "state": self.encode(bit_generator.state, depth + 1)}
        if isinstance(value, tuple):
            return {"$": "tuple", "items": [self.encode(v, depth + 1) for v in value]}
        if isinstance(value, list):
            return [self.encode(v, depth + 1) for v in value]
        if isinstance(value, dict):
            items = []
            for key, item in value.items():
                if type(key) not in (str, int):
                    raise WireError(f"a dict key of type {type(key).__name__}")
                items.append([self.encode(key), self.encode(item, depth + 1)])
            return {"$": "dict", "items": items}
        if type(value) is complex:
            return {"$": "complex", "re": value.real, "im": value.imag}
        if type(value) is bytes:
            return {"$": "bytes", "data": _b64(value)}
        if type(value) in (set, frozenset):
            kind = type(value).__name__
            return {"$": kind, "items": [self.encode(v, depth + 1) for v in value]}
        if isinstance(value, types.ModuleType):
            return {"$": "module", "name": str(getattr(value, "__name__", ""))}
        if isinstance(value, type):
            if _type_name(value):
                return {"$": "type", "name": _type_name(value)}
            raise WireError(
                f"the class {getattr(value, '__name__', '?')} cannot leave the student's process",
                type_name=str(getattr(value, "__name__", "type")),
            )
        if isinstance(value, RemoteFunction) and value._peer is self:
            return {"$": "fn", **value._handle}
        if callable(value):
            ref = _ref_name(value)
            if ref:
                return {"$": "fn", "ref": ref}
            key = self._ids.get(id(value))
            if key is None:
                key = next(self._handles)
                self.local[key] = value
                self._ids[id(value)] = key
                if self._lent:  # revoked when the call under way returns
                    self._lent[-1].append(key)
            return {"$": "fn", "mine": key, "name": str(getattr(value, "__name__", "function"))}
        raise WireError(
            f"a value of type {type(value).__name__} cannot leave the student's process: "
            "return NumPy arrays, numbers, strings, or tuples, lists and dicts of them",
            type_name=type(value).__name__,
        )

    def decode(self, data: Any, depth: int = 0) -> Any:
        """The value that :meth:`encode` made ``data`` from (plain objects only)."""
        if depth > MAX_DEPTH:
            raise WireError(f"a value nested more than {MAX_DEPTH} levels deep")
        if data is None or type(data) in (bool, int, float, str):
            return data
        if type(data) is list:
            return [self.decode(v, depth + 1) for v in data]
        if type(data) is not dict:
            raise WireError(f"unexpected {type(data).__name__} in a message")
        kind = data.get("$")
        try:
            if kind in ("array", "scalar"):
                dtype = np.dtype(data["dtype"])
                if dtype.kind not in _KINDS or dtype.fields is not None:
                    raise WireError(f"dtype {data['dtype']!r} is not numeric")
                raw = base64.b64decode(data["data"], validate=True)
                if kind == "scalar":
                    return np.frombuffer(raw, dtype=dtype, count=1)[0]
                shape = tuple(int(n) for n in data["shape"])
                return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
            if kind == "tuple":
                return tuple(self.decode(v, depth + 1) for v in data["items"])
            if kind == "dict":
                out = {}
                for key, item in data["items"]:
                    if type(key) not in (str, int):
                        key = self.decode(key)
                        if type(key) not in (str, int):
                            raise WireError("a dict key that is not a string or an int")
                    out[key] = self.decode(item, depth + 1)
                return out
            if kind == "fn":
                return self._decode_function(data)
            if kind == "complex":
                return complex(float(data["re"]), float(data["im"]))
            if kind == "bytes":
                return base64.b64decode(data["data"], validate=True)
            if kind in ("set", "frozenset"):
                items = [self.decode(v, depth + 1) for v in data["items"]]
                return set(items) if kind == "set" else frozenset(items)
            if kind == "type":
                plain = _PLAIN_TYPES.get(data["name"])
                if plain is None:
                    raise WireError(f"the type {str(data['name'])[:80]!r} cannot cross")
                return plain
            if kind == "module":
                return _import_module(data["name"])
            if kind == "generator":
                state = self.decode(data["state"], depth + 1)
                if type(state) is not dict or state.get("bit_generator") not in _BIT_GENERATORS:
                    raise WireError("a Generator's state must name one of NumPy's bit generators")
                bit_generator = _BIT_GENERATORS[state["bit_generator"]](0)
                try:
                    bit_generator.state = state  # NumPy checks it, raising what it may
                except Exception as exc:
                    raise WireError(f"not a state of {state['bit_generator']} ({exc})") from None
                return np.random.Generator(bit_generator)
        except (KeyError, ValueError, TypeError) as exc:
            if isinstance(exc, WireError):
                raise
            raise WireError(f"malformed {kind!r} value ({exc})") from None
        raise WireError(f"unknown value kind {kind!r}")

    def _decode_function(self, data):
        if "ref" in data:
            return _resolve_ref(data["ref"])
        if "yours" in data:  # one of ours, handed back
            fn = self.local.get(data["yours"])
            if fn is None:
                fn = self._global_function(data)
            if fn is None:
                raise WireError(
                    "this function was lent for one call, which has ended, "
                    "so it can no longer be called: keep no reference to a function the "
                    "grader passes to your code (use the functions your notebook defines)"
                )
            return fn
        if "mine" in data:  # one of theirs
            handle = {"yours": data["mine"]}
            if type(data.get("global")) is str and type(data.get("id")) is int:
                handle.update({"global": data["global"], "id": data["id"]})
            return RemoteFunction(self, handle, str(data.get("name", "f"))[:80])
        if "name" in data and self.namespace is not None:
            name = data["name"]
            if name not in self.namespace:
                raise NameError(f"name '{name}' is not defined")
            return self.namespace[name]
        raise WireError("malformed function handle")

    def _global_function(self, data):
        """The notebook's global function a handle of an earlier copy of this process named.

        Each test cell's calls are served by a new copy of the student's process (see
        :mod:`course.grading.forkserver`), whose handles are its own; a test may keep one of
        the notebook's functions for a later cell (``_student_dense = my_dense``). Such a
        handle names the global the function was looked up as and the object's identity: in a
        later copy (forked from the same process, so the object has the same identity), it is
        that global's function if the global still binds that very object, else None.
        """
        if self.namespace is None or type(data.get("global")) is not str:
            return None
        fn = self.namespace.get(data["global"])
        return fn if callable(fn) and id(fn) == data.get("id") else None

    # ----------------------------------------------------------------- calls
    def _rng_state(self):
        return self.encode(np.random.get_state())

    def _set_rng(self, data):
        try:
            state = self.decode(data)
            np.random.set_state(state)
        except Exception:  # a malformed state is ignored: the local one stays
            pass

    def call(
        self,
        fn: RemoteFunction,
        args: Sequence[Any],
        kwargs: dict[str, Any],
        overrides: dict[str, Any] | None = None,
    ) -> Any:
        """Call remote ``fn`` with ``args``; serve nested calls until it answers.

        Args:
            fn: a :class:`RemoteFunction` of this peer.
            args, kwargs: the arguments (plain data); mutations made by the callee are
                applied to them.
            overrides: ``{name: function}`` the callee binds in its namespace during the
                call (default: what :attr:`overrides` returns).

        Returns:
            The decoded result.

        Raises:
            The remote exception's stand-in (see :func:`error_class`).
        """
        deleted = []
        if overrides is None and self.overrides is not None:
            overrides, deleted = self.overrides()
        overrides = overrides or {}
        if self.log is not None:
            self.log.append((fn.__name__, sorted([*overrides, *deleted])))
        self._lent.append([])
        try:
            message = {
                "call": {
                    "fn": fn._handle,
                    "args": self.encode(list(args)),
                    "kwargs": self.encode(dict(kwargs)),
                    "overrides": {k: self.encode(v) for k, v in overrides.items()},
                    "deleted": list(deleted),
                    "rng": self._rng_state(),
                }
            }
            paused = signal.setitimer(signal.ITIMER_REAL, 0)  # the other side's time is not ours
            try:
                return self._wait(args, kwargs, message)
            finally:
                if paused[0]:
                    signal.setitimer(signal.ITIMER_REAL, *paused)
        finally:
            self._revoke(self._lent.pop())

    def _revoke(self, keys):
        """End the loan of the handles ``keys``: the other side can no longer call them."""
        for key in keys:
            fn = self.local.pop(key, None)
            if self._ids.get(id(fn)) == key:
                del self._ids[id(fn)]

    def number_handles_from(self, first: int) -> None:
        """Number this side's new handles from ``first`` on.

        A throwaway copy of the student's process (one per test cell) numbers its own, so a
        handle an earlier copy gave finds nothing here instead of another function.
        """
        self._handles = itertools.count(first)

    def lookup(self, name: str) -> Any:
        """The value the other side's namespace binds to ``name`` (functions as handles).

        Raises:
            NameError: the name is not defined there.
            The exception :attr:`uncrossable` makes, when the value cannot cross.
        """
        message = {"call": {"fn": {"get": str(name)}, "rng": self._rng_state()}}
        return self._wait([], {}, message)

    def names(self) -> frozenset[str] | set[str]:
        """The names the other side's namespace defines; the random state comes with them.

        The request carries no random state: the other side's is the one to continue from.
        """
        names = self._wait([], {}, {"call": {"fn": {"names": True}}})
        return frozenset(n for n in names if type(n) is str) if type(names) is list else set()

    def _wait(self, args, kwargs, message):
        self.write(message)
        while True:
            reply = self.reader.read()
            if reply is None:
                raise DeadKernelError(_STOPS[DeadKernelError])
            if "call" in reply:
                self.write(self.serve(reply["call"]))
                continue
            if "return" in reply:
                answer = reply["return"]
                self._absorb(answer)
                if "args" in answer:
                    _update_all(list(args), self.decode(answer["args"]))
                if "kwargs" in answer:
                    _update_all(kwargs, self.decode(answer["kwargs"]))
                return self.decode(answer.get("value"))
            if "raise" in reply:
                answer = reply["raise"]
                self._absorb(answer)
                if answer.get("ename") == CANNOT_CROSS and self.uncrossable is not None:
                    error = self.uncrossable(
                        str(answer.get("type") or "object")[:100],
                        str(answer.get("evalue", ""))[:1000],
                    )
                else:
                    cls = error_class(str(answer.get("ename", "RemoteError")))
                    # the two errors that stand for a stop say what stopped, in the grader's
                    # words (a test cannot catch the first; the second ends the cell)
                    error = cls(_STOPS.get(cls) or str(answer.get("evalue", "")))
                    lines = answer.get("traceback", [])
                    lines = lines if type(lines) is list else []
                    error.remote_traceback = [str(line)[:2000] for line in lines[-40:]]
                if self.take_error is not None:
                    self.take_error(error)
                raise error
            raise WireError(f"unexpected message while waiting for an answer: {list(reply)}")

    def _absorb(self, answer):
        """Take the random state, the files and the outputs that come with an answer."""
        if "rng" in answer:
            self._set_rng(answer["rng"])
        files = answer.get("files")
        if self.take_files is not None and type(files) is dict:
            self.take_files({k: v for k, v in files.items() if type(k) is type(v) is str})
        outputs = answer.get("outputs", [])
        if self.capture is not None and type(outputs) is list:
            (self.take_outputs or self.print_outputs)(outputs)

    def print_outputs(self, outputs: list[Output]) -> None:
        """Show here what the other side's code printed (streams) and displayed."""
        for output in outputs:
            if not isinstance(output, dict):
                continue
            if output.get("output_type") == "stream" and output.get("name") in _STREAMS:
                # through sys.stdout: a test may have redirected it to read what was printed
                getattr(sys, output["name"]).write(str(output.get("text", "")))
            elif output.get("output_type") == "display_data":
                data = output.get("data") if type(output.get("data")) is dict else {}
                data = {k: v for k, v in data.items() if type(v) is str}
                self.capture.add({"output_type": "display_data", "data": data, "metadata": {}})

    def serve(self, request: Call) -> dict[str, Return | Raise]:
        """Run one incoming call; return the reply message (``return`` or ``raise``)."""
        saved_outputs = None
        if self.capture is not None:
            saved_outputs = (self.capture.outputs, self.capture.chars)
            self.capture.reset()
        restore = {}
        try:
            self._set_rng(request.get("rng"))
            handle = request.get("fn", {})
            if type(handle) is dict and ("get" in handle or "names" in handle):
                reply = {"return": {"value": self._namespace_answer(handle)}}
            else:
                reply = self._serve_call(request, handle, restore)
            body = reply["return"]
        except BaseException as exc:  # the student's code may raise anything, even SystemExit
            reply = {"raise": _describe(exc)}
            body = reply["raise"]
        finally:
            for name, old in restore.items():
                if old is _MISSING:
                    self.namespace.pop(name, None)
                else:
                    self.namespace[name] = old
        body["rng"] = self._rng_state()
        if self.changed_files is not None:
            try:
                body["files"] = self.changed_files()
            except OSError:
                pass
        if self.capture is not None:
            body["outputs"] = self.capture.outputs
            self.capture.outputs, self.capture.chars = saved_outputs
        return reply

    def _namespace_answer(self, handle):
        """The answer to a lookup (``{"get": name}``) or to ``{"names": true}``."""
        if self.namespace is None:
            raise WireError("this side has no namespace to look names up in")
        if "names" in handle:
            return [n for n in self.namespace if type(n) is str][:_MAX_NAMES]
        name = handle["get"]
        if type(name) is not str or name not in self.namespace:
            raise NameError(f"name {str(name)[:100]!r} is not defined")
        value = self.namespace[name]
        encoded = self.encode(value)
        if type(encoded) is dict and "mine" in encoded:  # a function the notebook defines
            encoded.update({"global": name, "id": id(value)})  # see _decode_function
        return encoded

    def _serve_call(self, request, handle, restore):
        """Run the function a call names, with the call's overrides in place."""
        fn = self._decode_function(handle)
        args = self.decode(request.get("args", []))
        kwargs = self.decode(request.get("kwargs", {}))
        if type(args) is not list or type(kwargs) is not dict:
            raise WireError("malformed call")
        if self.namespace is not None:
            for name, value in request.get("overrides", {}).items():
                restore[name] = self.namespace.get(name, _MISSING)
                self.namespace[name] = self.decode(value)
            deleted = request.get("deleted", [])
            for name in deleted if type(deleted) is list else []:
                if type(name) is str and name in self.namespace:
                    restore.setdefault(name, self.namespace[name])
                    del self.namespace[name]
        previous = signal.setitimer(signal.ITIMER_REAL, self.timeout) if self.timeout else None
        try:
            value = fn(*args, **kwargs)
        finally:
            if previous is not None:
                signal.setitimer(signal.ITIMER_REAL, *previous)
        return {
            "return": {
                "value": self.encode(value),
                "args": self.encode(args),
                "kwargs": self.encode(kwargs),
            }
        }


_MISSING = object()
_STREAMS = ("stdout", "stderr")
_MAX_NAMES = 20_000  # names a namespace listing may hold


def _describe(exc):
    """An exception as plain data: its class name, message and formatted traceback."""
    ename = getattr(exc, "ename", None) if isinstance(exc, RemoteError) else None
    ename = ename or type(exc).__name__
    try:
        evalue = str(exc)
    except BaseException:
        evalue = "(the exception's message could not be read)"
    try:
        lines = getattr(exc, "remote_traceback", None) or traceback.format_exception(exc)
    except BaseException:  # a class without a module, a frame that cannot be read, ...
        lines = [f"{ename}: {evalue}"]
    described = {"ename": str(ename), "evalue": evalue[:10_000], "traceback": list(lines)[-40:]}
    if isinstance(exc, WireError) and exc.type_name:
        described.update(ename=CANNOT_CROSS, type=exc.type_name)
    return described


def _update(original, new):
    """Apply the callee's final state ``new`` of an argument to the caller's ``original``.

    Arrays are written in place (same shape and dtype), a random Generator takes the state of
    the callee's (its draws), lists and dicts are updated item by item, tuples pass the update
    on to their items. Returns what the caller should hold.
    """
    if type(original) is np.random.Generator and type(new) is np.random.Generator:
        if type(original.bit_generator) is type(new.bit_generator):
            original.bit_generator.state = new.bit_generator.state
            return original
        return new
    if isinstance(original, np.ndarray) and isinstance(new, np.ndarray):
        if original.shape == new.shape and original.dtype == new.dtype:
            if original.flags.writeable and not np.array_equal(original, new, equal_nan=True):
                original[...] = new
            return original
        return new
    if type(original) is list and type(new) is list:
        for i in range(min(len(original), len(new))):
            original[i] = _update(original[i], new[i])
        del original[len(new) :]
        original.extend(new[len(original) :])
        return original
    if type(original) is dict and type(new) is dict:
        for key in [k for k in original if k not in new]:
            del original[key]
        for key, item in new.items():
            original[key] = _update(original[key], item) if key in original else item
        return original
    if type(original) is tuple and type(new) is tuple and len(original) == len(new):
        for old, item in zip(original, new):
            _update(old, item)
        return original
    return new


def _update_all(originals, news):
    if type(originals) is list and type(news) is list:
        for old, new in zip(originals, news):
            _update(old, new)
    elif type(originals) is dict and type(news) is dict:
        for key in originals.keys() & news.keys():
            _update(originals[key], news[key])
