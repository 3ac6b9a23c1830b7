"""Headless Chromium for the browser tests: Debian's package driven by Playwright (no browser
download). `make test-browser` runs these tests; `make test` does not."""

from __future__ import annotations

import os
import shutil
import socket

import pytest
from playwright.sync_api import sync_playwright


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.fail("no Chromium: install Debian's (apt-get install chromium) or set CHROMIUM")
    return path


@pytest.fixture(scope="module")
def free_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path(), headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()
