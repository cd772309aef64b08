"""Open311 GeoReport v2 at /open311/v2, in JSON and XML. Reads are public and carry no personal
data; a POST needs `api_key` (a OneMap API token) and honours `Idempotency-Key` as the JSON API does."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from flask import Blueprint, Response, abort, jsonify, request

from api.idempotency import request_fingerprint, run_once
from api.ingest import refused_by
from api.pages import linked, page_args
from data.runtime import Runtime
from ops import ingest, open311
from ops.accounts import actor_for_token
from ops.errors import OneMapError, Unauthorized
from ops.rate_limit import RateLimiter

FORMATS = ("json", "xml")
XML_ITEM = {"services": "service", "service_requests": "request", "errors": "error"}


def _xml(root: str, value: Any) -> bytes:
    def fill(node: ET.Element, data: Any) -> None:
        if isinstance(data, dict):
            for key, item in data.items():
                fill(ET.SubElement(node, key), item)
        elif isinstance(data, list):
            for item in data:
                fill(ET.SubElement(node, XML_ITEM.get(node.tag, "attribute")), item)
        elif isinstance(data, bool):
            node.text = "true" if data else "false"
        elif data is not None:
            node.text = str(data)

    element = ET.Element(root)
    fill(element, value)
    return b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(element, encoding="utf-8")


def _answer(fmt: str, root: str, value: Any, status: int = 200) -> tuple[Response, int]:
    if fmt == "xml":
        return Response(_xml(root, value), mimetype="text/xml"), status
    return jsonify(value), status


def create_blueprint(rt: Runtime) -> Blueprint:
    bp = Blueprint("open311", __name__, url_prefix="/open311/v2")

    limiter = RateLimiter(rt.config.rate_per_minute, rt.config.redis_url)

    def fmt_or_404(fmt: str) -> str:
        if fmt not in FORMATS:
            abort(404)
        return fmt

    @bp.errorhandler(OneMapError)
    def _error(exc: OneMapError) -> tuple[Response, int]:
        fmt = request.path.rsplit(".", 1)[-1] if "." in request.path else "json"
        errors = [{"code": exc.status, "description": exc.message}]
        return _answer(fmt if fmt in FORMATS else "json", "errors", errors, exc.status)

    @bp.get("/services.<fmt>")
    def services(fmt: str) -> tuple[Response, int]:
        return _answer(fmt_or_404(fmt), "services", open311.services())

    @bp.get("/services/<code>.<fmt>")
    def definition(code: str, fmt: str) -> tuple[Response, int]:
        fmt = fmt_or_404(fmt)
        return _answer(fmt, "service_definition", open311.definition(code))

    @bp.get("/requests.<fmt>")
    def requests(fmt: str) -> tuple[Response, int]:
        fmt = fmt_or_404(fmt)
        page = page_args(open311.MAX_REQUESTS)
        found = open311.find_requests(rt.store, request.args.to_dict(), page.after, page.limit + 1, page.ascending)
        # GeoReport v2 answers a bare list: the next page is only in the Link header.
        items, nxt = page.cut(found, "service_request_id")
        response, status = _answer(fmt, "service_requests", items)
        return linked(response, nxt), status

    @bp.get("/requests/<request_id>.<fmt>")
    def one_request(request_id: str, fmt: str) -> tuple[Response, int]:
        fmt = fmt_or_404(fmt)
        return _answer(fmt, "service_requests", open311.get_request(rt.store, request_id))

    @bp.post("/requests.<fmt>")
    def post_request(fmt: str) -> tuple[Response, int]:
        fmt = fmt_or_404(fmt)
        key = request.headers.get("Idempotency-Key")
        # Taken before the form is read: Werkzeug may drop the raw body once it has parsed a form.
        fingerprint = request_fingerprint() if key is not None else ""
        form = request.form.to_dict() or (request.get_json(silent=True) or {})
        if not isinstance(form, dict):
            form = {}
        form = {k: str(v) for k, v in form.items()}
        api_key = form.pop("api_key", None)
        if not api_key:
            raise Unauthorized("error.api_key_required")
        actor = actor_for_token(rt.store, api_key)
        refused = refused_by(limiter, "open311", api_key)
        if refused:
            error, seconds = refused
            answer, status = _answer(fmt, "errors", [{"code": error.status, "description": error.message}], 429)
            answer.headers["Retry-After"] = str(seconds)
            return answer, status
        form.update({k: v for k, v in request.args.items() if k == "crs"})

        def work() -> tuple[list[dict[str, Any]], int]:
            parsed = ingest.parse_report(open311.report_body(form), rt.index, source="open311")
            cfg = rt.config
            incident_id, _ = ingest.submit_report(
                rt.store, actor, parsed, cfg.sla_minutes, cfg.dedup_metres, cfg.dedup_minutes, cases=rt.cases
            )
            return [{"service_request_id": str(incident_id), "service_notice": "", "account_id": None}], 201

        if key is None:
            return _answer(fmt, "service_requests", *work())
        body, status = run_once(rt.store, actor, key, fingerprint, work)
        if status >= 400:  # a stored rule violation, in the JSON API's shape: answered in Open311's
            return _answer(fmt, "errors", [{"code": status, "description": body["message"]}], status)
        return _answer(fmt, "service_requests", body, status)

    return bp
