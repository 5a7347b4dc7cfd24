"""Shared fixtures: the repository, and throwaway course directories built from it."""

import shutil
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")  # tests draw off screen; notebooks run by kernels keep their own backend

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo():
    """The checkout's root, which is also the course directory."""
    return REPO


@pytest.fixture(scope="session")
def course_copy():
    """A function making a throwaway course directory (config and source/) at a path."""

    def make(dest):
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / "nbgrader_config.py", dest / "nbgrader_config.py")
        shutil.copytree(REPO / "source", dest / "source")
        return dest

    return make
