"""Headless Chromium for the browser tests, through Playwright for Python.

Playwright drives Debian's `/usr/bin/chromium` (`executable_path`): no browser is ever
downloaded (`playwright install` is never run; the pip wheel brings only its driver).
Every page the tests open is guarded:
- a request to anything but this machine (`file:`, `data:`, `blob:`, `about:`,
  http://127.0.0.1 / localhost) is aborted and recorded in `page.blocked`;
- console errors and uncaught exceptions are recorded in `page.errors`;
so a test asserts both are empty.

    with guarded_browser() as browser:
        page = guarded_page(browser)
        page.goto("file:///.../report.html")
        assert_clean(page)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
]
LOCAL_SCHEMES = ("file", "data", "blob", "about", "chrome-error")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


def chromium_or_skip() -> Path:
    """The chromium binary; skip when it is absent, except under CI, where that is a failure."""
    if CHROMIUM.exists():
        return CHROMIUM
    reason = f"{CHROMIUM} is not installed (apt-get install -y chromium); browser tests need it"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI is set but {reason}", pytrace=False)
    pytest.skip(reason)


def is_local(url: str) -> bool:
    parsed = urlparse(url)
    if parsed.scheme in LOCAL_SCHEMES:
        return True
    return parsed.scheme in ("http", "https", "ws", "wss") and parsed.hostname in LOCAL_HOSTS


@contextlib.contextmanager
def guarded_browser() -> Iterator:
    """A headless Debian chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    chromium_or_skip()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def guarded_page(browser, width: int = 1366, height: int = 900):
    """A page whose non-local requests are aborted and whose errors are recorded."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.blocked = []
    page.errors = []

    def route(route) -> None:
        url = route.request.url
        if is_local(url):
            route.continue_()
        else:
            page.blocked.append(url)
            route.abort("blockedbyclient")

    context.route("**/*", route)

    def console(message) -> None:
        if message.type == "error":
            where = (message.location or {}).get("url", "")
            page.errors.append(f"console.error: {message.text} (at {where})")

    page.on("console", console)
    page.on("pageerror", lambda error: page.errors.append(f"uncaught: {error}"))
    return page


def assert_clean(page) -> None:
    """Nothing left the machine and nothing failed in the page."""
    assert page.blocked == [], f"the page tried to fetch {page.blocked}"
    assert page.errors == [], "\n".join(page.errors)
