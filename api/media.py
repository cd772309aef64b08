"""Stored photos, for logged-in users only (the session guard covers this route)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, send_from_directory

from data.runtime import Runtime


def create_blueprint(rt: Runtime) -> Blueprint:
    bp = Blueprint("media", __name__)

    @bp.get("/media/<name>")
    def photo(name: str) -> Response:
        if not name.endswith(".jpg") or "/" in name or name.startswith("."):
            abort(404)
        return send_from_directory(rt.config.media_dir, name, mimetype="image/jpeg", max_age=86400)

    return bp
