"""OASIS CAP 1.2 alerts: parse safely (defusedxml), turn each area (polygon, circle) into GeoJSON,
and apply Alert, Update and Cancel messages to the alerts they reference."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import shapely
from defusedxml import ElementTree as SafeET
from shapely.geometry import mapping
from sqlalchemy import select, update

from data.models import Alert, utcnow
from data.queries import keyset
from data.store import Store, record_event
from geo.crs import from_metres, to_metres
from ops.accounts import Actor
from ops.errors import Conflict, Invalid
from ops.ingest import require_ingest

NS = "urn:oasis:names:tc:emergency:cap:1.2"
MSG_TYPES = ("Alert", "Update", "Cancel")
MAX_BYTES = 512 * 1024


@dataclass
class CapMessage:
    identifier: str
    sender: str
    sent: datetime
    msg_type: str
    references: list[str]  # identifiers of earlier messages
    event: str = ""
    urgency: str = "Unknown"
    severity: str = "Unknown"
    certainty: str = "Unknown"
    headline: str = ""
    description: str = ""
    areas: list[dict[str, Any]] = field(default_factory=list)  # GeoJSON features


def _text(node: Any, name: str, required: bool = False) -> str:
    child = node.find(f"{{{NS}}}{name}")
    value = (child.text or "").strip() if child is not None else ""
    if required and not value:
        raise Invalid("error.cap.required", {"name": name}, field=name)
    return value


def _polygon(text: str) -> shapely.Polygon:
    try:
        # CAP writes "lat,lon" pairs; GeoJSON and OneMap keep lon first.
        points = [(float(p.split(",")[1]), float(p.split(",")[0])) for p in text.split()]
    except (IndexError, ValueError):
        raise Invalid("error.cap.polygon_format", field="polygon") from None
    if len(points) < 4 or points[0] != points[-1]:
        raise Invalid("error.cap.polygon_short", field="polygon")
    poly = shapely.Polygon(points)
    if not poly.is_valid:
        raise Invalid("error.cap.polygon_crosses", field="polygon")
    return poly


def _circle(text: str) -> shapely.Polygon:
    try:
        centre, radius_km = text.split()
        lat, lon = (float(v) for v in centre.split(","))
        radius = float(radius_km) * 1000.0
    except ValueError:
        raise Invalid("error.cap.circle_format", field="circle") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or radius <= 0:
        raise Invalid("error.cap.circle_range", field="circle")
    x, y = to_metres(lon, lat)
    disc = shapely.Point(float(x), float(y)).buffer(radius, 32)
    return shapely.transform(disc, lambda xy: np.column_stack(from_metres(xy[:, 0], xy[:, 1])))


def parse(xml: bytes) -> CapMessage:
    """A CAP 1.2 message; ``Invalid`` names the element at fault."""
    if len(xml) > MAX_BYTES:
        raise Invalid("error.cap.too_large", {"kb": MAX_BYTES // 1024}, field="body")
    try:
        root = SafeET.fromstring(xml)
    except Exception as exc:  # defusedxml raises parse errors and its own refusals (entities, DTDs)
        raise Invalid("error.xml_bad", {"reason": str(exc)}, field="body") from None
    if root.tag != f"{{{NS}}}alert":
        raise Invalid("error.cap.root", field="alert")
    msg_type = _text(root, "msgType", True)
    if msg_type not in MSG_TYPES:
        raise Invalid("error.cap.msg_type", {"types": ", ".join(MSG_TYPES)}, field="msgType")
    try:
        sent = datetime.fromisoformat(_text(root, "sent", True))
    except ValueError:
        raise Invalid("error.cap.sent", field="sent") from None
    sent = sent.astimezone(UTC).replace(tzinfo=None) if sent.tzinfo else sent
    _text(root, "status", True)
    references = [r.split(",")[1] for r in _text(root, "references").split() if r.count(",") == 2]
    if msg_type != "Alert" and not references:
        raise Invalid("error.cap.references_missing", {"msg_type": msg_type}, field="references")
    msg = CapMessage(_text(root, "identifier", True), _text(root, "sender", True), sent, msg_type, references)
    info = root.find(f"{{{NS}}}info")
    if info is not None:
        msg.event, msg.urgency = _text(info, "event"), _text(info, "urgency") or "Unknown"
        msg.severity, msg.certainty = _text(info, "severity") or "Unknown", _text(info, "certainty") or "Unknown"
        msg.headline, msg.description = _text(info, "headline"), _text(info, "description")
        for area in info.findall(f"{{{NS}}}area"):
            desc = _text(area, "areaDesc")
            shapes = [_polygon(p.text or "") for p in area.findall(f"{{{NS}}}polygon")]
            shapes += [_circle(c.text or "") for c in area.findall(f"{{{NS}}}circle")]
            for shape in shapes:
                msg.areas.append({"type": "Feature", "properties": {"areaDesc": desc}, "geometry": mapping(shape)})
    if msg_type != "Cancel" and not msg.areas:
        raise Invalid("error.cap.area", field="area")
    return msg


def apply(store: Store, actor: Actor, msg: CapMessage) -> tuple[int, str]:
    """Store the message and act on what it references; returns (alert id, its state)."""
    require_ingest(actor)
    state = "cancelled" if msg.msg_type == "Cancel" else "active"
    with store.transaction() as s:
        if s.scalar(select(Alert.id).where(Alert.identifier == msg.identifier)) is not None:
            raise Conflict("error.cap.duplicate", {"identifier": msg.identifier}, field="identifier")
        if msg.references:
            known = set(s.scalars(select(Alert.identifier).where(Alert.identifier.in_(msg.references))))
            missing = [r for r in msg.references if r not in known]
            if missing:
                raise Invalid("error.cap.references_unknown", {"ref": missing[0]}, field="references")
            s.execute(
                update(Alert)
                .where(Alert.identifier.in_(msg.references), Alert.state == "active")
                .values(state="cancelled" if msg.msg_type == "Cancel" else "updated", updated_at=utcnow())
            )
        alert = Alert(
            identifier=msg.identifier,
            sender=msg.sender,
            sent=msg.sent,
            msg_type=msg.msg_type,
            state=state,
            event=msg.event,
            urgency=msg.urgency,
            severity=msg.severity,
            certainty=msg.certainty,
            headline=msg.headline,
            description=msg.description,
            areas={"type": "FeatureCollection", "features": msg.areas},
            replaces=" ".join(msg.references) or None,
            updated_at=utcnow(),
        )
        s.add(alert)
        s.flush()
        record_event(s, f"alert.{msg.msg_type.lower()}", "alert", alert.id, actor.name, {"identifier": msg.identifier})
        return alert.id, state


def list_alerts(
    store: Store, state: str | None = None, after: int | None = None, limit: int = 500, ascending: bool = False
) -> list[dict[str, Any]]:
    """Alerts newest first (``after``/``ascending``: the page of ids beyond ``after``)."""
    stmt = select(Alert)
    if state:
        if state not in ("active", "updated", "cancelled"):
            raise Invalid("error.cap.state", field="state")
        stmt = stmt.where(Alert.state == state)
    with store.read() as s:
        alerts = s.scalars(keyset(stmt, Alert.id, after, ascending).limit(limit)).all()
    keys = (
        "identifier",
        "sender",
        "sent",
        "msg_type",
        "state",
        "event",
        "urgency",
        "severity",
        "certainty",
        "headline",
        "description",
        "areas",
        "replaces",
        "updated_at",
    )
    return [{"id": a.id, **{k: getattr(a, k) for k in keys}} for a in alerts]
