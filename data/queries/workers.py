"""Workers and their tasks: positions for the map, search, the on-duty snapshot suggestions rank, and a
worker's inbox on the phone page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select

from data.models import ACTIVE_TASK_STATUSES, Incident, Task, Worker
from data.queries.paging import keyset
from data.store import Store
from geo.worker_index import WorkerIndex


def worker_positions(store: Store) -> dict[str, np.ndarray]:
    """On-duty workers with a known position: ids and WGS-84 positions (what the map draws)."""
    with store.read() as s:
        # Core execution (no ORM row processing): this runs on every tick for every worker.
        rows = (
            s.connection()
            .execute(
                select(Worker.id, Worker.lon, Worker.lat)
                .where(Worker.on_duty.is_(True), Worker.lon.is_not(None))
                .order_by(Worker.id)
            )
            .all()
        )
    cols = list(zip(*rows, strict=True)) if rows else [()] * 3
    return {
        "id": np.array(cols[0], dtype=np.int64),
        "lon": np.array(cols[1], dtype=np.float64),
        "lat": np.array(cols[2], dtype=np.float64),
    }


def find_workers(
    store: Store,
    grid_id: int | None = None,
    on_duty: bool | None = None,
    after: int | None = None,
    limit: int | None = None,
    ascending: bool = True,
) -> list[dict[str, Any]]:
    """Workers with position, duty and how many active tasks each holds, by id (``limit``: a page)."""
    load = (
        select(Task.worker_id, func.count().label("n"))
        .where(Task.status.in_(ACTIVE_TASK_STATUSES))
        .group_by(Task.worker_id)
        .subquery()
    )
    stmt = select(
        Worker.id,
        Worker.name,
        Worker.role,
        Worker.grid_id,
        Worker.on_duty,
        Worker.lon,
        Worker.lat,
        Worker.position_at,
        func.coalesce(load.c.n, 0).label("open_tasks"),
    ).outerjoin(load, load.c.worker_id == Worker.id)
    if grid_id is not None:
        stmt = stmt.where(Worker.grid_id == grid_id)
    if on_duty is not None:
        stmt = stmt.where(Worker.on_duty.is_(on_duty))
    with store.read() as s:
        return [r._asdict() for r in s.execute(keyset(stmt, Worker.id, after, ascending).limit(limit))]


def worker_name(store: Store, worker_id: int) -> str | None:
    with store.read() as s:
        return s.scalar(select(Worker.name).where(Worker.id == worker_id))


def task_summary(store: Store, task_id: int) -> dict[str, Any] | None:
    with store.read() as s:
        row = s.execute(
            select(
                Task.id, Task.incident_id, Task.worker_id, Task.status, Task.note, Task.created_at, Task.updated_at
            ).where(Task.id == task_id)
        ).first()
    return row._asdict() if row else None


def task_label(store: Store, task_id: int) -> str | None:
    """How a worker names a task: its item's number and title."""
    with store.read() as s:
        row = s.execute(
            select(Incident.id, Incident.title).join(Task, Task.incident_id == Incident.id).where(Task.id == task_id)
        ).first()
    return f"#{row.id} {row.title}" if row else None


def worker_inbox(store: Store, user_id: int) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """(the worker record of a user, their active tasks by priority then due time)."""
    with store.read() as s:
        worker = s.execute(
            select(Worker.id, Worker.name, Worker.grid_id, Worker.lon, Worker.lat).where(Worker.user_id == user_id)
        ).first()
        if worker is None:
            return None, []
        tasks = s.execute(
            select(
                Task.id,
                Task.status,
                Task.incident_id,
                Incident.kind,
                Incident.title,
                Incident.description,
                Incident.priority,
                Incident.due_at,
                Incident.lon,
                Incident.lat,
            )
            .join(Incident, Incident.id == Task.incident_id)
            .where(Task.worker_id == worker.id, Task.status.in_(ACTIVE_TASK_STATUSES))
            .order_by(Incident.priority, Incident.due_at)
        ).all()
    return worker._asdict(), [t._asdict() for t in tasks]


@dataclass
class WorkerSnapshot:
    """On-duty workers with their positions indexed, names, roles and active task counts."""

    index: WorkerIndex
    people: list[tuple[int, str, str, int, datetime | None]]  # (id, name, role, grid id, position time) by position
    loads: np.ndarray


def worker_snapshot(store: Store) -> WorkerSnapshot:
    with store.read() as s:
        rows = s.execute(
            select(Worker.id, Worker.name, Worker.role, Worker.grid_id, Worker.lon, Worker.lat, Worker.position_at)
            .where(Worker.on_duty.is_(True), Worker.lon.is_not(None))
            .order_by(Worker.id)
        ).all()
        loads = dict(
            s.execute(
                select(Task.worker_id, func.count())
                .where(Task.status.in_(ACTIVE_TASK_STATUSES))
                .group_by(Task.worker_id)
            ).all()
        )
    cols = list(zip(*rows, strict=True)) if rows else [()] * 7
    index = WorkerIndex(cols[0], np.array(cols[4], dtype=float), np.array(cols[5], dtype=float), cols[3])
    return WorkerSnapshot(
        index=index,
        people=[(r.id, r.name, r.role, r.grid_id, r.position_at) for r in rows],
        loads=np.array([loads.get(int(i), 0) for i in index.ids], dtype=np.int64),
    )
