"""The late-read rule: test cells compute what they expect before the student's function runs.

The judge gives a student's function the test's own arrays and brings back what the
function did to them (``course.grading.server.wire``). A check that computes its expected value
*after* the call, from an argument of the call, can then be fooled: a ``my_dense`` that
zeroes ``W`` and ``b`` in place and returns ``g(0)`` makes ``sigmoid(x @ W + b)`` right.
So every test cell of every source notebook (visible parts and hidden regions) follows one
rule, checked here by reading the cells (nothing runs):

    Once a value has been passed to a graded function, the cell reads it again only
    (a) in the arguments of a call of a graded function (another student call),
    (b) in the arguments of a check that it is unchanged (``check_unchanged``, or a helper
        of the notebook whose name starts with ``_check_unchanged``),
    (c) to call it (a function passed as an argument, such as the activation ``g``), or
    (d) to bind a name to it (``for copy, arg in zip(before, (x, W, b))``): that name is
        then held to the rule;
    until its name is bound to a new value. Expected values, likely mistakes and messages
    are computed before the call, from the arguments or from copies of them
    (``before = x.copy()``).

What the rule counts:

* *graded functions*: the notebook's exercises (:func:`course.grading.notebooks.exercises`)
  and every function the test cells define that calls one, directly or through one of its
  parameters (``_check_initializer(initialize_parameters_he, ...)``);
* *what a call may change*: the memory of its arguments, and so every name whose memory
  overlaps it: the name passed, a name bound to the same object or to a view of it
  (``row = b.reshape(1, 3)``), what it holds (``f(params)`` changes ``params["W1"]``) and
  what holds it (``f(x[:, :4])`` changes ``x``; ``f(case)`` changes ``cases``, of which it
  is an item). An item taken out of a container may be any object the container holds, so
  passing it may change them all; but two items taken out are different objects (``for
  seed, dims in cases``: passing ``dims`` leaves ``seed`` alone, and the next round's items
  too), and an item taken out is changed only when its container was passed, or when it
  was taken out after the call;
* *what makes a new value*: arithmetic, a copy (``x.copy()``) and any call, except those
  that keep the memory of what they are given: views (``x.T``, ``x.reshape``, ``x.view``,
  ...), ``np.asarray``, ``list``, ``tuple``, ``zip``, ``enumerate``, and ``.get``,
  ``.items`` and ``.values`` (items of the object);
* *what cannot change*: numbers, strings, shapes (``x.shape``, ``len(x)``) and a function's
  ``__name__``: reading them is fine;
* *order*: as Python runs the cell: in ``check(f(x), g(x))``, ``g(x)`` reads ``x`` after the
  call. A loop's body runs at least once, and again after its end (what one round passed,
  the next may read); both branches of an ``if`` or ``try`` count.

The rule looks at one test cell at a time. It does not follow a name across cells: a
fixture that an earlier cell gave a student's function (week 3's ``parameters_tst``) may
have been changed before a later cell reads it, as any state the cells share; a hidden
check that must not depend on that uses inputs of its own.

``test_late_reads.py`` requires every source notebook to follow it; run this file to list
the reads that break it (``python grader_tests/late_reads.py [NOTEBOOK ...]``).
"""

import ast
import sys
from pathlib import Path

from course.grading import notebooks

REPO = Path(__file__).resolve().parents[1]

UNCHANGED_CHECKS = ("check_unchanged", "_check_unchanged")  # the name, or its prefix
SHAPE_ATTRIBUTES = {"shape", "ndim", "size", "dtype", "__name__"}  # nothing changes them
IMMUTABLE_CALLS = {"int", "float", "str", "bool", "len", "round", "abs", "range"}
# calls whose value is (a view of) their argument, or of the object whose method they are
SAME_MEMORY_CALLS = {"asarray", "list", "tuple", "iter", "reversed", "zip", "enumerate"}
SAME_MEMORY_METHODS = {"reshape", "view", "ravel", "transpose", "squeeze", "swapaxes"}
PART_METHODS = {"get", "items", "values"}  # their value is (holds) items of the object
STORING_METHODS = {"append", "extend", "insert", "add", "update", "setdefault"}


class Value:
    """What a value may share memory with: ``same`` (it is, or is a view of, these names),
    ``part`` (it is an item or slice of these) and ``holds`` (it holds these)."""

    def __init__(self, same=(), part=(), holds=()):
        self.same, self.part, self.holds = set(same), set(part), set(holds)

    def __or__(self, other):
        return Value(self.same | other.same, self.part | other.part, self.holds | other.holds)

    def names(self):
        return self.same | self.part | self.holds

    def as_item(self):
        """An item of this value: an item of what it is, is part of, or holds."""
        return Value(part=self.same | self.part, same=self.holds)

    def as_container(self):
        """A container of this value (a tuple or list display holding it)."""
        return Value(holds=self.same | self.holds, part=self.part)


FRESH = Value()


class Flow:
    """The rule's state while reading one cell (or one function a cell defines).

    Attributes:
        graded: names of the graded functions (and of the cells' helpers that call one).
        helpers: ``{helper: (its parameters, the graded ones among them)}``.
        within: ``{name: the names whose memory holds (or is) its memory}``.
        held: ``{container: the names it holds}``; taken_from: ``{item: its containers}``.
        tainted: ``{name: the call that may have changed it}`` (``"my_dense (line 7)"``).
        whole: the tainted names that may have changed as a whole (so their items did).
        immutable: names bound to numbers, strings, shapes: nothing changes them.
        problems: ``[(line, name, call)]``: the reads that break the rule.
    """

    def __init__(self, graded, helpers):
        self.graded, self.helpers = graded, helpers
        self.within, self.tainted, self.whole, self.immutable = {}, {}, set(), set()
        self.held, self.taken_from = {}, {}
        self.problems = []

    # --- values

    def is_immutable(self, node):
        """Whether ``node``'s value is a number, string, shape, ... that nothing changes."""
        if isinstance(node, (ast.Constant, ast.JoinedStr)):
            return True
        if isinstance(node, ast.Name):
            return node.id in self.immutable
        if isinstance(node, ast.Attribute):
            return node.attr in SHAPE_ATTRIBUTES
        if isinstance(node, ast.Subscript):
            return self.is_immutable(node.value)
        if isinstance(node, ast.UnaryOp):
            return self.is_immutable(node.operand)
        if isinstance(node, (ast.BinOp, ast.Compare, ast.BoolOp, ast.Tuple)):
            children = [c for c in ast.iter_child_nodes(node) if isinstance(c, ast.expr)]
            return all(map(self.is_immutable, children))
        if isinstance(node, ast.Call):
            return isinstance(node.func, ast.Name) and node.func.id in IMMUTABLE_CALLS
        return False

    def value(self, node):
        """The :class:`Value` of expression ``node``."""
        if node is None or self.is_immutable(node):
            return FRESH
        if isinstance(node, ast.Name):
            return Value(same={node.id})
        if isinstance(node, (ast.Starred, ast.NamedExpr)):
            return self.value(node.value)
        if isinstance(node, ast.Attribute):
            base = self.value(node.value)
            return base if node.attr == "T" else base.as_item()
        if isinstance(node, ast.Subscript):
            return self.value(node.value).as_item()
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return _union(self.value(e).as_container() for e in node.elts)
        if isinstance(node, ast.Dict):
            return _union(self.value(v).as_container() for v in node.values)
        if isinstance(node, ast.IfExp):
            return self.value(node.body) | self.value(node.orelse)
        if isinstance(node, ast.BoolOp):
            return _union(map(self.value, node.values))
        if isinstance(node, ast.BinOp) and _concatenates(node):
            return self.value(node.left) | self.value(node.right)
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            element = self.value(node.value if isinstance(node, ast.DictComp) else node.elt)
            for comp in reversed(node.generators):  # the last loop binds the item
                bound = _names(comp.target)
                if element.names() & bound:
                    element = _without(element, bound) | self.value(comp.iter).as_item()
            return element.as_container()
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in SAME_MEMORY_CALLS:
                return _union(self.value(a) for a in node.args)
            if isinstance(func, ast.Attribute) and func.attr in SAME_MEMORY_METHODS:
                return self.value(func.value)
            if isinstance(func, ast.Attribute) and func.attr == "asarray":
                return _union(self.value(a) for a in node.args)
            if isinstance(func, ast.Attribute) and func.attr in PART_METHODS:
                return self.value(func.value).as_item()
        return FRESH  # arithmetic, copies, other calls: a new value

    def items(self, iterable, width):
        """What each of ``width`` loop targets holds, per round of a loop over ``iterable``:
        ``[(Value, immutable)]``."""
        if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name):
            name, args = iterable.func.id, iterable.args
            if name == "range":
                return [(FRESH, True)] * width
            if name == "zip" and len(args) == width and not iterable.keywords:
                return [self.items(a, 1)[0] for a in args]
            if name == "enumerate" and width == 2 and args:
                return [(FRESH, True), self.items(args[0], 1)[0]]
        if isinstance(iterable, (ast.List, ast.Tuple)) and iterable.elts:
            rows = [item.elts if width > 1 else [item] for item in iterable.elts]
            if all(len(row) == width and not isinstance(row[0], ast.Starred) for row in rows):
                return [
                    (_union(self.value(row[i]) for row in rows),
                     all(self.is_immutable(row[i]) for row in rows))
                    for i in range(width)
                ]  # fmt: skip
        return [(self.value(iterable).as_item(), False)] * width

    def closure(self, name, upward):
        """The names whose memory holds ``name``'s (``upward``), or that it holds."""
        found, todo = set(), [name]
        while todo:
            current = todo.pop()
            if upward:
                nexts = self.within.get(current, set())
            else:
                nexts = {n for n, outer in self.within.items() if current in outer}
            for other in nexts - found - {name}:
                found.add(other)
                todo.append(other)
        return found

    # --- binding names

    def bind(self, name, value=FRESH, immutable=False, taken=None):
        """``name`` now holds ``value``. An item of a container is changed when the
        container was (``taken``: the tainted names when the item was taken out)."""
        for edges in (self.within, self.held, self.taken_from):
            edges.pop(name, None)
            for others in edges.values():
                others.discard(name)
        self.tainted.pop(name, None)
        self.whole.discard(name)
        self.immutable.discard(name)
        if immutable:
            self.immutable.add(name)
            return
        taken = self.tainted if taken is None else taken
        if value.same | value.part:
            self.within[name] = (value.same | value.part) - {name}
        for inner in (value.same | value.holds) - {name}:
            self.within.setdefault(inner, set()).add(name)
        if value.holds - {name}:
            self.held[name] = value.holds - {name}
        if value.part - {name}:
            self.taken_from[name] = value.part - {name}
        for source in sorted(value.same):
            if source in self.tainted:
                self.tainted[name] = self.tainted[source]
                if source in self.whole:
                    self.whole.add(name)
        for source in sorted(value.part):
            if source in self.whole or source in taken:
                self.tainted.setdefault(name, (taken | self.tainted)[source])
                self.whole.add(name)
        for source in sorted(value.holds):
            if source in self.tainted:
                self.tainted.setdefault(name, self.tainted[source])

    def bind_target(self, target, value, immutable=False, taken=None, items=None):
        """Bind an assignment's or loop's target (``items``: per element of a tuple target,
        ``(Value, immutable)``)."""
        if isinstance(target, ast.Name):
            self.bind(target.id, value, immutable, taken)
        elif isinstance(target, (ast.Tuple, ast.List)):
            if items is None or len(items) != len(target.elts):
                items = [(value.as_item(), False)] * len(target.elts)
            for element, (part, fixed) in zip(target.elts, items):
                self.bind_target(element, part, fixed, taken)
        elif isinstance(target, ast.Starred):
            self.bind_target(target.value, value.as_container(), False, taken)
        else:  # an item or attribute of an object: the object now holds the value
            if isinstance(target, ast.Subscript):
                self.expr(target.slice)
            self.store(_base_name(target), value)

    def store(self, base, value):
        """The object named ``base`` now holds ``value`` too (``x[k] = v``, ``x.append(v)``)."""
        if base is None:
            return
        for inner in value.same | value.holds:
            self.within.setdefault(inner, set()).add(base)
            self.held.setdefault(base, set()).add(inner)
        for outer in value.part:  # it holds an item of another container
            self.within.setdefault(base, set()).add(outer)
            self.within.setdefault(outer, set()).add(base)
        for source in value.names():
            if source in self.tainted:
                self.tainted.setdefault(base, self.tainted[source])

    # --- calls that may change their arguments

    def passed(self, value, label):
        """A graded call got ``value``: taint what its memory overlaps."""
        changed, whole = set(), set()
        for name in value.same | value.holds:
            whole |= {name} | self.closure(name, upward=False)
            changed |= self.closure(name, upward=True)
            for container in self.taken_from.get(name, ()):  # it may be any item held there
                for item in self.held.get(container, ()):
                    whole |= {item} | self.closure(item, upward=False)
        for name in value.part:  # some item of it: any of its items, as far as we know
            changed |= {name} | self.closure(name, upward=True)
            whole |= self.closure(name, upward=False)
        for name in changed | whole:
            if name not in self.graded and name not in self.immutable:
                self.tainted.setdefault(name, label)
                if name in whole:
                    self.whole.add(name)

    # --- reading, in the order Python runs the code

    def read(self, node, exempt):
        if node.id in self.tainted and not exempt and node.id not in self.immutable:
            self.problems.append((node.lineno, node.id, self.tainted[node.id]))

    def expr(self, node, exempt=False, alias=False):
        """Read ``node``. ``alias``: its value is being bound, and reads that only make the
        value share memory with a name (rule d) are not reads of that name's data."""
        if node is None:
            return
        if isinstance(node, ast.Name):
            self.read(node, exempt or alias)
        elif isinstance(node, ast.Call):
            self.call(node, exempt, alias)
        elif isinstance(node, ast.Attribute):
            shape = node.attr in SHAPE_ATTRIBUTES  # no change in place alters a shape
            self.expr(node.value, exempt or shape, alias)
        elif isinstance(node, ast.Starred):
            self.expr(node.value, exempt, alias)
        elif isinstance(node, ast.Subscript):
            self.expr(node.value, exempt, alias)
            self.expr(node.slice, exempt)
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            for element in node.elts:
                self.expr(element, exempt, alias)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                self.expr(key, exempt)
                self.expr(value, exempt, alias)
        elif isinstance(node, ast.IfExp):
            self.expr(node.test, exempt)
            self.expr(node.body, exempt, alias)
            self.expr(node.orelse, exempt, alias)
        elif isinstance(node, ast.BoolOp):
            for value in node.values:
                self.expr(value, exempt, alias)
        elif isinstance(node, ast.BinOp):
            passes = alias and _concatenates(node)
            self.expr(node.left, exempt, passes)
            self.expr(node.right, exempt, passes)
        elif isinstance(node, ast.NamedExpr):
            self.expr(node.value, exempt, True)
            self.bind(node.target.id, self.value(node.value), self.is_immutable(node.value))
        elif isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            self.comprehension(node, exempt, alias)
        elif not isinstance(node, ast.Lambda):  # a lambda's body runs when it is called
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.expr(child, exempt)

    def comprehension(self, node, exempt, alias):
        outer = {}  # the comprehension's own names end with it
        for comp in node.generators:
            self.expr(comp.iter, exempt, True)
            for name in _names(comp.target):
                outer.setdefault(name, self.saved(name))
            width = len(comp.target.elts) if isinstance(comp.target, ast.Tuple) else 1
            items = self.items(comp.iter, width)
            self.bind_target(comp.target, items[0][0], items[0][1], items=items)
            for condition in comp.ifs:
                self.expr(condition, exempt)
        if isinstance(node, ast.DictComp):
            self.expr(node.key, exempt)
            self.expr(node.value, exempt, alias)
        else:
            self.expr(node.elt, exempt, alias)
        for name, saved in outer.items():
            self.bind(name)
            self.put_back(name, saved)

    def saved(self, name):
        """What the flow knows of ``name``, to put it back after a comprehension."""
        edges = [(getattr(self, e).get(name), {k for k, v in getattr(self, e).items() if name in v})
                 for e in self.EDGES]  # fmt: skip
        return edges, self.tainted.get(name), name in self.whole, name in self.immutable

    def put_back(self, name, saved):
        edges, label, whole, immutable = saved
        for attribute, (own, others) in zip(self.EDGES, edges):
            if own:
                getattr(self, attribute)[name] = set(own)
            for other in others:
                getattr(self, attribute).setdefault(other, set()).add(name)
        if label is not None:
            self.tainted[name] = label
        if whole:
            self.whole.add(name)
        if immutable:
            self.immutable.add(name)

    def call(self, node, exempt, alias):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else None
        graded = name in self.graded
        checks_unchanged = name is not None and name.startswith(UNCHANGED_CHECKS)
        passes = alias and self.value(node) is not FRESH
        if isinstance(func, ast.Name):
            self.read(func, True)  # calling a function is not reading data
        elif isinstance(func, ast.Attribute):
            self.expr(func.value, exempt, passes)
        else:
            self.expr(func, exempt)
        inner = exempt or graded or checks_unchanged
        stores = isinstance(func, ast.Attribute) and func.attr in STORING_METHODS
        for argument in node.args:
            self.expr(argument, inner, passes or stores)
        for keyword in node.keywords:
            self.expr(keyword.value, inner, passes or stores)
        if stores:  # the object now holds the arguments (or their items)
            for argument in [*node.args, *(k.value for k in node.keywords)]:
                value = self.value(argument)
                if func.attr in ("extend", "update") and argument in node.args:
                    value = value.as_item()
                self.store(_base_name(func.value), value)
        if graded:
            arguments = [*node.args, *(k.value for k in node.keywords)]
            if name in self.helpers:  # a helper's graded parameters are functions, not data
                params, graded_params = self.helpers[name]
                arguments = [a for i, a in enumerate(node.args)
                             if i >= len(params) or params[i] not in graded_params]  # fmt: skip
                arguments += [k.value for k in node.keywords if k.arg not in graded_params]
            for argument in arguments:
                self.passed(self.argument(argument, node), f"{name} (line {node.lineno})")

    def argument(self, node, call):
        """What the callee gets: for ``*args`` and ``**kwargs``, their items (in a new
        tuple or dict)."""
        if isinstance(node, ast.Starred):
            return self.value(node.value).as_item()
        if any(k.arg is None and k.value is node for k in call.keywords):
            return self.value(node).as_item()
        return self.value(node)

    # --- statements

    EDGES = ("within", "held", "taken_from")

    def state(self):
        edges = tuple({k: set(v) for k, v in getattr(self, e).items()} for e in self.EDGES)
        return edges, dict(self.tainted), set(self.whole), set(self.immutable)

    def restore(self, state):
        edges, tainted, whole, immutable = state
        for attribute, saved in zip(self.EDGES, edges):
            setattr(self, attribute, {k: set(v) for k, v in saved.items()})
        self.tainted, self.whole, self.immutable = dict(tainted), set(whole), set(immutable)

    def merge(self, *states):
        """The state after one of several paths: what any of them may have changed."""
        for i, attribute in enumerate(self.EDGES):
            merged = {}
            for path in states:
                for name, others in path[0][i].items():
                    merged.setdefault(name, set()).update(others)
            setattr(self, attribute, merged)
        self.tainted = {}
        for path in states:
            for name, label in path[1].items():
                self.tainted.setdefault(name, label)
        self.whole = set().union(*(path[2] for path in states))
        self.immutable = set.intersection(*(path[3] for path in states))

    def block(self, statements):
        for statement in statements:
            self.statement(statement)

    def loop(self, body, start=None):
        """Run ``body`` (``start`` binds the target) once, then again until a round adds
        nothing: a test's loops run over the cases it lists."""
        rounds = []
        while True:
            if start:
                start()
            self.block(body)
            if rounds and self.state() == rounds[-1]:
                return
            rounds.append(self.state())
            self.merge(*rounds)

    def statement(self, node):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.function(node)
        elif isinstance(node, ast.ClassDef):
            self.block(node.body)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            self.expr(node.value, alias=True)
            if node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                items = None
                if isinstance(node.value, ast.Tuple):
                    items = [(self.value(e), self.is_immutable(e)) for e in node.value.elts]
                for target in targets:
                    self.bind_target(target, self.value(node.value),
                                     self.is_immutable(node.value), items=items)  # fmt: skip
        elif isinstance(node, ast.AugAssign):
            self.expr(node.target)  # x += ... reads x (and changes it in place)
            self.expr(node.value)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            self.expr(node.iter, alias=True)
            width = len(node.target.elts) if isinstance(node.target, ast.Tuple) else 1
            items = self.items(node.iter, width)
            taken = dict(self.tainted)  # each round takes new items, as they were before

            def start():
                self.bind_target(node.target, items[0][0], items[0][1], taken, items)

            self.loop(node.body, start)
            self.block(node.orelse)
        elif isinstance(node, ast.While):
            self.expr(node.test)
            self.loop([*node.body, ast.Expr(node.test)])
            self.block(node.orelse)
        elif isinstance(node, ast.If):
            self.expr(node.test)
            before = self.state()
            self.block(node.body)
            after_body = self.state()
            self.restore(before)
            self.block(node.orelse)
            self.merge(after_body, self.state())
        elif isinstance(node, ast.Try):
            before = self.state()
            self.block(node.body)
            paths = [self.state()]
            for handler in node.handlers:
                self.merge(before, paths[0])
                if handler.name:
                    self.bind(handler.name)
                self.block(handler.body)
                paths.append(self.state())
            self.restore(paths[0])
            self.block(node.orelse)
            self.merge(self.state(), *paths[1:])
            self.block(node.finalbody)
        elif isinstance(node, ast.With):
            for item in node.items:
                self.expr(item.context_expr)
                if item.optional_vars is not None:
                    self.bind_target(item.optional_vars, FRESH)
            self.block(node.body)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.bind(target.id)
                else:
                    self.expr(target)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                self.bind((alias.asname or alias.name).split(".")[0])
        else:  # Expr, Return, Assert, Raise, ...: their expressions are read
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.expr(child)

    def function(self, node):
        """A function the cell defines: its body follows the rule on its own."""
        graded_params = self.helpers.get(node.name, ((), set()))[1]
        inner = Flow(self.graded | graded_params, self.helpers)
        inner.block(node.body)
        self.problems += inner.problems
        self.bind(node.name)


def _union(values):
    result = FRESH
    for value in values:
        result = result | value
    return result


def _without(value, names):
    return Value(value.same - names, value.part - names, value.holds - names)


def _names(target):
    return {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}


def _base_name(node):
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _concatenates(node):
    """``[a] + rest``: list or tuple concatenation keeps the items (arithmetic does not)."""
    displays = (ast.List, ast.Tuple, ast.ListComp)
    return isinstance(node.op, ast.Add) and (
        isinstance(node.left, displays) or isinstance(node.right, displays)
    )


def graded_functions(trees, names):
    """The graded functions of a notebook's test cells, and its helpers' graded parameters.

    Args:
        trees: the test cells, parsed.
        names: the notebook's exercises.

    Returns:
        ``(graded, helpers)``: the exercises and every function the cells define that calls
        one (directly, or through a parameter that a call gives a graded function), and
        ``{helper: (its parameter names, the graded ones)}``.
    """
    defs = [n for t in trees for n in ast.walk(t) if isinstance(n, ast.FunctionDef)]
    calls = [n for t in trees for n in ast.walk(t) if isinstance(n, ast.Call)]
    params = {d.name: [a.arg for a in d.args.args] for d in defs}
    graded, graded_params = set(names), {d.name: set() for d in defs}
    changed = True
    while changed:
        changed = False
        for call in calls:
            if isinstance(call.func, ast.Name) and call.func.id in params:
                fn = call.func.id
                given = [(params[fn][i] if i < len(params[fn]) else None, a)
                         for i, a in enumerate(call.args)]  # fmt: skip
                given += [(k.arg, k.value) for k in call.keywords]
                for param, arg in given:
                    if param and isinstance(arg, ast.Name) and arg.id in graded:
                        changed |= param not in graded_params[fn]
                        graded_params[fn].add(param)
        for d in defs:
            callees = {n.func.id for n in ast.walk(d)
                       if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}  # fmt: skip
            if d.name not in graded and callees & (graded | graded_params[d.name]):
                graded.add(d.name)
                changed = True
    helpers = {d.name: (params[d.name], graded_params[d.name]) for d in defs if d.name in graded}
    return graded, helpers


def late_reads(nb):
    """Every read in the notebook's test cells that breaks the rule.

    Returns:
        A list of lines ``"<grade_id> line <n>: reads <name> after passing it to <call>"``.
    """
    cells = [(notebooks.nbgrader_meta(c)["grade_id"], c.source) for c in notebooks.test_cells(nb)]
    return [
        f"{grade_id} line {line}: reads {name} after passing it to {call}"
        for grade_id, line, name, call in cells_late_reads(cells, notebooks.exercises(nb))
    ]


def cells_late_reads(cells, exercises):
    """``[(grade_id, line, name, call)]``: the late reads of ``cells``, ``[(grade_id, source)]``,
    the test cells of a notebook whose graded functions are ``exercises``."""
    trees = [(grade_id, ast.parse(source)) for grade_id, source in cells]
    graded, helpers = graded_functions([tree for _, tree in trees], exercises)
    found = []
    for grade_id, tree in trees:
        flow = Flow(graded, helpers)
        flow.block(tree.body)
        found += [(grade_id, *problem) for problem in sorted(set(flow.problems))]
    return found


def main(argv=None):
    """Print the late reads of the given notebooks (default: every source notebook)."""
    paths = [Path(p) for p in (sys.argv[1:] if argv is None else argv)]
    paths = paths or sorted((REPO / "source").glob("*/*.ipynb"))
    found = 0
    for path in paths:
        reads = late_reads(notebooks.read_notebook(path))
        found += len(reads)
        print(f"{path}: {len(reads)} late read(s)")
        for read in reads:
            print(f"  {read}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
