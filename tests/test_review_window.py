"""The review history held per process is a window of days: older periods are read from the store on
demand and answered exactly as the window answers; what falls out of the window leaves memory."""

from __future__ import annotations

import csv
import io
import time
from dataclasses import replace
from datetime import datetime, timedelta

import pandas as pd
import pytest
import shapely
from sqlalchemy import insert, select, update

from data import review
from data.history import History, grid_table, worker_table
from data.models import Grid, Incident
from data.review import Filters

NOW = datetime(2026, 11, 23, 4, 0, 0)  # 12:00 in Guiyang
DAY = timedelta(days=1)


def item(grid: dict, created: datetime, **row) -> dict:
    """One item's row; ``done`` minutes after creation it is closed (None: still open)."""
    done = row.pop("done", 45)
    finished = created + timedelta(minutes=done) if done is not None else None
    return {
        "kind": "ticket",
        "category": "噪音扰民",
        "priority": 3,
        "status": "closed" if finished is not None else "new",
        "title": "t",
        "lon": grid["lon"],
        "lat": grid["lat"],
        "grid_id": grid["id"],
        "created_at": created,
        "updated_at": finished or created,
        "due_at": created + timedelta(minutes=60),
        "resolved_at": finished,
        "closed_at": finished,
        **row,
    }


def put(store, rows: list[dict]) -> list[int]:
    with store.transaction() as s:
        return list(s.execute(insert(Incident).returning(Incident.id), rows).scalars())


@pytest.fixture
def city(store):
    """Six square grids in two districts (what the figures need of a city; no demo seeding: fast)."""
    rows = []
    for i in range(6):
        lon, lat = 106.70 + 0.01 * i, 26.58 + 0.005 * (i % 2)
        square = shapely.box(lon - 0.004, lat - 0.004, lon + 0.004, lat + 0.004)
        rows.append(
            {
                "id": i + 1,
                "code": f"G{i}",
                "name": f"网格{i}",
                "district": ("云岩区", "南明区")[i % 2],
                "community": "c",
                "population": 1000 * (i + 1),
                "area_m2": 640_000.0,
                "center_lon": lon,
                "center_lat": lat,
                "geom": shapely.MultiPolygon([square]),
            }
        )
    with store.transaction() as s:
        s.execute(insert(Grid), rows)
    return store


def grids_of(store) -> list[dict]:
    with store.read() as s:
        rows = s.execute(select(Grid.id, Grid.center_lon, Grid.center_lat).order_by(Grid.id).limit(6)).all()
    return [{"id": r[0], "lon": r[1], "lat": r[2]} for r in rows]


def days_of_items(store, first: datetime, days: int, per_day: int = 2) -> list[int]:
    """``per_day`` closed items on each of ``days`` days from ``first``, spread over grids, kinds, hours."""
    g = grids_of(store)
    rows = [
        item(
            g[(d + k) % len(g)],
            first + d * DAY + timedelta(hours=(5 * d + 7 * k) % 24),
            kind=("ticket", "fire")[(d + k) % 2],
            done=10 + (d * 7 + k * 13) % 120,
        )
        for d in range(days)
        for k in range(per_day)
    ]
    return put(store, rows)


def figures(frame: pd.DataFrame, store, f: Filters) -> dict:
    """Every figure the review page draws for ``f`` (what must not depend on where the rows came from)."""
    grids, workers = grid_table(store), worker_table(store)
    items = review.select_items(frame, grids, f)
    return {
        "ids": sorted(items["id"].tolist()),
        "grids": review.grid_metrics(items, grids, NOW),
        "workers": review.worker_metrics(items, workers, grids, NOW),
        "hours": review.volume_by_hour(items),
        "days": review.volume_by_day(items, f.start, f.end),
        "backlog": review.backlog(frame, grids, f, points=40),
        "hexagons": review.hexagons(items, 7)[:2],
        "response": float(review.response_minutes(items).median()),
    }


def assert_same(a: dict, b: dict) -> None:
    assert a["ids"] == b["ids"] and len(a["ids"]) > 0
    for key in ("grids", "workers", "hours", "days", "backlog"):
        pd.testing.assert_frame_equal(a[key], b[key], check_dtype=True)
    assert a["hexagons"][0] == b["hexagons"][0] and a["hexagons"][1].tolist() == b["hexagons"][1].tolist()
    assert a["response"] == b["response"]


@pytest.fixture
def years(city):
    """Two years of closed items before NOW, one item from 600 days ago still open, one from 500 days
    ago closed 200 days later (inside the window): what a backlog inside the window must still count."""
    days_of_items(city, NOW - 730 * DAY, 730)
    g = grids_of(city)[0]
    old_open = put(city, [item(g, NOW - 600 * DAY, done=None, kind="fire")])[0]
    late = put(city, [item(g, NOW - 500 * DAY, done=200 * 24 * 60)])[0]
    return city, old_open, late


def test_window_and_archive_give_the_same_figures(years):
    store, old_open, late = years
    window = History(store, max_age_s=0, window_days=400, clock=lambda: NOW)
    frame = window.frame()
    created = frame["created_at"]
    # Only the window is in memory, plus the old items still open at its start.
    assert created.min() >= NOW - 600 * DAY and old_open in frame.index and late in frame.index
    old = frame[created < NOW - 400 * DAY]
    assert set(old.index) == {old_open, late}
    assert len(frame) < 0.6 * 730 * 2

    # A period inside the window: from memory here, from the store through a short-window process.
    inside = Filters(NOW - 90 * DAY, NOW - 20 * DAY)
    short = History(store, max_age_s=0, window_days=10, clock=lambda: NOW)
    assert not window.archived(inside.start) and short.archived(inside.start)
    served = window.covering(inside.start, inside.end)  # the window itself (caught up: maybe a new object)
    assert served.index.equals(frame.index) and window.held_archive() is None and window.archive_reads == 0
    archived = short.covering(inside.start, inside.end)
    assert short.held_archive().index.equals(archived.index) and len(archived) < len(frame)
    assert_same(figures(frame, store, inside), figures(archived, store, inside))
    backlog = review.backlog(archived, grid_table(store), inside, points=40)
    assert backlog["fire"].min() >= 1  # the 600-day-old fire is open all along

    # A period before the window: read from the store, the same as a process holding everything.
    before = Filters(NOW - 700 * DAY, NOW - 450 * DAY, kinds=["ticket"])
    everything = History(store, max_age_s=0, window_days=36500, clock=lambda: NOW)
    assert window.archived(before.start) and not everything.archived(before.start)
    old_period = window.covering(before.start, before.end)
    assert window.archive_reads == 1 and old_period["created_at"].max() < before.end
    assert_same(figures(everything.frame(), store, before), figures(old_period, store, before))
    # Asked again, the same archive answers (no second read); another period replaces it (one per process).
    assert window.covering(before.start, before.end).index.equals(old_period.index) and window.archive_reads == 1
    other = Filters(NOW - 720 * DAY, NOW - 710 * DAY)  # not inside the one held: read anew
    window.covering(other.start, other.end)
    assert window.archive_reads == 2 and window.held_archive()["created_at"].max() < other.end
    # A range that reaches into the window ("365d" with a shorter window): read once, and the same range
    # a moment later (both ends moved) is answered by the archive held, caught up.
    year = Filters(NOW - 365 * DAY, NOW)
    assert_same(figures(short.covering(year.start, year.end), store, year), figures(frame, store, year))
    later = Filters(year.start + timedelta(minutes=5), year.end + timedelta(minutes=5))
    reads = short.archive_reads
    assert_same(figures(short.covering(later.start, later.end), store, later), figures(frame, store, later))
    assert short.archive_reads == reads


def test_refresh_drops_what_falls_out_of_the_window_and_an_idle_archive(city):
    clock = [NOW]
    g = grids_of(city)[0]
    recent, fresh = put(city, [item(g, NOW - 10 * DAY), item(g, NOW - DAY)])
    history = History(city, max_age_s=0, window_days=30, clock=lambda: clock[0])
    assert recent in history.frame().index
    clock[0] = NOW + 25 * DAY  # recent is now 35 days old: past its created_at + window
    put(city, [item(g, clock[0] - DAY)])  # any change, so the refresh has rows to read
    frame = history.frame()
    assert recent not in frame.index and fresh in frame.index
    # An item created before the window that changes later does not come back into memory.
    with city.transaction() as s:
        s.execute(update(Incident).where(Incident.id == recent).values(status="cancelled", updated_at=clock[0]))
    assert recent not in history.frame().index
    # With no change at all, the moving clock alone drops rows at the next refresh.
    clock[0] = NOW + 40 * DAY
    assert fresh not in history.frame().index

    # An archived period nobody asks for again is dropped after its idle time.
    history.ARCHIVE_IDLE_S = 1.0
    assert len(history.covering(NOW - 12 * DAY, NOW)) == 2 and history.held_archive() is not None
    deadline = time.monotonic() + 30
    while history.held_archive() is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert history.held_archive() is None


def test_memory_does_not_grow_with_years_of_history(city):
    days_of_items(city, NOW - 365 * DAY, 365)
    one_year = len(History(city, window_days=365, clock=lambda: NOW).frame())
    days_of_items(city, NOW - 5 * 365 * DAY, 4 * 365, per_day=1)  # four more years before it
    with city.read() as s:
        stored = len(s.scalars(select(Incident.id)).all())
    five_years = len(History(city, window_days=365, clock=lambda: NOW).frame())
    assert five_years == one_year and stored == one_year + 4 * 365


def summary_for(app, client, start: datetime, end: datetime) -> str:
    """The review page's summary line for the period, through the Dash endpoint as the browser asks."""
    key, spec = next((k, s) for k, s in app.callback_map.items() if "review-summary.children" in k)
    data = {"start": start.isoformat(), "end": end.isoformat(), "kinds": [], "categories": []}
    data |= {"districts": [], "statuses": []}
    outputs = [dict(zip(("id", "property"), o.rsplit(".", 1), strict=True)) for o in key.strip(".").split("...")]
    payload = {
        "output": key,
        "outputs": outputs,
        "inputs": [{**i, "value": data} for i in spec["inputs"]],
        "state": [],
        "changedPropIds": ["review-filters.data"],
    }
    r = client.post("/_dash-update-component", json=payload)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()["response"]["review-summary"]["children"]


def test_the_page_says_an_archived_period_is_read_from_the_store_and_exports_it(tmp_path):
    from app import create_app, runtime_of
    from config import Config
    from layouts.i18n import Text

    config = Config(database_url=f"sqlite:///{tmp_path / 'w.db'}", grid_count=30, parking_spaces=30, history_days=3)
    app = create_app(replace(config, review_window_days=1))
    rt = runtime_of(app)
    client = app.server.test_client()
    client.post("/login", data={"username": "supervisor", "password": "onemap-demo"})
    now = datetime.utcnow()
    note = Text(config.lang)("review.archived")
    recent = summary_for(app, client, now - timedelta(hours=12), now)
    old_start, old_end = now - timedelta(days=3), now - timedelta(days=2)
    old = summary_for(app, client, old_start, old_end)
    assert note not in recent and note in old
    with rt.store.read() as s:
        stored = s.scalars(
            select(Incident.id).where(Incident.created_at >= old_start, Incident.created_at < old_end)
        ).all()
    assert int(old.split()[1] if old.split()[0] == "共" else old.split()[0]) == len(stored) > 0
    frame, cutoff = rt.history.frame(), rt.history.cutoff
    with rt.store.read() as s:
        gone = s.scalars(select(Incident.id).where(Incident.created_at < cutoff, Incident.closed_at < cutoff)).all()
    assert cutoff > now - timedelta(days=1, minutes=5) and gone and not frame.index.isin(gone).any()
    query = f"/review/export.csv?start={old_start.isoformat()}&end={old_end.isoformat()}"
    rows = csv.DictReader(io.StringIO(client.get(query).get_data(as_text=True).lstrip("\ufeff")))
    assert sorted(int(r["id"]) for r in rows) == sorted(stored)
