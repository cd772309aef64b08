"""Limits every request meets before a view reads it: the body size (413, refused from the
Content-Length or while streaming, never read whole) and JSON that is nested too deep or holds lone
surrogates (answered as bad JSON, 400/422, not a RecursionError's 500)."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import RequestEntityTooLarge

from config import Config
from ops.parsing import loads_json


class BoundedJSON(DefaultJSONProvider):
    """Flask's JSON, whose ``loads`` (used by ``request.get_json`` and Dash's endpoints) is bounded."""

    def loads(self, s: str | bytes, **_kwargs: Any) -> Any:
        return loads_json(s)


def install(server: Flask, config: Config) -> None:
    """Apply the body limit and the bounded JSON parser to every route, the Dash ones included."""
    server.config["MAX_CONTENT_LENGTH"] = config.max_body_mb * 1024 * 1024
    server.json = BoundedJSON(server)

    @server.before_request
    def _chunked_within_limit() -> None:
        # A body sent without Content-Length (chunked, behind gunicorn) is cut at the limit by Werkzeug,
        # silently: read it up to the limit here and refuse it when it reaches it.
        if request.content_length is None and request.environ.get("wsgi.input_terminated"):
            if len(request.get_data(cache=True)) >= server.config["MAX_CONTENT_LENGTH"]:
                raise RequestEntityTooLarge()

    @server.errorhandler(RequestEntityTooLarge)
    def _too_large(_exc: RequestEntityTooLarge) -> tuple[Response, int]:
        message = f"request body is larger than {config.max_body_mb} MB"
        return jsonify({"error": "payload_too_large", "message": message, "max_mb": config.max_body_mb}), 413
