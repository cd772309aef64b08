"""Headless Chromium at 1920×1080 against a real `python app.py`: the map with every layer, live
updates, no console error, no request to any other host. A screenshot lands in tests/artifacts/."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from config import CITY_TIMEZONE
from geo.layers import TRACE_INDEX, TRACES
from tests.browser.conftest import log_in
from tests.conftest import ROOT
from tests.servers import running_app

pytestmark = pytest.mark.browser
ARTIFACTS = ROOT / "tests" / "artifacts"
MAP_READY = f"""() => {{
  const gd = document.querySelector('#command-map .js-plotly-plot');
  const sp = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
  const canvas = document.querySelector('#command-map canvas');
  return !!(sp && sp.map && sp.map.loaded() && gd._fullData.length === {len(TRACES)} && canvas);
}}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python app.py` on embedded defaults (its own SQLite file), simulator sped up."""
    db = tmp_path_factory.mktemp("app") / "onemap.db"
    with running_app(
        db.with_suffix(".log"),
        ONEMAP_DATABASE_URL=f"sqlite:///{db}",
        ONEMAP_SIM_SPEED="600",
        ONEMAP_POLL_MS="500",
    ) as url:
        yield url


def test_command_page_shows_the_live_map(server: str, browser, request) -> None:
    # A browser in another time zone than the city: the page must still show the city's clock.
    page = browser.new_page(viewport={"width": 1920, "height": 1080}, timezone_id="America/New_York")
    try:
        page.goto(server)
        log_in(page, "operator")
        page.wait_for_function(MAP_READY, timeout=60_000)
        names = page.evaluate("() => document.querySelector('#command-map .js-plotly-plot')._fullData.map(t => t.name)")
        assert names == list(TRACES)
        grid_count = page.evaluate(
            f"() => document.querySelector('#command-map .js-plotly-plot')._fullData[{TRACE_INDEX['grids']}]"
            ".locations.length"
        )
        assert grid_count == 2000

        # Live: the simulator reports items; the feed and the map catch up without a reload.
        page.wait_for_function("() => document.querySelectorAll('.feed-row').length >= 3", timeout=30_000)
        # Every time on the page is on the city's clock, the header's too, whatever the browser's zone.
        page.wait_for_function("() => /\\d\\d:\\d\\d/.test(document.querySelector('.clock').innerText)")
        shown = page.inner_text(".clock")[:5]
        city = datetime.now(UTC).astimezone(ZoneInfo(CITY_TIMEZONE))
        assert shown in {f"{city + timedelta(minutes=m):%H:%M}" for m in (-1, 0, 1)}
        page.wait_for_function(
            "() => { const d = document.querySelector('#command-map .js-plotly-plot')._fullData;"
            " return ['ticket','police','fire','alarm'].some(k => d.find(t => t.name === k).lon.length > 0); }",
            timeout=30_000,
        )

        # Toggling a layer hides its trace, and the operator's zoom survives live updates.
        box = page.locator("#command-map").bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        zoom_js = "() => document.querySelector('#command-map .js-plotly-plot')._fullLayout.map.zoom"
        for _ in range(20):  # an operator zooms in with the wheel
            if page.evaluate(zoom_js) > 10.7:
                break
            page.mouse.wheel(0, -300)
            time.sleep(0.4)
        else:
            pytest.fail("the map did not zoom on the mouse wheel")
        readings: list[float] = []
        while len(readings) < 8 or len(set(readings[-8:])) > 1:  # wheel zoom eases in: let it settle
            assert len(readings) < 60, readings
            time.sleep(0.3)
            readings.append(page.evaluate(zoom_js))
        zoomed = readings[-1]
        page.locator("input[type=checkbox][value='fire']").uncheck()
        page.wait_for_function(
            f"() => document.querySelector('#command-map .js-plotly-plot')._fullData[{TRACE_INDEX['fire']}]"
            ".visible === false"
        )
        cursor = page.evaluate("() => document.querySelectorAll('.feed-row')[0].textContent")
        page.wait_for_function(
            "(c) => document.querySelectorAll('.feed-row')[0].textContent !== c", arg=cursor, timeout=30_000
        )
        zoom = page.evaluate(zoom_js)
        assert abs(zoom - zoomed) < 0.01, (zoom, zoomed)
        page.wait_for_function(MAP_READY, timeout=30_000)

        # Bulk push: upload a CSV, watch the bar reach the result, one row comes back rejected.
        csv_path = ARTIFACTS.parent / "artifacts" / "visits.csv"
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        csv_path.write_text(
            "lon,lat,note\n106.71,26.58,入户走访\n106.72,26.59,入户走访\n,,没有位置\n", encoding="utf-8"
        )
        page.locator("#push-upload input[type=file]").set_input_files(str(csv_path))
        page.wait_for_function(
            "() => document.querySelector('#push-result').textContent.includes('已生成 2 项任务，1 行未通过')",
            timeout=20_000,
        )
        assert page.locator("#push-download-button").is_enabled()
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "command-page.png"))
        page.close()
