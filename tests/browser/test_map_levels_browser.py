"""A city with more grids than the map draws at once (ONEMAP_MAP_GRID_OUTLINES below its grid count, so
300 grids stand for 20,000) in headless Chromium against a real `python app.py`: the first map shows the
district areas, zooming in swaps them for the grids in view and zooming out swaps back, live updates
keep recolouring at both levels, and neither the swap nor the updates reload the map's style or draw a
blank frame."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import log_in
from tests.browser.test_command_page import MAP_READY
from tests.browser.test_map_wall import GD, WATCH_STYLE, is_blank, map_clip
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


def test_districts_then_grids_in_view_then_districts_with_live_updates_and_no_reload(server, browser) -> None:
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    try:
        page.goto(server)
        log_in(page, "operator")
        page.wait_for_function(MAP_READY, timeout=90_000)
        meta, n, lowest = page.evaluate(LEVEL)
        assert meta == "districts" and lowest < 0 and n <= 20, (meta, n, lowest)
        page.evaluate(WATCH_STYLE)
        # Live updates recolour the districts (the simulator reports items every few hundred ms).
        page.wait_for_function("() => window.__style.plots >= 2", timeout=60_000)
        assert page.evaluate(LEVEL)[0] == "districts"

        # Zoom in on the middle of the first district's box: the grids there replace the districts.
        page.evaluate(
            f"""() => {{ const f = {GRIDS}.geojson.features[0].geometry, xy = f.coordinates.flat(3);
              const xs = xy.filter((_, i) => i % 2 === 0), ys = xy.filter((_, i) => i % 2 === 1);
              const c = {{lon: (Math.min(...xs) + Math.max(...xs)) / 2, lat: (Math.min(...ys) + Math.max(...ys)) / 2}};
              return Plotly.relayout({GD}, {{'map.center': c, 'map.zoom': 14.5}}); }}"""
        )
        page.wait_for_function(f"() => ({LEVEL})()[0].startsWith('box:')", timeout=60_000)
        meta, n, lowest = page.evaluate(LEVEL)
        assert 0 < n <= 100 and lowest > 0, (meta, n, lowest)
        assert not is_blank(page.screenshot(clip=map_clip(page)))
        at = plots(page)
        page.wait_for_function(f"() => window.__style.plots > {at + 1}", timeout=60_000)
        assert page.evaluate(LEVEL)[0] == meta  # live updates kept the grids in view, recoloured

        # Zoomed out again: the districts come back.
        page.evaluate(f"() => Plotly.relayout({GD}, {{'map.zoom': 9.5}})")
        page.wait_for_function(f"() => ({LEVEL})()[0] === 'districts'", timeout=60_000)
        assert not is_blank(page.screenshot(clip=map_clip(page)))
        seen = page.evaluate("() => ({...window.__style, frames: window.__frames})")
        assert (seen["setStyle"], seen["load"]) == (0, 0), seen  # the map's style was never reloaded
        assert seen["frames"]["drawn"] >= 3 and seen["frames"]["blank"] == 0, seen
    finally:
        page.close()
