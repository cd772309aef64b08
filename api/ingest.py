"""Ingestion routes on the /api/v1 blueprint: citizen and 110 reports, parking events, worker
positions, device alarms. POSTs honour `Idempotency-Key`."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Response, jsonify, request

from api.idempotency import idempotent
from api.pages import listing, page_args
from api.request_body import json_body
from data.runtime import Runtime
from ops import cap, ingest, permissions
from ops.accounts import Actor
from ops.errors import Invalid, TooManyRequests
from ops.parsing import loads_json
from ops.rate_limit import RateLimiter

MAX_PHOTO_PART = 8 * 1024 * 1024


def _report_and_photo() -> tuple[Any, bytes | None]:
    """JSON body, or multipart with a `report` part (JSON) and an optional `photo` part."""
    if request.mimetype != "multipart/form-data":
        return json_body(), None
    extra = sorted((set(request.form) - {"report"}) | (set(request.files) - {"photo"}))
    if extra:
        raise Invalid("error.multipart_part", {"name": extra[0]}, field=extra[0])
    try:
        body = loads_json(request.form.get("report", ""))
    except ValueError:
        raise Invalid("error.report_part_json", field="report") from None
    upload = request.files.get("photo")
    photo = upload.read(MAX_PHOTO_PART + 1) if upload else None
    return body, photo


def refused_by(limiter: RateLimiter, door: str, token: str | None) -> tuple[TooManyRequests, int] | None:
    """The 429 error and its Retry-After when this token has used up this door's minute, else None."""
    key = hashlib.sha256((token or "").encode()).hexdigest()[:24]
    verdict = limiter.hit(f"{door}:{key}")
    if verdict.allowed:
        return None
    params = {"limit": limiter.per_minute, "seconds": verdict.retry_after}
    return TooManyRequests("error.rate_limited", params, retry_after=verdict.retry_after), verdict.retry_after


def rate_limited(limiter: RateLimiter) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Per-token requests per minute on an ingestion door: 429 with Retry-After and a JSON body."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            header = request.headers.get("Authorization", "")
            refused = refused_by(limiter, view.__name__, header.partition(" ")[2].strip())
            if refused:
                error, seconds = refused
                return jsonify(error.to_dict()), error.status, {"Retry-After": str(seconds)}
            return view(*args, **kwargs)

        return wrapper

    return decorate


def batch_answer(results: list[dict[str, Any]]) -> tuple[Response, int]:
    counts: dict[str, int] = {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return jsonify({"counts": counts, "results": results}), 200


def register(
    bp: Blueprint,
    rt: Runtime,
    authenticated: Callable[..., Any],
    incident_out: Callable[[int, Actor], dict[str, Any]],
    plain: Callable[[Any], Any],
) -> None:
    once = idempotent(rt.store)
    limited = rate_limited(RateLimiter(rt.config.rate_per_minute, rt.config.redis_url))

    @bp.post("/incidents")
    @authenticated
    @limited
    @once
    def report(actor: Actor) -> tuple[Response, int]:
        body, photo = _report_and_photo()
        parsed = ingest.parse_report(body, rt.index)
        incident_id, joined = ingest.submit_report(
            rt.store,
            actor,
            parsed,
            rt.config.sla_minutes,
            rt.config.dedup_metres,
            rt.config.dedup_minutes,
            photo,
            rt.config.media_dir,
            rt.cases,
        )
        return jsonify({**incident_out(incident_id, actor), "joined": joined}), 200 if joined else 201

    @bp.post("/incidents/batch")
    @authenticated
    @limited
    @once
    def report_batch(actor: Actor) -> tuple[Response, int]:
        body = json_body()
        if not isinstance(body, dict) or set(body) != {"reports"} or not isinstance(body["reports"], list):
            raise Invalid("error.batch_shape", {"key": "reports"}, field="reports")
        if not 0 < len(body["reports"]) <= ingest.MAX_BATCH:
            raise Invalid("error.reports_count", {"max": ingest.MAX_BATCH}, field="reports")
        cfg = rt.config
        results = ingest.submit_batch(
            rt.store, rt.index, actor, body["reports"], cfg.sla_minutes, cfg.dedup_metres, cfg.dedup_minutes, rt.cases
        )
        return batch_answer(results)

    @bp.post("/parking/events")
    @authenticated
    @limited
    @once
    def parking(actor: Actor) -> tuple[Response, int]:
        return batch_answer(ingest.ingest_parking(rt.store, actor, json_body()))

    @bp.post("/workers/positions")
    @authenticated
    @limited
    @once
    def positions(actor: Actor) -> tuple[Response, int]:
        return batch_answer(ingest.ingest_positions(rt.store, rt.index, actor, json_body()))

    @bp.post("/alarms")
    @authenticated
    @limited
    @once
    def alarms(actor: Actor) -> tuple[Response, int]:
        alarms = ingest.ingest_alarms(rt.store, rt.index, actor, json_body(), rt.config.sla_minutes, rt.cases)
        return batch_answer(alarms)

    @bp.post("/alerts/cap")
    @authenticated
    @limited
    @once
    def cap_alert(actor: Actor) -> tuple[Response, int]:
        if not request.data:
            raise Invalid("error.body_empty_cap", field="body")
        alert_id, state = cap.apply(rt.store, actor, cap.parse(request.get_data()))
        return jsonify({"id": alert_id, "state": state}), 201

    @bp.get("/alerts")
    @authenticated
    def alerts(actor: Actor) -> Response:
        permissions.require(actor, "read_alerts")
        state = request.args.get("state")

        def fetch(after: int | None, limit: int, ascending: bool) -> list[dict[str, Any]]:
            return [plain(a) for a in cap.list_alerts(rt.store, state, after, limit, ascending)]

        return listing(page_args(500), fetch, jsonify)
