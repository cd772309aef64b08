"""Build a city at benchmark scale into a fresh store: grids, workers, parking, open items, history."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from sqlalchemy import insert, update

from config import Config
from data.bus import MemoryBus
from data.demo import seed_demo
from data.models import Incident, Worker, utcnow
from data.queries import load_grid_index
from data.store import Store
from geo.grid_index import OUTSIDE, GridIndex

KIND_SHARE = {"ticket": 0.80, "police": 0.12, "fire": 0.05, "alarm": 0.03}
OPEN_SHARE = {"new": 0.3, "assigned": 0.3, "accepted": 0.2, "on_site": 0.2}


@dataclass(frozen=True)
class Scale:
    name: str
    grids: int
    workers_on_duty: int
    parking_spaces: int
    open_items: int
    history: int
    points: int  # for the grid-assignment figure


SCALES = {
    "small": Scale("small", 2000, 1000, 1031, 5000, 50_000, 100_000),
    "city": Scale("city", 20000, 10000, 50000, 100_000, 1_000_000, 1_000_000),
    # PostgreSQL only, built with COPY by bench/province.py (a lattice of grids, not the Guiyang file).
    "province": Scale("province", 100_000, 50_000, 50_000, 300_000, 20_000_000, 1_000_000),
}


def random_points(index: GridIndex, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` points inside the city (uniform over its bounding box, kept when in a grid), with grid ids."""
    xmin, ymin, xmax, ymax = index.bounds
    lon, lat, grid = [], [], []
    have = 0
    while have < n:
        x, y = rng.uniform(xmin, xmax, 2 * n), rng.uniform(ymin, ymax, 2 * n)
        g = index.locate(x, y)
        keep = g != OUTSIDE
        lon.append(x[keep])
        lat.append(y[keep])
        grid.append(g[keep])
        have += int(keep.sum())
    return np.concatenate(lon)[:n], np.concatenate(lat)[:n], np.concatenate(grid)[:n]


def _items(index: GridIndex, n: int, rng: np.random.Generator, statuses: dict[str, float], days: float) -> list[dict]:
    lon, lat, grid = random_points(index, n, rng)
    kinds = rng.choice(list(KIND_SHARE), n, p=list(KIND_SHARE.values()))
    status = rng.choice(list(statuses), n, p=list(statuses.values()))
    now = utcnow()
    created = [now - timedelta(seconds=float(s)) for s in rng.uniform(0, days * 86400, n)]
    response = rng.lognormal(np.log(60), 0.8, n)  # minutes to resolution
    return [
        {
            "kind": str(k),
            "category": "基准",
            "priority": 3,
            "status": str(st),
            "title": "基准事项",
            "description": "",
            "lon": float(x),
            "lat": float(y),
            "grid_id": int(g),
            "source": "bench",
            "created_at": c,
            "updated_at": c,
            "due_at": c + timedelta(hours=2),
            "closed_at": c + timedelta(hours=1) if st == "closed" else None,
            "resolved_at": c + timedelta(minutes=float(m)) if st == "closed" else None,
        }
        for k, st, x, y, g, c, m in zip(kinds, status, lon, lat, grid, created, response, strict=True)
    ]


def build(url: str, scale: Scale, seed: int = 7, log=print) -> Store:
    """Seed the demo city at ``scale`` into an empty store at ``url``."""
    store = Store(url, MemoryBus())
    store.migrate()
    started = time.perf_counter()
    cfg = Config(grid_count=scale.grids, workers_per_grid=1, parking_spaces=scale.parking_spaces, seed=seed)
    seed_demo(store, cfg)
    log(f"  seeded {scale.grids} grids, {scale.parking_spaces} spaces in {time.perf_counter() - started:.1f} s")
    rng = np.random.default_rng(seed)
    with store.transaction() as s:
        s.execute(update(Worker).values(on_duty=False))
        s.execute(update(Worker).where(Worker.id <= scale.workers_on_duty).values(on_duty=True))
    index = load_grid_index(store)
    started = time.perf_counter()
    for done in range(0, scale.history, 100_000):
        rows = _items(index, min(100_000, scale.history - done), rng, {"closed": 1.0}, days=365)
        with store.transaction() as s:
            s.execute(insert(Incident), rows)
    with store.transaction() as s:
        s.execute(insert(Incident), _items(index, scale.open_items, rng, OPEN_SHARE, days=1))
    log(f"  {scale.history:,} history + {scale.open_items:,} open items in {time.perf_counter() - started:.1f} s")
    if store.kind == "postgresql":
        # After a bulk load, as an operator would: otherwise autovacuum wakes up over the million new rows in
        # the middle of the measurements (it did: a tick best-of-three of 0.12 s instead of 0.02-0.03 s).
        started = time.perf_counter()
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
        log(f"  VACUUM ANALYZE in {time.perf_counter() - started:.1f} s")
    return store
