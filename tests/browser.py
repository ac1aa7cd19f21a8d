"""Headless Chromium for tests, driven over the Chrome DevTools Protocol (CDP).

A minimal synchronous CDP client on `websockets.sync` (already installed with
dagster-webserver, through uvicorn[standard]): start Debian's chromium, open a page,
navigate, evaluate JavaScript, wait for a condition, take a screenshot, and collect
console errors, uncaught exceptions and requests that left localhost.

    with Browser.start(tmp_path) as browser:
        page = browser.new_page()
        page.goto("file:///.../report.html")
        assert page.evaluate("document.title") == "..."
        assert page.console_errors == []
        page.screenshot(tmp_path / "page.png")

Chromium is started as root with --no-sandbox and without any network beyond localhost
(background networking, component updates, sync and QUIC disabled).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
]


def chromium_or_skip() -> Path:
    """The chromium binary; skip when it is absent, except under CI, where that is a failure."""
    if CHROMIUM.exists():
        return CHROMIUM
    reason = f"{CHROMIUM} is not installed (apt-get install -y chromium); browser tests need it"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI is set but {reason}", pytrace=False)
    pytest.skip(reason)


def _stop_group(process: subprocess.Popen, timeout: float = 10) -> None:
    """Stop a process started with start_new_session=True, and its children (renderers...)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=timeout)
            return
        except subprocess.TimeoutExpired:
            continue


class CDPError(RuntimeError):
    """A CDP command returned an error, or the browser did not answer in time."""


@dataclass
class ConsoleMessage:
    kind: str  # console.error, exception, log entry, failed request
    text: str
    url: str | None = None

    def __str__(self) -> str:
        return f"[{self.kind}] {self.text}" + (f" ({self.url})" if self.url else "")


@dataclass
class Page:
    browser: Browser
    session_id: str
    target_id: str
    console_errors: list[ConsoleMessage] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    _events: list[dict] = field(default_factory=list)

    def send(self, method: str, params: dict | None = None, timeout: float = 30) -> dict:
        return self.browser.send(method, params, session_id=self.session_id, timeout=timeout)

    def _on_event(self, message: dict) -> None:
        method, params = message["method"], message.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            text = " ".join(
                str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", [])
            )
            self.console_errors.append(ConsoleMessage("console.error", text))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text", "")
            self.console_errors.append(ConsoleMessage("exception", text, details.get("url")))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            entry = params["entry"]
            self.console_errors.append(
                ConsoleMessage("log", entry.get("text", ""), entry.get("url"))
            )
        elif method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            self.console_errors.append(
                ConsoleMessage("request failed", params.get("errorText", ""), params.get("type"))
            )
        self._events.append(message)

    def goto(self, url: str, timeout: float = 60) -> None:
        """Navigate and wait for the load event."""
        self._events.clear()
        self.browser._backlog.clear()
        result = self.send("Page.navigate", {"url": url}, timeout=timeout)
        if result.get("errorText"):
            raise CDPError(f"navigation to {url} failed: {result['errorText']}")
        self.browser.wait_event(
            lambda m: (
                m.get("sessionId") == self.session_id and m["method"] == "Page.loadEventFired"
            ),
            timeout,
        )

    def evaluate(self, expression: str, timeout: float = 30) -> Any:
        """The value of a JavaScript expression (promises awaited, result by value)."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            timeout=timeout,
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise CDPError(
                f"{expression!r} threw: "
                + (details.get("exception", {}).get("description") or details.get("text", ""))
            )
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60, interval: float = 0.25) -> Any:
        """Poll a JavaScript expression until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.evaluate(expression)
            if last:
                return last
            self.browser.pump(interval)
        raise TimeoutError(f"{expression!r} still {last!r} after {timeout:.0f}s")

    def set_viewport(self, width: int, height: int) -> None:
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def screenshot(self, path: Path, full_page: bool = False, max_height: int = 8000) -> Path:
        """A PNG of the viewport, or of the page from the top down to max_height pixels."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            metrics = self.send("Page.getLayoutMetrics")
            size = metrics["cssContentSize"]
            params.update(
                captureBeyondViewport=True,
                clip={
                    "x": 0,
                    "y": 0,
                    "width": size["width"],
                    "height": min(size["height"], max_height),
                    "scale": 1,
                },
            )
        data = self.send("Page.captureScreenshot", params, timeout=60)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def print_pdf(self, path: Path) -> Path:
        data = self.send("Page.printToPDF", {"printBackground": True}, timeout=120)["data"]
        path.write_bytes(base64.b64decode(data))
        return path


class Browser:
    """One headless chromium process with its own throwaway profile."""

    def __init__(self, process: subprocess.Popen, profile: Path, ws_url: str, log: Path):
        from websockets.sync.client import connect

        self.process = process
        self.profile = profile
        self.log = log
        self._stack = contextlib.ExitStack()
        self._ws = self._stack.enter_context(connect(ws_url, max_size=None, open_timeout=30))
        self._ids = itertools.count(1)
        self._pages: dict[str, Page] = {}
        self._backlog: list[dict] = []

    @classmethod
    def start(cls, log_dir: Path | None = None, timeout: float = 30) -> Browser:
        binary = chromium_or_skip()
        profile = Path(tempfile.mkdtemp(prefix="mhbench-chromium-"))
        log = (log_dir or profile) / "chromium.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as log_file:
            process = subprocess.Popen(
                [str(binary), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: closed as a whole
            )
        # With --remote-debugging-port=0 chromium picks a free port and writes it, with the
        # browser's websocket path, to DevToolsActivePort in the profile.
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            if active.exists():
                lines = active.read_text().split()
                if len(lines) >= 2:
                    return cls(process, profile, f"ws://127.0.0.1:{lines[0]}{lines[1]}", log)
            time.sleep(0.05)
        _stop_group(process)
        shutil.rmtree(profile, ignore_errors=True)
        raise CDPError(f"chromium did not start within {timeout}s:\n{log.read_text()[-4000:]}")

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._stack.close()
        finally:
            _stop_group(self.process)
            shutil.rmtree(self.profile, ignore_errors=True)

    # -- protocol ---------------------------------------------------------------------------

    def _dispatch(self, message: dict) -> None:
        page = self._pages.get(message.get("sessionId", ""))
        if page is not None:
            page._on_event(message)
        self._backlog.append(message)
        del self._backlog[:-500]

    def _receive(self, timeout: float) -> dict | None:
        try:
            raw = self._ws.recv(timeout=timeout)
        except TimeoutError:
            return None
        return json.loads(raw)

    def pump(self, seconds: float) -> None:
        """Process incoming events for a while (console messages arrive as events)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            message = self._receive(left)
            if message is not None and "method" in message:
                self._dispatch(message)

    def send(
        self, method: str, params: dict | None = None, session_id: str | None = None, timeout=30
    ) -> dict:
        message_id = next(self._ids)
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if session_id:
            message["sessionId"] = session_id
        self._ws.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            reply = self._receive(left)
            if reply is None:
                break
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise CDPError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self._dispatch(reply)
        raise CDPError(f"{method}: no answer within {timeout}s")

    def wait_event(self, predicate: Callable[[dict], bool], timeout: float = 30) -> dict:
        for message in self._backlog:
            if predicate(message):
                return message
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            message = self._receive(left)
            if message is None or "method" not in message:
                continue
            self._dispatch(message)
            if predicate(message):
                return message
        raise TimeoutError(f"no matching event within {timeout}s")

    def new_page(self, width: int = 1366, height: int = 900) -> Page:
        """A new tab with console, exceptions, log and network events recorded."""
        target_id = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session_id = self.send("Target.attachToTarget", {"targetId": target_id, "flatten": True})[
            "sessionId"
        ]
        page = Page(self, session_id, target_id)
        self._pages[session_id] = page
        for domain in ("Page", "Runtime", "Log", "Network"):
            page.send(f"{domain}.enable")
        page.set_viewport(width, height)
        return page
