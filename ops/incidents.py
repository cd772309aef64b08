"""Creating items: locate each in its grid, give it a due time, store it with its event row."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import insert

from data.models import KINDS, Incident, utcnow
from data.store import Store, record_event
from geo.grid_index import OUTSIDE, GridIndex
from ops.accounts import Actor
from ops.cases import Cases
from ops.errors import Forbidden, Invalid
from ops.permissions import roles_with

REPORTING_ROLES = roles_with("report_items")


@dataclass
class NewIncident:
    kind: str
    category: str
    title: str
    lon: float
    lat: float
    priority: int = 3
    description: str = ""
    reporter_name: str | None = None
    reporter_phone: str | None = None
    source: str = "api"
    external_id: str | None = None
    created_at: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)


def due_at(created: datetime, kind: str, priority: int, sla_minutes: dict[str, dict[int, int]]) -> datetime:
    """When an item of this kind and priority becomes overdue."""
    return created + timedelta(minutes=sla_minutes[kind][priority])


def report(
    store: Store,
    index: GridIndex,
    actor: Actor,
    items: list[NewIncident],
    sla_minutes: dict[str, dict[int, int]],
    cases: Cases | None = None,
) -> list[int]:
    """Store a batch of new items in one transaction; return their ids in input order.

    With ``cases`` the items enter the case loop in the same transaction (``Cases.stage_new``):
    emergencies filed and routed, other reports waiting to be filed or verified.
    """
    if actor.role not in REPORTING_ROLES:
        raise Forbidden("error.role_may_not", {"role": actor.role, "what": "report_items"})
    for i, item in enumerate(items):
        if item.kind not in KINDS:
            raise Invalid("error.item_kind", {"i": i, "kind": item.kind}, field="kind")
        if item.priority not in (1, 2, 3):
            raise Invalid("error.item_priority", {"i": i}, field="priority")
    if not items:
        return []
    grids = index.locate([it.lon for it in items], [it.lat for it in items])
    now = utcnow()
    rows = []
    for item, gid in zip(items, grids, strict=True):
        created = item.created_at or now
        rows.append(
            {
                "kind": item.kind,
                "category": item.category,
                "priority": item.priority,
                "status": "new",
                "title": item.title,
                "description": item.description,
                "lon": item.lon,
                "lat": item.lat,
                "grid_id": None if gid == OUTSIDE else int(gid),
                "reporter_name": item.reporter_name,
                "reporter_phone": item.reporter_phone,
                "source": item.source,
                "external_id": item.external_id,
                "created_at": created,
                "updated_at": created,
                "due_at": due_at(created, item.kind, item.priority, sla_minutes),
            }
        )
    if cases is not None:
        cases.stage_new(rows)
    with store.transaction() as s:
        ids = list(s.scalars(insert(Incident).returning(Incident.id, sort_by_parameter_order=True), rows))
        kinds = np.unique([r["kind"] for r in rows]).tolist()
        record_event(s, "incident.created", "incident", ids[-1], actor.name, {"ids": ids, "kinds": kinds})
        if cases is not None:
            cases.record_new(s, actor, ids, rows)
    return ids
