"""03_roi in a real JupyterLab server and a headless Chromium: run it, move a slider, the ROI table changes.

The test starts ``jupyter lab`` on localhost (a token, a free port, a temporary root holding a
copy of the notebook and a tiny simulated data set, its own settings and workspace folders),
opens the notebook in Debian's Chromium (driven over the DevTools protocol by
tests/_chromium.py's :class:`Chromium`), runs every cell through JupyterLab's own
command, drags the bad-rate cut of delivery with the mouse (``Input.dispatchMouseEvent``)
and waits for the what-if table to show the new value. A screenshot is kept under ``tmp_path``.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from cxlib.config import NOTEBOOKS_DIR

import nbformat
import pytest

from cxlib.data.simulate import write_dataset
from tests._chromium import Chromium

pytestmark = pytest.mark.browser

NOTEBOOKS = NOTEBOOKS_DIR


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    data = root / "data"
    write_dataset(data, 1_000, seed=3, fmt="csv")
    nb = nbformat.read(NOTEBOOKS / "03_roi.ipynb", as_version=4)
    params = nb.cells[1]
    assert "parameters" in params.metadata.get("tags", [])
    params.source = (params.source.replace('data: str = ""', f"data: str = {str(data)!r}")
                     .replace("draws: int = 200", "draws: int = 4").replace("whatif_draws: int = 20", "whatif_draws: int = 3"))
    nbformat.write(nb, root / "03_roi.ipynb")
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    log = open(tmp_path / "jupyterlab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
         "--ServerApp.port_retries=0", *(["--allow-root"] if os.geteuid() == 0 else [])],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=root,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as r:
                    json.load(r)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start: {(tmp_path / 'jupyterlab.log').read_text()[-2000:]}")
                time.sleep(0.25)
        yield url, token
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the server and the kernels it started
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()


def _wait(browser, expression: str, what: str, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = browser.evaluate(expression)
        if value:
            return value
        time.sleep(0.25)
    raise TimeoutError(f"{what} within {timeout} s")


SLIDER = """(() => {
  const s = Array.from(document.querySelectorAll('.widget-slider')).find(
    e => (e.querySelector('.widget-label') || {}).textContent === 'bad-rate cut: delivery');
  if (!s) return null;
  const h = s.querySelector('.noUi-handle').getBoundingClientRect();
  const t = s.querySelector('.noUi-target').getBoundingClientRect();
  return {x: h.x + h.width / 2, y: h.y + h.height / 2, right: t.right};
})()"""
TABLE = "(() => { const t = document.querySelector('.jp-OutputArea-output table.cx-whatif'); return t ? t.outerHTML : null; })()"


def test_a_slider_moved_in_jupyterlab_changes_the_roi_table(lab, tmp_path):
    url, token = lab
    with Chromium(timeout=60) as browser:
        browser.resize(1280, 900)
        browser.call("Page.navigate", session=True, url=f"{url}/lab/tree/03_roi.ipynb?token={token}")
        _wait(browser, "!!(window.jupyterapp && window.jupyterapp.shell.currentWidget"
                       " && window.jupyterapp.shell.currentWidget.sessionContext"
                       " && window.jupyterapp.shell.currentWidget.sessionContext.session"
                       " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
                       " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle')",
              "the notebook opened with an idle kernel")
        browser.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells').then(() => true)")
        _wait(browser, SLIDER, "the what-if sliders rendered", timeout=150)
        _wait(browser, TABLE, "the what-if table rendered")
        browser.evaluate("document.querySelector('.widget-slider .noUi-handle').scrollIntoView({block: 'center'})")
        before = browser.evaluate(TABLE)
        assert "Fix delivery" in before and "50%" in before, "the default view: delivery's bad rate cut by half"
        handle = browser.evaluate(SLIDER)
        for kind, x in (("mousePressed", handle["x"]), ("mouseMoved", (handle["x"] + handle["right"]) / 2),
                        ("mouseMoved", handle["right"] - 2), ("mouseReleased", handle["right"] - 2)):
            browser.call("Input.dispatchMouseEvent", session=True, type=kind, x=x, y=handle["y"], button="left",
                         buttons=0 if kind == "mouseReleased" else 1, clickCount=1)
        after = _wait(browser, f"(() => {{ const h = {TABLE}; return h && h !== {json.dumps(before)} ? h : null; }})()",
                      "the table changed after the slider moved", timeout=60)
        assert "Fix delivery" in after and "bad rate of delivery −50%" not in after
        shot = browser.screenshot(tmp_path / "jupyterlab-03_roi.png", full_page=False)
        assert shot.stat().st_size > 20_000
