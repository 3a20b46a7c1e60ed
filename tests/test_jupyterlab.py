"""JupyterLab for real: all five notebooks in headless Chromium, as a user runs them.

Each notebook is copied with ``interactive = True`` (papermill's injected-parameters cell) into a temp
folder served by a token-less JupyterLab on a free localhost port, opened, run with "Run All Cells" and
checked: no error output, exactly one rendered figure per view (widget views hold one image each), and
moving one widget redraws that view's figure (and only replaces it). Notebooks 02–05 read the runs of the
smoke plan (the session fixture ``smoke_plan``), copied so that nothing here changes what other tests read.
A full-page screenshot of each notebook is saved under the test's temp folder and its path printed.

Needs Debian's Chromium (``apt-get install -y chromium``); playwright drives that system browser (no
browser download). Without it the test fails under CI=true and is skipped (with the reason) elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
INSTALL_HINT = "install it with: apt-get update && apt-get install -y chromium"
VIEWPORT = {"width": 1400, "height": 1000}
MAX_SCREENSHOT_HEIGHT = 16_000  # Chromium's limit for one capture is a little above this
RUN_TIMEOUT = 300  # seconds for "Run All Cells" of one notebook (the smoke runs take a few seconds)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@dataclass(frozen=True)
class Case:
    """One notebook: its parameters, how many views it shows and which widget the test moves."""

    views: int  # figures the notebook shows: one per view, static or widget-driven
    widget_views: int  # of those, views driven by widgets (ipywidgets controls above one image)
    control: str  # "slider" or "dropdown": the first such control of the first widget view is moved
    parameters: dict = field(default_factory=dict)


CASES = {
    # frame pair, method comparison, timings, magnitude histograms, quantization: all widget views
    "01_flow_inspection": Case(
        5, 5, "slider", {"source": "samples", "num_frames": 3, "short_side": 48, "timing_repeats": 1}
    ),
    # Gram matrices and feature maps (widgets), distances across the test set (static)
    "02_gram_matrices": Case(3, 2, "dropdown", {"seed": 1, "max_videos": 4}),
    # learning curves (widget: smoothing), loss balance, per-level balance and confusion matrix (static);
    # trains one smoke run live, from the smoke plan's pretraining run and teacher
    "03_distillation_training": Case(4, 1, "slider", {"method": "ds", "seed": 1, "name": "ds_browser"}),
    # fusion accuracies (static), learned weights per stream pair (widget)
    "04_fusion_weights": Case(2, 1, "dropdown", {"seed": 1, "fusion_steps": 50}),
    # Table 1 (widget: fusion); Tables 2–5 with their paired differences, the α sensitivity (static)
    "05_ablation_tables": Case(6, 1, "dropdown"),
}


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _chromium() -> str:
    explicit = os.environ.get("DUALACTION_CHROMIUM")  # when set, the only candidate
    candidates = [explicit] if explicit else [shutil.which("chromium"), "/usr/bin/chromium"]
    found = next((c for c in candidates if c and os.access(c, os.X_OK)), None)
    missing = f"Chromium not found (looked at {', '.join(c for c in candidates if c) or 'PATH'})"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing, found = "the playwright Python package is not installed (pip install -e '.[dev]')", None
    if found is None:
        message = f"{missing}; {INSTALL_HINT}"
        if _in_ci():
            pytest.fail(f"CI=true and {message}")
        pytest.skip(message)
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_server(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"JupyterLab exited with code {proc.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer {url} within {timeout}s")


def _write_settings(settings: Path) -> None:
    """Lab settings for a test: every cell stays in the DOM (no windowing), no news/update toasts."""
    files = {
        "notebook-extension/tracker": {"windowingMode": "none", "scrollPastEnd": False},
        "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    }
    for name, values in files.items():
        path = settings / "@jupyterlab" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, smoke_plan: dict) -> dict[str, Path]:
    """Temp folders: served notebooks, private copies of the smoke runs, figures, results, screenshots.

    ``runs`` holds every smoke run (notebooks 02, 04, 05); ``train_runs`` only the flow teacher and the
    pretraining runs, so the student notebook 03 trains live does not show up in notebook 05's tables.
    """
    base = tmp_path_factory.mktemp("browser")
    preset = smoke_plan["preset_dir"]
    keep = shutil.ignore_patterns("notebooks", "figures", "results")
    shutil.copytree(preset, base / "runs" / preset.name, ignore=keep)
    shutil.copytree(preset / "flow_seed0", base / "train_runs" / preset.name / "flow_seed0")
    source = preset.parent / "smoke_source"  # the pretraining stage: the live run starts from it
    shutil.copytree(source, base / "train_runs" / source.name, ignore=keep)
    folders = {name: base / name for name in ("lab", "figures", "results", "screenshots")}
    for folder in folders.values():
        folder.mkdir()
    return {"base": base, "runs": base / "runs", "train_runs": base / "train_runs", **folders}


def _notebook_copy(name: str, workspace: dict[str, Path]) -> str:
    """A copy of ``notebooks/<name>.ipynb`` parametrised for the browser; returns its file name."""
    nb = load_notebook_node(str(ROOT / "notebooks" / f"{name}.ipynb"))  # papermill's reader adds tags
    trains = name.startswith("03")  # its run_dir means "show this run instead of training one"
    parameters = {
        "preset": "smoke",
        "out_dir": str(workspace["train_runs" if trains else "runs"]),
        "figures_dir": str(workspace["figures"]),
        "interactive": True,
        **({} if trains else {"run_dir": str(workspace["results"])}),
        **CASES[name].parameters,
    }
    nb = parameterize_notebook(nb, parameters, kernel_name="python3", language="python")
    nbformat.write(nb, workspace["lab"] / f"{name}.ipynb")
    return f"{name}.ipynb"


@pytest.fixture(scope="module")
def lab(workspace: dict[str, Path]) -> Iterator[str]:
    """A token-less JupyterLab on a free localhost port with private config/runtime/settings dirs."""
    _chromium()  # fail (CI) or skip before starting a server that could not be driven
    base = workspace["base"]
    _write_settings(base / "settings")
    port = _free_port()
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(base / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"),
        "DUALACTION_ROOT": str(ROOT),  # notebook.setup() works from the project root
    }
    env.pop("MPLBACKEND", None)  # Agg would drop inline figures
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
        f"--ServerApp.root_dir={workspace['lab']}", "--IdentityProvider.token=",
        "--LabApp.expose_app_in_browser=True", "--ServerApp.allow_root=True",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    log_path = base / "jupyterlab.log"
    log = log_path.open("w")
    proc = subprocess.Popen(command, cwd=workspace["lab"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_server(f"http://127.0.0.1:{port}/api/status", proc, log_path)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser(lab: str) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=_chromium(), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


# The open notebook panel, its kernel, and what its cells and output areas hold (evaluated in the page).
PANEL = "window.jupyterapp.shell.currentWidget"
STATE_JS = f"""() => {{
    const panel = {PANEL};
    const kernel = panel && panel.sessionContext.session && panel.sessionContext.session.kernel;
    const cells = panel ? panel.content.widgets.filter(c => c.model.type === 'code') : [];
    const errors = [];
    for (const cell of cells) {{
        for (const out of cell.model.outputs.toJSON()) {{
            if (out.output_type === 'error') errors.push(`${{out.ename}}: ${{out.evalue}}`);
        }}
    }}
    for (const node of document.querySelectorAll(
            ".jp-Notebook .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")) {{
        if (node.innerText.includes('Traceback')) errors.push(node.innerText.slice(0, 2000));
    }}
    const views = [...document.querySelectorAll('.jp-Notebook .dualaction-view')];
    return {{
        kernel: kernel ? kernel.status : 'none',
        executed: cells.filter(c => c.model.executionCount !== null).length,
        cells: cells.length,
        errors: errors,
        images: document.querySelectorAll('.jp-Notebook .jp-Cell-outputArea img').length,
        perCell: cells.map(c => c.node.querySelectorAll('.jp-Cell-outputArea img').length),
        views: views.map(v => v.querySelectorAll('img').length),
    }};
}}"""


SHUTDOWN_JS = f"""() => {{
    const panel = window.jupyterapp && {PANEL};
    return panel && panel.sessionContext ? panel.sessionContext.shutdown() : null;
}}"""


def _state(page) -> dict:
    return page.evaluate(STATE_JS)


def _wait_until(predicate, timeout: float, what: str, page=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if page is not None and _state(page)["errors"]:
            raise AssertionError(f"error output while waiting for {what}: {_state(page)['errors']}")
        time.sleep(0.5)
    details = f"; page state {_state(page)}" if page is not None else ""
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{details}")


def _view_image(page, index: int) -> str:
    """The src of the image in the ``index``-th widget view (empty while it renders)."""
    return page.evaluate(
        """(i) => { const view = document.querySelectorAll('.jp-Notebook .dualaction-view')[i];
                    const img = view && view.querySelector('img');
                    return img ? img.getAttribute('src') : ''; }""",
        index,
    )


def _move_control(page, view: int, kind: str) -> tuple[str, str]:
    """Move the first slider (one step right) or dropdown (next option) of a widget view: (before, after)."""
    scope = page.locator(".jp-Notebook .dualaction-view").nth(view)
    if kind == "slider":
        readout = scope.locator(".widget-slider .widget-readout").first
        before = readout.inner_text().strip()
        handle = scope.locator(".widget-slider .noUi-handle").first
        handle.focus()
        handle.press("ArrowRight")
        _wait_until(lambda: readout.inner_text().strip() != before, 10, "the slider to move")
        return before, readout.inner_text().strip()
    select = scope.locator(".widget-dropdown select").first
    options = select.locator("option").all_inner_texts()
    before = select.locator("option:checked").inner_text()
    assert len(options) > 1, f"dropdown has a single option {options}"
    after = options[(options.index(before) + 1) % len(options)]
    select.select_option(label=after)
    return before, after


def _screenshot(page, path: Path) -> None:
    """The whole notebook in one PNG: the viewport is made as tall as the notebook, then captured."""
    outer = "document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer')"
    height = page.evaluate(f"() => {outer} ? {outer}.scrollHeight : 0")
    tall = min(max(VIEWPORT["height"], height + 200), MAX_SCREENSHOT_HEIGHT)
    page.set_viewport_size({"width": VIEWPORT["width"], "height": tall})
    time.sleep(1.0)  # let the layout settle at the new size
    page.evaluate(f"() => {{ if ({outer}) {outer}.scrollTop = 0; }}")
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(VIEWPORT)


@pytest.mark.parametrize("name", list(CASES))
def test_notebook_in_jupyterlab(
    name: str, lab: str, browser, workspace: dict[str, Path], capsys: pytest.CaptureFixture
) -> None:
    case = CASES[name]
    filename = _notebook_copy(name, workspace)
    page = browser.new_page(viewport=VIEWPORT)
    try:
        page.goto(f"{lab}/lab/tree/{filename}?reset", timeout=120_000)
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started", timeout=120_000)
        page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
        _wait_until(lambda: _state(page)["kernel"] == "idle", 120, "the kernel to start")

        start = time.perf_counter()
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        _wait_until(
            lambda: (s := _state(page))["executed"] == s["cells"] and s["kernel"] == "idle",
            RUN_TIMEOUT,
            "every cell to run",
            page,
        )
        _wait_until(
            lambda: len((s := _state(page))["views"]) >= case.widget_views and all(s["views"]),
            60,
            "every widget view to show its figure",
            page,
        )
        time.sleep(1.0)  # a second display of a view would arrive right after the first
        state = _state(page)
        seconds = time.perf_counter() - start
        shot = workspace["screenshots"] / f"{name}.png"
        _screenshot(page, shot)  # before the assertions: a failing run leaves its picture too
        with capsys.disabled():
            print(f"\n{name}: run all in {seconds:.0f}s, {state['images']} figures; screenshot {shot}")
        assert not state["errors"], f"{name}: error output:\n" + "\n".join(state["errors"])
        assert len(state["views"]) == case.widget_views, f"{name}: widget views {state['views']}"
        assert state["views"] == [1] * case.widget_views, f"{name}: images per widget view {state['views']}"
        assert state["images"] == case.views, f"{name}: {state['images']} figures for {case.views} views"
        assert max(state["perCell"]) == 1, f"{name}: figures per code cell {state['perCell']}"

        before = _view_image(page, 0)
        assert before.startswith("data:image/png")
        moved = _move_control(page, 0, case.control)
        _wait_until(
            lambda: _view_image(page, 0) not in ("", before),
            120,
            f"the figure to redraw ({case.control} {moved[0]} → {moved[1]})",
            page,
        )
        time.sleep(1.0)
        state = _state(page)
        assert not state["errors"], f"{name}: error output after moving a widget:\n" + "\n".join(
            state["errors"]
        )
        assert state["views"][0] == 1 and state["images"] == case.views, f"{name}: after redraw {state}"
    finally:
        page.evaluate(SHUTDOWN_JS)  # this notebook's kernel; the server stops after the last notebook
        page.close()
