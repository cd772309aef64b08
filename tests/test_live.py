"""The in-memory live items give the same answers as the SQL queries, on both backends, as items
come, change and go; and a change a refresh cannot see is healed by the periodic re-read."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from sqlalchemy import insert, select, update

from data import queries
from data.live import LiveItems
from data.models import Grid, Incident, utcnow

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


def same_answers(store, live: LiveItems, grid_ids: np.ndarray, names: dict[int, str]) -> None:
    now = utcnow()
    live.refresh()
    assert live.load_by_grid(grid_ids).tolist() == queries.open_load_by_grid(store)[1].tolist()
    sql = queries.kpis(store, now)
    assert queries.kpis(store, now, items=live.kpi_counts(now), parking=queries.parking_occupancy(store)) == sql
    for kwargs in ({"per_kind": 7}, {"bbox": (106.6, 26.5, 106.8, 26.7)}, {"limit": 40}):
        a, b = live.items(now, **kwargs), queries.open_items(store, now, **kwargs)
        for field in ("id", "kind", "lon", "lat", "priority", "status", "title", "overdue"):
            assert getattr(a, field).tolist() == getattr(b, field).tolist(), (kwargs, field)
    for limit in (20, 60, 1000):  # 20: the partial-selection path (many more open items than shown)
        assert live.queue(names, limit=limit, now=now) == queries.queue_items(store, limit=limit, now=now)


def test_live_items_match_the_queries_as_items_change(city):
    rng = np.random.default_rng(5)
    with city.read() as s:
        grids = s.execute(select(Grid.id, Grid.name).order_by(Grid.id)).all()
    grid_ids = np.array([g.id for g in grids])
    names = {g.id: g.name for g in grids}
    add_items(city, 400, rng)
    live = LiveItems(city)
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


def test_a_change_stamped_far_in_the_past_is_healed_by_the_re_read(city):
    rng = np.random.default_rng(6)
    add_items(city, 50, rng)
    live = LiveItems(city)
    live.refresh()
    with city.transaction() as s:
        victim = s.scalar(select(Incident.id).where(Incident.status == "new").limit(1))
        # A writer whose clock is an hour behind: its updated_at is older than anything seen.
        old = utcnow() - timedelta(hours=1)
        s.execute(update(Incident).where(Incident.id == victim).values(status="closed", updated_at=old))
        s.execute(update(Incident).where(Incident.id != victim).values(updated_at=utcnow() + timedelta(seconds=2)))
    live.refresh()
    assert victim in live.columns()["id"]  # missed: too old for the overlap
    live._resync()
    live.refresh()
    assert victim not in live.columns()["id"]
