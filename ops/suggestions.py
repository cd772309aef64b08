"""Who should take an item: its own grid's workers first, then the nearest on-duty workers,
by distance in metres (UTM 48N) and by how many tasks each already has.

Ranking runs on a ``WorkerSnapshot`` held in memory (rebuilt every few seconds by the runtime),
so a suggestion costs a KD-tree query, not a scan of every worker."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import select

from data.models import Incident
from data.queries import WorkerSnapshot, worker_snapshot
from data.store import Store
from geo.crs import point_to_metres
from ops.errors import NotFound

# One open task weighs like this many metres of extra walk when ranking.
LOAD_PENALTY_M = 400.0


@dataclass
class Suggestion:
    worker_id: int
    name: str
    role: str
    grid_id: int
    own_grid: bool
    distance_m: float
    open_tasks: int


def rank(snapshot: WorkerSnapshot, lon: float, lat: float, grid_id: int | None, limit: int = 8) -> list[Suggestion]:
    """Own-grid workers first (nearest first), then the nearest others by distance plus load."""
    index = snapshot.index
    if not len(index):
        return []
    x, y = point_to_metres(lon, lat)
    _, near = index.nearest(x, y, 2 * limit)
    pos = np.concatenate([index.in_grid(grid_id), near])  # may repeat a worker; dropped below
    delta = index.xy[pos] - (x, y)
    dist = np.sqrt((delta * delta).sum(axis=1))
    in_own = index.grid_ids[pos] == (grid_id if grid_id is not None else -1)
    loads = snapshot.loads[pos]
    order = np.argsort(dist + LOAD_PENALTY_M * loads - in_own * 1e9, kind="stable")[: 3 * limit]
    # Plain lists from here: per-element numpy scalars would cost more than the ranking itself.
    picked = pos[order].tolist()
    dists, owns, task_counts = dist[order].tolist(), in_own[order].tolist(), loads[order].tolist()
    out: list[Suggestion] = []
    seen: set[int] = set()
    for p, d, own, n in zip(picked, dists, owns, task_counts, strict=True):
        if p in seen:
            continue
        seen.add(p)
        out.append(Suggestion(*snapshot.people[p], own, round(d, 1), n))
        if len(out) == limit:
            break
    return out


def suggest(store: Store, incident_id: int, limit: int = 8, snapshot: WorkerSnapshot | None = None) -> list[Suggestion]:
    """Ranked candidates for one item (a fresh snapshot when none is given)."""
    with store.read() as s:
        item = s.execute(select(Incident.lon, Incident.lat, Incident.grid_id).where(Incident.id == incident_id)).first()
    if item is None:
        raise NotFound(f"incident {incident_id} does not exist")
    return rank(snapshot or worker_snapshot(store), item.lon, item.lat, item.grid_id, limit)
