"""Place records (address, grid, registered occupants) and door-access events, fed in through the API.

Credentials (card numbers, codes, face ids) are personal data: only a keyed one-way digest is kept,
enough to count distinct people at a door and nothing more.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import insert, select, update

from data.models import AccessEvent, Place, utcnow
from data.store import Store, record_event
from geo.grid_index import GridIndex
from ops.accounts import Actor
from ops.errors import Invalid
from ops.ingest.fields import batch_items, event_time, locate, refuse_unknown, require_ingest, text_field

DIRECTIONS = ("in", "out")
PLACE_FIELDS = {"id", "kind", "address", "lon", "lat", "crs", "registered_occupants"}
ACCESS_FIELDS = {"event_id", "place_id", "credential", "direction", "at"}


def credential_digest(secret: str, credential: str) -> str:
    return hashlib.blake2b(credential.encode(), key=secret.encode()[:64], digest_size=16).hexdigest()


def _rejected(i: int, exc: Invalid) -> dict[str, Any]:
    return {"index": i, "status": "rejected", "field": exc.field, "reason": exc.message}


def upsert_places(store: Store, index: GridIndex, actor: Actor, body: Any) -> list[dict[str, Any]]:
    """Create or update places by their external ``id``; answer item by item."""
    require_ingest(actor)
    items = batch_items(body, "places")
    results: list[dict[str, Any]] = []
    good: dict[str, dict[str, Any]] = {}
    for i, item in enumerate(items):
        p = f"places[{i}]."
        try:
            if not isinstance(item, dict):
                raise Invalid("error.place_object", field=f"places[{i}]")
            refuse_unknown(item, PLACE_FIELDS, p)
            external = text_field(item, "id", True, p)
            kind = text_field(item, "kind", True, p)
            address = text_field(item, "address", True, p)
            occupants = item.get("registered_occupants")
            if isinstance(occupants, bool) or not isinstance(occupants, int) or not 0 <= occupants <= 10000:
                raise Invalid("error.registered_occupants", field=p + "registered_occupants")
            lon, lat, grid = locate(index, item, p)
            good[external] = {
                "index": i,
                "external_id": external,
                "kind": kind,
                "address": address,
                "lon": lon,
                "lat": lat,
                "grid_id": grid,
                "registered_occupants": occupants,
            }
            results.append({"index": i, "status": "pending"})
        except Invalid as exc:
            results.append(_rejected(i, exc))
    if not good:
        return results
    now = utcnow()
    with store.transaction() as s:
        known = dict(s.execute(select(Place.external_id, Place.id).where(Place.external_id.in_(list(good)))).all())
        for external, row in good.items():
            values = {k: v for k, v in row.items() if k != "index"} | {"updated_at": now}
            if external in known:
                s.execute(update(Place).where(Place.id == known[external]).values(**values))
                status, pid = "updated", known[external]
            else:
                pid = int(s.execute(insert(Place).values(**values).returning(Place.id)).scalar_one())
                status = "created"
            results[row["index"]] = {"index": row["index"], "status": status, "id": pid, "grid_id": row["grid_id"]}
        record_event(s, "places.saved", "place", None, actor.name, {"count": len(good)})
    return results


def ingest_access(store: Store, actor: Actor, body: Any, secret: str) -> list[dict[str, Any]]:
    """Store door-access events (deduplicated by ``event_id``); answer item by item."""
    require_ingest(actor)
    items = batch_items(body, "events")
    results: list[dict[str, Any]] = []
    parsed: list[tuple[int, str, str, str, str, Any]] = []
    for i, item in enumerate(items):
        p = f"events[{i}]."
        try:
            if not isinstance(item, dict):
                raise Invalid("error.event_object", field=f"events[{i}]")
            refuse_unknown(item, ACCESS_FIELDS, p)
            direction = item.get("direction", "in")
            if direction not in DIRECTIONS:
                raise Invalid("error.direction", field=p + "direction")
            parsed.append(
                (
                    i,
                    text_field(item, "event_id", True, p),
                    text_field(item, "place_id", True, p),
                    text_field(item, "credential", True, p),
                    direction,
                    event_time(item.get("at"), p + "at"),
                )
            )
            results.append({"index": i, "status": "pending"})
        except Invalid as exc:
            results.append(_rejected(i, exc))
    if not parsed:
        return results
    now = utcnow()
    with store.transaction() as s:
        places = dict(
            s.execute(select(Place.external_id, Place.id).where(Place.external_id.in_({p[2] for p in parsed}))).all()
        )
        seen = set(s.scalars(select(AccessEvent.event_id).where(AccessEvent.event_id.in_([p[1] for p in parsed]))))
        rows = []
        for i, event_id, place, credential, direction, at in parsed:
            if place not in places:
                results[i] = _rejected(
                    i, Invalid("error.place_unknown", {"place": place}, field=f"events[{i}].place_id")
                )
                continue
            if event_id in seen:
                results[i] = {"index": i, "status": "duplicate"}
                continue
            seen.add(event_id)
            rows.append(
                {
                    "event_id": event_id,
                    "place_id": places[place],
                    "credential": credential_digest(secret, credential),
                    "direction": direction,
                    "at": at,
                    "received_at": now,
                }
            )
            results[i] = {"index": i, "status": "stored"}
        if rows:
            s.execute(insert(AccessEvent), rows)
            record_event(s, "access.stored", "access", None, actor.name, {"count": len(rows)})
    return results
