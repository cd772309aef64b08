"""State reported from the street: parking space occupancy and worker positions (batched)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, update

from data.models import ParkingSpace, Worker, utcnow
from data.store import Store, record_event
from ops.accounts import Actor
from ops.errors import Forbidden

FIELD_ROLES = ("operator", "supervisor", "admin")


@dataclass
class SpaceChange:
    space_id: int
    occupied: bool
    seq: int
    at: datetime | None = None


def update_parking(store: Store, actor: Actor, changes: list[SpaceChange]) -> int:
    """Apply space changes; an event older (by sequence) than the stored state is ignored."""
    if actor.role not in FIELD_ROLES:
        raise Forbidden(f"role {actor.role!r} may not report parking")
    if not changes:
        return 0
    now = utcnow()
    stmt = (
        update(ParkingSpace)
        .where(ParkingSpace.id == bindparam("sid"), ParkingSpace.seq < bindparam("s"))
        .values(occupied=bindparam("o"), seq=bindparam("s"), updated_at=bindparam("t"))
    )
    rows = [{"sid": c.space_id, "o": c.occupied, "s": c.seq, "t": c.at or now} for c in changes]
    with store.transaction() as s:
        s.connection().execute(stmt, rows)
        record_event(s, "parking.changed", "parking", None, actor.name, {"count": len(rows)})
    return len(rows)


def move_workers(store: Store, actor: Actor, positions: list[tuple[int, float, float]]) -> int:
    """Store the newest position of each worker: (worker id, lon, lat) in WGS-84."""
    if actor.role not in FIELD_ROLES:
        raise Forbidden(f"role {actor.role!r} may not move workers")
    if not positions:
        return 0
    now = utcnow()
    stmt = (
        update(Worker)
        .where(Worker.id == bindparam("wid"))
        .values(lon=bindparam("x"), lat=bindparam("y"), position_at=now)
    )
    with store.transaction() as s:
        s.connection().execute(stmt, [{"wid": w, "x": x, "y": y} for w, x, y in positions])
        record_event(s, "workers.moved", "worker", None, actor.name, {"count": len(positions)})
    return len(positions)
