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
        response = send_from_directory(rt.config.media_dir, name, mimetype="image/jpeg")
        # A photo may show a person or a home: never kept by a proxy, nor by the browser after logout.
        response.cache_control.public = False
        response.cache_control.private = True
        response.cache_control.no_store = True
        response.cache_control.max_age = None
        return response

    return bp
