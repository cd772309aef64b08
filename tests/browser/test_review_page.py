"""The review page in headless Chromium against a real `python app.py` with seeded history: the day
chart, map modes, play a period to its end and again, drill into a grid and open one item, export
CSV, GeoJSON and one PNG sheet."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from config import CITY_TIMEZONE
from layouts.ids import REVIEW_GRAPHS
from tests.browser.conftest import log_in
from tests.browser.test_command_page import ARTIFACTS
from tests.servers import running_app

pytestmark = pytest.mark.browser
MAP = "document.querySelector('#review-map .js-plotly-plot')"
DAY_BARS = """() => {
  const gd = document.querySelector('#review-day-chart .js-plotly-plot');
  if (!gd || !gd.calcdata || !gd._fullData.length) { return null; }
  return {
    type: gd._fullLayout.xaxis.type,
    days: [...new Set(gd._fullData.flatMap((t) => Array.from(t.x)))].sort(),
    positions: new Set(gd.calcdata.flatMap((cd) => cd.map((c) => c.p))).size,
  };
}"""
KINDS = {"火情", "警情", "工单", "告警", "走访"}


def city_days(start: datetime, end: datetime) -> list[str]:
    """The city's calendar days that [start, end) touches."""
    tz = ZoneInfo(CITY_TIMEZONE)
    first, last = start.astimezone(tz).date(), (end - timedelta(microseconds=1)).astimezone(tz).date()
    return [f"{first + timedelta(days=k):%Y-%m-%d}" for k in range((last - first).days + 1)]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("review") / "onemap.db"
    with running_app(
        db.with_suffix(".log"),
        ONEMAP_DATABASE_URL=f"sqlite:///{db}",
        ONEMAP_GRID_COUNT="300",
        ONEMAP_HISTORY_DAYS="7",
        ONEMAP_SIMULATE="0",
    ) as url:
        yield url


def base_trace(page) -> dict:
    return page.evaluate(f"() => {{ const t = {MAP}._fullData[0]; return {{type: t.type, name: t.name}}; }}")


def test_review_plays_a_period_drills_down_and_exports(server: str, browser, tmp_path) -> None:
    page = browser.new_page(viewport={"width": 1920, "height": 1080}, accept_downloads=True)
    try:
        opened = datetime.now(UTC)
        page.goto(f"{server}/review")
        log_in(page, "supervisor")
        page.wait_for_url(re.compile(r".*/review$"))
        page.wait_for_function("() => /\\d/.test(document.querySelector('#review-summary')?.innerText || '')")
        total = int(re.search(r"(\d+)", page.inner_text("#review-summary")).group(1))
        assert total > 1000  # a week of a 300-grid city's history
        page.wait_for_function(f"() => {MAP} && {MAP}._fullData.length === 4 && {MAP}._fullData[0].name === 'grids'")

        # By day: a date axis with one bar position per city day of the week (8 days, two cut short).
        bars = page.wait_for_function(DAY_BARS).json_value()
        expected = {tuple(city_days(opened - timedelta(days=7), at)) for at in (opened, datetime.now(UTC))}
        assert bars["type"] == "date" and tuple(bars["days"]) in expected, bars
        assert bars["positions"] == len(bars["days"]) == 8, bars

        page.get_by_text("六边形").click()
        page.wait_for_function(f"() => {MAP}._fullData[0].name === 'hex'")
        hexes = page.evaluate(f"() => {MAP}._fullData[0].z.reduce((a, b) => a + b, 0)")
        assert hexes == total  # every item falls in one hexagon
        page.get_by_text("热力").click()
        page.wait_for_function(f"() => {MAP}._fullData[0].type === 'densitymap'")

        # Play the week at 2x: the slider walks every day and stops by itself at the end.
        page.get_by_text("2×").click()
        thumb = page.locator("#review-frame [role=slider]")
        assert thumb.get_attribute("aria-label") == "回放进度"
        # The page itself records every step the slider and the label show (no sampling from here).
        page.evaluate(
            """() => {
            window.seen = {steps: new Set(), labels: new Set()};
            const label = document.querySelector('#review-frame-label');
            const thumb = document.querySelector('#review-frame [role=slider]');
            new MutationObserver(() => window.seen.labels.add(label.innerText))
                .observe(label, {childList: true, characterData: true, subtree: true});
            new MutationObserver(() => window.seen.steps.add(thumb.getAttribute('aria-valuenow')))
                .observe(thumb, {attributes: true, attributeFilter: ['aria-valuenow']});
        }"""
        )
        page.click("#review-play")
        page.wait_for_function("() => document.querySelector('#review-play').innerText === '暂停'")
        page.wait_for_function("() => document.querySelector('#review-play').innerText === '播放'", timeout=30_000)
        last_step = thumb.get_attribute("aria-valuemax")
        assert thumb.get_attribute("aria-valuenow") == last_step != "0"
        steps = page.evaluate("() => [...window.seen.steps].map(Number).sort((a, b) => a - b)")
        assert steps == list(range(1, int(last_step) + 1)), steps  # every step, then a stop at the end
        # Each step's items reached the map before the next step: one label per step (the days of the week).
        page.wait_for_function("(n) => window.seen.labels.size >= n", arg=int(last_step))
        labels = page.evaluate("() => [...window.seen.labels]")
        assert len(labels) == int(last_step) == 7, labels
        page.wait_for_function(
            f"() => {MAP}._fullData[1].lon.length === "
            "Number((document.querySelector('#review-frame-label').innerText.match(/· (\\d+)/) || [])[1])"
        )
        # The points are small and see-through over a visible aggregate layer (read from the figure as sent: a
        # step without items, the city's first hour after midnight, leaves plotly no drawn marker to read).
        layers = page.evaluate(
            f"() => {{ const g = {MAP}; return {{base: g._fullData[0].visible, size: g.data[1].marker.size,"
            " opacity: g.data[1].marker.opacity}; }"
        )
        assert layers["base"] is True and layers["size"] <= 6 and layers["opacity"] < 0.7, layers

        # Play again after the end: it starts from the first step and runs to the end once more.
        page.click("#review-play")
        page.wait_for_function(
            "(max) => document.querySelector('#review-play').innerText === '暂停'"
            " && document.querySelector('#review-frame [role=slider]').getAttribute('aria-valuenow') !== max",
            arg=last_step,
        )
        page.wait_for_function(
            "(max) => document.querySelector('#review-play').innerText === '播放'"
            " && document.querySelector('#review-frame [role=slider]').getAttribute('aria-valuenow') === max",
            arg=last_step,
            timeout=30_000,
        )

        # Drill down: the busiest grid's items fill the table and appear on the map.
        grid_name = page.inner_text("#review-grid-table .ag-row[row-index='0'] .ag-cell[col-id='grid']")
        page.click("#review-grid-table .ag-row[row-index='0'] .ag-cell[col-id='grid']")
        page.wait_for_function(f"() => {MAP}._fullData[2].lon.length > 0")
        first_row_items = int(page.inner_text("#review-grid-table .ag-row[row-index='0'] .ag-cell[col-id='items']"))
        assert page.evaluate(f"() => {MAP}._fullData[2].lon.length") == first_row_items
        assert str(first_row_items) in page.inner_text("#review-drill-title")

        # Click one item: its detail shows beside the list and the map centres on it, highlighted.
        row = "#review-drill .ag-row[row-index='1']"
        item_id = page.inner_text(f"{row} .ag-cell[col-id='id']")
        kind, status = (page.inner_text(f"{row} .ag-cell[col-id='{c}']") for c in ("kind", "status"))
        page.click(f"{row} .ag-cell[col-id='category']")
        page.wait_for_function(
            "(id) => (document.querySelector('#review-item .item-title')?.innerText || '').startsWith('#' + id + ' ')",
            arg=item_id,
        )
        detail = page.inner_text("#review-item")
        assert kind in detail and status in detail and grid_name in detail, detail
        assert page.locator("#review-item .item-history .mantine-Timeline-item").count() >= 1
        focus = page.wait_for_function(
            f"() => {{ const gd = {MAP}; const f = gd._fullData[3];"
            " return f.lon.length === 2 && {lon: f.lon[0], lat: f.lat[0], c: gd._fullLayout.map.center,"
            " zoom: gd._fullLayout.map.zoom}; }"
        ).json_value()
        assert abs(focus["c"]["lon"] - focus["lon"]) < 1e-6 and abs(focus["c"]["lat"] - focus["lat"]) < 1e-6
        assert focus["zoom"] >= 14, focus
        drilled = page.evaluate(f"() => Array.from({MAP}._fullData[2].lon, (x, i) => [x, {MAP}._fullData[2].lat[i]])")
        assert any(abs(x - focus["lon"]) < 1e-4 and abs(y - focus["lat"]) < 1e-4 for x, y in drilled)

        with page.expect_download() as got:
            page.click("#review-csv")
        path = tmp_path / "review.csv"
        got.value.save_as(path)
        with open(path, encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == total and {"id", "kind", "grid", "worker", "created_at", "lon", "lat"} <= set(rows[0])
        assert {r["kind"] for r in rows} <= KINDS  # in the UI language
        assert all(r["id"].isdigit() and (r["worker_id"] == "" or r["worker_id"].isdigit()) for r in rows)

        with page.expect_download() as got:
            page.click("#review-geojson")
        gpath = tmp_path / "review.geojson"
        got.value.save_as(gpath)
        assert len(json.loads(gpath.read_text(encoding="utf-8"))["features"]) == total

        # One PNG sheet with the period and the filters on it: pick a kind first.
        page.click("#review-kinds")
        page.get_by_role("option", name="火情").click()
        page.keyboard.press("Escape")
        page.wait_for_function(
            "(n) => { const m = (document.querySelector('#review-summary')?.innerText || '').match(/(\\d+)/);"
            " return m && Number(m[1]) < n; }",
            arg=total,
        )
        downloads = []
        page.on("download", lambda d: downloads.append(d))
        page.click("#review-png")
        page.wait_for_function(
            "(n) => document.querySelector('#review-png-done').innerText === String(n)",
            arg=len(REVIEW_GRAPHS),
            timeout=60_000,
        )
        for _ in range(100):
            if downloads:
                break
            page.wait_for_timeout(100)
        assert len(downloads) == 1, [d.suggested_filename for d in downloads]
        header = page.get_attribute("#review-png-done", "title")
        today = datetime.now(UTC).astimezone(ZoneInfo(CITY_TIMEZONE)).date()
        assert f"{today - timedelta(days=7):%Y-%m-%d}" in header and f"{today:%Y-%m-%d}" in header, header
        assert "类别: 火情" in header and "区县: 全部" in header, header
        name = downloads[0].suggested_filename
        assert re.fullmatch(r"onemap-review-\d{8}-\d{8}\.png", name) and name.endswith(f"{today:%Y%m%d}.png"), name
        target = tmp_path / name
        downloads[0].save_as(target)
        data = target.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        sheet = Image.open(io.BytesIO(data)).convert("L")
        assert sheet.width == 2400 and sheet.height > 2500, sheet.size  # the map and five charts below a header
        band = sheet.crop((0, 0, sheet.width, 200))  # title and period lines
        assert sum(band.histogram()[151:]) > 2000, "no header text drawn"
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "review-sheet.png").write_bytes(data)

        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "review-1920x1080.png"))
    finally:
        page.close()
