"""The report in a real headless Chromium: nothing fails, nothing is fetched, every figure decodes, no script runs.

Chromium is driven over the Chrome DevTools Protocol on a websocket (``websocket-client``
comes with Jupyter), so the test needs no browser download: Debian's ``chromium`` is
enough, and ``make chromium`` installs it. Without it these tests fail, they do not skip.
Screenshots of each report are saved under the test's ``tmp_path``.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests._worlds import HOSTILE

pytestmark = pytest.mark.browser

#: Flags without which headless Chromium makes connections of its own (refused here).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
)


def chromium_path() -> str:
    """The Chromium binary ($CXLAB_CHROMIUM, else chromium on PATH); a missing one fails the test."""
    found = os.environ.get("CXLAB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("Chromium is not installed, and the report must be checked in a real browser: "
                    "`make chromium` installs it (Debian's chromium package)", pytrace=False)
    return found


class Chromium:
    """A headless Chromium and one page, over the DevTools Protocol (flattened sessions).

    Records what a reader's browser would complain about: console errors, uncaught
    exceptions, log errors (CSP violations land there), failed requests, every request
    that is not the page itself or a data: URI, and JavaScript dialogs.
    """

    def __init__(self, binary: str | None = None, *, width: int = 1280, height: int = 900, timeout: float = 30):
        import websocket

        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="cx-chromium-")
        self.proc = subprocess.Popen(
            [binary or chromium_path(), *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        try:
            port_file = Path(self.profile) / "DevToolsActivePort"
            deadline = time.monotonic() + timeout
            while not (port_file.exists() and len(port_file.read_text().split()) == 2):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"Chromium did not start (exit code {self.proc.poll()})")
                time.sleep(0.05)
            port, path = port_file.read_text().split()
            self.ws = websocket.create_connection(f"ws://127.0.0.1:{port}{path}", timeout=timeout, suppress_origin=True)
            self._id = 0
            self.events: list[dict] = []
            target = self.call("Target.createTarget", url="about:blank")["targetId"]
            self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.call(f"{domain}.enable", session=True)
            self.resize(width, height)
        except BaseException:
            self.close()
            raise

    # --------------------------------------------------------------- protocol

    def call(self, method: str, *, session: bool = False, **params) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._event(reply)

    def _event(self, message: dict) -> None:
        if "method" not in message:
            return
        self.events.append(message)
        if message["method"] == "Page.javascriptDialogOpening":  # never leave the page blocked
            self.ws.send(json.dumps({"id": 0, "method": "Page.handleJavaScriptDialog",
                                     "params": {"accept": True}, "sessionId": self.session}))

    def wait_for(self, method: str) -> dict:
        deadline = time.monotonic() + self.timeout
        seen = len(self.events)
        while time.monotonic() < deadline:
            for message in self.events[seen:]:
                if message["method"] == method:
                    return message
            seen = len(self.events)
            self._event(json.loads(self.ws.recv()))
        raise TimeoutError(f"no {method} within {self.timeout} s")

    # --------------------------------------------------------------- page

    def resize(self, width: int, height: int) -> None:
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def before_scripts(self, source: str) -> None:
        """JavaScript run in every new document before its own scripts (e.g. a trap for alert)."""
        self.call("Page.addScriptToEvaluateOnNewDocument", session=True, source=source)

    def open(self, path: Path) -> str:
        self.url = Path(path).resolve().as_uri()
        self.events.clear()
        self.call("Page.navigate", session=True, url=self.url)
        self.wait_for("Page.loadEventFired")
        self.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        return self.url

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path, *, full_page: bool = True) -> Path:
        params = {"format": "png"}
        if full_page:
            size = self.call("Page.getLayoutMetrics", session=True)["cssContentSize"]
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
        data = self.call("Page.captureScreenshot", session=True, **params)["data"]
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)

    # --------------------------------------------------------------- what went wrong

    def problems(self) -> dict[str, list]:
        """Console errors, failed requests, requests for anything but the page, dialogs."""
        out = {"console errors": [], "failed requests": [], "external requests": [], "dialogs": []}
        for e in self.events:
            method, p = e["method"], e.get("params", {})
            if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert", "warning"):
                out["console errors"].append([a.get("value", a.get("description")) for a in p.get("args", [])])
            elif method == "Runtime.exceptionThrown":
                out["console errors"].append(p["exceptionDetails"].get("text"))
            elif method == "Log.entryAdded" and p["entry"].get("level") in ("error", "warning"):
                out["console errors"].append(p["entry"].get("text"))
            elif method == "Network.loadingFailed":
                out["failed requests"].append(p.get("errorText"))
            elif method == "Network.responseReceived" and p["response"].get("status", 200) >= 400:
                out["failed requests"].append(f"{p['response']['status']} {p['response']['url']}")
            elif method == "Network.requestWillBeSent":
                url = p["request"]["url"]
                if url.split("#")[0] != self.url and not url.startswith("data:"):
                    out["external requests"].append(url)
            elif method == "Page.javascriptDialogOpening":
                out["dialogs"].append(p.get("message"))
        return out

    def close(self) -> None:
        ws = getattr(self, "ws", None)
        if ws is not None:
            try:
                ws.close()
            except Exception:  # noqa: BLE001
                pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # the launcher script and the browser it started
                self.proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


#: Run in the page before its own scripts: any alert() (or confirm/prompt) is recorded.
ALERT_TRAP = """
window.__cx_alerts = [];
for (const name of ['alert', 'confirm', 'prompt']) {
  window[name] = (message) => { window.__cx_alerts.push(String(message)); };
}
"""

FIGURES_DECODED = """
Array.from(document.images).map(img => ({
  complete: img.complete, width: img.naturalWidth, alt: img.alt, src: img.src.slice(0, 40)
}))
"""


@pytest.fixture(scope="module")
def browser():
    with Chromium() as chromium:
        chromium.before_scripts(ALERT_TRAP)
        yield chromium


@pytest.fixture(scope="module")
def report(good_run):
    """The report of the session's one good run of the whole suite (tests/conftest.py)."""
    return good_run[1].report


@pytest.fixture(scope="module")
def hostile_report(hostile_run):
    """The report of the run on the small world with a segment and a touchpoint named like a script."""
    return hostile_run.report


def test_report_opens_cleanly_with_every_figure_decoded(browser, report, tmp_path):
    browser.resize(1280, 900)
    browser.open(report)
    problems = browser.problems()
    assert problems == {"console errors": [], "failed requests": [], "external requests": [], "dialogs": []}
    images = browser.evaluate(FIGURES_DECODED)
    assert len(images) >= 10, "the report shows the notebooks' figures"
    undecoded = [i for i in images if not (i["complete"] and i["width"] > 0)]
    assert not undecoded, f"figures that did not decode: {undecoded}"
    assert all(i["src"].startswith("data:image/png;base64,") for i in images), "figures are embedded"
    assert browser.evaluate("document.scripts.length") == 0
    text = browser.evaluate("document.body.innerText")
    for heading in ("Executive summary", "In short", "Service against experience", "The published claims",
                    "Overview of the data",
                    "Churn against bad experiences", "Methods and caveats", "About this run", "Data fingerprint"):
        assert heading in text, f"the report has {heading!r}"
    assert "import " not in text and "open_data(" not in text, "code is hidden"
    wide = browser.screenshot(tmp_path / "report-1280.png")
    assert wide.stat().st_size > 50_000


def test_report_works_in_a_narrow_window(browser, report, tmp_path):
    browser.resize(420, 900)
    browser.open(report)
    assert browser.problems()["console errors"] == []
    overflow = browser.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page scrolls sideways by {overflow}px in a 420px window"
    widest = browser.evaluate("Math.max(...Array.from(document.images).map(i => i.getBoundingClientRect().width))")
    assert widest <= 420, "figures shrink to the window"
    browser.screenshot(tmp_path / "report-420.png")


def test_text_from_data_is_shown_and_never_run_in_the_browser(browser, hostile_report, tmp_path):
    browser.resize(1280, 900)
    browser.open(hostile_report)
    assert browser.evaluate("window.__cx_alerts") == [], "no script from the data ran"
    problems = browser.problems()
    assert problems["dialogs"] == [] and problems["console errors"] == [], problems
    assert browser.evaluate("document.scripts.length") == 0, "no script element came from the data"
    assert HOSTILE in browser.evaluate("document.body.innerText"), "the reader sees the text as text"
    browser.screenshot(tmp_path / "hostile.png")


def test_the_harness_sees_scripts_errors_and_requests(browser, tmp_path):
    """The checks above are not vacuous: a page that misbehaves is caught."""
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><body><p>bad page</p>"
        "<img src='data:image/png;base64,AAAA'><img src='http://127.0.0.1:9/missing.png'>"
        "<script>alert('ran'); console.error('boom');</script></body></html>"
    )
    browser.open(page)
    problems = browser.problems()
    assert browser.evaluate("window.__cx_alerts") == ["ran"]
    assert problems["console errors"] and problems["failed requests"] and problems["external requests"]
    images = browser.evaluate(FIGURES_DECODED)
    assert [i["width"] > 0 for i in images] == [False, False], "undecodable figures are seen as such"


#: Every table of the report, as the reader's browser sees it: header texts and cell texts.
TABLES = """
Array.from(document.querySelectorAll('table')).map(t => ({
  headers: Array.from(t.querySelectorAll('thead th')).map(th => th.innerText.trim()),
  cells: Array.from(t.querySelectorAll('tbody td')).map(td => td.innerText.trim()),
  headerRows: t.querySelectorAll('thead tr').length,
}))
"""
SNAKE = r"\b[a-z]+(?:_[a-z0-9]+)+\b"
INTERNAL_ID = r"\([a-z]+(?:_[a-z0-9]+)+\)"
RAW_SHARE = r"^[−-]?\d+\.\d{5,}$"  # pandas prints a float it was not told how to show with 6 decimals


def table_problems(tables: list[dict], touchpoints=()) -> list[str]:
    """Snake_case headers, internal ids, unformatted shares, two-row headers, in tables read by a manager."""
    import re

    allowed = set(touchpoints)
    found = []
    for i, t in enumerate(tables):
        for h in t["headers"]:
            words = set(re.findall(SNAKE, h)) - allowed
            if words:
                found.append(f"table {i}: snake_case header {h!r}")
        for c in t["cells"]:
            if re.search(INTERNAL_ID, c):
                found.append(f"table {i}: internal id in {c!r}")
            if re.match(RAW_SHARE, c):
                found.append(f"table {i}: unformatted number {c!r}")
        if t["headerRows"] > 1:
            found.append(f"table {i}: {t['headerRows']} header rows ({t['headers'][:4]})")
    return found


def test_every_table_reads_like_a_report(browser, report, small_world):
    browser.resize(1280, 900)
    browser.open(report)
    tables = browser.evaluate(TABLES)
    assert len(tables) >= 10
    import duckdb

    touchpoints = [r[0] for r in duckdb.sql(f"SELECT DISTINCT touchpoint FROM read_csv('{small_world}/interactions.csv')").fetchall()]
    problems = table_problems(tables, touchpoints)
    assert problems == [], "\n".join(problems)


def test_the_table_check_sees_what_it_must():
    bad = [{"headers": ["share_of_active"], "cells": ["0.625436", "x (leave_after_several_bad_2)"], "headerRows": 2}]
    assert len(table_problems(bad)) == 4
    good = [{"headers": ["share of active customers", "store_visit"], "cells": ["62.5% (61.0–64.0%)", "1,234"],
             "headerRows": 1}]
    assert table_problems(good, ["store_visit"]) == []
