"""JupyterLab in a real browser: every release notebook, run through the UI as a student would.

The test starts ``jupyter lab`` from the project's environment on 127.0.0.1 (a free port, a
token, a temporary copy of the course as its folder) and drives Debian's headless chromium
with Playwright for Python (``executable_path``: no browser is downloaded). For each
assignment in ``source/`` it opens

* a copy of the release notebook with the solutions filled in, runs it with the menu
  Run > Run All Cells, and checks that no cell shows an error, that every figure is
  rendered as an image (the network diagram and the activation plots among them), and that
  the last cell's check of the saved notebook shows every exercise passing;
* a copy of the untouched release notebook whose code cells carry JupyterLab's
  ``raises-exception`` tag (an error in such a cell does not stop the cells queued after
  it), runs it with Run All Cells, and checks that every code cell ran, that every visible
  test cell shows the stub's NotImplementedError and that no error is raised inside the
  course package (a later cell that uses what an unfinished exercise did not make may
  fail, as in any notebook).

Screenshots of each notebook after its run are saved under ``artifacts/browser/``.
"""

import copy
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

import course
from course.grading import nbgrader_driver as driver
from course.grading import notebooks
from course.grading.notebooks import (
    fill_solutions,
    has_code,
    nbgrader_meta,
    read_notebook,
    split_hidden,
)

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENTS = driver.assignments(REPO)
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # root in CI: chromium's own sandbox needs an unprivileged user
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PACKAGE = Path(course.__file__).resolve().parent
TOKEN = "course-browser-test"
SHOT_HEIGHT = 12_000  # pixels: chromium captures at most about 16,000 at once
NEXT_FRAME_JS = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
STDERR_MIME = "application/vnd.jupyter.stderr"  # how JupyterLab marks errors and stderr
# JupyterLab settings for a reproducible page: every cell in the DOM, no news pop-ups
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": '{"windowingMode": "none"}',
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": (
        '{"fetchNews": "false", "checkForUpdates": false}'
    ),
}
# every cell of the notebook on the page: its prompt, and per output its type, text, images
CELLS_JS = """() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')].map(cell => ({
    prompt: (cell.querySelector('.jp-InputPrompt') || {textContent: ''}).textContent.trim(),
    outputs: [...cell.querySelectorAll('.jp-OutputArea-output')].map(out => ({
        mime: out.getAttribute('data-mime-type') || '',
        text: out.innerText,
        images: [...out.querySelectorAll('img')].filter(i => i.complete && i.naturalWidth > 0)
            .length,
    })),
}))"""
KERNEL_IDLE_JS = """() => {
    const name = document.querySelector('.jp-Toolbar-kernelName');
    const status = document.querySelector('.jp-Notebook-ExecutionIndicator');
    return name && status && !/^No Kernel/.test(name.textContent.trim())
        && status.getAttribute('data-status') === 'idle';
}"""
EXECUTED = r"^\[\d+\]:$"  # the prompt of a code cell that ran: [12]:
# how often a whole notebook's run is checked for its end: every animation frame (Playwright's
# default) would query every cell of the page 60 times a second, taking CPU from the kernel
POLL_MS = 250
# Run All has finished: every cell ran, or it stopped at an error; nothing queued or running
RUN_ALL_DONE_JS = f"""() => {{
    const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
        .map(p => p.textContent.trim());
    const status = document.querySelector('.jp-Notebook-ExecutionIndicator');
    return prompts.some(p => /{EXECUTED}/.test(p)) && !prompts.includes('[*]:')
        && status.getAttribute('data-status') === 'idle';
}}"""
# every code cell has run (an error in a cell tagged raises-exception does not stop the rest)
ALL_RAN_JS = f"""() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
    .every(p => /{EXECUTED}/.test(p.textContent.trim()))"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def notebook_name(assignment):
    (notebook,) = driver.source_notebooks(REPO, assignment)  # the course's have one each
    return f"{notebook}.ipynb"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A running JupyterLab on a copy of the course (``source/`` and ``release/``).

    Yields ``(base URL, course folder)``.
    """
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "course"
    root.mkdir()
    shutil.copy2(REPO / "nbgrader_config.py", root)
    for folder in ("source", "release"):
        shutil.copytree(REPO / folder, root / folder)
    for name, text in LAB_SETTINGS.items():
        (tmp / "settings" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / "settings" / name).write_text(text)
    env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
        "JUPYTER_CONFIG_DIR": str(tmp / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
        "IPYTHONDIR": str(tmp / "ipython"),
    }
    env.pop("NBGRADER_EXECUTION", None)
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "jupyter"),
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={root}",
        *(["--allow-root"] if os.geteuid() == 0 else []),
    ]
    log = open(tmp / "jupyter.log", "wb")  # closed at teardown
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=5) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            log.close()
            pytest.fail(f"jupyter lab did not start:\n{(tmp / 'jupyter.log').read_text()[-3000:]}")
        time.sleep(0.5)
    yield base, root
    server.terminate()  # jupyter shuts its kernels down on SIGTERM
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    log.close()


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium, headless, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.is_file(), (
        f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; "
        "`make test` and .ci/run do it when run as root)"
    )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_notebook(browser, base, path, workspace):
    """A new page showing only the notebook ``path`` (relative to the course), kernel idle.

    Each page has a JupyterLab workspace of its own, so no notebook opened earlier comes back.
    """
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(120_000)
    page.goto(f"{base}/lab/workspaces/{workspace}/tree/{path}?token={TOKEN}")
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    page.wait_for_function(KERNEL_IDLE_JS)
    assert page.locator(".jp-NotebookPanel").count() == 1
    return page


def run_all(page):
    """Run > Run All Cells, from the menu."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Run All Cells$")).click()


def cells_on_page(page):
    return page.evaluate(CELLS_JS)


def screenshot(page, artifacts, name):
    """The whole notebook in pictures: ``name-1.jpg``, ``name-2.jpg``, ... from the top.

    The viewport is made as tall as the notebook, up to what chromium can capture at once;
    a longer notebook is scrolled one viewport at a time (every cell is in the page: the
    scrolled part is painted by the next frame). JPEG: a PNG of 1280 x 12,000 pixels takes
    chromium about a second to encode.
    """
    scroller = "document.querySelector('.jp-WindowedPanel-outer')"
    height = page.evaluate(f"() => {scroller}.scrollHeight")
    viewport = min(height + 200, SHOT_HEIGHT)
    page.set_viewport_size({"width": 1280, "height": viewport})
    page.wait_for_function(f"() => {scroller}.clientHeight > {viewport} - 400")  # relaid out
    step = page.evaluate(f"() => {scroller}.clientHeight")
    for part, top in enumerate(range(0, height, step), start=1):
        page.evaluate(f"(top) => {{ {scroller}.scrollTop = top; }}", top)
        page.evaluate(NEXT_FRAME_JS)
        page.screenshot(path=str(artifacts.path(f"browser/{name}-{part}.jpg")), quality=80)


def errors_of(cell):
    return [out["text"] for out in cell["outputs"] if out["mime"] == STDERR_MIME]


def check_output(nb, cells):
    """What the notebook's last cell, ``check_notebook()``, printed on the page."""
    ids = [nbgrader_meta(c).get("grade_id") for c in nb.cells]
    assert "check_notebook" in ids, (
        "every notebook ends with the check cell (grade_id check_notebook, calling "
        "course.testing.check_notebook())"
    )
    return "\n".join(out["text"] for out in cells[ids.index("check_notebook")]["outputs"])


def raised_in_the_package(error):
    """Whether an error shown on the page was raised in the course package's own code.

    The innermost frame of an IPython traceback is its last ``File PATH:LINE, in ...`` or
    ``Cell In[N], line M`` line.
    """
    frames = re.findall(r"^(?:Cell In\[\d+\], line \d+|File (.+?):\d+, in )", error, re.M)
    return bool(frames) and Path(frames[-1] or ".").resolve().is_relative_to(PACKAGE)


def figure_cells(nb):
    """Indexes of the code cells that show a figure (they call ``plt.show()``)."""
    return {i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "plt.show()" in c.source}


# With pytest-xdist, each test's runs share one worker (one JupyterLab and one browser); the
# two tests may run in two workers side by side.
@pytest.mark.xdist_group("browser-solved")
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solved_notebook_runs_in_jupyterlab_with_figures_and_no_error(
    lab, browser, artifacts, assignment
):
    base, root = lab
    name = notebook_name(assignment)
    nb = fill_solutions(  # a student's copy, every exercise done
        read_notebook(root / "release" / assignment / name),
        read_notebook(root / "source" / assignment / name),
    )
    (root / "work" / assignment).mkdir(parents=True)
    nbformat.write(nb, root / "work" / assignment / name)
    page = open_notebook(browser, base, f"work/{assignment}/{name}", f"{assignment}-solved")
    try:
        run_all(page)
        page.wait_for_function(RUN_ALL_DONE_JS, polling=POLL_MS, timeout=600_000)
        cells = cells_on_page(page)
        screenshot(page, artifacts, f"{assignment}-solved")
    finally:
        page.close()

    assert len(cells) == len(nb.cells)
    shown = {
        nbgrader_meta(nb.cells[i]).get("grade_id", i): errors_of(cell)
        for i, cell in enumerate(cells)
        if errors_of(cell)
    }
    assert shown == {}, "cells show an error (or write to stderr)"
    not_run = [
        nbgrader_meta(c).get("grade_id", i)
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and not re.match(EXECUTED, cells[i]["prompt"])
    ]
    assert not_run == [], "cells Run All did not reach"
    without_image = [
        nbgrader_meta(nb.cells[i]).get("grade_id", i)
        for i in figure_cells(nb)
        if not any(out["images"] for out in cells[i]["outputs"])
    ]
    assert without_image == [], "cells whose figure is not rendered as an image"
    if assignment == "week1":
        sources = [nb.cells[i].source for i in figure_cells(nb)]
        assert any("plots.draw_network(" in s for s in sources)  # the network diagram
        assert any("plots.plot_activations(" in s for s in sources)  # the activations
    count = len([c for c in nb.cells if nbgrader_meta(c).get("solution")])
    assert f"{count} of {count} exercises pass their visible checks" in check_output(nb, cells)


@pytest.mark.xdist_group("browser-untouched")
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_untouched_release_shows_the_stub_not_a_crash(lab, browser, artifacts, assignment):
    base, root = lab
    name = notebook_name(assignment)
    nb = read_notebook(root / "release" / assignment / name)
    tagged = copy.deepcopy(nb)
    for cell in tagged.cells:
        if cell.cell_type == "code":
            cell.metadata.setdefault("tags", []).append("raises-exception")
    (root / "untouched" / assignment).mkdir(parents=True)
    nbformat.write(tagged, root / "untouched" / assignment / name)
    page = open_notebook(browser, base, f"untouched/{assignment}/{name}", f"{assignment}-untouched")
    try:
        run_all(page)
        page.wait_for_function(ALL_RAN_JS, polling=POLL_MS, timeout=600_000)
        cells = cells_on_page(page)
        screenshot(page, artifacts, f"{assignment}-untouched")
    finally:
        page.close()

    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    assert all(re.match(EXECUTED, cells[i]["prompt"]) for i in code)
    tests = {id(c) for c in notebooks.test_cells(nb) if has_code(split_hidden(c.source)[0])}
    assert tests, "a release notebook has visible test cells"
    for i, cell in enumerate(nb.cells):
        grade_id = nbgrader_meta(cell).get("grade_id", i)
        errors = errors_of(cells[i])
        if id(cell) in tests:
            assert errors and "NotImplementedError" in errors[0], f"{grade_id} shows {errors}"
        crashes = [error for error in errors if raised_in_the_package(error)]
        assert crashes == [], f"{grade_id}: the course package crashed"
    count = len([c for c in nb.cells if nbgrader_meta(c).get("solution")])
    checked = check_output(nb, cells)
    assert f"0 of {count} exercises pass" in checked and "not done" in checked
