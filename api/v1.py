"""REST API v1 (Flask blueprint): health and grids. Every call but health needs a bearer token."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from data import queries
from data.runtime import Runtime
from ops.accounts import Actor, actor_for_token
from ops.errors import OneMapError


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def create_blueprint(rt: Runtime) -> Blueprint:
    """The /api/v1 blueprint bound to one runtime."""
    bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")

    def authenticated(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            actor = actor_for_token(rt.store, _bearer())
            return view(actor, *args, **kwargs)

        return wrapper

    @bp.errorhandler(OneMapError)
    def _rule_error(exc: OneMapError) -> tuple[Response, int]:
        return jsonify(exc.to_dict()), exc.status

    @bp.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Response, int]:
        return jsonify({"error": exc.name.lower().replace(" ", "_"), "message": exc.description}), exc.code or 500

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
        }
        return jsonify(body), 200 if store_ok else 503

    @bp.get("/grids")
    @authenticated
    def grids(_actor: Actor) -> Response:
        response = jsonify(queries.grid_geojson(rt.store))
        response.mimetype = "application/geo+json"
        return response

    @bp.route("/<path:_rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def unknown(_rest: str) -> tuple[Response, int]:
        return jsonify({"error": "not_found", "message": f"no API route {request.path}"}), 404

    return bp
