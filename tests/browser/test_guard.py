"""The browser guard itself: a console error, a page error and a request to another host are each
caught and named, and the network-cut opt-out forgives only an unreachable server (no server needed:
the page is written in place)."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.browser


def seen(page, guard, *words: str, timeout_s: float = 10) -> list[str]:
    """What the guard noted until every word is in it (events arrive while Playwright waits)."""
    found: list[str] = []
    deadline = time.monotonic() + timeout_s
    while not all(any(w in f for f in found) for w in words):
        assert time.monotonic() < deadline, (words, found)
        page.wait_for_timeout(50)
        found += guard.new()
    return found


def test_the_guard_catches_console_errors_page_errors_and_foreign_hosts(browser, browser_guard):
    page = browser.new_page()
    try:
        page.set_content("<p>ok</p>")
        assert browser_guard.new() == []  # a clean page passes
        page.evaluate("() => console.error('planted console error')")
        page.evaluate("() => setTimeout(() => { throw new Error('planted page error'); }, 0)")
        page.evaluate("() => fetch('http://example.invalid/tile.png').catch(() => null)")
        found = seen(page, browser_guard, "planted console error", "planted page error", "example.invalid")
        assert any("console error: planted console error" in f for f in found), found
        assert any("page error" in f and "planted page error" in f for f in found), found
        assert any("request to another host: http://example.invalid/tile.png" in f for f in found), found

        browser_guard.network_cut()
        page.evaluate("() => console.error('Failed to load resource: net::ERR_CONNECTION_REFUSED')")
        page.evaluate("() => console.error('still an error')")
        found = seen(page, browser_guard, "still an error")
        assert not any("ERR_CONNECTION_REFUSED" in f for f in found), found
    finally:
        browser_guard.network_cut(False)
        page.close()


def test_a_page_closed_in_a_test_is_closed_at_once_and_leaves_its_errors_to_that_test(browser, browser_guard):
    # A page the test closes is gone at once: it cannot poll a server the test stops after it, whose
    # failures would otherwise come in later and be blamed on the next test.
    page = browser.new_page()
    page.set_content("<p>ok</p>")
    page.evaluate("() => console.error('logged just before the close')")
    page.close()
    assert page.is_closed()
    found = browser_guard.new()
    assert any("logged just before the close" in f for f in found), found
