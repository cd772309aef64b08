"""The wall's alert: which items are worth a flashing banner (and a tone) the moment they appear.

A new fire, or any item that arrives as, or is raised to, priority 1. What is new is read from the
event log after a screen's cursor, so every screen and process agrees and a reload misses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select

from data.models import OPEN_STATUSES, Event, Incident
from data.store import Store
from ops.accounts import Actor
from ops.lifecycle import require_dispatcher

ALERT_EVENTS = ("incident.created", "incident.priority")
# A screen whose cursor fell this far behind (a laptop waking up) looks back no further:
# a burst of old alerts helps nobody, and the queue still shows every item.
LOOK_BACK_EVENTS = 2000


@dataclass(frozen=True)
class Alert:
    incident_id: int
    kind: str
    title: str
    priority: int
    grid_id: int | None


def urgent_since(store: Store, actor: Actor, cursor: int, latest: int) -> list[Alert]:
    """Open fires and priority-1 items created or raised to priority 1 after ``cursor`` (up to
    ``latest``), the most recent event first; only dispatchers (the command page's people) see them."""
    require_dispatcher(actor, "see_alerts")
    if latest <= cursor:
        return []
    since = max(cursor, latest - LOOK_BACK_EVENTS)
    with store.read() as s:
        events = s.execute(
            select(Event.kind, Event.entity_id, Event.data)
            .where(Event.id > since, Event.id <= latest, Event.kind.in_(ALERT_EVENTS))
            .order_by(Event.id)
        ).all()
        order: dict[int, int] = {}  # item id -> position of its latest alerting event
        for n, ev in enumerate(events):
            data = ev.data or {}
            if ev.kind == "incident.created":
                order.update((int(i), n) for i in data.get("ids", []))
            elif data.get("to") == 1 and ev.entity_id is not None:
                order[int(ev.entity_id)] = n
        if not order:
            return []
        rows = s.execute(
            select(Incident.id, Incident.kind, Incident.title, Incident.priority, Incident.grid_id).where(
                Incident.id.in_(sorted(order)),
                Incident.status.in_(OPEN_STATUSES),
                or_(Incident.kind == "fire", Incident.priority == 1),
            )
        ).all()
    rows = sorted(rows, key=lambda r: (order[r.id], r.id), reverse=True)
    return [Alert(r.id, r.kind, r.title, r.priority, r.grid_id) for r in rows]
