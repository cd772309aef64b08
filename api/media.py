"""Stored photos, for logged-in users who may see the photo's item (``ops.media.readable_photo``)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, send_from_directory

from api.session import require_actor
from data.runtime import Runtime
from ops.errors import OneMapError
from ops.media import readable_photo


def create_blueprint(rt: Runtime) -> Blueprint:
    bp = Blueprint("media", __name__)

    @bp.errorhandler(OneMapError)
    def _error(exc: OneMapError) -> tuple[Response, int]:
        return jsonify(exc.to_dict()), exc.status

    @bp.get("/media/<name>")
    def photo(name: str) -> Response:
        # The session guard sends nobody to the login page first; require_actor holds if it ever changes.
        name = readable_photo(rt.store, require_actor(rt), name)
        response = send_from_directory(rt.config.media_dir, name, mimetype="image/jpeg")
        # A photo may show a person or a home: never kept by a proxy, nor by the browser after logout.
        response.cache_control.public = False
        response.cache_control.private = True
        response.cache_control.no_store = True
        response.cache_control.max_age = None
        return response

    return bp
