"""Headless Chromium for the browser tests (Debian's chromium, driven by Playwright), and the one
guard every browser test runs under: any console error, page error or request to another host fails
the test, and a failed test leaves a screenshot of each of its pages in tests/artifacts/, named
after the test (a page the test closed while failing is pictured as it closed)."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

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


ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}  # every server a test starts listens here
IN_BROWSER = {"blob", "data", "about"}  # MapLibre's workers, inline images: they never leave the browser
# What Chromium and Dash log for a request that cannot reach the server (only while a test cuts it).
NETWORK_FAILURES = (
    "net::ERR_INTERNET_DISCONNECTED",
    "net::ERR_CONNECTION_REFUSED",
    "net::ERR_CONNECTION_RESET",
    "net::ERR_SOCKET_NOT_CONNECTED",  # a request on a socket the dead server left half-open
    "net::ERR_EMPTY_RESPONSE",
    "net::ERR_CONTENT_LENGTH_MISMATCH",  # an answer cut off by the server's death
    "Failed to fetch",
    "Callback failed: the server did not respond.",
)
_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


class Guard:
    """Every page opened through the ``browser`` fixture: what went wrong on it, test by test."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.checked = 0  # problems before this were reported by an earlier test
        self.pages: list[Any] = []
        self.last_shots: list[bytes] = []  # pages the running test closed, as they looked
        self.tolerated: tuple[str, ...] = ()
        self.in_test = False
        self.call_failed = False  # the running test's body failed (its fixtures' teardown closes the pages)

    def watch(self, page: Any) -> Any:
        if any(p is page for p in self.pages):
            return page
        self.pages.append(page)
        n = len(self.pages)
        page.on("console", lambda m: self._console(n, m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.problems.append(f"page {n}: page error: {e}"))
        page.on("request", lambda r: self._request(n, r.url))
        close = page.close

        def close_now(**kw: Any) -> None:
            # Closed for real at once, so a page never outlives the server its test stops (its polls
            # failing after the test belong to nobody, and were once reported against the next test);
            # pictured first if the test is failing (an exception on its way out, or a problem seen).
            failing = self.call_failed or sys.exc_info()[0] is not None or len(self.problems) > self.checked
            if self.in_test and failing and not page.is_closed():
                try:
                    self.last_shots.append(page.screenshot(timeout=5_000))
                except Exception:  # noqa: BLE001 (a crashed page cannot be pictured)
                    pass
            close(**kw)

        page.close = close_now
        return page

    def network_cut(self, cut: bool = True) -> None:
        """The opt-out, for a test that cuts its own server off (kills it, or sets the page offline):
        while ``cut``, the browser's messages that the server cannot be reached are expected, and
        only those; every other problem still fails the test."""
        self.tolerated = NETWORK_FAILURES if cut else ()

    def expect(self, *fragments: str) -> None:
        """For a test that provokes an error on purpose: console errors holding one of ``fragments`` are
        expected (for the rest of the test), and only those; every other problem still fails it."""
        self.tolerated = (*self.tolerated, *fragments)

    def _console(self, n: int, text: str) -> None:
        if not any(f in text for f in self.tolerated):
            self.problems.append(f"page {n}: console error: {text}")

    def _request(self, n: int, url: str) -> None:
        parts = urlparse(url)
        if parts.scheme not in IN_BROWSER and parts.hostname not in LOOPBACK:
            self.problems.append(f"page {n}: request to another host: {url}")

    def new(self) -> list[str]:
        found, self.checked = self.problems[self.checked :], len(self.problems)
        return found

    def end_test(self, name: str, failed: bool) -> list[str]:
        open_pages = [p for p in self.pages if not p.is_closed()]
        for page in open_pages:  # a round trip each: what the page logged until now is delivered now
            try:
                page.evaluate("0")
            except Exception:  # noqa: BLE001 (a crashed page has nothing more to say)
                pass
        found = self.new()
        if failed or found:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shots = list(self.last_shots)
            for page in open_pages:
                try:
                    shots.append(page.screenshot())
                except Exception:  # noqa: BLE001 (a crashed page cannot be pictured; the failure still stands)
                    pass
            for i, shot in enumerate(shots):
                suffix = f"-{i + 1}" if len(shots) > 1 else ""
                (ARTIFACTS / f"{name}{suffix}.png").write_bytes(shot)
        self.last_shots, self.tolerated, self.in_test, self.call_failed = [], (), False, False
        self.pages = [p for p in self.pages if not p.is_closed()]
        return found


class GuardedBrowser:
    """The Playwright browser, with every new page (and every page of a new context) watched."""

    def __init__(self, browser: Any, guard: Guard) -> None:
        self._browser, self.guard = browser, guard

    def new_page(self, **kw: Any) -> Any:
        return self.guard.watch(self._browser.new_page(**kw))

    def new_context(self, **kw: Any) -> Any:
        context = self._browser.new_context(**kw)
        context.on("page", self.guard.watch)  # fires before new_page() returns
        return context

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)


_GUARD = Guard()  # one per test session (the report hook reaches it too)


@pytest.fixture(scope="session")
def guard() -> Guard:
    return _GUARD


@pytest.fixture(scope="module")
def browser(guard: Guard) -> Iterator[GuardedBrowser]:
    path = need_server("Chromium", "ONEMAP_TEST_CHROMIUM")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield GuardedBrowser(b, guard)
        b.close()
    # What the module's still-open pages logged as they were torn down with its servers (after its
    # last test ended) is no test's: said here, and never blamed on the next module's first test.
    for problem in guard.new():
        print(f"browser teardown ({path}): {problem}", file=sys.stderr)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    if report.failed and report.when in ("setup", "call"):
        _GUARD.call_failed = True  # the pages its fixtures close from now on are pictured as they close
    return report


@pytest.fixture(autouse=True)
def browser_guard(request: pytest.FixtureRequest, guard: Guard) -> Iterator[Guard]:
    """Fails the test on any console error, page error or request to another host seen on its pages
    (those its module's fixtures opened included); a test that kills its own server says so with
    ``browser_guard.network_cut()`` (and ``network_cut(False)`` once it is back)."""
    guard.in_test = True  # problems seen since the last test (its module's fixtures opening pages) count here
    yield guard
    reports = request.node.stash.get(_REPORTS, {})
    failed = any(r.failed for r in reports.values())
    name = re.sub(r"[^\w.-]+", "_", request.node.name)
    found = guard.end_test(name, failed)
    if found:
        pytest.fail("the browser saw:\n" + "\n".join(found), pytrace=False)
