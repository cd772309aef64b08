"""Early-warning routes on the /api/v1 blueprint: place records, door-access events, warnings and
their acknowledgement and resolution, and the rule set (admins may replace it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select

from api.idempotency import idempotent
from api.ingest import rate_limited
from api.pages import listing, page_args
from data import queries
from data.models import WARNING_STATUSES, Place
from data.runtime import Runtime
from ops import early_warning, permissions, places
from ops.accounts import Actor, shared_secret
from ops.errors import Invalid, NotFound
from ops.rate_limit import RateLimiter


def register(
    bp: Blueprint,
    rt: Runtime,
    authenticated: Callable[..., Any],
    plain: Callable[[Any], Any],
    body: Callable[..., dict[str, Any]],
    list_arg: Callable[[str, tuple[str, ...]], list[str] | None],
    batch_answer: Callable[[list[dict[str, Any]]], tuple[Response, int]],
    json_body: Callable[[], Any],
) -> None:
    once = idempotent(rt.store)
    limited = rate_limited(RateLimiter(rt.config.rate_per_minute, rt.config.redis_url))  # as the other doors

    @bp.post("/places")
    @authenticated
    @limited
    @once
    def save_places(actor: Actor) -> tuple[Response, int]:
        return batch_answer(places.upsert_places(rt.store, rt.index, actor, json_body()))

    @bp.get("/places")
    @authenticated
    def list_places(actor: Actor) -> Response:
        permissions.require(actor, "read_places")

        def fetch(after: int | None, limit: int, ascending: bool) -> list[dict[str, Any]]:
            with rt.store.read() as s:
                rows = s.execute(queries.keyset(select(Place), Place.id, after, ascending).limit(limit)).scalars()
                return [
                    {
                        "id": p.external_id,
                        "kind": p.kind,
                        "address": p.address,
                        "lon": p.lon,
                        "lat": p.lat,
                        "grid_id": p.grid_id,
                        "registered_occupants": p.registered_occupants,
                        "_key": p.id,
                    }
                    for p in rows
                ]

        def shown(body: dict[str, Any]) -> Response:
            # A place's API id is its external id; the page goes by the stored id, not shown.
            body["items"] = [{k: v for k, v in item.items() if k != "_key"} for item in body["items"]]
            return jsonify(body)

        return listing(page_args(ascending=True), fetch, shown, key="_key")

    @bp.post("/access-events")
    @authenticated
    @limited
    @once
    def access_events(actor: Actor) -> tuple[Response, int]:
        permissions.require(actor, "feed_data")  # before the key is made: a refused call changes nothing
        secret = shared_secret(rt.store, "access_key")
        return batch_answer(places.ingest_access(rt.store, actor, json_body(), secret))

    @bp.get("/warnings")
    @authenticated
    def warnings(actor: Actor) -> Response:
        permissions.require(actor, "read_warnings")
        statuses = list_arg("status", WARNING_STATUSES)

        def fetch(after: int | None, limit: int, ascending: bool) -> list[dict[str, Any]]:
            return queries.find_warnings(rt.store, statuses, limit, after, ascending)

        return listing(page_args(), fetch, lambda body: jsonify(plain(body)))

    @bp.get("/warnings/<int:warning_id>")
    @authenticated
    def warning(actor: Actor, warning_id: int) -> Response:
        permissions.require(actor, "read_warnings")
        detail = queries.warning_detail(rt.store, warning_id)
        if detail is None:
            raise NotFound("error.warning_missing", {"id": warning_id})
        return jsonify(plain(detail))

    @bp.post("/warnings/<int:warning_id>/<any(acknowledge, resolve):action>")
    @authenticated
    def warning_action(actor: Actor, warning_id: int, action: str) -> Response:
        data = body({"note"})
        note = data.get("note", "")
        if not isinstance(note, str):
            raise Invalid("error.field_string", {"name": "note"}, field="note")
        step = early_warning.acknowledge if action == "acknowledge" else early_warning.resolve
        step(rt.store, actor, warning_id, note)
        return jsonify(plain(queries.warning_detail(rt.store, warning_id)))

    @bp.get("/rules")
    @authenticated
    def rules(actor: Actor) -> Response:
        permissions.require(actor, "read_rules")
        current = early_warning.current_rules(rt.store, rt.config.rules_file)
        return jsonify({"rules": [r.to_dict() for r in current], "types": sorted(early_warning.PARAMS)})

    @bp.put("/rules")
    @authenticated
    def save_rules(actor: Actor) -> Response:
        if request.get_json(silent=True) is None:
            raise Invalid("error.rules_body_json", field="body")
        saved = early_warning.save_rules(rt.store, actor, request.get_json())
        return jsonify({"rules": [r.to_dict() for r in saved]})
