"""The judge: runs the test cells, hidden tests included, outside the student's process.

The judge is a fork-server child (:mod:`course.grading.forkserver`, role ``judge``) that
starts from the notebook's shared prefix (imports, set-up) as the instructor wrote it. Each
exercise's name is bound to a :class:`~course.grading.wire.RemoteFunction`: calling it runs
the student's function in the sandbox on the arguments the test chose, and only plain data
comes back. The checks (``numpy``, ``course.testing``, the reference code in hidden regions)
run here, where the student's code cannot reach them.

A test cell that rebinds an exercise's name (``my_dense = _reference_dense``, to test
``my_sequential`` without counting a wrong ``my_dense`` twice) has the same effect in the
student's process during the calls it makes: the student's ``my_sequential`` calls the
test's reference through a handle. The rebinding ends with the cell: after every test cell
the judge binds each exercise's name to the student's function again, so a check that
failed before the cell could restore the name cannot make later cells test the reference.

Test cells may use the prefix's names, earlier test cells' names and the exercises; nothing
else from the notebook exists here. Hidden tests must not draw from NumPy's global random
state after calling student code (use a local ``np.random.default_rng(seed)``): the global
state comes back from the student's process, which could choose it.
"""

import time

from course.grading import forkserver
from course.grading.wire import RemoteFunction

__all__ = ["install", "run_test_cell"]

_HANDLES = {}  # exercise name -> its RemoteFunction, in this judge (one per submission)


def install(shell, peer, exercises):
    """Bind each exercise's name in the judge's namespace to the student's function.

    Every call through ``peer`` then also carries the names the test has rebound (to its own
    reference functions), for the duration of the call.
    """
    namespace = shell.user_ns
    handles = _HANDLES
    handles.clear()
    for name in exercises:
        handles[name] = namespace[name] = RemoteFunction(peer, {"name": name}, name)

    def overrides():
        return {
            name: namespace[name]
            for name, handle in handles.items()
            if name in namespace and namespace[name] is not handle
        }

    peer.overrides = overrides


def _statement_line(error):
    """The line of the test cell whose top-level statement raised ``error`` (or None)."""
    tb = getattr(error, "__traceback__", None)
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "<module>":
            return tb.tb_lineno
        tb = tb.tb_next
    return None


def run_test_cell(shell, source, hidden, timeout):
    """Run one test cell in full; say whether its visible part passed.

    Args:
        shell: the judge's shell.
        source: the cell as the instructor wrote it (hidden regions included).
        hidden: line numbers (1-based) of the hidden regions.
        timeout: seconds the judge's own work in the cell may take.

    Returns:
        The cell's result (as :func:`course.grading.forkserver.run_cell`) plus
        ``visible_ok`` (no error was raised by a visible line) and ``ename`` (the error's
        class name, or None).
    """
    start = time.perf_counter()
    try:
        result = forkserver.run_cell(shell, source, timeout)
    finally:
        shell.user_ns.update(_HANDLES)  # a test's rebinding of an exercise ends here
    error = forkserver.LAST_ERROR
    line = _statement_line(error)
    result["visible_ok"] = error is None or (line is not None and line in set(hidden))
    result["ename"] = None if error is None else type(error).__name__
    result["seconds"] = time.perf_counter() - start
    return result
