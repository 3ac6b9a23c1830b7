"""The notebooks as a student sees them: JupyterLab in a real (headless) Chromium.

`make test-browser` runs this file; `make test` does not (it needs Debian's `chromium`, which
`.ci/run` installs). JupyterLab starts on a free local port; Playwright drives the system
Chromium (no browser download). JupyterLab renders only the cells in view, so every check
scrolls through the whole notebook while reading it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SHOTS = ROOT / "build" / "browser"
SCROLLER = "document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer')"
TOKEN = "course-browser-test"
BROKEN_WIDGET = ("Error displaying widget", "Loading widget")
FROZEN_BAR = re.compile(r"\b0%\|")
STUDENT_LESSON = "03_domain_adversarial.ipynb"  # a lesson with a progress bar early on
IMAGE_TYPES = ("image/png", "image/svg+xml", "image/jpeg")


def wait_for_server(url: str, process: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = "\n".join(log.read_text().splitlines()[-15:])
            pytest.fail(f"JupyterLab exited with code {process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer at {url} within {seconds:.0f} s")


@pytest.fixture(scope="module")
def lab(tmp_path_factory, free_port):
    """A JupyterLab server over the repository, with fresh settings; yields its base URL."""
    home = tmp_path_factory.mktemp("lab")
    port = free_port
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--port={port}",
        "--ip=127.0.0.1",
        f"--ServerApp.root_dir={ROOT}",
        f"--IdentityProvider.token={TOKEN}",
        f"--LabApp.user_settings_dir={home / 'settings'}",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
        "--LabApp.expose_app_in_browser=True",
    ]
    if os.geteuid() == 0:  # CI containers run as root
        command.append("--allow-root")
    log = home / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for_server(url, process, log)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


def open_notebook(page, lab: str, relative: str) -> None:
    page.goto(f"{lab}/lab/tree/{relative}?token={TOKEN}&reset")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
    page.wait_for_function("window.jupyterapp?.shell?.currentWidget?.context?.isReady")


def expected_images(path: Path) -> dict[int, int]:
    """How many figures each cell of the committed notebook holds, by cell index."""
    nb = nbformat.read(path, as_version=4)
    counts = {}
    for index, cell in enumerate(nb.cells):
        n = sum(any(t in o.get("data", {}) for t in IMAGE_TYPES) for o in cell.get("outputs", []))
        if n:
            counts[index] = n
    return counts


READ_VIEW = """() => {
    const cells = [...document.querySelectorAll('.jp-NotebookPanel .jp-Cell')];
    const seen = {};
    for (const cell of cells) {
        const index = cell.getAttribute('data-windowed-list-index');
        const images = [...cell.querySelectorAll('.jp-OutputArea-output img')];
        const svgs = cell.querySelectorAll(
            '.jp-OutputArea-output [data-mime-type="image/svg+xml"]');
        if (index !== null) {
            seen[index] = images.filter(i => i.complete && i.naturalWidth > 0).length + svgs.length;
        }
    }
    const scroller = SCROLLER;
    return {text: document.querySelector('.jp-NotebookPanel').innerText, seen,
            atEnd: scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 2};
}""".replace("SCROLLER", SCROLLER)


def read_whole_notebook(page) -> tuple[str, dict[int, int]]:
    """Scroll from top to bottom; return the text read and the figures rendered per cell."""
    text, seen = [], {}
    page.evaluate(f"{SCROLLER}.scrollTop = 0")
    for _ in range(400):
        page.wait_for_timeout(150)
        view = page.evaluate(READ_VIEW)
        text.append(view["text"])
        for index, n in view["seen"].items():
            seen[int(index)] = max(seen.get(int(index), 0), n)
        if view["atEnd"]:
            break
        page.evaluate(f"(s => {{ s.scrollTop += s.clientHeight * 0.8; }})({SCROLLER})")
    return "\n".join(text), seen


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_opens_cleanly(page, lab, path):
    open_notebook(page, lab, f"notebooks/{path.name}")
    text, seen = read_whole_notebook(page)
    for message in BROKEN_WIDGET:
        assert message not in text, f"{path.name} shows {message!r}"
    assert not FROZEN_BAR.search(text), f"{path.name} shows a progress bar frozen at 0 %"
    missing = {i: n for i, n in expected_images(path).items() if seen.get(i, 0) < n}
    assert not missing, f"{path.name}: figures not rendered in cells {sorted(missing)}"


SHOWS_LIVE_BAR = """() => {
    const notebook = window.jupyterapp.shell.currentWidget.content;
    const withBar = notebook.widgets.map((c, i) => [c, i]).filter(([c]) => c.model.type === 'code'
        && c.model.outputs.toJSON().some(
            o => 'application/vnd.jupyter.widget-view+json' in (o.data || {})));
    if (!withBar.length) return false;
    const [cell, index] = withBar[withBar.length - 1];  // the newest bar is the running one
    notebook.scrollToItem(index);  // only cells in view are rendered
    return cell.node.querySelector('.widget-hprogress, .widget-vprogress') !== null;
}"""


def first_exercise_stub(nb: nbformat.NotebookNode) -> int:
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and "NotImplementedError" in cell.source:
            return index
    raise AssertionError("the student version has no exercise stub")


KERNEL_IDLE = (
    "window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel?.status === 'idle'"
)
RUN_FINISHED = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    return panel.sessionContext.session?.kernel?.status === 'idle'
        && panel.content.widgets.every(c => !(c.promptNode?.textContent || '').includes('*'));
}"""
CELLS_WITH_ERRORS = """() => window.jupyterapp.shell.currentWidget.content.widgets
    .map((c, i) => [i, c.model.type === 'code' ? c.model.outputs.toJSON() : []])
    .filter(([, outs]) => outs.some(o => o.output_type === 'error'))
    .map(([i]) => i)"""


def run_all_above(page, lab: str, relative: str, stop: int) -> None:
    """Open a notebook, run every cell above cell `stop` as a student would (Run All Above
    Selected Cell), see a live progress bar on the way, and wait until the run has finished."""
    open_notebook(page, lab, relative)
    page.wait_for_function(KERNEL_IDLE, timeout=120_000)
    page.evaluate(
        f"""() => {{ const panel = window.jupyterapp.shell.currentWidget;
                     panel.content.activeCellIndex = {stop};
                     window.jupyterapp.commands.execute('notebook:run-all-above'); }}"""
    )
    page.wait_for_function(SHOWS_LIVE_BAR, polling=200, timeout=300_000)
    page.wait_for_function(RUN_FINISHED, polling=500, timeout=600_000)


def test_a_student_runs_a_lesson_to_its_first_exercise(page, lab):
    student_dir = SHOTS / "student"
    subprocess.run(
        [sys.executable, "scripts/classroom.py", "student", "--out", str(student_dir)],
        cwd=ROOT,
        check=True,
    )
    lesson = student_dir / STUDENT_LESSON
    nb = nbformat.read(lesson, as_version=4)
    stub = first_exercise_stub(nb)
    run_all_above(page, lab, lesson.relative_to(ROOT).as_posix(), stub)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"student-{lesson.stem}.png"))
    errors = page.evaluate(CELLS_WITH_ERRORS)
    assert not errors, f"cells {errors} raised an error before the first exercise"
    counts = page.evaluate(
        "window.jupyterapp.shell.currentWidget.content.widgets.map(c => c.model.executionCount)"
    )
    ran = [i for i in range(stub) if nb.cells[i].cell_type == "code" and nb.cells[i].source.strip()]
    assert all(counts[i] is not None for i in ran), "not every cell above the exercise ran"
    text, seen = read_whole_notebook(page)
    assert "Error displaying widget" not in text
    assert any(seen.values()), "no figure rendered while the lesson ran"
