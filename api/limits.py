"""Limits every request meets before a view reads it: the body size (413, refused from the
Content-Length or while streaming, never read whole) and JSON that is nested too deep or holds lone
surrogates (answered as bad JSON, 400/422, not a RecursionError's 500)."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify
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

    @server.errorhandler(RequestEntityTooLarge)
    def _too_large(_exc: RequestEntityTooLarge) -> tuple[Response, int]:
        message = f"request body is larger than {config.max_body_mb} MB"
        return jsonify({"error": "payload_too_large", "message": message, "max_mb": config.max_body_mb}), 413
