"""Citizen reports: their fields checked, then stored one by one or as a batch, each joining an open
incident when it describes the same event (``ops.ingest.merging.open_to_join``) or starting one."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial import cKDTree
from sqlalchemy import bindparam, insert, update
from sqlalchemy.orm import Session

from data.models import Incident, Photo, Report, utcnow
from data.store import Store, insert_returning_ids, record_event
from geo.crs import to_metres
from geo.grid_index import OUTSIDE, GridIndex
from ops.accounts import Actor
from ops.cases import Cases
from ops.errors import Invalid
from ops.incidents import due_at
from ops.ingest.fields import (
    coordinates,
    outside_error,
    place_all,
    place_one,
    refuse_unknown,
    require_ingest,
    text_field,
)
from ops.ingest.merging import MERGE_SLACK_M, open_to_join
from ops.media import store_photo

REPORT_KINDS = ("fire", "police", "ticket")
PHONE = re.compile(r"^\+?[0-9][0-9 -]{4,19}$")


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
    refuse_unknown(
        body, {"kind", "category", "title", "lon", "lat", "crs", "description", "priority", "reporter", "case_number"}
    )
    kind = body.get("kind")
    if kind not in REPORT_KINDS:
        raise Invalid("error.kind_one_of", {"kinds": ", ".join(REPORT_KINDS)}, field="kind")
    category = text_field(body, "category", required=True)
    priority = body.get("priority", 1 if kind == "fire" else 3)
    if isinstance(priority, bool) or priority not in (1, 2, 3):
        raise Invalid("error.priority_range", field="priority")
    reporter = body.get("reporter", {})
    if not isinstance(reporter, dict):
        raise Invalid("error.reporter_object", field="reporter")
    refuse_unknown(reporter, {"name", "phone"}, "reporter.")
    phone = text_field(reporter, "phone", prefix="reporter.")
    if phone and not PHONE.match(phone):
        raise Invalid("error.reporter_phone", field="reporter.phone")
    lon, lat, crs = coordinates(body)
    fields = {
        "kind": kind,
        "category": category,
        "title": text_field(body, "title") or category,
        "description": text_field(body, "description"),
        "priority": int(priority),
        "reporter_name": text_field(reporter, "name", prefix="reporter."),
        "reporter_phone": phone,
        "case_number": text_field(body, "case_number"),
        "source": "110" if body.get("case_number") else source,
    }
    return fields, lon, lat, crs


def parse_report(body: Any, index: GridIndex, source: str = "api") -> CitizenReport:
    """Check a POST /incidents body: every problem is an ``Invalid`` naming its field."""
    fields, lon, lat, crs = _report_fields(body, source)
    wlon, wlat, grid = place_one(index, lon, lat, crs)
    return CitizenReport(lon=wlon, lat=wlat, grid_id=grid, **fields)


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
            incident_id = new_incident(s, actor, row, {"source": report.source}, cases)
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
    lon, lat, grid, swapped = place_all(index, np.array(raw_lon), np.array(raw_lat), crs)
    placed = []
    for k, (i, fields) in enumerate(good):
        if grid[k] == OUTSIDE:
            exc = outside_error(raw_lon[k], raw_lat[k], bool(swapped[k]))
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


def new_incident(s: Session, actor: Actor, row: dict[str, Any], detail: dict[str, Any], cases: Cases | None) -> int:
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
