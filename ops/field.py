"""State reported from the street: parking space occupancy and worker positions (batched)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, insert, select, update

from data.models import ParkingEvent, ParkingSpace, Worker, utcnow
from data.store import Store, record_event, retried
from ops.accounts import Actor
from ops.errors import Forbidden, Invalid, NotFound

FIELD_ROLES = ("operator", "supervisor", "admin")


@dataclass
class SpaceChange:
    space_id: int
    occupied: bool
    seq: int
    at: datetime | None = None


@retried
def update_parking(store: Store, actor: Actor, changes: list[SpaceChange]) -> int:
    """Apply space changes; an event older (by sequence) than the stored state is ignored."""
    if actor.role not in FIELD_ROLES:
        raise Forbidden("error.role_may_not", {"role": actor.role, "what": "report_parking"})
    if not changes:
        return 0
    now = utcnow()
    stmt = (
        update(ParkingSpace)
        .where(ParkingSpace.id == bindparam("sid"), ParkingSpace.seq < bindparam("s"))
        .values(occupied=bindparam("o"), seq=bindparam("s"), updated_at=bindparam("t"), changed_at=now)
    )
    # In space id order (and by sequence within a space), as the sensor batches lock them: no deadlock.
    rows = [{"sid": c.space_id, "o": c.occupied, "s": c.seq, "t": c.at or now} for c in changes]
    rows.sort(key=lambda r: (r["sid"], r["s"]))
    # Kept as sensor events too, so the review page's parking statistics cover simulated streets.
    events = {
        f"{actor.name}-{r['sid']}-{r['s']}": {
            "event_id": f"{actor.name}-{r['sid']}-{r['s']}",
            "space_id": r["sid"],
            "event_type": "park_start" if r["o"] else "park_end",
            "event_time": r["t"],
            "sequence_number": r["s"],
            "device_id": actor.name,
            "received_at": now,
        }
        for r in rows
    }
    with store.transaction() as s:
        s.connection().execute(stmt, rows)
        seen = set(s.scalars(select(ParkingEvent.event_id).where(ParkingEvent.event_id.in_(list(events)))))
        fresh = [e for key, e in events.items() if key not in seen]  # a repeated report is stored once
        if fresh:
            s.execute(insert(ParkingEvent), fresh)
        record_event(s, "parking.changed", "parking", None, actor.name, {"count": len(rows)})
    return len(rows)


@retried
def move_workers(store: Store, actor: Actor, positions: list[tuple[int, float, float]]) -> int:
    """Store the newest position of each worker: (worker id, lon, lat) in WGS-84."""
    if actor.role not in FIELD_ROLES:
        raise Forbidden("error.role_may_not", {"role": actor.role, "what": "move_workers"})
    if not positions:
        return 0
    now = utcnow()
    stmt = (
        update(Worker)
        .where(Worker.id == bindparam("wid"))
        .values(lon=bindparam("x"), lat=bindparam("y"), position_at=now, changed_at=now)
    )
    with store.transaction() as s:
        s.connection().execute(stmt, [{"wid": w, "x": x, "y": y} for w, x, y in positions])
        record_event(s, "workers.moved", "worker", None, actor.name, {"count": len(positions)})
    return len(positions)


@retried
def report_own_position(store: Store, actor: Actor, lon: float, lat: float, bounds: tuple[float, ...]) -> int:
    """A worker's phone reports where the worker is; only inside the city's bounds."""
    if actor.role != "worker" or actor.user_id is None:
        raise Forbidden("error.position_own_only")
    if not (bounds[0] <= lon <= bounds[2] and bounds[1] <= lat <= bounds[3]):
        raise Invalid("error.position_outside", {"lon": f"{lon:.5f}", "lat": f"{lat:.5f}"}, field="position")
    with store.transaction() as s:
        worker_id = s.scalar(select(Worker.id).where(Worker.user_id == actor.user_id))
        if worker_id is None:
            raise NotFound("error.no_linked_worker")
        s.execute(update(Worker).where(Worker.id == worker_id).values(lon=lon, lat=lat, position_at=utcnow()))
        record_event(s, "workers.moved", "worker", worker_id, actor.name, {"count": 1, "source": "phone"})
    return worker_id
