"""The commands the tests run, this environment's: ``course``, and ``nbgrader`` to compare with.

``nbgrader`` runs as its console script does (``nbgrader.apps.nbgraderapp.main``, its folder
first on ``sys.path``), with two start-up costs left out by :func:`lighten_nbgrader`, which
the test processes call too (``conftest.py``). Neither changes what nbgrader does:

* jsonschema imports ``rfc3987_syntax`` only to check the "iri" string format, which no
  notebook or nbgrader schema uses, and that import builds a parser for seconds (the
  grader's own processes leave it out the same way: ``course/grading/__init__.py``);
* a new gradebook records alembic's head revision, which nbgrader asks a new ``alembic
  heads`` process for, one that imports nbgrader again: this reads the same head from the
  same revision scripts in the running process (``test_package.py`` checks they agree).

Each costs about 3 s of CPU per nbgrader command or new gradebook: a hundred of each in a
run of the suite.
"""

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent

_NBGRADER_MAIN = f"""\
import sys
sys.path[0] = {str(BIN)!r}  # the console script's folder, as when it runs
sys.path.insert(1, {str(HERE)!r})
import course_cli
del sys.path[1]
course_cli.lighten_nbgrader()
from nbgrader.apps.nbgraderapp import main
sys.argv[0] = "nbgrader"
sys.exit(main())
"""


def alembic_head():
    """The gradebook's schema version nbgrader records: the head of its alembic scripts."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    config = Config()
    config.set_main_option("script_location", ALEMBIC_DIR)
    (head,) = ScriptDirectory.from_config(config).get_heads()
    return head


def lighten_nbgrader():
    """Leave the two start-up costs of the module docstring out of this process's nbgrader."""
    sys.modules.setdefault("rfc3987_syntax", None)
    import nbgrader.api

    nbgrader.api.get_alembic_version = alembic_head


def env():
    """This environment's variables with its ``bin/`` first on PATH (nbgrader runs ``alembic``
    from PATH) and without NO_COLOR (the tests pipe the output: no colour either way)."""
    out = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    out["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    return out


def nbgrader_command(*args):
    """The command line of ``nbgrader ARGS`` (for ``subprocess``; run it with :func:`env`)."""
    return [sys.executable, "-c", _NBGRADER_MAIN, *args]


def course(*args, cwd=None):
    """Run ``python -m course ARGS`` in ``cwd``, uncoloured (piped), the environment on PATH."""
    return subprocess.run(
        [sys.executable, "-m", "course", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env(),
        timeout=600,
    )


def nbgrader(*args, cwd=None):
    """Run ``nbgrader ARGS`` (:func:`nbgrader_command`) in ``cwd``, output captured."""
    return subprocess.run(
        nbgrader_command(*args), capture_output=True, text=True, cwd=cwd, env=env(), timeout=900
    )


@contextmanager
def nbgrader_autograde_meanwhile(root, assignment):
    """Plain ``nbgrader autograde ASSIGNMENT --force`` of every hand-in of the course ``root``,
    running while the block runs (the block grades the same class with ``course autograde``
    in a copy); it must have graded them all, exit status 0, when the block ends.

    The assignment is recorded in the gradebook first, as ``nbgrader_driver.nbgrader_autograde``
    does: ``nbgrader generate_assignment``'s work, done by nbgrader's API in this process.
    """
    from course.grading import nbgrader_driver as driver

    driver.release(root, [assignment])
    run = subprocess.Popen(
        nbgrader_command("autograde", assignment, "--force"),
        cwd=root,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield
    except BaseException:
        run.kill()
        run.communicate()
        raise
    output, _ = run.communicate(timeout=1800)
    assert run.returncode == 0, f"nbgrader autograde exited {run.returncode}:\n{output[-3000:]}"
