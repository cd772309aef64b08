"""Sensors and devices: kerbside parking events (forward only in sequence), worker positions and
device alarms (urgent items, assigned at once to their grid's nearest worker)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from data.models import Incident, ParkingEvent, ParkingSpace, Worker, utcnow
from data.store import Store, record_event, retried
from geo.grid_index import GridIndex
from ops import lifecycle
from ops.accounts import Actor
from ops.cases import Cases
from ops.errors import Invalid
from ops.field import move_workers
from ops.incidents import due_at
from ops.ingest.fields import batch_items, event_time, locate, refuse_unknown, require_ingest, text_field
from ops.ingest.reports import new_incident
from ops.parsing import MAX_ID
from ops.suggestions import suggest

PARKING_EVENTS = ("park_start", "park_end", "comms_lost", "comms_restored")
ALARM_TYPES = {"blood_pressure": "老人血压异常", "alarm_pillar": "一键报警柱", "smoke": "烟感报警"}


def ingest_parking(store: Store, actor: Actor, body: Any) -> list[dict[str, Any]]:
    """Apply a batch of kerbside events in one transaction; answer item by item.

    Occupancy and comms state move only forward in ``sequence_number``: a late or repeated event
    is stored once (by ``event_id``) and never overrides a newer one.
    """
    require_ingest(actor)
    events = batch_items(body, "events")
    results: list[dict[str, Any]] = []
    parsed = []
    for i, ev in enumerate(events):
        p = f"events[{i}]."
        try:
            if not isinstance(ev, dict):
                raise Invalid("error.event_object", field=f"events[{i}]")
            refuse_unknown(
                ev, {"event_id", "event_type", "event_time", "curb_space_id", "device_id", "sequence_number"}, p
            )
            event_type = ev.get("event_type")
            if event_type not in PARKING_EVENTS:
                raise Invalid("error.parking_event_type", {"types": ", ".join(PARKING_EVENTS)}, field=p + "event_type")
            seq = ev.get("sequence_number")
            if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= MAX_ID:
                raise Invalid("error.sequence_number", {"max": MAX_ID}, field=p + "sequence_number")
            parsed.append(
                (
                    i,
                    text_field(ev, "event_id", True, p),
                    event_type,
                    event_time(ev.get("event_time"), p + "event_time"),
                    text_field(ev, "curb_space_id", True, p),
                    text_field(ev, "device_id", True, p),
                    seq,
                )
            )
            results.append({"index": i, "status": "pending"})
        except Invalid as exc:
            results.append({"index": i, "status": "rejected", "field": exc.field, "reason": exc.message})
    return _apply_parking(store, actor, parsed, results)


@retried
def _apply_parking(
    store: Store, actor: Actor, parsed: list[tuple], checked: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The batch's one transaction (run again whole after a deadlock or serialisation failure)."""
    results = [dict(r) for r in checked]
    now = utcnow()
    with store.transaction() as s:
        codes = {p[4] for p in parsed}
        # The spaces locked first, in id order: two batches (or a batch and the simulator's changes, also in
        # id order) touching the same spaces wait for each other instead of deadlocking.
        spaces = {
            r.code: r
            for r in s.execute(
                select(ParkingSpace.id, ParkingSpace.code, ParkingSpace.seq)
                .where(ParkingSpace.code.in_(codes))
                .order_by(ParkingSpace.id)
                .with_for_update()
            )
        }
        seen = set(s.scalars(select(ParkingEvent.event_id).where(ParkingEvent.event_id.in_([p[1] for p in parsed]))))
        latest: dict[int, int] = {r.id: r.seq for r in spaces.values()}
        applied = 0
        for i, event_id, event_type, at, code, device, seq in sorted(parsed, key=lambda p: p[6]):
            if code not in spaces:
                results[i] = {
                    "index": i,
                    "status": "rejected",
                    "field": f"events[{i}].curb_space_id",
                    "reason": f"unknown curb_space_id {code!r}",
                }
                continue
            if event_id in seen:
                results[i] = {"index": i, "status": "duplicate"}
                continue
            seen.add(event_id)
            space_id = spaces[code].id
            s.add(
                ParkingEvent(
                    event_id=event_id,
                    space_id=space_id,
                    event_type=event_type,
                    event_time=at,
                    sequence_number=seq,
                    device_id=device,
                    received_at=now,
                )
            )
            if seq <= latest[space_id]:
                results[i] = {"index": i, "status": "stale"}  # kept in history, state already newer
                continue
            latest[space_id] = seq
            values: dict[str, Any] = {"seq": seq, "updated_at": at}
            if event_type in ("park_start", "park_end"):
                values["occupied"] = event_type == "park_start"
            else:
                values["comms_ok"] = event_type == "comms_restored"
            s.execute(update(ParkingSpace).where(ParkingSpace.id == space_id, ParkingSpace.seq < seq).values(**values))
            results[i] = {"index": i, "status": "applied"}
            applied += 1
        if applied:
            record_event(s, "parking.changed", "parking", None, actor.name, {"count": applied})
    return results


def ingest_positions(store: Store, index: GridIndex, actor: Actor, body: Any) -> list[dict[str, Any]]:
    """Store a batch of worker positions; answer item by item."""
    require_ingest(actor)
    items = batch_items(body, "positions")
    results: list[dict[str, Any]] = []
    moves: dict[int, tuple[float, float]] = {}
    with store.read() as s:
        known = set(s.scalars(select(Worker.id)))
    for i, item in enumerate(items):
        p = f"positions[{i}]."
        try:
            if not isinstance(item, dict):
                raise Invalid("error.position_object", field=f"positions[{i}]")
            refuse_unknown(item, {"worker_id", "lon", "lat", "crs", "at"}, p)
            wid = item.get("worker_id")
            if isinstance(wid, bool) or not isinstance(wid, int) or wid not in known:
                raise Invalid("error.worker_id_unknown", field=p + "worker_id")
            if "at" in item:
                event_time(item["at"], p + "at")
            lon, lat, _ = locate(index, item, p)
            moves[wid] = (lon, lat)
            results.append({"index": i, "status": "applied"})
        except Invalid as exc:
            results.append({"index": i, "status": "rejected", "field": exc.field, "reason": exc.message})
    if moves:
        move_workers(store, actor, [(w, x, y) for w, (x, y) in moves.items()])
    return results


def ingest_alarms(
    store: Store,
    index: GridIndex,
    actor: Actor,
    body: Any,
    sla_minutes: dict[str, dict[int, int]],
    cases: Cases | None = None,
) -> list[dict[str, Any]]:
    """Device alarms become urgent items assigned at once to their grid's nearest worker (and, with
    ``cases``, filed and dispatched to the body that owns the alarm's kind there)."""
    require_ingest(actor)
    items = batch_items(body, "alarms")
    results: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        p = f"alarms[{i}]."
        try:
            if not isinstance(item, dict):
                raise Invalid("error.alarm_object", field=f"alarms[{i}]")
            refuse_unknown(item, {"event_id", "device_id", "type", "lon", "lat", "crs", "description", "at"}, p)
            kind = item.get("type")
            if kind not in ALARM_TYPES:
                raise Invalid("error.alarm_type", {"types": ", ".join(ALARM_TYPES)}, field=p + "type")
            event_id, device = text_field(item, "event_id", True, p), text_field(item, "device_id", True, p)
            lon, lat, grid = locate(index, item, p)
            results.append(
                _raise_alarm(
                    store,
                    actor,
                    event_id,
                    device,
                    kind,
                    text_field(item, "description", prefix=p),
                    lon,
                    lat,
                    grid,
                    sla_minutes,
                    cases,
                )
                | {"index": i}
            )
        except Invalid as exc:
            results.append({"index": i, "status": "rejected", "field": exc.field, "reason": exc.message})
    return results


def _raise_alarm(
    store: Store,
    actor: Actor,
    event_id: str,
    device: str,
    kind: str,
    description: str,
    lon: float,
    lat: float,
    grid: int,
    sla_minutes: dict[str, dict[int, int]],
    cases: Cases | None = None,
) -> dict[str, Any]:
    now = utcnow()
    with store.transaction() as s:
        existing = s.scalar(select(Incident.id).where(Incident.source == "device", Incident.external_id == event_id))
        if existing is not None:
            return {"status": "duplicate", "incident_id": existing}
        row = {
            "kind": "alarm",
            "category": ALARM_TYPES[kind],
            "priority": 1,
            "status": "new",
            "title": ALARM_TYPES[kind],
            "description": description or f"设备 {device}",
            "lon": lon,
            "lat": lat,
            "grid_id": grid,
            "source": "device",
            "external_id": event_id,
            "created_at": now,
            "updated_at": now,
            "due_at": due_at(now, "alarm", 1, sla_minutes),
        }
        incident_id = new_incident(s, actor, row, {"device": device}, cases)
    best = suggest(store, incident_id, limit=1)
    if best and best[0].own_grid:
        task = lifecycle.assign(store, actor, incident_id, best[0].worker_id)
        return {"status": "created", "incident_id": incident_id, "task_id": task, "worker_id": best[0].worker_id}
    return {"status": "created", "incident_id": incident_id}
