"""Headless Chromium for the browser tests (Debian's chromium, driven by Playwright)."""

from __future__ import annotations

import pytest

from data.demo import DEMO_PASSWORD
from tests.conftest import need_server

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def log_in(page, username: str) -> None:
    """Through the real login form, as a person would."""
    page.wait_for_selector("form.login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")


@pytest.fixture(scope="module")
def browser():
    path = need_server("Chromium", "ONEMAP_TEST_CHROMIUM")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()
