"""Limits every request meets before a view reads it: the body size (413, refused from the
Content-Length or while streaming, never read whole), JSON that is nested too deep or holds lone
surrogates (answered as bad JSON, 400/422, not a RecursionError's 500), and Dash callback requests
whose shape is not one the page sends (400, before Dash's dispatcher trips on it with a 500)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import RequestEntityTooLarge

from config import Config
from ops.parsing import loads_json


class BoundedJSON(DefaultJSONProvider):
    """Flask's JSON, whose ``loads`` (used by ``request.get_json`` and Dash's endpoints) is bounded."""

    def loads(self, s: str | bytes, **_kwargs: Any) -> Any:
        return loads_json(s)


def _prop(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("id"), str | dict) and isinstance(item.get("property"), str)


def _props(items: Any) -> bool:
    """Inputs, state or outputs: each an {id, property} or (pattern-matching) a list of them."""
    return isinstance(items, list) and all(_prop(i) or (isinstance(i, list) and all(map(_prop, i))) for i in items)


def dash_body_problem(body: Any, callbacks: dict[str, Any]) -> str | None:
    """Why a ``/_dash-update-component`` body is not a call of one of this app's callbacks (None: it is)."""
    if not isinstance(body, dict):
        return "body must be a JSON object"
    callback = callbacks.get(body.get("output")) if isinstance(body.get("output"), str) else None
    if callback is None:
        return "output names no callback of this app"
    outputs = body.get("outputs", [])
    if not (_prop(outputs) or _props(outputs)):
        return "outputs must be {id, property} objects"
    for name in ("inputs", "state"):
        given = body.get(name, [])
        if not _props(given) or len(given) != len(callback.get(name) or []):
            return f"{name} must list this callback's {name} as {{id, property, value}} objects"
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        return "changedPropIds must be a list of strings"
    return None


def install(app: Any, config: Config) -> None:  # app: the Dash app (api/ does not import Dash)
    """Apply the body limit and the bounded JSON parser to every route, the Dash ones included."""
    server = app.server
    server.config["MAX_CONTENT_LENGTH"] = config.max_body_mb * 1024 * 1024
    server.json = BoundedJSON(server)

    @server.before_request
    def _chunked_within_limit() -> None:
        # A body sent without Content-Length (chunked, behind gunicorn) is cut at the limit by Werkzeug,
        # silently: read it up to the limit here and refuse it when it reaches it.
        if request.content_length is None and request.environ.get("wsgi.input_terminated"):
            if len(request.get_data(cache=True)) >= server.config["MAX_CONTENT_LENGTH"]:
                raise RequestEntityTooLarge()

    @server.before_request
    def _dash_call_shape() -> tuple[Response, int] | None:
        if request.method != "POST" or not request.path.endswith("/_dash-update-component"):
            return None
        body = request.get_json(silent=True)
        problem = "body is not valid JSON" if body is None else dash_body_problem(body, app.callback_map)
        return (jsonify({"error": "bad_request", "message": problem}), 400) if problem else None

    @server.errorhandler(RequestEntityTooLarge)
    def _too_large(_exc: RequestEntityTooLarge) -> tuple[Response, int]:
        message = f"request body is larger than {config.max_body_mb} MB"
        return jsonify({"error": "payload_too_large", "message": message, "max_mb": config.max_body_mb}), 413
