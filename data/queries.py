"""Read paths for the map, the KPI strip, the feed and the API. Columns come back as numpy arrays."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import shapely
from sqlalchemy import case, func, select

from data.models import (
    ACTIVE_TASK_STATUSES,
    MAP_KINDS,
    OPEN_STAGES,
    OPEN_WARNING_STATUSES,
    UNASSIGNED_STATUSES,
    Alert,
    Department,
    EarlyWarning,
    Event,
    Grid,
    Incident,
    ParkingSegment,
    ParkingSpace,
    Photo,
    Road,
    Task,
    Worker,
    open_item,
    utcnow,
)
from data.store import Store
from geo.grid_index import GridIndex
from geo.worker_index import WorkerIndex

# Which map layers an event kind invalidates.
EVENT_LAYERS = {
    "incident": ("items", "grids", "kpi", "feed"),
    "parking": ("parking", "kpi"),
    "worker": ("workers", "kpi"),
    "grid": ("grids", "items", "workers", "kpi", "feed"),
    "city": ("grids", "items", "workers", "parking", "kpi", "feed"),
    "alert": ("alerts",),
    "warning": ("warnings",),
}


def load_grid_index(store: Store) -> GridIndex:
    """The grid index over every stored grid."""
    with store.read() as s:
        rows = s.execute(select(Grid.id, Grid.geom).order_by(Grid.id)).all()
    return GridIndex([r.id for r in rows], [r.geom for r in rows])


def grid_geojson(store: Store) -> dict[str, Any]:
    """Every grid as a GeoJSON FeatureCollection with id, name, district, community and worker ids."""
    with store.read() as s:
        grids = s.execute(
            select(Grid.id, Grid.code, Grid.name, Grid.district, Grid.community, Grid.population, Grid.geom).order_by(
                Grid.id
            )
        ).all()
        workers: dict[int, list[int]] = {}
        for wid, gid in s.execute(select(Worker.id, Worker.grid_id).order_by(Worker.id)):
            workers.setdefault(gid, []).append(wid)
    features = [
        {
            "type": "Feature",
            "id": g.id,
            "properties": {
                "id": g.id,
                "code": g.code,
                "name": g.name,
                "district": g.district,
                "community": g.community,
                "population": g.population,
                "worker_ids": workers.get(g.id, []),
            },
            "geometry": shapely.geometry.mapping(g.geom),
        }
        for g in grids
    ]
    return {"type": "FeatureCollection", "features": features}


def open_load_by_grid(store: Store) -> tuple[np.ndarray, np.ndarray]:
    """(grid ids, open item count) for every grid, zeros included, ordered by grid id."""
    with store.read() as s:
        ids = np.asarray(s.scalars(select(Grid.id).order_by(Grid.id)).all(), dtype=np.int64)
        counted = s.execute(
            select(Incident.grid_id, func.count())
            .where(open_item(), Incident.grid_id.is_not(None))
            .group_by(Incident.grid_id)
        ).all()
    load = np.zeros(len(ids), dtype=np.int64)
    if counted and len(ids):
        gid = np.array([c[0] for c in counted], dtype=np.int64)
        pos = np.searchsorted(ids, gid)
        load[pos] = [c[1] for c in counted]
    return ids, load


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


def roads(store: Store) -> list[tuple[str, str, shapely.LineString]]:
    """Main roads: (name, kind, line)."""
    with store.read() as s:
        return [(r.name, r.kind, r.geom) for r in s.execute(select(Road.name, Road.kind, Road.geom))]


def district_outlines(store: Store) -> list[shapely.Geometry]:
    """The boundary of each district, as the union of its grids."""
    with store.read() as s:
        rows = s.execute(select(Grid.district, Grid.geom)).all()
    by_district: dict[str, list[shapely.Geometry]] = {}
    for district, geom in rows:
        by_district.setdefault(district, []).append(geom)
    return [shapely.union_all(g, grid_size=1e-7).boundary for g in by_district.values()]


@dataclass
class SegmentState:
    id: int
    name: str
    geom: shapely.LineString
    capacity: int
    occupied: int

    @property
    def occupancy(self) -> float:
        return self.occupied / self.capacity if self.capacity else 0.0


def parking_occupancy(store: Store) -> dict[int, tuple[int, int]]:
    """Segment id → (capacity, occupied spaces)."""
    with store.read() as s:
        return {
            r.segment_id: (r.capacity, r.occupied or 0)
            for r in s.connection().execute(
                select(
                    ParkingSpace.segment_id,
                    func.count().label("capacity"),
                    func.sum(case((ParkingSpace.occupied.is_(True), 1), else_=0)).label("occupied"),
                ).group_by(ParkingSpace.segment_id)
            )
        }


def parking_segments(store: Store) -> list[SegmentState]:
    """Every parking segment with its capacity and current occupied count."""
    counts = parking_occupancy(store)
    with store.read() as s:
        segs = s.execute(
            select(ParkingSegment.id, ParkingSegment.name, ParkingSegment.geom).order_by(ParkingSegment.id)
        ).all()
    return [SegmentState(g.id, g.name, g.geom, *counts.get(g.id, (0, 0))) for g in segs]


def parking_spaces(store: Store, bbox: tuple[float, float, float, float] | None = None) -> dict[str, np.ndarray]:
    """Spaces (inside ``bbox`` = lon_min, lat_min, lon_max, lat_max when given)."""
    stmt = select(ParkingSpace.id, ParkingSpace.code, ParkingSpace.lon, ParkingSpace.lat, ParkingSpace.occupied)
    if bbox:
        stmt = stmt.where(ParkingSpace.lon.between(bbox[0], bbox[2]), ParkingSpace.lat.between(bbox[1], bbox[3]))
    with store.read() as s:
        rows = s.execute(stmt.order_by(ParkingSpace.id)).all()
    cols = list(zip(*rows, strict=True)) if rows else [()] * 5
    return {
        "id": np.array(cols[0], dtype=np.int64),
        "code": np.array(cols[1], dtype=object),
        "lon": np.array(cols[2], dtype=np.float64),
        "lat": np.array(cols[3], dtype=np.float64),
        "occupied": np.array(cols[4], dtype=bool),
    }


def kpis(
    store: Store,
    now: datetime | None = None,
    items: dict[str, Any] | None = None,
    parking: dict[int, tuple[int, int]] | None = None,
    on_duty: int | None = None,
) -> dict[str, Any]:
    """Open items per kind, unassigned, overdue, parking occupancy % and workers on duty.

    ``items`` (open per kind, unassigned, overdue), ``parking`` (segment → capacity, occupied) and
    ``on_duty`` may come from the process's in-memory copies (``data/live.py``) instead; the store is
    asked only for what is not given.
    """
    now = now or utcnow()
    if items is None or parking is None or on_duty is None:
        with store.read() as s:
            if items is None:
                per_kind = dict(
                    s.execute(select(Incident.kind, func.count()).where(open_item()).group_by(Incident.kind)).all()
                )
                unassigned = s.scalar(select(func.count()).where(Incident.status.in_(UNASSIGNED_STATUSES))) or 0
                overdue = s.scalar(select(func.count()).where(open_item(), Incident.due_at < now)) or 0
                items = {
                    "open": {k: int(per_kind.get(k, 0)) for k in ("fire", "police", "ticket", "alarm")},
                    "unassigned": int(unassigned),
                    "overdue": int(overdue),
                }
            if parking is None:
                spaces = s.scalar(select(func.count(ParkingSpace.id))) or 0
                taken = s.scalar(select(func.count(ParkingSpace.id)).where(ParkingSpace.occupied.is_(True))) or 0
                parking = {0: (int(spaces), int(taken))}
            if on_duty is None:
                on_duty = s.scalar(select(func.count(Worker.id)).where(Worker.on_duty.is_(True))) or 0
    spaces = sum(c for c, _ in parking.values())
    taken = sum(k for _, k in parking.values())
    return {
        **items,
        "parking_pct": round(100.0 * taken / spaces, 1) if spaces else 0.0,
        "on_duty": int(on_duty),
    }


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


def layers_changed_since(store: Store, cursor: int) -> tuple[int, set[str]]:
    """(newest event id, the layers that events after ``cursor`` invalidate)."""
    with store.read() as s:
        rows = s.execute(select(Event.entity, func.max(Event.id)).where(Event.id > cursor).group_by(Event.entity)).all()
    if not rows:
        return cursor, set()
    layers: set[str] = set()
    for entity, _ in rows:
        layers.update(EVENT_LAYERS.get(entity, ()))
    return max(r[1] for r in rows), layers


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


def keyset(stmt: Any, column: Any, after: int | None, ascending: bool) -> Any:
    """``stmt`` ordered by ``column`` (an id), keeping only ids beyond ``after`` in that order."""
    if after is not None:
        stmt = stmt.where(column > after if ascending else column < after)
    return stmt.order_by(column if ascending else column.desc())


def _incidents_joined() -> Any:
    return (
        select(*INCIDENT_COLUMNS)
        .outerjoin(Grid, Grid.id == Incident.grid_id)
        .outerjoin(Department, Department.id == Incident.department_id)
    )


def find_incidents(
    store: Store,
    statuses: list[str] | None = None,
    kinds: list[str] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    limit: int = 100,
    departments: set[int] | None = None,
    stages: list[str] | None = None,
    after: int | None = None,
    ascending: bool = False,
) -> list[dict[str, Any]]:
    """Items matching the filters, newest first (``departments``: only the cases those bodies own);
    ``after``/``ascending``: the page of ids beyond ``after`` (see ``keyset``)."""
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
        rows = s.connection().execute(keyset(stmt, Incident.id, after, ascending).limit(limit)).all()
        return [r._asdict() for r in rows]


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


def active_alert_areas(store: Store) -> list[shapely.Geometry]:
    """The shapes of every active CAP alert, for the map."""
    with store.read() as s:
        collections = s.scalars(select(Alert.areas).where(Alert.state == "active")).all()
    return [shapely.geometry.shape(f["geometry"]) for fc in collections for f in fc["features"]]


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


WARNING_COLUMNS = (
    EarlyWarning.id,
    EarlyWarning.rule_id,
    EarlyWarning.rule_type,
    EarlyWarning.place_key,
    EarlyWarning.level,
    EarlyWarning.status,
    EarlyWarning.title,
    EarlyWarning.title_key,
    EarlyWarning.title_params,
    EarlyWarning.detail,
    EarlyWarning.lon,
    EarlyWarning.lat,
    EarlyWarning.grid_id,
    EarlyWarning.incident_id,
    EarlyWarning.created_at,
    EarlyWarning.updated_at,
    EarlyWarning.acknowledged_at,
    EarlyWarning.acknowledged_by,
    EarlyWarning.resolved_at,
    EarlyWarning.resolved_by,
    EarlyWarning.note,
)
LEVEL_ORDER = {"high": 0, "medium": 1, "low": 2}


def find_warnings(
    store: Store,
    statuses: list[str] | None = None,
    limit: int = 200,
    after: int | None = None,
    ascending: bool | None = None,
) -> list[dict[str, Any]]:
    """Warnings newest first (open and acknowledged by default); by id when paged (``ascending`` given)."""
    statuses = statuses or list(OPEN_WARNING_STATUSES)
    stmt = select(*WARNING_COLUMNS).where(EarlyWarning.status.in_(statuses))
    if ascending is None:
        stmt = stmt.order_by(EarlyWarning.created_at.desc(), EarlyWarning.id.desc())
    else:
        stmt = keyset(stmt, EarlyWarning.id, after, ascending)
    with store.read() as s:
        rows = s.execute(stmt.limit(limit)).all()
    return [dict(r._mapping) for r in rows]


def warnings_between(store: Store, start: datetime, end: datetime, limit: int = 5000) -> list[dict[str, Any]]:
    """Every warning raised in [start, end), newest first, whatever became of it (the review page)."""
    with store.read() as s:
        rows = s.execute(
            select(*WARNING_COLUMNS)
            .where(EarlyWarning.created_at >= start, EarlyWarning.created_at < end)
            .order_by(EarlyWarning.created_at.desc(), EarlyWarning.id.desc())
            .limit(limit)
        ).all()
    return [dict(r._mapping) for r in rows]


def warning_detail(store: Store, warning_id: int) -> dict[str, Any] | None:
    """One warning with its history (raised, acknowledged, resolved) from the event log."""
    with store.read() as s:
        row = s.execute(select(*WARNING_COLUMNS).where(EarlyWarning.id == warning_id)).first()
        if row is None:
            return None
        history = s.execute(
            select(Event.at, Event.kind, Event.actor, Event.data)
            .where(Event.entity == "warning", Event.entity_id == warning_id)
            .order_by(Event.id)
        ).all()
    out = dict(row._mapping)
    out["history"] = [dict(h._mapping) for h in history]
    return out


def warning_points(store: Store) -> dict[str, np.ndarray]:
    """Open and acknowledged warnings with a location, for the map (ids, lon, lat, open, titles as stored)."""
    with store.read() as s:
        rows = s.execute(
            select(
                EarlyWarning.id,
                EarlyWarning.lon,
                EarlyWarning.lat,
                EarlyWarning.status,
                EarlyWarning.title,
                EarlyWarning.title_key,
                EarlyWarning.title_params,
            )
            .where(EarlyWarning.status.in_(OPEN_WARNING_STATUSES), EarlyWarning.lon.is_not(None))
            .order_by(EarlyWarning.id)
        ).all()
    return {
        "id": np.array([r.id for r in rows], dtype=np.int64),
        "lon": np.array([r.lon for r in rows], dtype=float),
        "lat": np.array([r.lat for r in rows], dtype=float),
        "open": np.array([r.status == "open" for r in rows], dtype=bool),
        "title": np.array([r.title for r in rows], dtype=object),
        "title_key": np.array([r.title_key for r in rows], dtype=object),
        "title_params": np.array([r.title_params for r in rows], dtype=object),
    }


def categories(store: Store) -> list[str]:
    """Every item category seen, for the review filters."""
    with store.read() as s:
        return sorted(c for c in s.scalars(select(Incident.category).distinct()) if c)


def districts(store: Store) -> list[str]:
    with store.read() as s:
        return sorted(d for d in s.scalars(select(Grid.district).distinct()) if d)
