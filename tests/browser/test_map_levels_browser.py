"""A city with more grids than the map draws at once (ONEMAP_MAP_GRID_OUTLINES below its grid count, so
300 grids stand for 20,000) in headless Chromium against a real `python app.py`: the first map shows the
district areas, zooming in swaps them for the grids in view and zooming out swaps back, live updates
keep recolouring at both levels, the map's style is never reloaded and no frame is blank as a level
swaps in (the test's own five-level camera jumps may draw a frame before any tile loaded: not counted)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import log_in
from tests.browser.test_command_page import MAP_READY
from tests.browser.test_map_wall import GD, MAPLIBRE, WATCH_STYLE, is_blank, map_clip
from tests.servers import running_app

pytestmark = pytest.mark.browser
GRIDS = f"{GD}._fullData.find(t => t.name === 'grids')"
LEVEL = f"() => {{ const g = {GRIDS}; return [g.meta, g.locations.length, Math.min(...g.locations)]; }}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("levels") / "onemap.db"
    with running_app(
        db.with_suffix(".log"),
        ONEMAP_DATABASE_URL=f"sqlite:///{db}",
        ONEMAP_GRID_COUNT="300",
        ONEMAP_MAP_GRID_OUTLINES="100",
        ONEMAP_SIM_SPEED="600",
        ONEMAP_POLL_MS="500",
    ) as url:
        yield url


def plots(page: Any) -> int:
    return page.evaluate("() => window.__style.plots")


def zoom_to(page: Any, zoom: float, center_js: str = "null") -> None:
    page.evaluate(f"() => {{ const c = {center_js}; Plotly.relayout({GD}, c ? {{'map.center': c, 'map.zoom': {zoom}}}"
                  f" : {{'map.zoom': {zoom}}}); }}")  # fmt: skip


# Every frame drawn right after the grid layer changed level, and every blank frame, with the level held.
WATCH_SWAPS = f"""() => {{
  const map = {MAPLIBRE};
  window.__swaps = []; window.__blanks = []; let level = {GRIDS}.meta, blank = window.__frames.blank;
  map.on('render', () => {{
    const now = {GRIDS}.meta, f = window.__frames.drawn;
    if (now !== level) {{ window.__swaps.push(f); level = now; }}
    if (window.__frames.blank !== blank) {{ window.__blanks.push([f, now]); blank = window.__frames.blank; }}
  }});
}}"""


def test_districts_then_grids_in_view_then_districts_with_live_updates_and_no_reload(server, browser) -> None:
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    try:
        page.goto(server)
        log_in(page, "operator")
        page.wait_for_function(MAP_READY, timeout=90_000)
        meta, n, lowest = page.evaluate(LEVEL)
        assert meta == "districts" and lowest < 0 and n <= 20, (meta, n, lowest)
        page.evaluate(WATCH_STYLE)
        page.evaluate(WATCH_SWAPS)
        # Live updates recolour the districts (the simulator reports items every few hundred ms).
        page.wait_for_function("() => window.__style.plots >= 2", timeout=60_000)
        assert page.evaluate(LEVEL)[0] == "districts"

        # Zoom in on the middle of the first district's box: the grids there replace the districts.
        centre = f"""(() => {{ const xy = {GRIDS}.geojson.features[0].geometry.coordinates.flat(3);
          const xs = xy.filter((_, i) => i % 2 === 0), ys = xy.filter((_, i) => i % 2 === 1);
          const mid = a => (Math.min(...a) + Math.max(...a)) / 2;
          return {{lon: mid(xs), lat: mid(ys)}}; }})()"""
        zoom_to(page, 14.5, centre)
        page.wait_for_function(f"() => ({LEVEL})()[0].startsWith('box:')", timeout=60_000)
        meta, n, lowest = page.evaluate(LEVEL)
        assert 0 < n <= 100 and lowest > 0, (meta, n, lowest)
        assert not is_blank(page.screenshot(clip=map_clip(page)))
        at = plots(page)
        page.wait_for_function(f"() => window.__style.plots > {at + 1}", timeout=60_000)
        assert page.evaluate(LEVEL)[0] == meta  # live updates kept the grids in view, recoloured

        # Zoomed out again: the districts come back.
        zoom_to(page, 9.5)
        page.wait_for_function(f"() => ({LEVEL})()[0] === 'districts'", timeout=60_000)
        assert not is_blank(page.screenshot(clip=map_clip(page)))
        seen = page.evaluate("() => ({...window.__style, frames: window.__frames, swaps: window.__swaps,"
                             " blanks: window.__blanks})")  # fmt: skip
        assert (seen["setStyle"], seen["load"]) == (0, 0), seen  # the map's style was never reloaded
        assert len(seen["swaps"]) >= 2 and seen["frames"]["drawn"] >= 5, seen
        # No blank frame as the level swaps, nor after. (The test's own camera jumps of five levels at
        # once can leave MapLibre a frame with no tile of any source yet, before the swap arrives; an
        # operator's wheel zoom animates and keeps its tiles.)
        assert [f for f, _ in seen["blanks"] if any(s <= f <= s + 3 for s in seen["swaps"])] == [], seen
    finally:
        page.close()
