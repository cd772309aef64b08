"""Items (incidents): the map's open items as columns, the queue, the live feed, search and one item's
detail with its tasks, photos and history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import case, select

from data.models import (
    MAP_KINDS,
    OPEN_STAGES,
    UNASSIGNED_STATUSES,
    Department,
    Event,
    Grid,
    Incident,
    Photo,
    Task,
    Worker,
    open_item,
    utcnow,
)
from data.queries.paging import keyset
from data.store import Store


@dataclass
class ItemColumns:
    id: np.ndarray
    kind: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    priority: np.ndarray
    status: np.ndarray
    title: np.ndarray
    overdue: np.ndarray
    no_owner: np.ndarray | None = None  # filed or returned with no department: a dispatcher must choose one


def counted_titles(titles: np.ndarray, reports: np.ndarray) -> np.ndarray:
    """Titles for the map: one event reported by many shows once, with its report count."""
    titles = titles.copy()
    many = reports > 1
    titles[many] = [f"{t} ×{n}" for t, n in zip(titles[many], reports[many], strict=True)]
    return titles


def open_items(
    store: Store,
    now: datetime | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    per_kind: int | None = None,
    limit: int = 20_000,
) -> ItemColumns:
    """Open items as columns: inside ``bbox`` when given, else the ``per_kind`` most urgent of each kind."""
    now = now or utcnow()
    columns = (
        Incident.id,
        Incident.kind,
        Incident.lon,
        Incident.lat,
        Incident.priority,
        Incident.status,
        Incident.title,
        Incident.due_at,
        Incident.report_count,
        Incident.stage,
        Incident.stage_due_at,
        Incident.department_id,
    )
    base = select(*columns).where(open_item())
    if bbox:
        base = base.where(Incident.lon.between(bbox[0], bbox[2]), Incident.lat.between(bbox[1], bbox[3]))
    with store.read() as s:
        if per_kind is not None and not bbox:
            rows = []
            for kind in MAP_KINDS:
                stmt = base.where(Incident.kind == kind).order_by(Incident.priority, Incident.id.desc())
                rows += s.execute(stmt.limit(per_kind)).all()
        else:
            stmt = base.where(Incident.kind.in_(MAP_KINDS)).order_by(Incident.id.desc()).limit(limit)
            rows = s.execute(stmt).all()
    cols = list(zip(*rows, strict=True)) if rows else [()] * 12
    due = np.array(cols[7], dtype="datetime64[us]")
    late_stage = np.array(
        [st in OPEN_STAGES and d is not None and d < now for st, d in zip(cols[9], cols[10], strict=True)], dtype=bool
    )
    titles = counted_titles(np.array(cols[6], dtype=object), np.array(cols[8], dtype=np.int64))
    return ItemColumns(
        id=np.array(cols[0], dtype=np.int64),
        kind=np.array(cols[1], dtype=object),
        lon=np.array(cols[2], dtype=np.float64),
        lat=np.array(cols[3], dtype=np.float64),
        priority=np.array(cols[4], dtype=np.int64),
        status=np.array(cols[5], dtype=object),
        title=titles,
        overdue=(due < np.datetime64(now, "us")) | late_stage if len(due) else np.zeros(0, dtype=bool),
        no_owner=np.array(
            [st in ("filed", "returned") and d is None for st, d in zip(cols[9], cols[11], strict=True)], dtype=bool
        ),
    )


INCIDENT_COLUMNS = (
    Incident.id,
    Incident.kind,
    Incident.category,
    Incident.priority,
    Incident.status,
    Incident.title,
    Incident.description,
    Incident.lon,
    Incident.lat,
    Incident.grid_id,
    Grid.name.label("grid_name"),
    Incident.reporter_name,
    Incident.reporter_phone,
    Incident.source,
    Incident.created_at,
    Incident.updated_at,
    Incident.due_at,
    Incident.assigned_worker_id,
    Incident.resolved_at,
    Incident.closed_at,
    Incident.department_id,
    Department.name.label("department_name"),
    Incident.stage,
    Incident.routing,
    Incident.stage_at,
    Incident.stage_due_at,
    Incident.urged_at,
    Incident.urge_note,
    Incident.urge_due_at,
    Incident.extension_until,
    Incident.rework_count,
    Incident.return_count,
)


def _incidents_joined() -> Any:
    return (
        select(*INCIDENT_COLUMNS)
        .outerjoin(Grid, Grid.id == Incident.grid_id)
        .outerjoin(Department, Department.id == Incident.department_id)
    )


def incident_rows(
    store: Store,
    statuses: list[str] | None = None,
    kinds: list[str] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    limit: int = 100,
    departments: set[int] | None = None,
    stages: list[str] | None = None,
    after: int | None = None,
    ascending: bool = False,
) -> tuple[tuple[str, ...], list[Any]]:
    """Items matching the filters, newest first (``departments``: only the cases those bodies own;
    ``after``/``ascending``: the page of ids beyond ``after``, see ``keyset``), as column names and rows
    (tuples), for a page built column-wise."""
    stmt = _incidents_joined()
    if departments is not None:
        stmt = stmt.where(Incident.department_id.in_(sorted(departments)))
    if stages:
        stmt = stmt.where(Incident.stage.in_(stages))
    if statuses:
        stmt = stmt.where(Incident.status.in_(statuses))
    if kinds:
        stmt = stmt.where(Incident.kind.in_(kinds))
    if bbox:
        stmt = stmt.where(Incident.lon.between(bbox[0], bbox[2]), Incident.lat.between(bbox[1], bbox[3]))
    with store.read() as s:
        # Core execution (no ORM row processing): a page is up to a thousand rows of 32 columns.
        result = s.connection().execute(keyset(stmt, Incident.id, after, ascending).limit(limit))
        return tuple(result.keys()), result.all()  # all(): one fetchall


def incident_detail(store: Store, incident_id: int) -> dict[str, Any] | None:
    """One item with its tasks and its full history from the event log, oldest first."""
    with store.read() as s:
        row = s.execute(_incidents_joined().where(Incident.id == incident_id)).first()
        if row is None:
            return None
        tasks = s.execute(
            select(
                Task.id,
                Task.worker_id,
                Worker.name.label("worker_name"),
                Task.status,
                Task.note,
                Task.created_at,
                Task.updated_at,
            )
            .join(Worker, Worker.id == Task.worker_id)
            .where(Task.incident_id == incident_id)
            .order_by(Task.id)
        ).all()
        events = s.execute(
            select(Event.id, Event.at, Event.kind, Event.actor, Event.data)
            .where(Event.entity == "incident", Event.entity_id == incident_id)
            .order_by(Event.id)
        ).all()
        photos = s.scalars(select(Photo.name).where(Photo.incident_id == incident_id).order_by(Photo.id)).all()
    detail = row._asdict()
    detail["tasks"] = [t._asdict() for t in tasks]
    detail["photos"] = list(photos)
    # A batch report writes one event for many items; the item row itself records its creation.
    created = {"id": None, "at": row.created_at, "kind": "incident.created", "actor": row.source, "data": {}}
    detail["history"] = [created] + [e._asdict() for e in events if e.kind != "incident.created"]
    return detail


def latest_items(store: Store, limit: int = 12, departments: tuple[int, ...] | None = None) -> list[dict[str, Any]]:
    """The newest items for the live feed (``departments``: only the cases those bodies own)."""
    mine = Incident.department_id.in_(departments) if departments is not None else True
    with store.read() as s:
        rows = s.execute(
            select(
                Incident.id,
                Incident.kind,
                Incident.title,
                Incident.status,
                Incident.priority,
                Incident.created_at,
                Grid.name.label("grid"),
            )
            .outerjoin(Grid, Grid.id == Incident.grid_id)
            .where(mine)
            .order_by(Incident.id.desc())
            .limit(limit)
        ).all()
    return [r._asdict() for r in rows]


def queue_items(store: Store, limit: int = 300, now: datetime | None = None) -> list[dict[str, Any]]:
    """The operators' queue: open items, unassigned first, then overdue, priority and due time."""
    now = now or utcnow()
    unassigned = case((Incident.status.in_(UNASSIGNED_STATUSES), 0), else_=1)
    overdue = case((Incident.due_at < now, 0), else_=1)
    stmt = (
        select(
            Incident.id,
            Incident.kind,
            Incident.title,
            Incident.status,
            Incident.priority,
            Incident.due_at,
            Grid.name.label("grid"),
            Incident.stage,
            Incident.stage_due_at,
            Incident.department_id,
        )
        .outerjoin(Grid, Grid.id == Incident.grid_id)
        .where(open_item(), Incident.kind.in_(MAP_KINDS))
        .order_by(unassigned, overdue, Incident.priority, Incident.due_at, Incident.id)
        .limit(limit)
    )
    with store.read() as s:
        rows = [r._asdict() for r in s.execute(stmt)]
    for r in rows:
        r["overdue"] = r["due_at"] < now
        late = r["stage_due_at"] is not None and r["stage"] in OPEN_STAGES and r["stage_due_at"] < now
        r["stage_overdue"] = late
    return rows


def categories(store: Store) -> list[str]:
    """Every item category seen, for the review filters."""
    with store.read() as s:
        return sorted(c for c in s.scalars(select(Incident.category).distinct()) if c)
