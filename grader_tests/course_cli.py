"""The ``course`` command as the tests run it: this environment's, output captured."""

import os
import subprocess
import sys
from pathlib import Path


def course(*args, cwd=None):
    """Run ``python -m course ARGS`` in ``cwd``, uncoloured (piped), the environment on PATH."""
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        [sys.executable, "-m", "course", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
    )
