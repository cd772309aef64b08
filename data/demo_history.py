"""Past days for the demo city, so the review page has a history to show from the first start:
finished items on the simulator's day curve (with realistic response times, some late, a few
cancelled, some hot spots) and kerbside parking sessions as sensor events."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import bindparam, insert, select, update

from config import Config
from data.demo_rates import CATEGORIES, HOURLY_SHAPE, PER_DAY
from data.models import Grid, Incident, ParkingEvent, ParkingSpace, Worker, utcnow
from data.queries import load_grid_index
from data.store import Store, record_event
from geo.crs import from_metres, to_metres
from geo.grid_index import OUTSIDE

# Median minutes from report to resolution, and the spread (lognormal sigma).
RESPONSE = {"fire": (14.0, 0.6), "police": (28.0, 0.7), "ticket": (360.0, 0.9), "alarm": (22.0, 0.6)}
PRIORITY = {"fire": 1, "police": 2, "ticket": 3, "alarm": 2}
PARKING_DAYS = 7
CHUNK = 20_000
UTC_OFFSET_H = 8  # the day curve is local (China) time
EPOCH = datetime(1970, 1, 1)
FULL_CITY_GRIDS = 2000  # the simulator's daily volumes are for a city of this many grids


def seed_history(store: Store, config: Config, days: int, now: datetime | None = None) -> dict[str, int]:
    """Insert ``days`` of finished items and (up to a week of) parking events; return the counts."""
    if days <= 0:
        return {"items": 0, "parking_events": 0}
    now = now or utcnow()
    rng = np.random.default_rng(config.seed + 1)
    index = load_grid_index(store)
    with store.read() as s:
        grids = s.execute(select(Grid.id, Grid.center_lon, Grid.center_lat, Grid.area_m2, Grid.population)).all()
        workers = s.execute(select(Worker.id, Worker.grid_id)).all()
    by_grid: dict[int, list[int]] = {}
    for w in workers:
        by_grid.setdefault(w.grid_id, []).append(w.id)
    gid = np.array([g.id for g in grids])
    weight = np.array([g.population or 1000 for g in grids], dtype=float)
    hot = rng.choice(len(grids), size=max(1, len(grids) // 25), replace=False)
    weight[hot] *= 4  # a few busy grids, as every city has
    weight /= weight.sum()
    centre = {g.id: (g.center_lon, g.center_lat, max(g.area_m2, 1.0) ** 0.5) for g in grids}

    hours = days * 24
    start = now - timedelta(hours=hours)
    local_hour = (np.arange(hours) + start.hour + UTC_OFFSET_H) % 24
    hour_weight = HOURLY_SHAPE[local_hour] / HOURLY_SHAPE[local_hour].sum()
    rows: list[dict[str, object]] = []
    for kind, per_day in PER_DAY.items():
        n = int(per_day * days * min(1.0, len(grids) / FULL_CITY_GRIDS))
        slot = rng.choice(hours, size=n, p=hour_weight)
        created_s = slot * 3600 + rng.uniform(0, 3600, n)
        picks = rng.choice(len(grids), size=n, p=weight)
        cx = np.array([centre[gid[i]][0] for i in picks])
        cy = np.array([centre[gid[i]][1] for i in picks])
        spread = np.array([centre[gid[i]][2] for i in picks]) / 3
        mx, my = to_metres(cx, cy)
        lon, lat = from_metres(mx + rng.normal(0, 1, n) * spread, my + rng.normal(0, 1, n) * spread)
        located = index.locate(lon, lat)
        cats = CATEGORIES[kind]
        cat_weight = rng.dirichlet(np.ones(len(cats)) * 2)
        category = rng.choice(len(cats), size=n, p=cat_weight)
        median, sigma = RESPONSE[kind]
        response = rng.lognormal(np.log(median), sigma, n)
        cancelled = rng.uniform(size=n) < 0.03
        priority = PRIORITY[kind]
        sla = config.sla_minutes[kind][priority]
        for k in range(n):
            if located[k] == OUTSIDE:
                continue
            at = start + timedelta(seconds=float(created_s[k]))
            done = at + timedelta(minutes=float(response[k]))
            if done >= now:
                continue  # still open in reality: the live simulator owns the present
            grid = int(located[k])
            team = by_grid.get(grid) or [None]
            worker = team[int(rng.integers(len(team)))]
            row = {
                "kind": kind,
                "category": cats[category[k]],
                "priority": priority,
                "title": cats[category[k]],
                "description": "",
                "lon": float(lon[k]),
                "lat": float(lat[k]),
                "grid_id": grid,
                "source": "history",
                "created_at": at,
                "due_at": at + timedelta(minutes=sla),
                "assigned_worker_id": worker,
                "report_count": 1,
            }
            if cancelled[k]:
                row.update(
                    status="cancelled",
                    stage="voided",
                    updated_at=at + timedelta(minutes=5),
                    resolved_at=None,
                    closed_at=None,
                )
            else:
                closed = done + timedelta(minutes=30)
                status = "closed" if closed < now else "resolved"
                # Finished cases: out of the case loop's stages too (a past case waits for nobody).
                row.update(status=status, stage="closed", updated_at=min(closed, now), resolved_at=done)
                row["closed_at"] = closed if status == "closed" else None
            rows.append(row)
    rows.sort(key=lambda r: r["created_at"])  # type: ignore[arg-type, return-value]
    parking = _parking_events(store, rng, min(days, PARKING_DAYS), now)
    with store.transaction() as s:
        for i in range(0, len(rows), CHUNK):
            s.execute(insert(Incident), rows[i : i + CHUNK])
        events, last = parking
        for i in range(0, len(events), CHUNK):
            s.execute(insert(ParkingEvent), events[i : i + CHUNK])
        if last:
            s.connection().execute(
                update(ParkingSpace)
                .where(ParkingSpace.id == bindparam("sid"))
                .values(occupied=bindparam("o"), seq=bindparam("s"), updated_at=bindparam("t")),
                last,
            )
        summary = {"items": len(rows), "parking_events": len(events)}
        record_event(s, "history.seeded", "city", None, "demo", summary)
    return summary


def _parking_events(
    store: Store, rng: np.random.Generator, days: int, now: datetime
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """Sensor events of parking sessions over the last ``days``, and each space's final state."""
    with store.read() as s:
        spaces = s.execute(select(ParkingSpace.id, ParkingSpace.code)).all()
    start = now - timedelta(days=days)
    events: list[dict[str, object]] = []
    last: list[dict[str, object]] = []
    span = (now - start).total_seconds()
    for sp in spaces:
        t = float(rng.uniform(0, 3600))
        occupied = False
        seq_at = start
        while True:
            local_hour = int(((start + timedelta(seconds=t)).hour + UTC_OFFSET_H) % 24)
            if not occupied:
                t += rng.exponential(75 * 60 / HOURLY_SHAPE[local_hour])
            else:
                t += rng.lognormal(np.log(80 * 60), 0.7)
            if t >= span:
                break
            occupied = not occupied
            seq_at = start + timedelta(seconds=t)
            seq = int((seq_at - EPOCH).total_seconds() * 1e6)  # microseconds, like the live sensors
            events.append(
                {
                    "event_id": f"hist-{sp.id}-{seq}",
                    "space_id": sp.id,
                    "event_type": "park_start" if occupied else "park_end",
                    "event_time": seq_at,
                    "sequence_number": seq,
                    "device_id": f"sensor-{sp.code}",
                    "received_at": seq_at,
                }
            )
        if events and events[-1]["space_id"] == sp.id:
            last.append({"sid": sp.id, "o": occupied, "s": events[-1]["sequence_number"], "t": seq_at})
    return events, last
