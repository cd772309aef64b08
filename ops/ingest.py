"""The doors: citizen reports (joined when they describe one event), parking sensor events,
worker positions and device alarms. Every input is checked field by field; a refused input
changes nothing and says which field and why."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from scipy.spatial import cKDTree
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from data.models import OPEN_STATUSES, Incident, ParkingEvent, ParkingSpace, Photo, Report, Worker, utcnow
from data.store import Store, insert_returning_ids, record_event
from geo.crs import SYSTEMS, from_metres, to_metres, to_wgs84
from geo.grid_index import OUTSIDE, GridIndex
from ops import lifecycle
from ops.accounts import Actor
from ops.cases import Cases
from ops.errors import Forbidden, Invalid
from ops.field import move_workers
from ops.incidents import due_at
from ops.media import store_photo
from ops.parsing import MAX_ID, timestamp
from ops.permissions import roles_with
from ops.suggestions import suggest

INGEST_ROLES = roles_with("feed_data")
REPORT_KINDS = ("fire", "police", "ticket")
LIMITS = {"category": 64, "description": 2000, "title": 200, "name": 64, "case_number": 64}
PHONE = re.compile(r"^\+?[0-9][0-9 -]{4,19}$")
PARKING_EVENTS = ("park_start", "park_end", "comms_lost", "comms_restored")
ALARM_TYPES = {"blood_pressure": "老人血压异常", "alarm_pillar": "一键报警柱", "smoke": "烟感报警"}
MAX_BATCH = 5000


def require_ingest(actor: Actor) -> None:
    if actor.role not in INGEST_ROLES:
        raise Forbidden("error.role_may_not", {"role": actor.role, "what": "feed_data"})


def _text(body: dict[str, Any], name: str, required: bool = False, prefix: str = "") -> str:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise Invalid("error.field_required", {"name": prefix + name}, field=prefix + name)
        return ""
    if not isinstance(value, str):
        raise Invalid("error.field_string", {"name": prefix + name}, field=prefix + name)
    if len(value) > LIMITS.get(name, 200):
        raise Invalid(
            "error.field_too_long", {"name": prefix + name, "limit": LIMITS.get(name, 200)}, field=prefix + name
        )
    return value.strip()


def _number(body: dict[str, Any], name: str, prefix: str = "") -> float:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise Invalid("error.field_number", {"name": prefix + name}, field=prefix + name)
    return float(value)


def _extra(body: dict[str, Any], allowed: set[str], prefix: str = "") -> None:
    extra = sorted(set(body) - allowed)
    if extra:
        raise Invalid("error.field_unknown", {"name": prefix + extra[0]}, field=prefix + extra[0])


def _coordinates(body: dict[str, Any], prefix: str = "") -> tuple[float, float, str]:
    """(lon, lat, crs) as given: numbers in range, a known system, longitude first."""
    lon, lat = _number(body, "lon", prefix), _number(body, "lat", prefix)
    crs = body.get("crs", "wgs84")
    if not isinstance(crs, str) or crs.lower() not in SYSTEMS:
        raise Invalid("error.crs_unknown", {"crs": crs, "systems": ", ".join(SYSTEMS)}, field=prefix + "crs")
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        swapped = -90 <= lon <= 90 and -180 <= lat <= 180
        raise Invalid("error.lonlat_swapped" if swapped else "error.lonlat_range", field=prefix + "lon")
    return lon, lat, crs.lower()


def locate(index: GridIndex, body: dict[str, Any], prefix: str = "") -> tuple[float, float, int]:
    """(lon, lat, grid id) in WGS-84 from ``lon``, ``lat`` and an optional ``crs``; refuses
    swapped coordinates, unknown systems and points outside the city."""
    return _place_one(index, *_coordinates(body, prefix), prefix)


def _place_one(index: GridIndex, lon: float, lat: float, crs: str, prefix: str = "") -> tuple[float, float, int]:
    wlon, wlat, grid, swapped = _place_all(index, np.array([lon]), np.array([lat]), [crs])
    if grid[0] == OUTSIDE:
        exc = _outside_error(lon, lat, bool(swapped[0]))
        raise Invalid(exc.key, exc.params, field=prefix + (exc.field or ""))
    return float(wlon[0]), float(wlat[0]), int(grid[0])


@dataclass
class CitizenReport:
    kind: str
    category: str
    title: str
    description: str
    priority: int
    lon: float
    lat: float
    grid_id: int
    reporter_name: str
    reporter_phone: str
    case_number: str
    source: str


def _report_fields(body: Any, source: str) -> tuple[dict[str, Any], float, float, str]:
    """Everything of a report but its place: (fields, raw lon, raw lat, crs); ``Invalid`` names the field."""
    if not isinstance(body, dict):
        raise Invalid("error.body_object", field="body")
    _extra(
        body, {"kind", "category", "title", "lon", "lat", "crs", "description", "priority", "reporter", "case_number"}
    )
    kind = body.get("kind")
    if kind not in REPORT_KINDS:
        raise Invalid("error.kind_one_of", {"kinds": ", ".join(REPORT_KINDS)}, field="kind")
    category = _text(body, "category", required=True)
    priority = body.get("priority", 1 if kind == "fire" else 3)
    if isinstance(priority, bool) or priority not in (1, 2, 3):
        raise Invalid("error.priority_range", field="priority")
    reporter = body.get("reporter", {})
    if not isinstance(reporter, dict):
        raise Invalid("error.reporter_object", field="reporter")
    _extra(reporter, {"name", "phone"}, "reporter.")
    phone = _text(reporter, "phone", prefix="reporter.")
    if phone and not PHONE.match(phone):
        raise Invalid("error.reporter_phone", field="reporter.phone")
    lon, lat, crs = _coordinates(body)
    fields = {
        "kind": kind,
        "category": category,
        "title": _text(body, "title") or category,
        "description": _text(body, "description"),
        "priority": int(priority),
        "reporter_name": _text(reporter, "name", prefix="reporter."),
        "reporter_phone": phone,
        "case_number": _text(body, "case_number"),
        "source": "110" if body.get("case_number") else source,
    }
    return fields, lon, lat, crs


def _place_all(index: GridIndex, lon: np.ndarray, lat: np.ndarray, crs: list[str]) -> tuple[np.ndarray, ...]:
    """WGS-84 positions, grid ids and a swapped flag for many points at once."""
    lon, lat = lon.copy(), lat.copy()
    systems = np.array(crs, dtype=object)
    for system in set(crs):
        m = systems == system
        lon[m], lat[m] = to_wgs84(lon[m], lat[m], system)
    grid = index.locate(lon, lat)
    swapped = np.zeros(len(lon), dtype=bool)
    outside = grid == OUTSIDE
    if outside.any():
        swapped[outside] = index.looks_swapped(lon[outside], lat[outside])
    return lon, lat, grid, swapped


def _outside_error(lon: float, lat: float, swapped: bool) -> Invalid:
    if swapped:
        return Invalid("error.lonlat_swapped", field="lon")
    return Invalid("error.point_outside", {"lon": lon, "lat": lat}, field="lat")


def parse_report(body: Any, index: GridIndex, source: str = "api") -> CitizenReport:
    """Check a POST /incidents body: every problem is an ``Invalid`` naming its field."""
    fields, lon, lat, crs = _report_fields(body, source)
    wlon, wlat, grid = _place_one(index, lon, lat, crs)
    return CitizenReport(lon=wlon, lat=wlat, grid_id=grid, **fields)


# A report at exactly the merge distance joins: distances are compared as ``<= dedup_m`` give or
# take a micrometre, so a point placed 50 m away (through degrees and back) is 50 m on either door.
MERGE_SLACK_M = 1e-6


def open_to_join(
    s: Session, kind: str, x: np.ndarray, y: np.ndarray, now: datetime, dedup_m: float, dedup_minutes: int
) -> np.ndarray:
    """For each report at (x, y) (UTM 48N metres), the id of the nearest open incident of ``kind``
    at most ``dedup_m`` metres away and reported within ``dedup_minutes``, else -1. The one merge
    rule of the single and the batch door."""
    targets = np.full(len(x), -1, dtype=np.int64)
    if len(x) == 0:
        return targets
    reach = dedup_m + 1.0  # the box's corners one metre beyond the radius; the exact test is in metres
    lo_x, hi_x, lo_y, hi_y = np.min(x) - reach, np.max(x) + reach, np.min(y) - reach, np.max(y) + reach
    lons, lats = from_metres(np.array([lo_x, hi_x, lo_x, hi_x]), np.array([lo_y, lo_y, hi_y, hi_y]))
    open_now = s.execute(
        select(Incident.id, Incident.lon, Incident.lat).where(
            Incident.kind == kind,
            Incident.status.in_(OPEN_STATUSES),
            Incident.created_at >= now - timedelta(minutes=dedup_minutes),
            Incident.lon.between(float(np.min(lons)), float(np.max(lons))),
            Incident.lat.between(float(np.min(lats)), float(np.max(lats))),
        )
    ).all()
    if not open_now:
        return targets
    ex, ey = to_metres([r.lon for r in open_now], [r.lat for r in open_now])
    # cKDTree's bound is strict (<); the slack makes it "at most dedup_m".
    dist, nearest = cKDTree(np.column_stack([ex, ey])).query(
        np.column_stack([x, y]), distance_upper_bound=dedup_m + MERGE_SLACK_M
    )
    hit = np.isfinite(dist)
    targets[hit] = [open_now[j].id for j in nearest[hit]]
    return targets


def submit_report(
    store: Store,
    actor: Actor,
    report: CitizenReport,
    sla_minutes: dict[str, dict[int, int]],
    dedup_m: float,
    dedup_minutes: int,
    photo: bytes | None = None,
    media_dir: str = "media",
    cases: Cases | None = None,
) -> tuple[int, bool]:
    """Store a report; it joins an open incident of the same kind within ``dedup_m`` metres and
    ``dedup_minutes`` minutes, else starts a new one (entering the case loop with ``cases``).
    Returns (incident id, joined)."""
    require_ingest(actor)
    now = utcnow()
    with store.transaction() as s:
        stored = store_photo(media_dir, photo) if photo is not None else None
        x, y = to_metres([report.lon], [report.lat])
        target = open_to_join(s, report.kind, x, y, now, dedup_m, dedup_minutes)[0]
        joined = int(target) if target >= 0 else None
        if joined is None:
            row = {
                "kind": report.kind,
                "category": report.category,
                "priority": report.priority,
                "status": "new",
                "title": report.title,
                "description": report.description,
                "lon": report.lon,
                "lat": report.lat,
                "grid_id": report.grid_id,
                "reporter_name": report.reporter_name or None,
                "reporter_phone": report.reporter_phone or None,
                "source": report.source,
                "external_id": report.case_number or None,
                "created_at": now,
                "updated_at": now,
                "due_at": due_at(now, report.kind, report.priority, sla_minutes),
                "report_count": 1,
            }
            incident_id = _new_incident(s, actor, row, {"source": report.source}, cases)
        else:
            incident_id = joined
            s.execute(
                update(Incident)
                .where(Incident.id == joined)
                .values(report_count=Incident.report_count + 1, updated_at=now)
            )
            record_event(s, "incident.reported_again", "incident", joined, actor.name, {"source": report.source})
        s.add(
            Report(
                incident_id=incident_id,
                reporter_name=report.reporter_name or None,
                reporter_phone=report.reporter_phone or None,
                lon=report.lon,
                lat=report.lat,
                description=report.description,
                source=report.source,
                photo=stored.name if stored else None,
                created_at=now,
            )
        )
        if stored:
            s.add(
                Photo(
                    incident_id=incident_id,
                    name=stored.name,
                    width=stored.width,
                    height=stored.height,
                    uploaded_by=actor.name,
                    created_at=now,
                )
            )
    return incident_id, joined is not None


def submit_batch(
    store: Store,
    index: GridIndex,
    actor: Actor,
    bodies: list[Any],
    sla_minutes: dict[str, dict[int, int]],
    dedup_m: float,
    dedup_minutes: int,
    cases: Cases | None = None,
) -> list[dict[str, Any]]:
    """Many reports at once, in one transaction: checked one by one, placed and de-duplicated
    together (against open incidents and within the batch), stored with executemany; with
    ``cases`` the new ones enter the case loop (routed together, one vectorized call).
    Answers item by item: ``created`` or ``joined`` with the incident id, or ``rejected``."""
    require_ingest(actor)
    results: list[dict[str, Any]] = [{} for _ in bodies]
    good: list[tuple[int, dict[str, Any]]] = []
    raw_lon, raw_lat, crs = [], [], []
    for i, body in enumerate(bodies):
        try:
            fields, lon, lat, system = _report_fields(body, "api")
        except Invalid as exc:
            results[i] = {"index": i, "status": "rejected", "field": exc.field, "reason": exc.message}
            continue
        good.append((i, fields))
        raw_lon.append(lon)
        raw_lat.append(lat)
        crs.append(system)
    if not good:
        return results
    lon, lat, grid, swapped = _place_all(index, np.array(raw_lon), np.array(raw_lat), crs)
    placed = []
    for k, (i, fields) in enumerate(good):
        if grid[k] == OUTSIDE:
            exc = _outside_error(raw_lon[k], raw_lat[k], bool(swapped[k]))
            results[i] = {"index": i, "status": "rejected", "field": exc.field, "reason": exc.message}
        else:
            placed.append((k, i, fields))
    if not placed:
        return results
    keep = np.array([k for k, _, _ in placed])
    x, y = to_metres(lon[keep], lat[keep])
    kinds = np.array([f["kind"] for _, _, f in placed], dtype=object)
    now = utcnow()
    leader = np.arange(len(placed))  # which batch item each report joins (itself when new)
    joined_existing = np.full(len(placed), -1, dtype=np.int64)
    with store.transaction() as s:
        for kind in set(kinds):
            m = np.nonzero(kinds == kind)[0]
            joined_existing[m] = open_to_join(s, kind, x[m], y[m], now, dedup_m, dedup_minutes)
            fresh = m[joined_existing[m] < 0]
            if len(fresh) > 1:
                # Within the batch, a report joins the earliest report of its group (same edge: <=).
                pairs = cKDTree(np.column_stack([x[fresh], y[fresh]])).query_pairs(dedup_m + MERGE_SLACK_M)
                for a, b in sorted(pairs):
                    first, later = fresh[a], fresh[b]
                    leader[later] = min(leader[later], leader[first])
        # Plain lists: indexing lon[keep][p] in the loop would copy the whole array for every row.
        klon, klat, kgrid = lon[keep].tolist(), lat[keep].tolist(), grid[keep].tolist()
        new_rows, new_pos = [], []
        for p, (_, _, f) in enumerate(placed):
            if joined_existing[p] < 0 and leader[p] == p:
                new_pos.append(p)
                new_rows.append(
                    {
                        "kind": f["kind"],
                        "category": f["category"],
                        "priority": f["priority"],
                        "status": "new",
                        "title": f["title"],
                        "description": f["description"],
                        "lon": klon[p],
                        "lat": klat[p],
                        "grid_id": int(kgrid[p]),
                        "reporter_name": f["reporter_name"] or None,
                        "reporter_phone": f["reporter_phone"] or None,
                        "source": f["source"],
                        "external_id": f["case_number"] or None,
                        "created_at": now,
                        "updated_at": now,
                        "due_at": due_at(now, f["kind"], f["priority"], sla_minutes),
                        "report_count": 1,
                    }
                )
        if cases is not None:
            cases.stage_new(new_rows)
        new_ids = insert_returning_ids(s, Incident.__table__, new_rows)
        incident_of = dict(zip(new_pos, new_ids, strict=True))
        extra: dict[int, int] = {}
        reports = []
        for p, (_, i, f) in enumerate(placed):
            target = int(joined_existing[p]) if joined_existing[p] >= 0 else incident_of[int(leader[p])]
            is_new = joined_existing[p] < 0 and leader[p] == p
            if not is_new:
                extra[target] = extra.get(target, 0) + 1
            results[i] = {"index": i, "status": "created" if is_new else "joined", "incident_id": target}
            reports.append(
                {
                    "incident_id": target,
                    "reporter_name": f["reporter_name"] or None,
                    "reporter_phone": f["reporter_phone"] or None,
                    "lon": klon[p],
                    "lat": klat[p],
                    "description": f["description"],
                    "source": f["source"],
                    "created_at": now,
                }
            )
        if extra:
            s.connection().execute(
                update(Incident)
                .where(Incident.id == bindparam("iid"))
                .values(report_count=Incident.report_count + bindparam("n"), updated_at=now),
                [{"iid": k, "n": v} for k, v in extra.items()],
            )
        s.connection().execute(insert(Report.__table__), reports)
        record_event(
            s,
            "incident.created",
            "incident",
            new_ids[-1] if new_ids else None,
            actor.name,
            {"ids": list(new_ids), "kinds": sorted(set(kinds)), "joined": sum(extra.values())},
        )
        if cases is not None:
            cases.record_new(s, actor, new_ids, new_rows)
    return results


def _new_incident(s: Session, actor: Actor, row: dict[str, Any], detail: dict[str, Any], cases: Cases | None) -> int:
    """Add one incident (its column values) and its creation event inside the caller's transaction,
    entering the case loop with ``cases``; return its id."""
    if cases is not None:
        cases.stage_new([row])
    item = Incident(**row)
    s.add(item)
    s.flush()
    record_event(
        s, "incident.created", "incident", item.id, actor.name, {"ids": [item.id], "kinds": [item.kind], **detail}
    )
    if cases is not None:
        cases.record_new(s, actor, [item.id], [row])
    return item.id


def _event_time(value: Any, field: str) -> datetime:
    """ISO 8601 (with or without zone) or Unix milliseconds, as naive UTC."""
    return timestamp(value, field)


def _batch(body: Any, key: str) -> list[Any]:
    if not isinstance(body, dict) or set(body) != {key} or not isinstance(body[key], list):
        raise Invalid("error.batch_shape", {"key": key}, field=key)
    if not body[key]:
        raise Invalid("error.batch_empty", {"key": key}, field=key)
    if len(body[key]) > MAX_BATCH:
        raise Invalid("error.batch_too_big", {"key": key, "max": MAX_BATCH}, field=key)
    return body[key]


def ingest_parking(store: Store, actor: Actor, body: Any) -> list[dict[str, Any]]:
    """Apply a batch of kerbside events in one transaction; answer item by item.

    Occupancy and comms state move only forward in ``sequence_number``: a late or repeated event
    is stored once (by ``event_id``) and never overrides a newer one.
    """
    require_ingest(actor)
    events = _batch(body, "events")
    results: list[dict[str, Any]] = []
    parsed = []
    for i, ev in enumerate(events):
        p = f"events[{i}]."
        try:
            if not isinstance(ev, dict):
                raise Invalid("error.event_object", field=f"events[{i}]")
            _extra(ev, {"event_id", "event_type", "event_time", "curb_space_id", "device_id", "sequence_number"}, p)
            event_type = ev.get("event_type")
            if event_type not in PARKING_EVENTS:
                raise Invalid("error.parking_event_type", {"types": ", ".join(PARKING_EVENTS)}, field=p + "event_type")
            seq = ev.get("sequence_number")
            if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= MAX_ID:
                raise Invalid("error.sequence_number", {"max": MAX_ID}, field=p + "sequence_number")
            parsed.append(
                (
                    i,
                    _text(ev, "event_id", True, p),
                    event_type,
                    _event_time(ev.get("event_time"), p + "event_time"),
                    _text(ev, "curb_space_id", True, p),
                    _text(ev, "device_id", True, p),
                    seq,
                )
            )
            results.append({"index": i, "status": "pending"})
        except Invalid as exc:
            results.append({"index": i, "status": "rejected", "field": exc.field, "reason": exc.message})
    now = utcnow()
    with store.transaction() as s:
        codes = {p[4] for p in parsed}
        spaces = {
            r.code: r
            for r in s.execute(
                select(ParkingSpace.id, ParkingSpace.code, ParkingSpace.seq).where(ParkingSpace.code.in_(codes))
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
    items = _batch(body, "positions")
    results: list[dict[str, Any]] = []
    moves: dict[int, tuple[float, float]] = {}
    with store.read() as s:
        known = set(s.scalars(select(Worker.id)))
    for i, item in enumerate(items):
        p = f"positions[{i}]."
        try:
            if not isinstance(item, dict):
                raise Invalid("error.position_object", field=f"positions[{i}]")
            _extra(item, {"worker_id", "lon", "lat", "crs", "at"}, p)
            wid = item.get("worker_id")
            if isinstance(wid, bool) or not isinstance(wid, int) or wid not in known:
                raise Invalid("error.worker_id_unknown", field=p + "worker_id")
            if "at" in item:
                _event_time(item["at"], p + "at")
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
    items = _batch(body, "alarms")
    results: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        p = f"alarms[{i}]."
        try:
            if not isinstance(item, dict):
                raise Invalid("error.alarm_object", field=f"alarms[{i}]")
            _extra(item, {"event_id", "device_id", "type", "lon", "lat", "crs", "description", "at"}, p)
            kind = item.get("type")
            if kind not in ALARM_TYPES:
                raise Invalid("error.alarm_type", {"types": ", ".join(ALARM_TYPES)}, field=p + "type")
            event_id, device = _text(item, "event_id", True, p), _text(item, "device_id", True, p)
            lon, lat, grid = locate(index, item, p)
            results.append(
                _raise_alarm(
                    store,
                    actor,
                    event_id,
                    device,
                    kind,
                    _text(item, "description", prefix=p),
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
        incident_id = _new_incident(s, actor, row, {"device": device}, cases)
    best = suggest(store, incident_id, limit=1)
    if best and best[0].own_grid:
        task = lifecycle.assign(store, actor, incident_id, best[0].worker_id)
        return {"status": "created", "incident_id": incident_id, "task_id": task, "worker_id": best[0].worker_id}
    return {"status": "created", "incident_id": incident_id}
