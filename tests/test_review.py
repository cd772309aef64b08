"""Review queries on both store backends with known items and a fixed clock; exports over HTTP."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import insert, select, update

from api.review_export import export_frame, neutralise_formulas
from app import create_app, runtime_of
from config import Config
from data import review
from data.history import History, grid_table, worker_table
from data.models import Grid, Incident, ParkingEvent, ParkingSegment, ParkingSpace, Worker
from data.review import Filters
from layouts.i18n import Text
from layouts.review import day_chart, sheet_header

NOW = datetime(2026, 11, 23, 4, 0, 0)  # 12:00 in Guiyang


def put(store, **row):
    """Store one item with explicit times (minutes relative to NOW)."""
    grid = row.pop("grid")
    with store.read() as s:
        g = s.get(Grid, grid)
    created = NOW + timedelta(minutes=row.pop("at"))
    resolved = row.pop("resolved", None)
    values = {
        "kind": "ticket",
        "category": "噪音扰民",
        "priority": 3,
        "status": "closed" if resolved is not None else "new",
        "title": "t",
        "lon": g.center_lon,
        "lat": g.center_lat,
        "grid_id": grid,
        "created_at": created,
        "updated_at": created,
        "due_at": created + timedelta(minutes=row.pop("due", 60)),
        "resolved_at": created + timedelta(minutes=resolved) if resolved is not None else None,
        **row,
    }
    with store.transaction() as s:
        return s.execute(insert(Incident).values(**values).returning(Incident.id)).scalar_one()


@pytest.fixture
def known(city):
    """Grid 1: three tickets (10, 30, 90 min to resolve; due 60), grid 2: one fire still open and late."""
    with city.read() as s:
        w1 = s.scalar(select(Worker.id).where(Worker.grid_id == 1).order_by(Worker.id))
    put(city, grid=1, at=-300, resolved=10, assigned_worker_id=w1)
    put(city, grid=1, at=-200, resolved=30, assigned_worker_id=w1)
    put(city, grid=1, at=-100, resolved=90, assigned_worker_id=w1, category="环境卫生")
    put(city, grid=2, at=-50, kind="fire", category="住宅火灾", due=15)
    put(city, grid=3, at=-60 * 30)  # 30 hours ago: outside "today" and the 24 h window
    with city.transaction() as s:
        s.execute(update(Grid).where(Grid.id == 1).values(population=2000))
    return city


def test_filters_and_grid_and_worker_metrics(known):
    frame = History(known).frame()
    grids = grid_table(known)
    day = Filters(NOW - timedelta(hours=24), NOW)
    items = review.select_items(frame, grids, day)
    assert len(items) == 4
    assert len(review.select_items(frame, grids, Filters(day.start, day.end, kinds=["fire"]))) == 1
    assert len(review.select_items(frame, grids, Filters(day.start, day.end, categories=["环境卫生"]))) == 1
    assert len(review.select_items(frame, grids, Filters(day.start, day.end, statuses=["new"]))) == 1
    district = grids.loc[1, "district"]
    in_district = review.select_items(frame, grids, Filters(day.start, day.end, districts=[district]))
    assert set(in_district["grid_id"]) <= set(grids.index[grids["district"] == district])

    table = review.grid_metrics(items, grids, NOW)
    g1, g2 = table.loc[1], table.loc[2]
    assert (g1["items"], g1["open"], g1["median_response"]) == (3, 0, 30.0)
    assert g1["overdue_rate"] == pytest.approx(1 / 3)  # 90 min against a 60 min due time
    assert g1["per_1000"] == pytest.approx(1.5)  # 3 items, 2,000 residents
    assert (g2["items"], g2["open"], g2["overdue_rate"]) == (1, 1, 1.0)  # open and past due
    assert np.isnan(g2["median_response"])

    people = review.worker_metrics(items, worker_table(known), grids, NOW)
    (row,) = people.itertuples()
    assert (row.items, row.median_response, row.grid_id) == (3, 30.0, 1)
    z = review.metric_by_grid(table, np.array([1, 2, 5]), "count")
    assert z.tolist() == [3.0, 1.0, 0.0]


def test_time_series_hexagons_density_and_playback(known):
    frame = History(known).frame()
    grids = grid_table(known)
    f = Filters(NOW - timedelta(hours=24), NOW)
    items = review.select_items(frame, grids, f)
    hours = review.volume_by_hour(items)
    # 12:00 local minus 300/200/100/50 minutes: 07:00, 08:40, 10:20, 11:10 local.
    assert hours.sum(axis=1)[[7, 8, 10, 11]].tolist() == [1, 1, 1, 1] and hours.to_numpy().sum() == 4
    assert review.volume_by_day(items).to_numpy().sum() == 4
    # Over a period, every local day it touches has its own row (and bar), days without items too.
    week = review.volume_by_day(items, NOW - timedelta(days=3), NOW)
    assert [f"{d:%m-%d}" for d in week.index] == ["11-20", "11-21", "11-22", "11-23"]
    assert week.sum(axis=1).tolist() == [0, 0, 0, 4]
    chart = day_chart(Text("en"), week)
    assert chart["layout"]["xaxis"]["type"] == "date"
    assert list(chart["data"][0]["x"]) == ["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"]
    backlog = review.backlog(frame, grids, f, points=25)
    # At NOW: the fire is open, and so is the 30-hour-old ticket created before the period.
    assert backlog.iloc[-1].to_dict() == {"fire": 1, "ticket": 1}
    names, counts, geojson = review.hexagons(items, 8)
    assert counts.sum() == 4 and len(geojson["features"]) == len(names)
    assert review.hexagons(items, 7)[1].sum() == 4
    assert review.density_points(items)[2].sum() == 4
    edges = review.frame_edges(f.start, f.end)
    assert len(edges) == 25 and edges[0] == f.start and edges[-1] == f.end
    assert sum(len(review.frame_items(items, edges, k)) for k in range(len(edges) - 1)) == 4
    assert review.period("today", NOW) == (datetime(2026, 11, 22, 16, 0), NOW)


def test_history_frame_follows_changes(known):
    history = History(known, max_age_s=0)
    before = history.frame()
    fire = int(before[before["kind"] == "fire"]["id"].iloc[0])
    with known.transaction() as s:
        later = NOW + timedelta(seconds=30)  # every change moves updated_at past what the frame saw
        s.execute(
            update(Incident).where(Incident.id == fire).values(status="resolved", resolved_at=NOW, updated_at=later)
        )
    new = put(known, grid=4, at=-5)
    with known.transaction() as s:
        s.execute(update(Incident).where(Incident.id == new).values(updated_at=later))
    after = history.frame()
    assert after.loc[fire, "status"] == "resolved" and new in after.index
    assert len(after) == len(before) + 1 and after.index.is_unique


def test_parking_statistics_from_sensor_sessions(city):
    with city.read() as s:
        seg = s.scalar(select(ParkingSegment.id).order_by(ParkingSegment.id))
        spaces = s.scalars(select(ParkingSpace.id).where(ParkingSpace.segment_id == seg)).all()
    start, end = NOW - timedelta(hours=4), NOW
    sessions = [  # (space, from, to) in minutes after start; one session began before the period
        (spaces[0], 60, 120),
        (spaces[1], -30, 30),
        (spaces[2], 180, None),
    ]
    rows = []
    for k, (space, a, b) in enumerate(sessions):
        for j, (kind, minute) in enumerate((("park_start", a), ("park_end", b))):
            if minute is None:
                continue
            at = start + timedelta(minutes=minute)
            rows.append(
                {
                    "event_id": f"e{k}{j}",
                    "space_id": space,
                    "event_type": kind,
                    "event_time": at,
                    "sequence_number": k * 10 + j,
                    "device_id": "d",
                    "received_at": at,
                }
            )
    with city.transaction() as s:
        s.execute(insert(ParkingEvent), rows)
    table, by_hour = review.parking_stats(city, start, end)
    row = table.loc[seg]
    n = len(spaces)
    occupied_minutes = 60 + 30 + 60
    assert row["occupancy_pct"] == pytest.approx(100 * occupied_minutes / (n * 240))
    assert row["avg_dwell_min"] == pytest.approx(60.0)  # the two sessions that began inside
    assert row["turnover"] == pytest.approx(2 / n / (4 / 24))
    # 08:00-09:00 local holds the first half hour of the pre-period session only.
    assert by_hour.loc[row["segment"], 8] == pytest.approx(100 * 30 / (n * 60))


def test_export_has_names_integer_ids_city_times_and_no_formulas(known):
    with known.read() as s:
        w1 = s.scalar(select(Worker.id).where(Worker.grid_id == 1).order_by(Worker.id))
    hostile = put(known, grid=1, at=-30, category='=HYPERLINK("http://evil")', assigned_worker_id=w1)
    put(known, grid=2, at=-20, category="+1+2")
    put(known, grid=2, at=-10, category="-3")
    put(known, grid=2, at=-5, category="\tcmd")
    with known.transaction() as s:
        s.execute(update(Grid).where(Grid.id == 1).values(name="@SUM(A1)"))
        s.execute(update(Worker).where(Worker.id == w1).values(name="=王伟"))
    grids, workers = grid_table(known), worker_table(known)
    items = review.select_items(History(known).frame(), grids, Filters(NOW - timedelta(hours=24), NOW))
    table = export_frame(items, grids, workers, NOW, Text("zh-CN"))
    rows = list(csv.DictReader(io.StringIO(neutralise_formulas(table).to_csv(index=False))))
    by_id = {int(r["id"]): r for r in rows}
    assert len(rows) == 8 and all(r["id"].isdigit() for r in rows)
    row = by_id[hostile]
    assert row["category"] == '\'=HYPERLINK("http://evil")'
    assert (row["grid"], row["worker"], row["worker_id"], row["grid_id"]) == ("'@SUM(A1)", "'=王伟", str(w1), "1")
    assert (row["kind"], row["status"]) == ("工单", "待派发")  # the UI language, not codes
    assert row["created_at"] == "2026-11-23T11:30:00+0800"  # the city's clock (NOW is 12:00 there)
    assert {r["category"] for r in rows} >= {"'+1+2", "'-3", "'\tcmd"}
    fire = next(r for r in rows if r["kind"] == "火情")
    assert fire["worker_id"] == "" and fire["worker"] == "" and fire["status"] == "待派发"
    closed = [r for r in rows if r["resolved_at"]]
    assert len(closed) == 3 and all(r["worker_id"] == str(w1) for r in closed)  # no "491.0"
    assert Text("en")("kind.ticket") in set(export_frame(items, grids, workers, NOW, Text("en"))["kind"])


def test_png_sheet_header_prints_the_period_and_filters():
    f = Filters(datetime(2026, 11, 16, 4), NOW, kinds=["fire"], districts=["云岩区"], statuses=["closed"])
    head = sheet_header(Text("en"), f, "grid", "overdue_rate")
    assert head["lines"][0].startswith("Period: 2026-11-16 12:00 – 2026-11-23 12:00")
    assert "Kind: Fire" in head["lines"][1] and "District: 云岩区" in head["lines"][1]
    assert "Status: Closed" in head["lines"][1] and "Category: all" in head["lines"][1]
    assert head["lines"][2] == "Map: Grids · Overdue rate (%)"
    assert head["filename"] == "onemap-review-20261116-20261123.png"
    assert [g["id"] for g in head["graphs"]][0] == "review-map" and len(head["graphs"]) == 6


@pytest.fixture
def logged_in(tmp_path):
    config = Config(database_url=f"sqlite:///{tmp_path / 'r.db'}", grid_count=60, parking_spaces=60, history_days=3)
    app = create_app(config)
    client = app.server.test_client()
    return app, client


def test_exports_follow_the_filters_and_need_a_login(logged_in):
    app, client = logged_in
    rt = runtime_of(app)
    with rt.store.read() as s:
        total = s.scalar(select(Incident.id).order_by(Incident.id.desc()).limit(1))
    assert total, "the demo history seeds items"
    hour_ago = datetime.utcnow() - timedelta(hours=1)
    with rt.store.transaction() as s:  # a reported category that a spreadsheet would run
        row = dict(kind="fire", category="=1+2", priority=1, status="new", title="t", lon=106.7, lat=26.6)
        s.execute(insert(Incident).values(**row, created_at=hour_ago, updated_at=hour_ago, due_at=hour_ago))
    start, end = (datetime.utcnow() - timedelta(days=3)).isoformat(), datetime.utcnow().isoformat()
    query = f"/review/export.csv?start={start}&end={end}&kinds=fire"
    assert client.get(query).status_code in (302, 401)  # nobody logged in
    client.post("/login", data={"username": "supervisor", "password": "onemap-demo"})
    response = client.get(query)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    frame = rt.history.frame()
    expected = frame[
        (frame["kind"] == "fire")
        & (frame["created_at"] >= datetime.fromisoformat(start))
        & (frame["created_at"] < datetime.fromisoformat(end))
    ]
    assert len(rows) == len(expected) > 0
    assert {r["kind"] for r in rows} == {"火情"} and rows[0]["created_at"].endswith("+0800")
    assert all(r["id"].isdigit() and (r["worker_id"] == "" or r["worker_id"].isdigit()) for r in rows)
    assert "'=1+2" in {r["category"] for r in rows}
    geo = json.loads(client.get(query.replace(".csv", ".geojson")).get_data(as_text=True))
    assert len(geo["features"]) == len(rows)
    assert geo["features"][0]["geometry"]["type"] == "Point"
    bad = client.get("/review/export.csv?start=yesterday&end=now")
    assert bad.status_code == 422 and bad.json["field"] == "start"
    assert client.get(f"/review/export.csv?start={end}&end={start}").status_code == 422
