"""A headless Chromium driven over the Chrome DevTools Protocol on a websocket (``websocket-client``
comes with Jupyter): Debian's ``chromium`` is enough (``make chromium``). Without it a test that
asks for it fails, it does not skip. Shared by the report and JupyterLab browser tests."""

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
