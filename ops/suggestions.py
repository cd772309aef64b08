"""Who should take an item: its own grid's workers first, then the nearest on-duty workers,
by distance in metres (UTM 48N) and by how many tasks each already has."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select

from data.models import ACTIVE_TASK_STATUSES, Incident, Task, Worker
from data.store import Store
from geo.crs import to_metres
from ops.errors import NotFound

# One open task weighs like this many metres of extra walk when ranking outside the item's grid.
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


def suggest(store: Store, incident_id: int, limit: int = 8) -> list[Suggestion]:
    """Ranked candidates for one item: own grid first (nearest first), then by distance plus load."""
    with store.read() as s:
        item = s.get(Incident, incident_id)
        if item is None:
            raise NotFound(f"incident {incident_id} does not exist")
        rows = s.execute(
            select(Worker.id, Worker.name, Worker.role, Worker.grid_id, Worker.lon, Worker.lat).where(
                Worker.on_duty.is_(True), Worker.lon.is_not(None)
            )
        ).all()
        loads = dict(
            s.execute(
                select(Task.worker_id, func.count())
                .where(Task.status.in_(ACTIVE_TASK_STATUSES))
                .group_by(Task.worker_id)
            ).all()
        )
    if not rows:
        return []
    ids = np.array([r.id for r in rows])
    x, y = to_metres([r.lon for r in rows], [r.lat for r in rows])
    ix, iy = to_metres(item.lon, item.lat)
    dist = np.hypot(x - ix, y - iy)
    load = np.array([loads.get(int(i), 0) for i in ids])
    own = np.array([r.grid_id == item.grid_id for r in rows])
    # Own-grid workers sort before everyone else; within each group, distance plus load decides.
    score = dist + LOAD_PENALTY_M * load - own * 1e9
    order = np.argsort(score, kind="stable")[:limit]
    return [
        Suggestion(
            worker_id=int(ids[i]),
            name=rows[i].name,
            role=rows[i].role,
            grid_id=rows[i].grid_id,
            own_grid=bool(own[i]),
            distance_m=round(float(dist[i]), 1),
            open_tasks=int(load[i]),
        )
        for i in order
    ]
