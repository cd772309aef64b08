"""Who should take an item: its own grid's workers first, then the nearest on-duty workers,
by distance in metres (UTM 48N) and by how many tasks each already has; or, when the operator
switches the rule to ``nearest``, by distance and load alone.

Ranking runs on a ``WorkerSnapshot`` held in memory (rebuilt every few seconds by the runtime),
so a suggestion costs a KD-tree query, not a scan of every worker."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select

from data.models import Incident
from data.queries import WorkerSnapshot, worker_snapshot
from data.store import Store
from geo.crs import from_metres, point_to_metres
from ops.errors import NotFound

# One open task weighs like this many metres of extra walk when ranking.
LOAD_PENALTY_M = 400.0
Ranking = Literal["own_grid", "nearest"]
RANKINGS: tuple[Ranking, ...] = ("own_grid", "nearest")


@dataclass
class Suggestion:
    worker_id: int
    name: str
    role: str
    grid_id: int
    position_at: datetime | None
    own_grid: bool
    distance_m: float
    open_tasks: int
    lon: float = 0.0  # where the worker is (WGS-84), so the map can ring the suggested workers
    lat: float = 0.0


def rank(
    snapshot: WorkerSnapshot,
    lon: float,
    lat: float,
    grid_id: int | None,
    limit: int = 8,
    ranking: Ranking = "own_grid",
) -> list[Suggestion]:
    """Own-grid workers first, then the others, each by distance plus load (``nearest``: no grid preference)."""
    index = snapshot.index
    if not len(index):
        return []
    x, y = point_to_metres(lon, lat)
    dists, near = index.nearest(x, y, 2 * limit)
    # A score per candidate in plain Python: for a score of twenty numbers, numpy's per-call
    # overhead costs more than the arithmetic.
    found = dict(zip(near.tolist(), dists.tolist(), strict=True))
    for p in index.in_grid(grid_id).tolist():
        if p not in found:
            dx, dy = index.xy[p]
            found[p] = math.hypot(dx - x, dy - y)
    picked = list(found)
    gids = index.grid_ids[picked].tolist()
    loads = snapshot.loads[picked].tolist()
    own_grid = grid_id if grid_id is not None else -1
    bonus = 1e9 if ranking == "own_grid" else 0.0
    scored = sorted(
        (d + LOAD_PENALTY_M * n - (bonus if g == own_grid else 0.0), i)
        for i, (d, g, n) in enumerate(zip(found.values(), gids, loads, strict=True))
    )
    out: list[Suggestion] = []
    distances = list(found.values())
    chosen = [i for _, i in scored[:limit]]
    lons, lats = from_metres(*index.xy[[picked[i] for i in chosen]].T) if chosen else ([], [])
    for k, i in enumerate(chosen):
        p = picked[i]
        where = (float(lons[k]), float(lats[k]))
        out.append(Suggestion(*snapshot.people[p], gids[i] == own_grid, round(distances[i], 1), loads[i], *where))
    return out


def suggest(
    store: Store,
    incident_id: int,
    limit: int = 8,
    snapshot: WorkerSnapshot | None = None,
    ranking: Ranking = "own_grid",
) -> list[Suggestion]:
    """Ranked candidates for one item (a fresh snapshot when none is given)."""
    with store.read() as s:
        item = s.execute(select(Incident.lon, Incident.lat, Incident.grid_id).where(Incident.id == incident_id)).first()
    if item is None:
        raise NotFound("error.incident_missing", {"id": incident_id})
    return rank(snapshot or worker_snapshot(store), item.lon, item.lat, item.grid_id, limit, ranking)
