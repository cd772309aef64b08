"""Detectors, one per rule type, as a registry: (store, rule, now, last resolution per place) -> findings.

A detector only reads (``parking_occupancy`` also keeps its ``RuleWatch`` rows: since when a segment
has been full); raising warnings is the engine's job (``ops.early_warning.engine``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, func, select

from data.models import (
    ACTIVE_TASK_STATUSES,
    OPEN_STATUSES,
    UNASSIGNED_STATUSES,
    AccessEvent,
    Grid,
    Incident,
    ParkingSegment,
    ParkingSpace,
    Place,
    RuleWatch,
    Task,
    Worker,
)
from data.store import Store
from locales import Message, msg
from ops.early_warning.rules import Rule


@dataclass
class Finding:
    """One place where a rule holds now."""

    place_key: str
    title: Message  # stored as its key and parameters: each screen reads it in its own language
    lon: float | None
    lat: float | None
    grid_id: int | None
    detail: dict[str, Any]


def _grid_names(store: Store, ids: set[int]) -> dict[int, tuple[str, float, float]]:
    if not ids:
        return {}
    with store.read() as s:
        rows = s.execute(select(Grid.id, Grid.name, Grid.center_lon, Grid.center_lat).where(Grid.id.in_(ids)))
        return {r.id: (r.name, r.center_lon, r.center_lat) for r in rows}


def ticket_cluster(store: Store, rule: Rule, now: datetime, resolved: dict[str, datetime]) -> list[Finding]:
    p = rule.params
    start = now - timedelta(hours=p["hours"])
    base = (
        select(Incident.grid_id, Incident.category, func.count())
        .where(Incident.kind.in_(p["kinds"]), Incident.created_at <= now)
        .where(Incident.grid_id.is_not(None), Incident.status != "cancelled")
        .group_by(Incident.grid_id, Incident.category)
        .having(func.count() >= p["count"])
    )
    if p["categories"]:
        base = base.where(Incident.category.in_(p["categories"]))
    counts: dict[tuple[int, str], int] = {}
    with store.read() as s:
        # Counted by the database: a city's day of tickets never crosses into Python.
        for gid, category, n in s.execute(base.where(Incident.created_at > start)):
            since = resolved.get(f"grid:{gid}:{category}")
            if since is not None and since > start:
                # Tickets already answered by a resolved warning at this place do not count again.
                again = base.where(Incident.created_at > since, Incident.grid_id == gid, Incident.category == category)
                n = next((row[2] for row in s.execute(again)), 0)
            if n:
                counts[(gid, category)] = n
    hits = {k: n for k, n in counts.items() if n >= p["count"]}
    grids = _grid_names(store, {g for g, _ in hits})
    out = []
    for (gid, category), n in sorted(hits.items()):
        name, lon, lat = grids[gid]
        title = msg("warning.text.ticket_cluster", grid=name, hours=f"{p['hours']:g}", category=category, n=n)
        out.append(Finding(f"grid:{gid}:{category}", title, lon, lat, gid, {"count": n, "category": category}))
    return out


def parking_occupancy(store: Store, rule: Rule, now: datetime, resolved: dict[str, datetime]) -> list[Finding]:
    p = rule.params
    taken = func.sum(case((ParkingSpace.occupied, 1), else_=0))
    with store.transaction() as s:
        rows = s.execute(
            select(ParkingSpace.segment_id, func.count(ParkingSpace.id), taken).group_by(ParkingSpace.segment_id)
        ).all()
        full = {sid: (n, k or 0) for sid, n, k in rows if n and 100.0 * (k or 0) / n >= p["percent"]}
        watches = dict(
            s.execute(select(RuleWatch.place_key, RuleWatch.since).where(RuleWatch.rule_id == rule.id)).all()
        )
        keys = {f"segment:{sid}": sid for sid in full}
        gone = [k for k in watches if k not in keys]
        if gone:
            s.execute(delete(RuleWatch).where(RuleWatch.rule_id == rule.id, RuleWatch.place_key.in_(gone)))
        new = [{"rule_id": rule.id, "place_key": k, "since": now} for k in keys if k not in watches]
        if new:
            s.execute(RuleWatch.__table__.insert(), new)
    hold = timedelta(minutes=p["minutes"])
    due: dict[str, datetime] = {}
    for key in keys:
        since = max(watches.get(key, now), resolved.get(key, datetime.min))
        if now - since >= hold:
            due[key] = since
    if not due:
        return []
    with store.read() as s:
        segments = {
            r.id: r
            for r in s.execute(
                select(ParkingSegment.id, ParkingSegment.name, ParkingSegment.geom).where(
                    ParkingSegment.id.in_([keys[k] for k in due])
                )
            )
        }
    out = []
    for key, since in due.items():
        sid = keys[key]
        total, occupied = full[sid]
        name, geom = segments[sid].name, segments[sid].geom
        mid = geom.interpolate(0.5, normalized=True)
        pct = 100.0 * occupied / total
        held = (now - since).total_seconds() / 60
        title = msg("warning.text.parking_occupancy", segment=name, pct=f"{pct:.0f}", minutes=f"{held:.0f}")
        out.append(Finding(key, title, mid.x, mid.y, None, {"percent": round(pct, 1), "since": since.isoformat()}))
    return out


def unassigned(store: Store, rule: Rule, now: datetime, resolved: dict[str, datetime]) -> list[Finding]:
    cutoff = now - timedelta(minutes=rule.params["minutes"])
    with store.read() as s:
        rows = s.execute(
            select(Incident.id, Incident.kind, Incident.title, Incident.lon, Incident.lat, Incident.grid_id)
            .where(Incident.kind.in_(rule.params["kinds"]), Incident.status.in_(UNASSIGNED_STATUSES))
            # New items wait since they came in; declined or reopened ones since they came back.
            .where(
                ((Incident.status == "new") & (Incident.created_at <= cutoff))
                | ((Incident.status != "new") & (Incident.updated_at <= cutoff))
            )
        ).all()
    out = []
    for r in rows:
        key = f"incident:{r.id}"
        if key in resolved:
            continue  # one warning per item: once resolved, it stays answered
        title = msg(
            "warning.text.unassigned", id=r.id, kind=r.kind, title=r.title, minutes=f"{rule.params['minutes']:g}"
        )
        out.append(Finding(key, title, r.lon, r.lat, r.grid_id, {"incident": r.id}))
    return out


def worker_silent(store: Store, rule: Rule, now: datetime, resolved: dict[str, datetime]) -> list[Finding]:
    cutoff = now - timedelta(minutes=rule.params["minutes"])
    with store.read() as s:
        rows = s.execute(
            select(Worker.id, Worker.name, Worker.lon, Worker.lat, Worker.grid_id, Worker.position_at)
            .join(Task, Task.worker_id == Worker.id)
            .where(Task.status.in_(ACTIVE_TASK_STATUSES[1:]), Task.updated_at <= cutoff)
            .where((Worker.position_at.is_(None)) | (Worker.position_at <= cutoff))
            .distinct()
        ).all()
    out = []
    for r in rows:
        key = f"worker:{r.id}"
        if key in resolved and resolved[key] > cutoff:
            continue  # resolved lately: silence counts again from the resolution
        last = r.position_at.isoformat() if r.position_at else None
        title = msg("warning.text.worker_silent", name=r.name, minutes=f"{rule.params['minutes']:g}")
        out.append(Finding(key, title, r.lon, r.lat, r.grid_id, {"worker": r.id, "last_position_at": last}))
    return out


def device_alarm(store: Store, rule: Rule, now: datetime, resolved: dict[str, datetime]) -> list[Finding]:
    start = now - timedelta(minutes=rule.params["minutes"])
    with store.read() as s:
        rows = s.execute(
            select(Incident.id, Incident.category, Incident.title, Incident.lon, Incident.lat, Incident.grid_id)
            .where(Incident.kind == "alarm", Incident.status.in_(OPEN_STATUSES))
            .where(Incident.created_at > start, Incident.created_at <= now)
        ).all()
    return [
        Finding(
            f"incident:{r.id}",
            msg("warning.text.device_alarm", id=r.id, category=r.category, title=r.title),
            r.lon,
            r.lat,
            r.grid_id,
            {"incident": r.id},
        )
        for r in rows
        if f"incident:{r.id}" not in resolved
    ]


def place_activity(store: Store, rule: Rule, now: datetime, resolved: dict[str, datetime]) -> list[Finding]:
    p = rule.params
    start = now - timedelta(minutes=p["minutes"])
    q = (
        select(Place.id, AccessEvent.credential, func.max(AccessEvent.at))
        .join(AccessEvent, AccessEvent.place_id == Place.id)
        .where(AccessEvent.at > start, AccessEvent.at <= now, AccessEvent.direction == "in")
        .group_by(Place.id, AccessEvent.credential)
    )
    if p["place_kinds"]:
        q = q.where(Place.kind.in_(p["place_kinds"]))
    distinct: dict[int, int] = {}
    with store.read() as s:
        for pid, _cred, last in s.execute(q):
            if last <= resolved.get(f"place:{pid}", start):
                continue  # entries already answered by a resolved warning
            distinct[pid] = distinct.get(pid, 0) + 1
        places = {
            r.id: r
            for r in s.execute(select(Place).where(Place.id.in_(list(distinct)))).scalars()
            if distinct[r.id] >= r.registered_occupants + p["excess"]
        }
    out = []
    for pid, place in sorted(places.items()):
        n = distinct[pid]
        title = msg(
            "warning.text.place_activity",
            address=place.address,
            n=n,
            minutes=f"{p['minutes']:g}",
            registered=place.registered_occupants,
        )
        detail = {"place": pid, "distinct_entries": n, "registered_occupants": place.registered_occupants}
        out.append(Finding(f"place:{pid}", title, place.lon, place.lat, place.grid_id, detail))
    return out


DETECTORS: dict[str, Callable[[Store, Rule, datetime, dict[str, datetime]], list[Finding]]] = {
    "ticket_cluster": ticket_cluster,
    "parking_occupancy": parking_occupancy,
    "unassigned": unassigned,
    "worker_silent": worker_silent,
    "device_alarm": device_alarm,
    "place_activity": place_activity,
}
