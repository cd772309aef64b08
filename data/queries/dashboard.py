"""The command screen's summary: the KPI strip and which map layers the event log says have changed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from data.models import UNASSIGNED_STATUSES, Event, Incident, ParkingSpace, Worker, open_item, utcnow
from data.store import Store

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
