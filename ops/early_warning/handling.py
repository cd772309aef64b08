"""Handling a raised warning: acknowledge it, resolve it; each step a conditional update and an event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from data.models import OPEN_WARNING_STATUSES, EarlyWarning, utcnow
from data.store import Store, record_event
from ops.accounts import Actor
from ops.errors import Conflict, Forbidden, Invalid, NotFound
from ops.permissions import roles_with

WARNING_ROLES = roles_with("handle_warnings")


def _require(actor: Actor) -> None:
    if actor.role not in WARNING_ROLES:
        raise Forbidden("error.role_may_not", {"role": actor.role, "what": "handle_warnings"})


def acknowledge(store: Store, actor: Actor, warning_id: int, note: str = "", now: datetime | None = None) -> None:
    """An open warning is seen and being handled."""
    _require(actor)
    _move(store, actor, warning_id, "acknowledged", ("open",), note, now or utcnow())


def resolve(store: Store, actor: Actor, warning_id: int, note: str = "", now: datetime | None = None) -> None:
    """The warning is dealt with; the rule fires again at this place only on evidence newer than this."""
    _require(actor)
    _move(store, actor, warning_id, "resolved", OPEN_WARNING_STATUSES, note, now or utcnow())


def _move(
    store: Store, actor: Actor, warning_id: int, target: str, sources: tuple[str, ...], note: str, now: datetime
) -> None:
    if len(note) > 2000:
        raise Invalid("error.note_too_long", {"limit": 2000}, field="note")
    values: dict[str, Any] = {"status": target, "updated_at": now}
    if target == "acknowledged":
        values.update(acknowledged_at=now, acknowledged_by=actor.name)
    else:
        values.update(resolved_at=now, resolved_by=actor.name)
    if note:
        values["note"] = note
    with store.transaction() as s:
        current = s.scalar(select(EarlyWarning.status).where(EarlyWarning.id == warning_id))
        if current is None:
            raise NotFound("error.warning_missing", {"id": warning_id})
        won = s.execute(
            update(EarlyWarning).where(EarlyWarning.id == warning_id, EarlyWarning.status.in_(sources)).values(**values)
        ).rowcount
        if not won:
            raise Conflict(
                "error.warning_state", {"id": warning_id, "status": current, "target": target}, status=current
            )
        record_event(s, f"warning.{target}", "warning", warning_id, actor.name, {"note": note} if note else {})
