"""The explorers in a real browser: JupyterLab, headless Chromium, every lesson with an explorer.

Each lesson's explorer cells and the cells they need (tests/notebook_slice.py; nbval runs every
cell of every lesson already) are opened in JupyterLab as a notebook, run in quick mode, and then
every explorer must render as a widget (not as text), and moving each of its controls must
change its figure. The notebook opened without a kernel must show the explorer's stored figure.

Needs Chromium (Debian: ``apt-get install chromium``) and Playwright for Python (the tests
extra); Playwright's own browser download is not used. Skips without them, unless
COURSE_REQUIRE_BROWSER=1 (set by .ci/run), where a missing browser is a failure.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from tests.notebook_slice import sliced_notebook

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
TOKEN = "course-browser-test"
RUN_ALL_TIMEOUT_S = 900
FIGURE_TIMEOUT_S = 120

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - the tests extra installs it
    sync_playwright = None


def _missing():
    if CHROMIUM is None:
        return "Chromium is not installed (apt-get install chromium)"
    if sync_playwright is None:
        return "Playwright for Python is not installed (pip install -e '.[tests]')"
    return None


if _missing():
    if os.environ.get("COURSE_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"COURSE_REQUIRE_BROWSER=1 but {_missing()}")
    pytestmark = [pytest.mark.skip(reason=_missing())]
else:
    pytestmark = [pytest.mark.slow, pytest.mark.browser]


def has_explorer(cell):
    outputs = cell.get("outputs", []) if cell.cell_type == "code" else []
    return any(WIDGET_VIEW in output.get("data", {}) for output in outputs)


def stored_explorer_images(name):
    """The static image (base64 PNG) stored with each explorer output of solutions/``name``."""
    notebook = nbformat.read(ROOT / "solutions" / name, as_version=4)
    return [output["data"].get("image/png", "") for cell in notebook.cells if has_explorer(cell)
            for output in cell.outputs if WIDGET_VIEW in output.get("data", {})]


LESSONS = [path.name for path in sorted((ROOT / "solutions").glob("*.ipynb"))
           if stored_explorer_images(path.name)]


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _write_settings(folder):
    """JupyterLab settings for a test: every cell in the DOM, no news or update pop-ups."""
    settings = {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false", "checkForUpdates": False},
        "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    }
    for name, values in settings.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(base URL, folder): JupyterLab serving each lesson's explorer cells and the cells they need,
    as a notebook of the lesson's name; stopped after."""
    folder = tmp_path_factory.mktemp("lab")
    for name in LESSONS:
        notebook = nbformat.read(ROOT / "solutions" / name, as_version=4)
        nbformat.write(sliced_notebook(notebook, has_explorer), folder / name)
    _write_settings(folder / "settings")
    port = _free_port()
    env = dict(os.environ, COURSE_QUICK="1", JUPYTERLAB_SETTINGS_DIR=str(folder / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(folder / "workspaces"), MPLBACKEND="module://matplotlib_inline.backend_inline")
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
               f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={folder}", "--allow-root",
               "--LabApp.expose_app_in_browser=True"]
    log = open(folder / "server.log", "w")
    server = subprocess.Popen(command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(base, server, folder / "server.log")
        yield base, folder
    finally:
        stop_group(server)  # the server and the kernels it started
        log.close()


def stop_group(process, timeout=30):
    """SIGTERM a process group (the server and its kernels); SIGKILL what is left after ``timeout`` s."""
    os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process.poll()
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def _wait_for_server(base, server, log_path, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"JupyterLab exited: {log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=5):
                return
        except OSError:
            time.sleep(1)
    raise RuntimeError(f"JupyterLab did not start in {timeout} s: {log_path.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            yield chromium
        finally:
            chromium.close()


def open_notebook(browser, base, name):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    # A workspace of its own, reset: only this notebook open, and it is the current document.
    page.goto(f"{base}/lab/workspaces/{Path(name).stem}/tree/{name}?reset&token={TOKEN}")
    page.wait_for_function("name => window.jupyterapp?.shell.currentWidget?.context?.path === name",
                           arg=name)
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(state="attached")
    return page


def command(page, name):
    """Run a JupyterLab command (menu item) on the current notebook."""
    page.evaluate("name => window.jupyterapp.commands.execute(name)", name)


def kernel_state(base, name):
    """The execution state of the kernel of notebook ``name`` ("idle", "busy"...), or None."""
    with urllib.request.urlopen(f"{base}/api/sessions?token={TOKEN}", timeout=10) as reply:
        sessions = json.load(reply)
    states = [session["kernel"]["execution_state"] for session in sessions if session["path"] == name]
    return states[0] if states else None


def _wait(condition, timeout, failure):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(1)
    raise AssertionError(failure())


def run_all_cells(page, base, name):
    """Clear the stored outputs, run every cell, wait until the last one has run."""
    prompts = page.locator(".jp-CodeCell .jp-InputArea-prompt")
    _wait(lambda: kernel_state(base, name) == "idle", 120, lambda: f"{name}: the kernel did not start")
    command(page, "notebook:clear-all-cell-outputs")
    _wait(lambda: all(text.strip() == "[ ]:" for text in prompts.all_inner_texts()), 30,
          lambda: f"{name}: stored outputs were not cleared")
    command(page, "notebook:run-all-cells")
    def finished():
        running = "[*]:" in map(str.strip, prompts.all_inner_texts())
        return kernel_state(base, name) == "idle" and not running

    _wait(finished, RUN_ALL_TIMEOUT_S,
          lambda: f"{name}: the notebook did not finish running in {RUN_ALL_TIMEOUT_S} s")
    unrun = [index for index, text in enumerate(prompts.all_inner_texts()) if text.strip() == "[ ]:"]
    if unrun:
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        raise AssertionError(f"{name}: running all cells stopped before code cell {unrun[0]}: "
                             + " | ".join(errors.all_inner_texts())[-3000:])


def explorer_roots(page):
    """Each explorer's outermost widget box, in the order of the notebook."""
    return page.locator(".jp-OutputArea-output > .jupyter-widgets.widget-box").all()


def figure_of(root):
    """What the explorer shows: its images' data and its output areas' text."""
    images = root.locator(".widget-output img").evaluate_all("nodes => nodes.map(n => n.src)")
    texts = root.locator(".widget-output, .widget-html, .widget-label").all_inner_texts()
    return tuple(images), tuple(texts)


def controls_of(root):
    """(kind, locator) for every control an explorer has."""
    found = []
    for handle in root.locator(".widget-slider .noUi-handle").all():
        found.append(("slider", handle))
    for select in root.locator(".widget-dropdown select").all():
        found.append(("dropdown", select))
    for group in root.locator(".widget-toggle-buttons").all():
        found.append(("toggle", group))
    for area in root.locator(".widget-textarea textarea").all():
        found.append(("text", area))
    for button in root.locator("button.widget-button").all():
        found.append(("button", button))
    return found


def move(kind, control):
    """Change a control the way a user would: (words for a failure message, undo), where undo()
    puts the control back, so that each control is tried from the explorer's initial state."""
    if kind == "slider":
        control.focus()
        before = control.get_attribute("aria-valuenow")
        forward, back = "ArrowRight", "ArrowLeft"
        control.press(forward)
        if control.get_attribute("aria-valuenow") == before:  # at its maximum
            forward, back = back, forward
            control.press(forward)
        return (f"slider moved from {before} to {control.get_attribute('aria-valuenow')}",
                lambda: (control.focus(), control.press(back)))
    if kind == "dropdown":
        options = control.locator("option").all_inner_texts()
        current = control.evaluate("node => node.options[node.selectedIndex].text")
        choice = next(option for option in options if option != current)
        control.select_option(label=choice)
        words = f"dropdown changed from {current!r} to {choice!r}"
        return words, lambda: control.select_option(label=current)
    if kind == "toggle":
        current = control.locator("button.mod-active").first
        choice = control.locator("button:not(.mod-active)").first
        words = f"toggle set to {choice.inner_text()!r}"
        choice.click()
        return words, current.click
    if kind == "text":
        original = control.input_value()
        control.fill("0 1 0\n1 -4 1\n0 1 0")
        return "kernel text replaced by a Laplacian", lambda: control.fill(original)
    control.click()
    return f"button {control.inner_text()!r} pressed", lambda: None


def is_enabled(kind, control):
    if kind == "slider":
        return control.evaluate("node => !node.closest('.noUi-target').hasAttribute('disabled')")
    if kind == "toggle":
        return control.locator("button:enabled").count() > 1
    return control.is_enabled()


def enable(page, root, idle, kind, control):
    """Make a disabled control usable as a user would, by trying the other dropdowns' options
    (an explorer's layer menu that only Grad-CAM uses, say); returns what puts them back."""
    for select in root.locator(".widget-dropdown select").all():
        if not select.is_enabled():
            continue
        original = select.evaluate("node => node.options[node.selectedIndex].text")
        for option in select.locator("option").all_inner_texts():
            select.select_option(label=option)
            settled_figure(page, root, idle)
            if is_enabled(kind, control):
                return lambda: (select.select_option(label=original), settled_figure(page, root, idle))
        select.select_option(label=original)
        settled_figure(page, root, idle)
    raise AssertionError(f"a {kind} control stays disabled whatever the explorer's menus say")


def settled_figure(page, root, idle, timeout=FIGURE_TIMEOUT_S):
    """The explorer's figure once it has stopped changing: the kernel idle (``idle()``), no
    "running…" caption or disabled button, and the same figure twice in a row, 0.25 s apart."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        page.wait_for_timeout(250)
        current = figure_of(root)
        busy = any("running" in text for text in current[1]) or root.locator("button:disabled").count()
        if current == last and not busy and idle():
            return current
        last = current
    return last


def assert_figure_changes(page, root, idle, kind, control):
    before = settled_figure(page, root, idle)
    words, undo = move(kind, control)
    deadline = time.monotonic() + FIGURE_TIMEOUT_S
    while figure_of(root) == before:
        if time.monotonic() > deadline:
            raise AssertionError(f"{kind}: {words}, but the figure did not change in {FIGURE_TIMEOUT_S} s")
        page.wait_for_timeout(200)
    settled_figure(page, root, idle)
    undo()


@pytest.mark.parametrize("name", LESSONS)
def test_every_explorer_renders_and_each_control_changes_its_figure(lab, browser, name):
    base, folder = lab
    page = open_notebook(browser, base, name)
    try:
        for image in stored_explorer_images(name):  # the notebook is not trusted yet: no widgets
            expect(page.locator(f"img[src*='{image[-200:-100]}']")).to_have_count(1)
        run_all_cells(page, base, name)
        idle = lambda: kernel_state(base, name) == "idle"  # noqa: E731
        roots = explorer_roots(page)
        assert roots, f"{name}: no explorer rendered as a widget after running all cells"
        assert page.get_by_text("Error displaying widget").count() == 0
        for root in roots:
            root.scroll_into_view_if_needed()
            expect(root.locator(".widget-output img").first).to_be_visible(timeout=FIGURE_TIMEOUT_S * 1000)
            controls = controls_of(root)
            assert controls, f"{name}: an explorer without controls"
            for kind, control in controls:
                control.scroll_into_view_if_needed()
                restore = None if is_enabled(kind, control) else enable(page, root, idle, kind, control)
                assert_figure_changes(page, root, idle, kind, control)
                if restore:
                    restore()
    except Exception:
        page.screenshot(path=str(folder / f"{Path(name).stem}-failure.png"), full_page=False)
        raise
    finally:
        page.close()
