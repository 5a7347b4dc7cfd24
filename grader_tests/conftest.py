"""Shared fixtures: the repository, throwaway course directories built from it, the weeks'
classes, artifacts."""

import os
import shutil
from pathlib import Path

# One BLAS thread per process (the test processes, and the kernels, nbgrader runs and servers
# they start): the suite keeps every core busy, and OpenBLAS's threads spin while they wait for
# a busy core (next to two busy processes, JupyterLab ran week 4 in 54 s with them, 32 s without)
for _threads in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")

import matplotlib  # noqa: E402  (after the environment above, which numpy reads on import)
import pytest  # noqa: E402
from course_cli import lighten_nbgrader  # noqa: E402

matplotlib.use("Agg")  # tests draw off screen; notebooks run by kernels keep their own backend
lighten_nbgrader()  # before a test module imports nbformat: seconds less per process and gradebook
pytest.register_assert_rewrite("weeks")  # its checks of what the notebooks print are asserts
import weeks  # noqa: E402  (after the two lines above)

from course.grading import nbgrader_driver as driver  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


class Artifacts:
    """Files a person should look at after a run (screenshots), kept in ``artifacts/``.

    The folder is git-ignored; pytest lists what this run saved at the end of its report
    (each test's saved files travel with its report, from whichever pytest-xdist worker ran it).
    """

    folder = REPO / "artifacts"

    def __init__(self, properties):
        self.properties = properties

    def path(self, name):
        """Where to save the artifact ``name`` (a relative path); it is listed at the end."""
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        self.properties.append(("artifact", str(path.relative_to(self.folder))))
        return path


_SAVED = {}  # the artifacts of this run, as the tests' reports name them


def pytest_runtest_logreport(report):
    _SAVED.update(dict.fromkeys(v for k, v in report.user_properties if k == "artifact"))


def pytest_terminal_summary(terminalreporter):
    if _SAVED:
        terminalreporter.write_sep("-", f"artifacts saved in {Artifacts.folder}")
        for name in _SAVED:
            terminalreporter.write_line(name)


@pytest.fixture
def artifacts(request):
    """An :class:`Artifacts`: ``artifacts.path("browser/week1.jpg")`` to save a screenshot."""
    return Artifacts(request.node.user_properties)


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


@pytest.fixture(scope="session")
def course_dir(tmp_path_factory, course_copy):
    """A throwaway course directory with every assignment of ``weeks.WEEKS`` released."""
    root = course_copy(tmp_path_factory.mktemp("course"))
    released, kept = driver.release(root, list(weeks.WEEKS))
    assert kept == []  # a fresh directory has no earlier release to keep
    assert sorted(p.parent.name for p in released) == sorted(weeks.WEEKS)
    return root


@pytest.fixture(scope="session")
def week_class(course_dir):
    """``week_class(name)``: the class of week ``name`` (:func:`weeks.grade_class`: the
    pipeline's submissions and the mutant sample), graded in ``course_dir`` on first use.

    The tests that read a week's class are parametrized with ``weeks.in_its_class``, so that
    with pytest-xdist they run in the worker that grades it.
    """
    graded = {}

    def get(name):
        if name not in graded:
            graded[name] = weeks.grade_class(course_dir, name)
        return graded[name]

    return get


# `make test` runs the suite on pytest-xdist workers, which take the units of work (a test, or
# the tests of one xdist_group) in collection order: the longest units go first, so that none
# starts last and keeps one worker busy alone; then the other slow tests, the parity scenarios
# (many, and short: they even out the workers' ends), and the fast tests.
LONGEST_FIRST = [
    "browser-solved",
    "browser-untouched",
    "attacks",
    "week4",
    "week5",
    "week6",
    "week3",
    "week2",
    "week1",
    "reports",
]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    def rank(item):
        group = item.get_closest_marker("xdist_group")
        if group and group.args[0] in LONGEST_FIRST:
            return LONGEST_FIRST.index(group.args[0])
        if not item.get_closest_marker("slow"):
            return len(LONGEST_FIRST) + 2
        return len(LONGEST_FIRST) + (item.path.name == "test_parity.py")

    items.sort(key=rank)  # stable: in collection order within a rank


def pytest_configure(config):
    """Refuse ``--dist loadgroup`` where pytest-xdist would lose the groups silently."""
    from importlib.metadata import PackageNotFoundError, version

    from packaging.version import Version

    try:
        xdist = Version(version("pytest-xdist"))
    except PackageNotFoundError:
        return
    grouping = config.getoption("dist", None) == "loadgroup"
    if grouping and Version(pytest.__version__) >= Version("9.2") and xdist < Version("3.9"):
        raise pytest.UsageError(
            f"pytest {pytest.__version__} keeps node ids where pytest-xdist {xdist} cannot mark "
            "their xdist_group: each group's tests would spread over the workers and build its "
            "class again in each. Install the pytest pyproject.toml asks for: make install"
        )
