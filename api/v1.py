"""REST API v1 (Flask blueprint). Every call but health needs `Authorization: Bearer <token>`.

Bodies are JSON; errors are JSON with the status of the rule that failed (see docs/api.md).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from functools import lru_cache, wraps
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from api import ingest as ingest_routes
from api import warnings as warning_routes
from api.idempotency import idempotent
from api.ingest import MAX_PHOTO_PART
from api.item_page import shown_items
from api.pages import MAX_LIMIT, json_answer, listing, page_args, plain_floats
from api.report_pdf import report_response
from api.request_body import decode_text
from api.request_body import json_object as _body
from data import queries
from data.models import KINDS, STAGES, STATUSES, utcnow
from data.queries.incidents import incident_rows
from data.runtime import Runtime
from data.store import Contention, StoreError, Unavailable, classify
from layouts.i18n import Text
from locales import API_LANG, render
from ops import bulk, departments, evaluation, lifecycle, permissions, routing
from ops.accounts import Actor, actor_for_token
from ops.errors import Forbidden, Invalid, NotFound, OneMapError
from ops.parsing import whole_number
from ops.privacy import shown_incident
from ops.suggestions import suggest

# What each case move takes in its JSON body (the contract in docs/api.md).
CASE_FIELDS: dict[str, set[str]] = {
    "file": {"note"},
    "verify": {"valid", "note"},
    "void": {"reason"},
    "dispatch": {"department_id", "reason"},
    "sign": set(),
    "start": set(),
    "return": {"reason"},
    "escalate": {"reason"},
    "handled": {"note"},
    "check": {"passed", "note"},
    "extend": {"until", "reason"},
    "extension": {"approve", "note"},
    "hold": {"reason"},
    "resume": {"reason"},
    "urge": {"note", "until"},
    "callback": {"satisfied", "note"},
}
CASE_REQUIRED = {"dispatch": {"department_id"}, "check": {"passed"}, "extend": {"until", "reason"}}
CASE_ACTIONS = tuple(CASE_FIELDS)
DEPARTMENT_FIELDS = {"code", "name", "parent_id", "kind", "categories", "jurisdiction", "districts"}
MAX_ID = 2**63 - 1
TOKEN_GRACE_S = 600


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


# Values JSON takes as they are; checked by exact type first, since a list page walks 30,000 of them.
_AS_IS = frozenset((str, int, float, bool, type(None)))


def _plain(value: Any) -> Any:
    """JSON-ready: datetimes as ISO 8601 UTC, containers walked."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds") + "Z"
    if isinstance(value, dict):
        return {k: v if type(v) in _AS_IS else _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [v if type(v) in _AS_IS else _plain(v) for v in value]
    return value


def _plain_answer(body: Any) -> Response:
    return jsonify(_plain(body))


def _flat_page(body: dict[str, Any]) -> Response:
    """A page of items or workers (flat rows, naive UTC times, floats only in ``lon``/``lat``) as
    ``_plain_answer`` writes it, by orjson straight from the rows."""
    if not plain_floats(body["items"], ("lon", "lat")):
        return _plain_answer(body)
    return json_answer(body, _plain_answer)


def _int_field(data: dict[str, Any], name: str) -> int:
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("error.field_integer", {"name": name}, field=name)
    if abs(value) > MAX_ID:
        raise Invalid("error.field_range", {"name": name}, field=name)  # no stored id can be this large
    return value


def _text_field(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "")
    if not isinstance(value, str):
        raise Invalid("error.field_string", {"name": name}, field=name)
    return value


def _list_arg(name: str, allowed: tuple[str, ...]) -> list[str] | None:
    raw = request.args.get(name)
    if not raw:
        return None
    values = [v.strip() for v in raw.split(",") if v.strip()]
    bad = [v for v in values if v not in allowed]
    if bad:
        raise Invalid("error.value_unknown", {"name": name, "value": bad[0], "allowed": ", ".join(allowed)}, field=name)
    return values


def _bbox_arg() -> tuple[float, float, float, float] | None:
    raw = request.args.get("bbox")
    if not raw:
        return None
    try:
        box = tuple(float(v) for v in raw.split(","))
    except ValueError:
        raise Invalid("error.bbox_format", field="bbox") from None
    if len(box) != 4 or not (box[0] < box[2] and box[1] < box[3]):
        raise Invalid("error.bbox_format", field="bbox")
    if not (-180 <= box[0] <= 180 and -180 <= box[2] <= 180 and -90 <= box[1] <= 90 and -90 <= box[3] <= 90):
        raise Invalid("error.bbox_range", field="bbox")
    return box  # type: ignore[return-value]


def _int_arg(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 0 <= int(raw) <= MAX_ID:
        raise Invalid("error.field_integer", {"name": name}, field=name)
    return int(raw)


def _iso_arg(raw: str, name: str) -> datetime:
    """An ISO 8601 time (a Z or offset is read as such; none is UTC) as naive UTC."""
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid("error.case_time", {"field": name}, field=name) from None
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    if not (datetime(2000, 1, 1) <= when <= datetime(2100, 1, 1)):
        raise Invalid("error.case_time_range", {"field": name}, field=name)
    return when


def _limit_arg(default: int = 100) -> int:
    raw = request.args.get("limit")
    if raw is None:
        return default
    try:
        return whole_number(raw, "limit", 1, MAX_LIMIT)
    except Invalid:
        raise Invalid("error.limit_range", {"max": MAX_LIMIT}, field="limit") from None


def store_error_answer(exc: StoreError) -> Response:
    """503 with Retry-After and a JSON body: the store is down or too contended; nothing was stored."""
    code, key = ("busy", "error.store_busy") if isinstance(exc, Contention) else ("unavailable", "error.store_down")
    response = jsonify({"error": code, "message": render(API_LANG, key, {}), "retry_after": exc.retry_after})
    response.status_code = 503
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def create_blueprint(rt: Runtime) -> Blueprint:
    """The /api/v1 blueprint bound to one runtime."""
    bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")

    def authenticated(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return view(actor_for_token(rt.store, _bearer()), *args, **kwargs)

        return wrapper

    words = Text(rt.config.lang)
    # The same few routing reasons recur on a page of items (department × category): said once each.
    sentence = lru_cache(maxsize=4096)(lambda stored: routing.sentence(stored, words))

    def shown(row: dict[str, Any]) -> dict[str, Any]:
        out = shown_incident(row)
        out["routing"] = sentence(out.get("routing"))
        return out

    def incident_or_404(incident_id: int, actor: Actor) -> dict[str, Any]:
        """One item as ``actor`` may see it (ops.permissions): 404 when missing, 403 when not theirs."""
        permissions.require(actor, "read_incident")
        detail = queries.incident_detail(rt.store, incident_id)
        if detail is None:
            raise NotFound("error.incident_missing", {"id": incident_id})
        if not permissions.incident_visible(rt.store, actor, detail):
            raise Forbidden("error.case_not_yours", {"id": incident_id})
        return permissions.shown_to(actor, shown(detail))

    @bp.errorhandler(OneMapError)
    def _rule_error(exc: OneMapError) -> tuple[Response, int]:
        return jsonify(exc.to_dict()), exc.status

    @bp.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Response, int]:
        found = classify(getattr(exc, "original_exception", None) or exc)
        if found is not None:
            return store_error_answer(found)
        return jsonify({"error": exc.name.lower().replace(" ", "_"), "message": exc.description}), exc.code or 500

    @bp.url_value_preprocessor
    def _ids_in_range(_endpoint: str | None, values: dict[str, Any] | None) -> None:
        # A path id beyond 64 bits cannot exist; say so instead of letting the database overflow.
        for value in (values or {}).values():
            if isinstance(value, int) and value > MAX_ID:
                raise NotFound("error.no_such_id")

    @bp.get("/health")
    def health() -> tuple[Response, int]:
        try:
            with rt.store.read() as s:
                s.execute(text("SELECT 1"))
            store_ok = True
        except Exception:  # health must answer, whatever the store says
            store_ok = False
        bus_ok = rt.store.bus.healthy()
        status = "ok" if store_ok and bus_ok else ("degraded" if store_ok else "down")
        body = {
            "status": status,
            "store": rt.store.kind,
            "store_ok": store_ok,
            "bus": rt.store.bus.kind,
            "bus_ok": bus_ok,
            "grids": len(rt.index),
            "review_ready": rt.history.ready,
        }
        return jsonify(body), 200 if store_ok else 503

    recent: dict[str, float] = {}  # token digest -> when the store last vouched for it

    @bp.get("/cursor")
    def cursor() -> Response:
        """The newest change id (what every screen polls) and whether live push is healthy.

        While only the store is down, a token it accepted in the last ``TOKEN_GRACE_S`` still reads
        the cursor from Redis.
        """
        token = _bearer()
        digest = hashlib.sha256((token or "").encode()).hexdigest()
        try:
            permissions.require(actor_for_token(rt.store, token), "read_map")
            if len(recent) > 10_000:
                recent.clear()
            recent[digest] = time.monotonic()
        except Exception as exc:
            vouched = time.monotonic() - recent.get(digest, -1e9) <= TOKEN_GRACE_S
            if not (vouched and isinstance(classify(exc), Unavailable)):
                raise
        latest, live = rt.cursor()
        return jsonify({"cursor": latest, "live": live})

    @bp.get("/grids")
    @authenticated
    def grids(actor: Actor) -> Response:
        permissions.require(actor, "read_map")
        response = jsonify(queries.grid_geojson(rt.store))
        response.mimetype = "application/geo+json"
        return response

    @bp.get("/incidents")
    @authenticated
    def incidents(actor: Actor) -> Response:
        # A department's staff see the cases their department (and those below it) owns, nothing else.
        permissions.require(actor, "read_city")
        scope = permissions.scope(rt.store, actor)
        statuses, kinds, stages, bbox = (
            _list_arg("status", STATUSES),
            _list_arg("kind", KINDS),
            _list_arg("stage", STAGES),
            _bbox_arg(),
        )

        def fetch(after: int | None, limit: int, ascending: bool) -> list[dict[str, Any]]:
            names, rows = incident_rows(rt.store, statuses, kinds, bbox, limit, scope, stages, after, ascending)
            return shown_items(names, rows, permissions.may(actor, "read_reporter"), sentence, utcnow())

        return listing(page_args(), fetch, _flat_page)

    @bp.get("/incidents/<int:incident_id>")
    @authenticated
    def incident(actor: Actor, incident_id: int) -> Response:
        return jsonify(_plain(incident_or_404(incident_id, actor)))

    @bp.post(f"/incidents/<int:incident_id>/<any({', '.join(CASE_ACTIONS)}):action>")
    @authenticated
    def case_action(actor: Actor, incident_id: int, action: str) -> Response:
        photos: list[bytes] = []
        if request.mimetype == "multipart/form-data":
            # A handled report may carry photos, as a worker's resolve does: a `note` field, `photo` parts.
            if action != "handled":
                raise Invalid("error.photo_handled_only", field="photo")
            data = {k: v for k, v in request.form.items()}
            extra = sorted(set(data) - CASE_FIELDS[action] | (set(request.files) - {"photo"}))
            if extra:
                raise Invalid("error.field_unknown", {"name": extra[0]}, field=extra[0])
            photos = [upload.read(MAX_PHOTO_PART + 1) for upload in request.files.getlist("photo")]
        else:
            data = _body(CASE_FIELDS[action], CASE_REQUIRED.get(action, set()))
        if action == "dispatch":
            _int_field(data, "department_id")
        moved = rt.cases.act(actor, incident_id, action, data, photos)
        try:
            after = incident_or_404(incident_id, actor)
        except Forbidden:
            after = None  # a return or an escalation took the case out of the staff's sight: the move stands
        return jsonify(_plain({"moved": moved, "incident": after}))

    @bp.get("/departments")
    @authenticated
    def department_list(actor: Actor) -> Response:
        permissions.require(actor, "read_departments")

        def fetch(after: int | None, limit: int, ascending: bool) -> list[dict[str, Any]]:
            # A city has hundreds of departments, not millions: the page is cut from the whole list.
            items = departments.list_all(rt.store)
            if after is not None:
                items = [d for d in items if (d["id"] > after if ascending else d["id"] < after)]
            return (items if ascending else items[::-1])[:limit]

        return listing(page_args(MAX_LIMIT, ascending=True), fetch, lambda body: jsonify(_plain(body)))

    @bp.post("/departments")
    @authenticated
    def department_create(actor: Actor) -> tuple[Response, int]:
        data = _body(DEPARTMENT_FIELDS, {"name"})
        did = departments.create(rt.store, actor, departments.DepartmentIn.parse(data, _districts(data)))
        return jsonify(_department(did)), 201

    @bp.put("/departments/<int:department_id>")
    @authenticated
    def department_update(actor: Actor, department_id: int) -> Response:
        data = _body(DEPARTMENT_FIELDS, {"name"})
        spec = departments.DepartmentIn.parse(data, _districts(data))
        departments.update_department(rt.store, actor, department_id, spec)
        return jsonify(_department(department_id))

    def _period() -> tuple[datetime, datetime]:
        if request.args.get("month"):
            return evaluation.month(request.args["month"])
        start, end = request.args.get("start"), request.args.get("end")
        if not start or not end:
            raise Invalid("error.evaluation_period", field="month")
        return _iso_arg(start, "start"), _iso_arg(end, "end")

    @bp.get("/evaluation")
    @authenticated
    def evaluation_table(actor: Actor) -> Response:
        """The indicators of every body at one level, with the trend against the previous period."""
        level = request.args.get("level", "department")
        return jsonify(_plain(evaluation.league(rt.store, actor, *_period(), level)))

    @bp.get("/evaluation/cases")
    @authenticated
    def evaluation_cases(actor: Actor) -> Response:
        """The cases behind one number of the table (a page at a time)."""
        page = _int_arg("page", 1)
        size = _int_arg("size", 50)
        body = _int_arg("id", 0)
        tree = request.args.get("tree", "false").lower() in ("1", "true", "yes")
        level, count = request.args.get("level", "department"), request.args.get("count", "due")
        found = evaluation.cases(rt.store, actor, *_period(), level, body, count, tree, page, size)
        return jsonify(_plain(found))

    @bp.get("/evaluation/urged")
    @authenticated
    def evaluation_urged(actor: Actor) -> Response:
        """Cases urged (督办) in the period and what came of them."""
        items = evaluation.urged(rt.store, actor, *_period())
        return jsonify(_plain({"count": len(items), "items": items}))

    @bp.get("/evaluation/report.pdf")
    @authenticated
    def evaluation_report(actor: Actor) -> Response:
        """The month's evaluation report as a PDF (supervisors and admins), one render per change of the log."""
        return report_response(rt, actor, request.args.get("month", ""), request.args.get("lang", "zh-CN"))

    @bp.post("/departments/<int:department_id>/urge")
    @authenticated
    def department_urge(actor: Actor, department_id: int) -> Response:
        """Urge every open case of a department (each by the case's own urge move)."""
        data = _body({"note"}, {"note"})
        ids = evaluation.urge_department(rt.cases, rt.store, actor, department_id, _text_field(data, "note"))
        return jsonify({"count": len(ids), "ids": ids})

    @bp.post("/departments/import")
    @authenticated
    def department_import(actor: Actor) -> Response:
        data = _body({"geojson", "categories_csv"}, {"geojson"})
        csv_text = data.get("categories_csv")
        if csv_text is not None and not isinstance(csv_text, str):
            raise Invalid("error.department_csv_text", {}, field="categories_csv")
        ids = departments.import_file(rt.store, actor, data["geojson"], csv_text)
        return jsonify({"count": len(ids), "ids": ids})

    def _districts(data: dict[str, Any]) -> dict[str, Any] | None:
        return departments.district_shapes(rt.store) if data.get("districts") else None

    def _department(department_id: int) -> dict[str, Any]:
        found = [d for d in departments.list_all(rt.store) if d["id"] == department_id]
        if not found:
            raise NotFound("error.department_missing", {"id": department_id})
        return _plain(found[0])

    @bp.get("/incidents/<int:incident_id>/suggestions")
    @authenticated
    def suggestions(actor: Actor, incident_id: int) -> Response:
        permissions.require(actor, "read_workers")
        incident_or_404(incident_id, actor)
        return jsonify({"items": [asdict(s) for s in suggest(rt.store, incident_id, snapshot=rt.workers())]})

    @bp.post("/incidents/<int:incident_id>/assign")
    @authenticated
    def assign(actor: Actor, incident_id: int) -> Response:
        data = _body({"worker_id"}, {"worker_id"})
        task_id = lifecycle.assign(rt.store, actor, incident_id, _int_field(data, "worker_id"))
        if actor.role == "staff" and incident_or_404(incident_id, actor)["stage"] in ("signed", "rework"):
            rt.cases.act(actor, incident_id, "start")  # the department's own people are on it
        return jsonify(
            _plain({"task": queries.task_summary(rt.store, task_id), "incident": incident_or_404(incident_id, actor)})
        )

    @bp.post("/incidents/<int:incident_id>/reassign")
    @authenticated
    def reassign(actor: Actor, incident_id: int) -> Response:
        data = _body({"worker_id", "reason"}, {"worker_id"})
        task_id = lifecycle.reassign(
            rt.store, actor, incident_id, _int_field(data, "worker_id"), _text_field(data, "reason")
        )
        return jsonify(
            _plain({"task": queries.task_summary(rt.store, task_id), "incident": incident_or_404(incident_id, actor)})
        )

    @bp.post("/incidents/<int:incident_id>/<any(cancel, close, reopen):action>")
    @authenticated
    def item_action(actor: Actor, incident_id: int, action: str) -> Response:
        data = _body({"reason"})
        lifecycle.act_on_item(rt.store, actor, incident_id, action, _text_field(data, "reason"))
        return jsonify(_plain(incident_or_404(incident_id, actor)))

    @bp.post("/incidents/<int:incident_id>/priority")
    @authenticated
    def priority(actor: Actor, incident_id: int) -> Response:
        data = _body({"priority"}, {"priority"})
        lifecycle.set_priority(rt.store, actor, incident_id, _int_field(data, "priority"), rt.config.sla_minutes)
        return jsonify(_plain(incident_or_404(incident_id, actor)))

    @bp.post("/tasks/<int:task_id>/<any(accept, decline, arrive, resolve):action>")
    @authenticated
    def task_action(actor: Actor, task_id: int, action: str) -> Response:
        if request.mimetype == "multipart/form-data":
            data = {k: v for k, v in request.form.items()}
            extra = sorted(set(data) - {"note", "reason"} | (set(request.files) - {"photo"}))
            if extra:
                raise Invalid("error.field_unknown", {"name": extra[0]}, field=extra[0])
            upload = request.files.get("photo")
            photo = upload.read() if upload else None
        else:
            data, photo = _body({"note", "reason"}), None
        note = _text_field(data, "reason") or _text_field(data, "note")
        lifecycle.act_on_task(rt.store, actor, task_id, action, note, photo, rt.config.media_dir)
        return jsonify(_plain({"task": queries.task_summary(rt.store, task_id)}))

    @bp.post("/bulk/visits")
    @authenticated
    @idempotent(rt.store)
    def bulk_visits(actor: Actor) -> Response:
        upload = request.files.get("file")
        raw = upload.read() if upload else request.get_data()
        if not raw:
            raise Invalid("error.csv_body", field="body")
        text = decode_text(raw)
        if text is None:
            raise Invalid("error.csv_encoding", field="body")
        result = bulk.push_visits(rt.store, rt.index, actor, text, rt.config.sla_minutes)
        errors = [{"line": line, "reason": reason} for line, reason in result.reasons()]
        return jsonify({"created": result.created, "rejected": len(errors), "errors": errors})

    @bp.get("/workers")
    @authenticated
    def workers(actor: Actor) -> Response:
        permissions.require(actor, "read_workers")
        grid = request.args.get("grid_id")
        grid_id = whole_number(grid, "grid_id") if grid else None
        duty = request.args.get("on_duty")
        if duty not in (None, "true", "false"):
            raise Invalid("error.field_bool", {"name": "on_duty"}, field="on_duty")
        on_duty = None if duty is None else duty == "true"

        def fetch(after: int | None, limit: int, ascending: bool) -> list[dict[str, Any]]:
            found = queries.find_workers(rt.store, grid_id, on_duty, after, limit, ascending)
            return [permissions.shown_worker(r) for r in found]

        return listing(page_args(MAX_LIMIT, ascending=True), fetch, _flat_page)

    ingest_routes.register(
        bp, rt, authenticated, lambda incident_id, actor: _plain(incident_or_404(incident_id, actor)), _plain
    )
    warning_routes.register(
        bp,
        rt,
        authenticated,
        _plain,
        _body,
        _list_arg,
        ingest_routes.batch_answer,
        ingest_routes.json_body,
    )

    @bp.route("/<path:_rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def unknown(_rest: str) -> tuple[Response, int]:
        return jsonify({"error": "not_found", "message": f"no API route {request.path}"}), 404

    return bp
