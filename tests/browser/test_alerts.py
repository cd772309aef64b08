"""The wall's alert in headless Chromium against a real `python app.py`: a fire reported through the
API flashes a banner naming it and starts a Web Audio tone; dismiss hides it, a click opens the item.
With ONEMAP_ALERTS=0 the same fire shows in the feed and no banner appears."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import shapely

from tests.browser.conftest import log_in
from tests.conftest import ROOT
from tests.servers import running_app

pytestmark = pytest.mark.browser
ARTIFACTS = ROOT / "tests" / "artifacts"
TOKEN = "alert-test-token-0123456789"
# Count the tones the page starts: every oscillator started through any AudioContext.
COUNT_TONES = """
window.__tones = [];
const RealAudioContext = window.AudioContext;
window.AudioContext = class extends RealAudioContext {
  createOscillator() {
    const osc = super.createOscillator();
    const start = osc.start.bind(osc);
    osc.start = (...args) => { window.__tones.push(osc.frequency.value); return start(...args); };
    return osc;
  }
};
"""
BANNER_SHOWN = "() => { const b = document.getElementById('alert-banner'); return b && !b.hidden; }"


def api(url: str, path: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(
        f"{url}/api/v1{path}",
        json.dumps(body).encode() if body is not None else None,
        {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def report_fire(url: str, title: str, grid_number: int = 0) -> tuple[dict, str]:
    """A citizen's fire report in one grid, through the API; (incident, grid name).

    Reports of a fire within 50 m and 10 minutes of an open one join it: a second fire needs another grid."""
    grid = api(url, "/grids")["features"][grid_number]
    p = shapely.geometry.shape(grid["geometry"]).representative_point()
    fire = api(url, "/incidents", {"kind": "fire", "category": "住宅火灾", "title": title, "lon": p.x, "lat": p.y})
    return fire, grid["properties"]["name"]


@contextmanager
def small_city(tmp_path_factory: pytest.TempPathFactory, name: str, **env: str) -> Iterator[str]:
    """A 60-grid city with no simulator, so the only fire is the test's."""
    db = tmp_path_factory.mktemp(name) / "onemap.db"
    with running_app(
        db.with_suffix(".log"),
        ONEMAP_DATABASE_URL=f"sqlite:///{db}",
        ONEMAP_GRID_COUNT="60",
        ONEMAP_HISTORY_DAYS="0",
        ONEMAP_SIMULATE="0",
        ONEMAP_POLL_MS="500",
        ONEMAP_BOOTSTRAP_TOKEN=TOKEN,
        **env,
    ) as url:
        yield url


@contextmanager
def wall(browser, url: str, shot: str) -> Iterator:
    """The operator's command page (the browser guard fails the test on its errors and foreign hosts)."""
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.add_init_script(COUNT_TONES)
    ok = False
    try:
        page.goto(url)
        log_in(page, "operator")
        page.wait_for_selector("#alert-banner", state="attached", timeout=60_000)
        page.wait_for_selector(".feed", timeout=60_000)
        yield page
        ok = True
    finally:
        if not ok:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / shot))
        page.close()


def test_a_new_fire_flashes_a_banner_naming_it_and_sounds_a_tone(browser, tmp_path_factory) -> None:
    with (
        small_city(tmp_path_factory, "alerts-on", ONEMAP_ALERTS="1", ONEMAP_ALERT_SOUND="1") as url,
        wall(browser, url, "alerts-on-failed.png") as page,
    ):
        assert page.evaluate(BANNER_SHOWN) is False
        fire, grid = report_fire(url, "警报测试火情")
        iid = fire["id"]
        page.wait_for_function(BANNER_SHOWN, timeout=15_000)
        text = page.inner_text("#alert-open")
        assert f"#{iid}" in text and "警报测试火情" in text and grid in text and "火" in text, text
        assert page.evaluate("() => document.getElementById('alert-banner').className").split() == [
            "alert-banner",
            "flash",
        ]
        page.wait_for_function("() => window.__tones.length >= 2", timeout=10_000)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "alert-banner.png"))

        page.click("#alert-dismiss")
        page.wait_for_function(f"() => !({BANNER_SHOWN})()", timeout=10_000)

        # A second fire; clicking its banner opens it in the detail panel.
        second, _ = report_fire(url, "第二处火情", grid_number=30)
        assert second["id"] != iid, second
        page.wait_for_function(
            "(id) => document.getElementById('alert-open').innerText.includes('#' + id)", arg=second["id"]
        )
        page.wait_for_function(BANNER_SHOWN)
        page.click("#alert-open")
        page.wait_for_function(
            "() => { const d = document.getElementById('command-detail'); return d && !d.hidden"
            " && d.innerText.includes('第二处火情'); }",
            timeout=15_000,
        )
        assert page.evaluate(BANNER_SHOWN) is False


def test_with_alerts_off_a_fire_shows_no_banner(browser, tmp_path_factory) -> None:
    with small_city(tmp_path_factory, "alerts-off") as url, wall(browser, url, "alerts-off-failed.png") as page:
        answers: list[str] = []
        page.on("response", lambda r: answers.append(r.url) if "/_dash-update-component" in r.url else None)
        fire, _ = report_fire(url, "静默火情")
        # The page has seen the fire (its feed shows it), and four more polls have come back since.
        page.wait_for_function("() => document.querySelector('.feed').innerText.includes('静默火情')", timeout=15_000)
        seen = len(answers)
        deadline = time.monotonic() + 30
        while len(answers) < seen + 4:
            assert time.monotonic() < deadline, "the page stopped polling"
            page.wait_for_timeout(100)
        assert page.evaluate(BANNER_SHOWN) is False
        assert page.evaluate("() => window.__tones.length") == 0
        assert fire["id"] > 0
