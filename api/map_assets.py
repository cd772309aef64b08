"""Map resources served by the app itself, so no map ever asks an outside host.

MapLibre refuses a style whose symbol layers (which plotly always creates) have no glyph source.
OneMap draws no text on the map (labels live in hover cards and panels), so each glyph range is
an empty protobuf: valid, tiny, and local. Real glyph ranges dropped into ``assets/glyphs`` win.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, send_file

GLYPHS = Path(__file__).resolve().parent.parent / "assets" / "glyphs"
GLYPH_URL = "/map/glyphs/{fontstack}/{range}.pbf"


def create_blueprint() -> Blueprint:
    bp = Blueprint("map_assets", __name__, url_prefix="/map")

    @bp.get("/glyphs/<fontstack>/<int:start>-<int:end>.pbf")
    def glyphs(fontstack: str, start: int, end: int) -> Response:
        if end - start != 255 or start % 256:
            abort(404)
        local = GLYPHS / fontstack.split(",")[0] / f"{start}-{end}.pbf"
        if local.resolve().is_relative_to(GLYPHS.resolve()) and local.is_file():
            return send_file(local, mimetype="application/x-protobuf")
        return Response(b"", mimetype="application/x-protobuf", headers={"Cache-Control": "max-age=86400"})

    return bp
