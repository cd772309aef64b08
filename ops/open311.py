"""Open311 GeoReport v2 on top of service tickets: the service list, requests in and out.
A request posted here is a ticket on the map; its Open311 status follows the ticket, and its
``agency_responsible`` is the department that owns the case (empty while nobody does)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from data.models import OPEN_STATUSES, Department, Incident
from data.queries import keyset
from data.store import Store
from ops.errors import Invalid, NotFound
from ops.parsing import EARLIEST, LATEST, MAX_ID, timestamp, whole_numbers
from ops.privacy import PRIVATE_CATEGORIES, PUBLIC_KINDS, public_point, scrub

# service_code → (name shown to citizens, group)
SERVICES: dict[str, tuple[str, str]] = {
    "sanitation": ("环境卫生", "市容环境"),
    "street_vending": ("占道经营", "市容环境"),
    "noise": ("噪音扰民", "社会治安"),
    "road_damage": ("道路破损", "市政设施"),
    "streetlight": ("路灯故障", "市政设施"),
    "illegal_parking": ("违章停车", "交通"),
    "neighbour_dispute": ("邻里纠纷", "社会治安"),
    "utilities": ("供水供电", "市政设施"),
    "garbage": ("垃圾清运", "市容环境"),
    "inquiry": ("政策咨询", "政务服务"),
}
NAME_TO_CODE = {name: code for code, (name, _) in SERVICES.items()}
MAX_REQUESTS = 1000


def services() -> list[dict[str, Any]]:
    return [
        {
            "service_code": code,
            "service_name": name,
            "description": name,
            "metadata": False,
            "type": "realtime",
            "keywords": name,
            "group": group,
        }
        for code, (name, group) in SERVICES.items()
    ]


def definition(code: str) -> dict[str, Any]:
    if code not in SERVICES:
        raise NotFound("error.service_code_unknown", {"code": code}, field="service_code")
    return {"service_code": code, "attributes": []}


def _iso(when: datetime | None) -> str | None:
    return when.isoformat(timespec="seconds") + "Z" if when else None


def _request(row: Any) -> dict[str, Any]:
    # Public: no reporter name or phone leaves through Open311, the text is scrubbed, the place rounded.
    # No photo either: a report's or a worker's photo shows faces, plates, the inside of homes, and
    # /media answers only those who may open the item, so a public link would name a file nobody may read.
    lon, lat = public_point(row.lon, row.lat)
    closed = row.status not in OPEN_STATUSES
    return {
        "service_request_id": str(row.id),
        "status": "closed" if closed else "open",
        "status_notes": row.status,
        "service_name": row.category,
        "service_code": NAME_TO_CODE.get(row.category, "other"),
        "description": scrub(row.description),
        "agency_responsible": row.department_name or "",
        "service_notice": "",
        "requested_datetime": _iso(row.created_at),
        "updated_datetime": _iso(row.updated_at),
        "expected_datetime": _iso(row.due_at),
        "address": "",
        "address_id": "",
        "zipcode": "",
        "lat": lat,
        "long": lon,
        "media_url": "",
    }


def _date(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return timestamp(value, name)
    except Invalid:
        years = {"name": name, "lo": EARLIEST.year, "hi": LATEST.year}
        raise Invalid("error.datetime_w3c", years, field=name) from None


def find_requests(
    store: Store,
    args: dict[str, str],
    after: int | None = None,
    limit: int = MAX_REQUESTS,
    ascending: bool = False,
) -> list[dict[str, Any]]:
    """GET requests with the standard filters: ids, service_code, start/end date, status; newest
    first (``after``/``ascending``: the page of ids beyond ``after``)."""
    # The owning department's name comes in the same query (an outer join), not one query per request.
    stmt = (
        select(
            Incident.id,
            Incident.status,
            Incident.category,
            Incident.description,
            Incident.created_at,
            Incident.updated_at,
            Incident.due_at,
            Incident.lat,
            Incident.lon,
            Department.name.label("department_name"),
        )
        .outerjoin(Department, Department.id == Incident.department_id)
        .where(Incident.kind.in_(PUBLIC_KINDS), Incident.category.not_in(PRIVATE_CATEGORIES))
    )
    if args.get("service_request_id"):
        try:
            ids = whole_numbers(args["service_request_id"], "service_request_id")
        except Invalid:
            raise Invalid("error.service_request_ids", field="service_request_id") from None
        stmt = stmt.where(Incident.id.in_(ids))
    if args.get("service_code"):
        codes = args["service_code"].split(",")
        unknown = [c for c in codes if c not in SERVICES]
        if unknown:
            raise Invalid("error.service_code_unknown", {"code": unknown[0]}, field="service_code")
        stmt = stmt.where(Incident.category.in_([SERVICES[c][0] for c in codes]))
    start, end = _date(args.get("start_date"), "start_date"), _date(args.get("end_date"), "end_date")
    if start:
        stmt = stmt.where(Incident.created_at >= start)
    if end:
        stmt = stmt.where(Incident.created_at <= end)
    status = args.get("status")
    if status:
        if status not in ("open", "closed"):
            raise Invalid("error.open311_status", field="status")
        stmt = stmt.where(
            Incident.status.in_(OPEN_STATUSES) if status == "open" else Incident.status.not_in(OPEN_STATUSES)
        )
    with store.read() as s:
        rows = s.execute(keyset(stmt, Incident.id, after, ascending).limit(limit)).all()
    return [_request(r) for r in rows]


def get_request(store: Store, request_id: str) -> list[dict[str, Any]]:
    if not (request_id.isascii() and request_id.isdigit()) or int(request_id) > MAX_ID:
        raise NotFound("error.service_request_missing", {"id": repr(request_id)})
    found = find_requests(store, {"service_request_id": request_id})
    if not found:
        raise NotFound("error.service_request_missing", {"id": request_id})
    return found


def report_body(form: dict[str, str]) -> dict[str, Any]:
    """An Open311 POST as a OneMap ticket report (for ``ingest.parse_report``)."""
    code = form.get("service_code", "")
    if code not in SERVICES:
        raise Invalid("error.service_code_unknown", {"code": code}, field="service_code")
    if not form.get("lat") or not form.get("long"):
        raise Invalid("error.lat_long_required", field="lat")
    try:
        lat, lon = float(form["lat"]), float(form["long"])
    except ValueError:
        raise Invalid("error.lat_long_numbers", field="lat") from None
    name = " ".join(filter(None, (form.get("first_name", "").strip(), form.get("last_name", "").strip())))
    body: dict[str, Any] = {
        "kind": "ticket",
        "category": SERVICES[code][0],
        "lon": lon,
        "lat": lat,
        "crs": form.get("crs", "wgs84"),
        "description": form.get("description", ""),
        "reporter": {k: v for k, v in (("name", name), ("phone", form.get("phone", "").strip())) if v},
    }
    return body
