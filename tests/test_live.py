"""The in-memory live items, workers and parking spaces give the same answers as the SQL queries,
on both backends, as rows come, change and go (whatever clock a writer has); and the periodic full
re-read runs on time and heals what memory lost."""

from __future__ import annotations

import time
from datetime import timedelta

import numpy as np
from sqlalchemy import insert, select, update

from data import queries
from data.live import Live, LiveItems
from data.models import Grid, Incident, ParkingSpace, Worker, utcnow
from ops import field
from ops.accounts import Actor

OPERATOR = Actor(None, "test-operator", "operator")

KINDS = ("fire", "police", "ticket", "alarm", "visit")
STATUSES = ("new", "assigned", "accepted", "on_site", "declined", "reopened", "resolved", "closed", "cancelled")


def add_items(store, n: int, rng: np.random.Generator) -> None:
    with store.read() as s:
        grids = s.execute(select(Grid.id, Grid.center_lon, Grid.center_lat)).all()
    now = utcnow()
    rows = []
    for _ in range(n):
        g = grids[int(rng.integers(len(grids)))]
        created = now - timedelta(minutes=float(rng.uniform(0, 600)))
        rows.append(
            {
                "kind": str(rng.choice(KINDS)),
                "category": "c",
                "priority": int(rng.integers(1, 4)),
                "status": str(rng.choice(STATUSES)),
                "title": f"item {len(rows)}",
                "lon": g.center_lon + float(rng.normal(0, 0.01)),
                "lat": g.center_lat + float(rng.normal(0, 0.01)),
                "grid_id": None if rng.uniform() < 0.05 else g.id,
                "created_at": created,
                "updated_at": now,
                "due_at": created + timedelta(minutes=float(rng.uniform(0, 900))),
                "report_count": int(rng.choice([1, 1, 1, 3])),
            }
        )
    with store.transaction() as s:
        s.execute(insert(Incident), rows)


def same_answers(store, bundle: Live, grid_ids: np.ndarray, names: dict[int, str]) -> None:
    now = utcnow()
    bundle.refresh()
    live = bundle.items
    assert live.load_by_grid(grid_ids).tolist() == queries.open_load_by_grid(store)[1].tolist()
    assert bundle.kpis(now) == queries.kpis(store, now)
    assert bundle.parking.counts() == queries.parking_occupancy(store)
    held, sql = bundle.workers.positions(), queries.worker_positions(store)
    assert {k: v.tolist() for k, v in held.items()} == {k: v.tolist() for k, v in sql.items()}
    for kwargs in ({"per_kind": 7}, {"bbox": (106.6, 26.5, 106.8, 26.7)}, {"limit": 40}):
        a, b = live.items(now, **kwargs), queries.open_items(store, now, **kwargs)
        for name in ("id", "kind", "lon", "lat", "priority", "status", "title", "overdue"):
            assert getattr(a, name).tolist() == getattr(b, name).tolist(), (kwargs, name)
    for limit in (20, 60, 1000):  # 20: the partial-selection path (many more open items than shown)
        assert live.queue(names, limit=limit, now=now) == queries.queue_items(store, limit=limit, now=now)


def test_live_items_match_the_queries_as_items_change(city):
    rng = np.random.default_rng(5)
    with city.read() as s:
        grids = s.execute(select(Grid.id, Grid.name).order_by(Grid.id)).all()
    grid_ids = np.array([g.id for g in grids])
    names = {g.id: g.name for g in grids}
    add_items(city, 400, rng)
    live = Live.of(city)
    same_answers(city, live, grid_ids, names)
    # Items change (each change sets updated_at, as every path in ops/ does), new ones come.
    later = utcnow() + timedelta(seconds=1)
    with city.transaction() as s:
        ids = s.scalars(select(Incident.id).where(Incident.status == "new").limit(40)).all()
        s.execute(update(Incident).where(Incident.id.in_(ids[:20])).values(status="assigned", updated_at=later))
        s.execute(update(Incident).where(Incident.id.in_(ids[20:])).values(status="closed", updated_at=later))
        closed = s.scalars(select(Incident.id).where(Incident.status == "closed").limit(10)).all()
        s.execute(update(Incident).where(Incident.id.in_(closed)).values(status="reopened", updated_at=later))
    add_items(city, 50, rng)
    same_answers(city, live, grid_ids, names)


def test_a_writer_with_a_clock_far_behind_is_still_seen_at_once(city):
    rng = np.random.default_rng(6)
    add_items(city, 50, rng)
    live = LiveItems(city)
    live.refresh()
    with city.transaction() as s:
        victim = s.scalar(select(Incident.id).where(Incident.status == "new").limit(1))
        # A writer whose clock is an hour behind: its updated_at is older than anything seen. What the
        # catch-up goes by is the database's change_seq, not a clock.
        old = utcnow() - timedelta(hours=1)
        s.execute(update(Incident).where(Incident.id == victim).values(status="closed", updated_at=old))
        s.execute(update(Incident).where(Incident.id != victim).values(updated_at=utcnow() + timedelta(seconds=2)))
    live.refresh()
    assert victim not in live.columns()["id"]


def test_the_full_re_read_runs_on_time_with_no_poll_and_heals_what_memory_lost(city):
    rng = np.random.default_rng(7)
    add_items(city, 50, rng)
    bundle = Live.of(city, resync_s=0.5)
    try:
        bundle.refresh()
        held = bundle.items.held()
        victim = int(held["id"][0])
        # Lose a row in memory (what a writer outside the database's stamping could cause): only the
        # background re-read can bring it back, since nothing changes in the store and nothing polls.
        keep = np.ones(len(held["id"]), dtype=bool)
        keep[0] = False
        bundle.items._state = {k: v[keep] for k, v in held.items()}
        generation = bundle.generation
        deadline = time.monotonic() + 30
        while victim not in bundle.items.held()["id"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert victim in bundle.items.held()["id"]
        assert bundle.generation > generation and bundle.resynced_within(30)
    finally:
        bundle.close()


def test_workers_and_parking_in_memory_follow_every_kind_of_change(city):
    with city.read() as s:
        grids = s.execute(select(Grid.id).order_by(Grid.id)).scalars().all()
        workers = s.execute(select(Worker.id, Worker.lon, Worker.lat).order_by(Worker.id)).all()
        spaces = s.scalars(select(ParkingSpace.id).order_by(ParkingSpace.id)).all()
    watched = [*spaces[:5], spaces[-1]]
    with city.transaction() as s:
        s.execute(update(ParkingSpace).where(ParkingSpace.id.in_(watched)).values(occupied=False, seq=0))
    grid_ids, names = np.array(grids), dict.fromkeys(grids, "")
    bundle = Live.of(city)
    same_answers(city, bundle, grid_ids, names)
    taken_before = sum(t for _, t in bundle.parking.counts().values())

    # Workers move (the field API), one goes off duty, one comes on, a new one is hired with no position.
    moved = [(w.id, (w.lon or 106.7) + 0.001, (w.lat or 26.6) - 0.001) for w in workers[:7]]
    field.move_workers(city, OPERATOR, moved)
    with city.transaction() as s:
        s.execute(update(Worker).where(Worker.id == workers[-1].id).values(on_duty=False))
        s.execute(update(Worker).where(Worker.id == workers[-2].id).values(on_duty=True, lon=106.71, lat=26.58))
        s.execute(insert(Worker).values(name="新网格员", phone="1", role="网格员", grid_id=grids[0], on_duty=True))
    # Spaces fill through the operator path, one with an event time an hour old: what a refresh goes by
    # is when the store changed, not when the car arrived.
    field.update_parking(city, OPERATOR, [field.SpaceChange(i, True, 10**9 + i) for i in spaces[:5]])
    field.update_parking(city, OPERATOR, [field.SpaceChange(spaces[-1], True, 10**10, utcnow() - timedelta(hours=1))])
    same_answers(city, bundle, grid_ids, names)
    assert sum(t for _, t in bundle.parking.counts().values()) == taken_before + 6
    held = bundle.workers.positions()
    at = dict(zip(held["id"].tolist(), zip(held["lon"].tolist(), held["lat"].tolist(), strict=True), strict=True))
    assert workers[-1].id not in at
    assert at[workers[-2].id] == (106.71, 26.58)
    assert all(at[w] == (x, y) for w, x, y in moved if w in at)
