"""JupyterLab for real: open 01_flow_inspection in headless Chromium, run it, move a widget, see it redraw.

Needs Debian's Chromium (``apt-get install -y chromium``); playwright drives that system browser (no
browser download). Without it the test fails under CI=true and is skipped (with the reason) elsewhere.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "01_flow_inspection.ipynb"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
INSTALL_HINT = "install it with: apt-get update && apt-get install -y chromium"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


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


def _copy_notebook(source: Path, target: Path, out_dir: Path) -> None:
    """Copy the notebook, pointing its result files at ``out_dir`` instead of the repository's runs/."""
    nb = nbformat.read(source, as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert 'out_dir: str = "runs"' in params.source
    params.source = params.source.replace('out_dir: str = "runs"', f"out_dir: str = {str(out_dir)!r}")
    nbformat.write(nb, target)


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


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """JupyterLab on a random localhost port with a token, serving a temp copy of the notebook."""
    _chromium()  # fail (CI) or skip before starting a server that could not be driven
    root = tmp_path / "lab"
    root.mkdir()
    _copy_notebook(ROOT / "notebooks" / NOTEBOOK, root / NOTEBOOK, out_dir=tmp_path / "runs")
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
        "DUALACTION_ROOT": str(ROOT),
        "DUALACTION_FIGURES": str(tmp_path / "figures"),
    }
    env.pop("MPLBACKEND", None)
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
        f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}",
        "--LabApp.expose_app_in_browser=True", "--ServerApp.allow_root=True",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    log_path = tmp_path / "jupyterlab.log"
    log = log_path.open("w")
    proc = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_server(f"http://127.0.0.1:{port}/api/status?token={token}", proc, log_path)
        yield f"http://127.0.0.1:{port}", token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _first_view_image(page) -> str:
    """The src of the image inside the first widget-driven view (empty while it renders)."""
    return page.evaluate(
        """() => { const img = document.querySelector('.dualaction-view img');
                   return img ? img.getAttribute('src') : ''; }"""
    )


def _wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def test_flow_notebook_widget_redraws_figure(lab: tuple[str, str]) -> None:
    from playwright.sync_api import sync_playwright

    chromium = _chromium()
    base, token = lab
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}", timeout=120_000)
            page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started", timeout=120_000)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
            page.wait_for_function(
                """() => { const w = window.jupyterapp.shell.currentWidget;
                           return w && w.sessionContext && w.sessionContext.session &&
                                  w.sessionContext.session.kernel &&
                                  w.sessionContext.session.kernel.status === 'idle'; }""",
                timeout=120_000,
            )
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            _wait_until(lambda: _first_view_image(page).startswith("data:image/png"), 240, "the first figure")
            before = _first_view_image(page)
            handle = page.locator(".dualaction-view .widget-slider .noUi-handle").first
            handle.focus()
            handle.press("ArrowRight")
            _wait_until(lambda: _first_view_image(page) not in ("", before), 120, "the figure to redraw")
            readout = page.locator(".dualaction-view .widget-slider .widget-readout").first.inner_text()
            assert readout.strip() == "1", f"slider did not move (readout {readout!r})"
            assert _first_view_image(page).startswith("data:image/png")
            errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
            assert "Traceback" not in " ".join(errors.all_inner_texts())
        finally:
            browser.close()
