"""The command page under live load never fights the operator: every click on a queue row or on a map
point opens that item's detail (none is lost; the 1 s goal is in docs/performance.md), and a cancel
reason being typed survives every live update (text and focus) while the simulator runs fast. Headless
Chromium against `python app.py`."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from config import DEFAULT_SLA_MINUTES
from data.bus import MemoryBus
from data.models import Incident
from data.queries import load_grid_index
from data.store import Store
from geo.layers import ITEM_STYLE, TRACE_INDEX
from ops.accounts import SYSTEM
from ops.incidents import NewIncident, report
from tests.browser.conftest import log_in
from tests.conftest import ROOT
from tests.servers import running_app

pytestmark = pytest.mark.browser
ARTIFACTS = ROOT / "tests" / "artifacts"
OPEN_WITHIN_MS = int(os.environ.get("ONEMAP_TEST_OPEN_WITHIN_MS", "6000"))  # the goal is 1 s: see docs/performance.md
DETAIL_IS = """(id) => {
  const h = document.querySelector('#detail-title');
  return !!h && h.textContent.startsWith('#' + id + ' ');
}"""
MAP_READY = """() => {
  const gd = document.querySelector('#command-map .js-plotly-plot');
  const sp = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
  return !!(sp && sp.map && sp.map.loaded());
}"""
# Whether plotly's hover (what a click on the map picks) is on the given item.
HOVERING = """(id) => {
  const gd = document.querySelector('#command-map .js-plotly-plot');
  return (gd._hoverdata || []).some(p => parseInt(p.customdata, 10) === id);
}"""
# Where on the screen each of the given items is drawn, for those no other clickable point (of any trace:
# other items, walking workers, warnings) comes within 14 px of, inside the map and left of the detail panel:
# a click there can only mean that item. Halos and rings (overdue, no owner) take no clicks.
LONE_POINTS = f"""(ids) => {{
  const gd = document.querySelector('#command-map .js-plotly-plot');
  const map = gd._fullLayout.map._subplot.map;
  if (map.isMoving()) return [];
  const box = map.getCanvas().getBoundingClientRect();
  const panel = document.querySelector('#command-detail');
  const right = panel && !panel.hidden ? panel.getBoundingClientRect().left - 20 : box.right - 20;
  const items = {[TRACE_INDEX[k] for k in ITEM_STYLE]};
  const all = [], mine = [];
  gd._fullData.forEach((t, i) => {{
    if (t.type !== 'scattermap' || t.visible !== true || !t.lon || t.hoverinfo === 'skip') return;
    for (let k = 0; k < t.lon.length; k++) {{
      if (t.lon[k] === null || t.lat[k] === null) continue;
      const p = map.project([t.lon[k], t.lat[k]]);
      const pt = {{x: box.left + p.x, y: box.top + p.y, id: t.customdata ? t.customdata[k] : null}};
      all.push(pt);
      if (items.includes(i) && ids.includes(pt.id) && pt.x > box.left + 20 && pt.x < right
          && pt.y > box.top + 20 && pt.y < box.bottom - 20) mine.push(pt);
    }}
  }});
  return mine.filter(p => all.filter(q => Math.hypot(q.x - p.x, q.y - p.y) < 14).length === 1);
}}"""

# What the map shows of the given items, for a failure message.
MAP_STATE = f"""(ids) => {{
  const gd = document.querySelector('#command-map .js-plotly-plot');
  const map = gd._fullLayout.map._subplot.map;
  const items = {[TRACE_INDEX[k] for k in ITEM_STYLE]};
  let drawn = 0;
  gd._fullData.forEach((t, i) => {{
    if (items.includes(i) && t.customdata) drawn += t.customdata.filter(c => ids.includes(c)).length;
  }});
  const panel = document.querySelector('#command-detail');
  return {{moving: map.isMoving(), zoom: map.getZoom(), centre: map.getCenter(), drawn: drawn,
           panel: panel && !panel.hidden ? panel.getBoundingClientRect().left : null,
           canvas: map.getCanvas().getBoundingClientRect().toJSON()}};
}}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`python app.py` with the simulator at high speed and a fast poll: the busiest screen there is."""
    db = tmp_path_factory.mktemp("live") / "onemap.db"
    with running_app(
        db.with_suffix(".log"),
        ONEMAP_DATABASE_URL=f"sqlite:///{db}",
        # Fast, but within what the simulated bodies keep up with on two cores (at 600x the case loop falls
        # behind and the map fills with thousands of points).
        ONEMAP_SIM_SPEED="120",
        ONEMAP_POLL_MS="500",
        ONEMAP_GRID_COUNT="300",
    ) as url:
        yield url, db


@pytest.fixture
def page(server, browser, request) -> Iterator:
    url, _ = server
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(url)
    log_in(page, "operator")
    page.wait_for_function(MAP_READY, timeout=60_000)
    page.wait_for_selector("#command-queue .ag-row[row-index='5']", timeout=30_000)
    yield page  # the browser guard checks the page and pictures it if the test fails
    page.close()


def opened_within(page, item_id: int) -> float:
    """Seconds from now until the detail panel shows ``item_id`` (fails past the limit)."""
    started = time.monotonic()
    page.wait_for_function(DETAIL_IS, arg=item_id, timeout=OPEN_WITHIN_MS, polling=20)
    return time.monotonic() - started


def hold_the_queue(page) -> None:
    """Point at the queue, as an operator about to click does, and let a poll answer under the hold."""
    page.hover("#command-queue .ag-header")
    page.wait_for_selector(".queue-wrap[data-held='1']")
    page.wait_for_timeout(1500)


def test_twenty_queue_clicks_each_open_their_item(page) -> None:
    hold_the_queue(page)
    seen: list[float] = []
    previous = None
    for n in range(20):
        # Different rows in turn (the order holds still while the pointer is on the queue).
        row = page.locator(f"#command-queue .ag-center-cols-container .ag-row[row-index='{n % 6}']")
        item_id = int(row.get_attribute("row-id"))
        assert item_id != previous
        row.locator(".ag-cell[col-id=title]").click()
        try:
            seen.append(opened_within(page, item_id))
        except Exception:
            shown = page.evaluate("() => document.querySelector('#detail-title')?.textContent")
            pytest.fail(f"click {n} on row {n % 6} (#{item_id}) did not open; the panel shows {shown}; {seen}")
        previous = item_id
    print(f"queue click → detail: max {max(seen):.2f} s, mean {sum(seen) / len(seen):.2f} s")
    # Esc closes the panel; Enter on a focused row opens it again.
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.querySelector('#command-detail').hidden")
    row = page.locator("#command-queue .ag-center-cols-container .ag-row[row-index='1']")
    row.locator(".ag-cell[col-id=title]").click()
    opened_within(page, int(row.get_attribute("row-id")))
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.querySelector('#command-detail').hidden")
    # Esc right after a click, before its panel has come: the panel must not open after all.
    row.locator(".ag-cell[col-id=title]").click()
    page.keyboard.press("Escape")
    page.wait_for_timeout(3000)  # past a panel's usual 0.5-1 s (and 3 polls)
    assert page.evaluate("() => document.querySelector('#command-detail').hidden"), "Esc did not cancel the open"
    row = page.locator("#command-queue .ag-center-cols-container .ag-row[row-index='2']")
    item_id = int(row.get_attribute("row-id"))
    row.locator(".ag-cell[col-id=title]").focus()
    page.keyboard.press("Enter")
    opened_within(page, item_id)


def test_twenty_map_clicks_each_open_their_item(page, server) -> None:
    _, db = server
    # Items of the test's own (the simulator leaves them alone), on a lattice ~220 m apart around a grid's
    # point, and the map zoomed on them as an operator would: points apart, not a crowd.
    store = Store(f"sqlite:///{db}", MemoryBus())
    try:
        index = load_grid_index(store)
        centre = index.polygons[len(index.polygons) // 3].representative_point()
        spots = [(centre.x + 0.0022 * (i - 2.5), centre.y + 0.002 * (j - 2)) for i in range(6) for j in range(5)]
        spots = [xy for xy in spots if index.locate_one(*xy) is not None]
        ids = report(
            store,
            index,
            SYSTEM,
            [NewIncident("ticket", "路灯故障", "路灯故障", x, y) for x, y in spots],
            DEFAULT_SLA_MINUTES,
        )
    finally:
        store.dispose()
    assert len(ids) >= 24, len(ids)
    zoom_in = """(c) => window.Plotly.relayout(document.querySelector('#command-map .js-plotly-plot'),
             {'map.center': {lon: c[0], lat: c[1]}, 'map.zoom': 14.2})"""
    page.evaluate(zoom_in, [centre.x, centre.y])
    page.wait_for_function(
        "(ids) => document.querySelector('#command-map .js-plotly-plot')._fullData"
        ".some(t => t.customdata && ids.every(i => t.customdata.includes(i)))",
        arg=ids[:3],
        timeout=20_000,
    )
    aims: list[bool] = []  # what each poll said of the pointer aiming on the map

    def note_aim(request) -> None:
        if "/_dash-update-component" in request.url and request.method == "POST":
            states = json.loads(request.post_data or "{}").get("state") or []
            aims.extend(s.get("value") is True for s in states if s.get("id") == "command-map-aim")

    page.on("request", note_aim)
    seen: list[float] = []
    clicked: set[int] = set()
    missed: dict[int, int] = {}  # hovers that did not come, per item
    empty_reads = rezoomed = 0
    deadline = time.monotonic() + 150
    while len(seen) < 20:
        assert time.monotonic() < deadline, (
            f"only {len(seen)} of the test's points could be clicked alone: {seen}; "
            f"reads with no lone point: {empty_reads}; zoomed in again: {rezoomed}; hovers that never came: {missed}; "
            f"the map now: {page.evaluate(MAP_STATE, ids)}"
        )
        # A script's relayout is not a GUI edit to plotly, so a figure update that sets the view (the city
        # framing at open) can still take it back on a slow machine (seen in CI, not here): zoom in again,
        # as the operator would, and count it.
        state = page.evaluate(MAP_STATE, ids)
        if not state["moving"] and abs(state["zoom"] - 14.2) > 0.3:
            rezoomed += 1
            page.evaluate(zoom_in, [centre.x, centre.y])
            page.wait_for_timeout(500)
            continue
        points = [p for p in page.evaluate(LONE_POINTS, ids) if p["id"] not in clicked]
        if not points:
            empty_reads += 1
            page.wait_for_timeout(300)  # a worker walks off, the map settles
            continue
        # The point tried least often first: one that would not take a hover is not tried for ever.
        p = min(points, key=lambda q: missed.get(q["id"], 0))
        # As a person does: point at it, see its label (plotly takes a click's point from its hover), click.
        # The pointer comes from a little way off in a few steps, so there is always a move for the map to
        # see (a move to where the pointer already is sends no event, and no hover would ever come).
        page.mouse.move(p["x"] + 30, p["y"] + 30)
        page.mouse.move(p["x"], p["y"], steps=4)
        try:
            page.wait_for_function(HOVERING, arg=p["id"], timeout=5_000)
        except Exception:
            missed[p["id"]] = missed.get(p["id"], 0) + 1
            continue  # something moved under the pointer: read the points again
        page.mouse.down()
        page.mouse.up()
        try:
            seen.append(opened_within(page, p["id"]))
        except Exception:
            # A worker may walk onto the point between reading it and clicking: that click meant someone
            # else. Only a click on a point that is still alone where it was counts against us.
            still = [q for q in page.evaluate(LONE_POINTS, ids) if q["id"] == p["id"]]
            if still and abs(still[0]["x"] - p["x"]) < 2 and abs(still[0]["y"] - p["y"]) < 2:
                shown = page.evaluate("() => document.querySelector('#detail-title')?.textContent")
                pytest.fail(f"map click {len(seen)} on #{p['id']} did not open; the panel shows {shown}; {seen}")
            continue
        clicked.add(p["id"])
    print(f"map click → detail: max {max(seen):.2f} s, mean {sum(seen) / len(seen):.2f} s; zoomed in again {rezoomed}×")
    # The polls told the server the operator was aiming (so the map held still under the pointer), and a
    # pointer at rest lets the map run live again.
    assert any(aims), f"no poll said the pointer was aiming on the map: {len(aims)} polls"
    page.wait_for_timeout(2500)
    del aims[:]
    page.wait_for_timeout(2000)
    assert aims and not any(aims), aims


def test_a_cancel_reason_typed_during_live_updates_survives_and_cancels(page, server) -> None:
    _, db = server
    # An item of the test's own (the simulator acts only on what it reported), found by its number.
    store = Store(f"sqlite:///{db}", MemoryBus())
    try:
        index = load_grid_index(store)
        p = index.polygons[0].representative_point()
        (item_id,) = report(
            store, index, SYSTEM, [NewIncident("ticket", "占道经营", "占道经营", p.x, p.y)], DEFAULT_SLA_MINUTES
        )
    finally:
        store.dispose()
    page.fill("#command-queue-search", str(item_id))
    row = page.locator(f"#command-queue .ag-row[row-id='{item_id}'] .ag-cell[col-id=title]")
    row.wait_for(timeout=20_000)
    row.click()
    opened_within(page, item_id)
    field = page.locator("#command-cancel-reason")
    field.click()
    reason = "现场核实为误报，报警人已电话确认无火情，取消本次派发处置"[:40].ljust(40, "。")
    feed_before = page.evaluate("() => document.querySelector('#command-feed').textContent")
    page.keyboard.type(reason, delay=120)  # ~5 s of typing while the city changes under it
    assert page.evaluate("() => document.querySelector('#command-feed').textContent") != feed_before
    assert field.input_value() == reason
    assert page.evaluate("() => document.activeElement && document.activeElement.id") == "command-cancel-reason"
    page.click("#command-cancel")
    page.wait_for_function(
        "(id) => document.querySelector('#command-message').textContent.includes('#' + id)", arg=item_id
    )
    store = Store(f"sqlite:///{db}", MemoryBus())
    try:
        with store.read() as s:
            assert s.scalar(select(Incident.status).where(Incident.id == item_id)) == "cancelled"
    finally:
        store.dispose()
    page.wait_for_function("() => document.querySelector('#detail-status').textContent === '已取消'", timeout=5_000)


def test_drawing_the_panel_sends_no_request_and_each_press_sends_one(page, server) -> None:
    """The panel's buttons and priority field are drawn by the server: that fires none of the assign, case-move
    or priority callbacks (Dash fires pattern callbacks as their buttons appear); a press or a choice does,
    once."""
    _, db = server
    store = Store(f"sqlite:///{db}", MemoryBus())
    try:
        index = load_grid_index(store)
        p = index.polygons[0].representative_point()
        (item_id,) = report(store, index, SYSTEM, [NewIncident("fire", "火情", "火情", p.x, p.y)], DEFAULT_SLA_MINUTES)
    finally:
        store.dispose()
    sent: list[str] = []

    def note(request) -> None:
        if "/_dash-update-component" in request.url and request.method == "POST":
            body = request.post_data or ""
            if "command-message" in body:  # the callbacks that act answer into the message line
                sent.append(body)

    page.on("request", note)
    page.fill("#command-queue-search", str(item_id))
    row = page.locator(f"#command-queue .ag-row[row-id='{item_id}'] .ag-cell[col-id=title]")
    row.wait_for(timeout=20_000)
    row.click()
    opened_within(page, item_id)
    page.wait_for_selector("#command-detail .assign-button", timeout=20_000)
    page.wait_for_timeout(3000)  # several polls redraw nothing of the panel; none of them may act
    assert sent == [], sent

    page.locator("#command-priority").click()
    page.get_by_role("option", name="紧急").click()
    page.wait_for_function(
        "(id) => document.querySelector('#command-message').textContent.includes('#' + id + ' 优先级')", arg=item_id
    )
    assert len(sent) == 1 and "command-priority-chosen" in sent[0], sent

    page.locator("#command-detail .assign-button").first.click()
    page.wait_for_function(
        "(id) => document.querySelector('#command-message').textContent.includes('#' + id + ' 已派发')", arg=item_id
    )
    assert len(sent) == 2 and "command-assign-pressed" in sent[1], sent
    page.wait_for_timeout(2000)  # the panel redraws with the assignee: still no request of its own
    assert len(sent) == 2, sent
    store = Store(f"sqlite:///{db}", MemoryBus())
    try:
        with store.read() as s:
            row = s.execute(select(Incident.status, Incident.priority).where(Incident.id == item_id)).one()
        assert (row.status, row.priority) == ("assigned", 1)
    finally:
        store.dispose()
