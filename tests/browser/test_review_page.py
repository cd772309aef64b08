"""The review page in headless Chromium against a real `python app.py` with seeded history: switch
map modes, play a period to its end, drill into a grid, export CSV, GeoJSON and PNG."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator

import pytest

from layouts.ids import REVIEW_GRAPHS
from tests.browser.conftest import log_in
from tests.browser.test_command_page import ARTIFACTS
from tests.servers import running_app

pytestmark = pytest.mark.browser
MAP = "document.querySelector('#review-map .js-plotly-plot')"


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
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{server}/review")
        log_in(page, "supervisor")
        page.wait_for_url(re.compile(r".*/review$"))
        page.wait_for_function("() => /\\d/.test(document.querySelector('#review-summary')?.innerText || '')")
        total = int(re.search(r"(\d+)", page.inner_text("#review-summary")).group(1))
        assert total > 1000  # a week of a 300-grid city's history
        page.wait_for_function(f"() => {MAP} && {MAP}._fullData.length === 3 && {MAP}._fullData[0].name === 'grids'")

        page.get_by_text("六边形").click()
        page.wait_for_function(f"() => {MAP}._fullData[0].name === 'hex'")
        hexes = page.evaluate(f"() => {MAP}._fullData[0].z.reduce((a, b) => a + b, 0)")
        assert hexes == total  # every item falls in one hexagon
        page.get_by_text("热力").click()
        page.wait_for_function(f"() => {MAP}._fullData[0].type === 'densitymap'")

        # Play the week at 2x: the slider walks every day and stops by itself at the end.
        page.get_by_text("2×").click()
        labels: set[str] = set()
        page.click("#review-play")
        page.wait_for_function("() => document.querySelector('#review-play').innerText === '暂停'")
        for _ in range(150):
            labels.add(page.inner_text("#review-frame-label"))
            if page.inner_text("#review-play") == "播放":
                break
            page.wait_for_timeout(100)
        assert page.inner_text("#review-play") == "播放", "playback did not stop at the end"
        assert len(labels) >= 6, labels  # it moved through the days (8 of them, two cut short)
        thumb = page.locator("#review-frame [role=slider]")
        assert thumb.get_attribute("aria-valuenow") == thumb.get_attribute("aria-valuemax") != "0"
        page.wait_for_timeout(1000)  # the last frame's points arrive after the slider's last step
        shown = page.evaluate(f"() => {MAP}._fullData[1].lon.length")
        last = int(re.search(r"· (\d+)", page.inner_text("#review-frame-label")).group(1))
        assert shown == last

        # Drill down: the busiest grid's items fill the table and appear on the map.
        page.click("#review-grid-table .ag-row[row-index='0'] .ag-cell[col-id='grid']")
        page.wait_for_function(f"() => {MAP}._fullData[2].lon.length > 0")
        first_row_items = int(page.inner_text("#review-grid-table .ag-row[row-index='0'] .ag-cell[col-id='items']"))
        assert page.evaluate(f"() => {MAP}._fullData[2].lon.length") == first_row_items
        assert str(first_row_items) in page.inner_text("#review-drill-title")

        with page.expect_download() as got:
            page.click("#review-csv")
        path = tmp_path / "review.csv"
        got.value.save_as(path)
        with open(path, encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == total and {"id", "kind", "grid", "created_at", "lon", "lat"} <= set(rows[0])

        with page.expect_download() as got:
            page.click("#review-geojson")
        gpath = tmp_path / "review.geojson"
        got.value.save_as(gpath)
        assert len(json.loads(gpath.read_text(encoding="utf-8"))["features"]) == total

        downloads = []
        page.on("download", lambda d: downloads.append(d))
        page.click("#review-png")
        page.wait_for_function("() => document.querySelector('#review-png-done').innerText === '6'")
        for _ in range(100):
            if len(downloads) == 6:
                break
            page.wait_for_timeout(100)
        names = sorted(d.suggested_filename for d in downloads)
        assert names == sorted(f"onemap-{g}.png" for g in REVIEW_GRAPHS)  # the map and every chart
        for d in downloads:
            target = tmp_path / d.suggested_filename
            d.save_as(target)
            assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and target.stat().st_size > 5_000, target

        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "review-1920x1080.png"))
        assert not errors, errors
    finally:
        page.close()
