"""Shared fixtures: the repository, throwaway course directories built from it, artifacts."""

import shutil
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")  # tests draw off screen; notebooks run by kernels keep their own backend

REPO = Path(__file__).resolve().parents[1]


class Artifacts:
    """Files a person should look at after a run (screenshots), kept in ``artifacts/``.

    The folder is git-ignored; pytest lists what this run saved at the end of its report.
    """

    def __init__(self, folder):
        self.folder = folder
        self.saved = []

    def path(self, name):
        """Where to save the artifact ``name`` (a relative path); it is listed at the end."""
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        self.saved.append(path)
        return path


_ARTIFACTS = Artifacts(REPO / "artifacts")


def pytest_terminal_summary(terminalreporter):
    if _ARTIFACTS.saved:
        terminalreporter.write_sep("-", f"artifacts saved in {_ARTIFACTS.folder}")
        for path in _ARTIFACTS.saved:
            terminalreporter.write_line(str(path.relative_to(_ARTIFACTS.folder)))


@pytest.fixture(scope="session")
def artifacts():
    """An :class:`Artifacts`: ``artifacts.path("browser/week1.png")`` to save a screenshot."""
    return _ARTIFACTS


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
