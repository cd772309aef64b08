"""Early warnings as read by screens and the API: lists, the review period, one warning's history and
the map's points."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select

from data.models import OPEN_WARNING_STATUSES, EarlyWarning, Event
from data.queries.paging import keyset
from data.store import Store

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
