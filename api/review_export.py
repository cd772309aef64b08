"""Exports of the review page's current view: the filtered items as CSV (UTF-8 with BOM, so Excel
reads the Chinese) or as GeoJSON points, with names in the UI language. Logged-in operators,
supervisors and admins only."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pandas as pd
from flask import Blueprint, Response, jsonify, request

from api.session import current_actor
from callbacks.review import export_frame, parse_export_args
from data import review
from data.history import grid_table, worker_table
from data.models import utcnow
from data.runtime import Runtime
from layouts.i18n import Text
from ops.errors import Forbidden, OneMapError, Unauthorized
from ops.permissions import roles_with

CHUNK = 50_000
REVIEW_ROLES = roles_with("export_review")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run such a cell as a formula


def neutralise_formulas(table: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would read as a formula get a leading single quote (names and
    categories come from reports and imports, so they may hold anything)."""
    out = table.copy()
    for name in out.columns:
        if out[name].dtype == object or pd.api.types.is_string_dtype(out[name]):
            out[name] = out[name].map(lambda v: "'" + v if isinstance(v, str) and v.startswith(FORMULA_STARTS) else v)
    return out


def create_blueprint(rt: Runtime) -> Blueprint:
    bp = Blueprint("review_export", __name__)
    t = Text(rt.config.lang)

    @bp.errorhandler(OneMapError)
    def _error(exc: OneMapError) -> tuple[Response, int]:
        return jsonify(exc.to_dict()), exc.status

    def items_for_request():  # noqa: ANN202 (a DataFrame)
        actor = current_actor(rt)
        if actor is None:
            raise Unauthorized("error.login_first")
        if actor.role not in REVIEW_ROLES:
            raise Forbidden("error.role_may_not", {"role": actor.role, "what": "export_review"})
        f = parse_export_args(request.args.to_dict())
        grids = grid_table(rt.store)
        items = review.select_items(rt.history.frame(), grids, f)
        return export_frame(items, grids, worker_table(rt.store), utcnow(), t)

    @bp.get("/review/export.csv")
    def csv() -> Response:
        table = items_for_request()

        def rows() -> Iterator[str]:
            yield "\ufeff"
            for i in range(0, max(len(table), 1), CHUNK):
                yield neutralise_formulas(table.iloc[i : i + CHUNK]).to_csv(index=False, header=i == 0)

        headers = {"Content-Disposition": "attachment; filename=onemap-review.csv"}
        return Response(rows(), mimetype="text/csv", headers=headers)

    @bp.get("/review/export.geojson")
    def geojson() -> Response:
        table = items_for_request()
        props = [c for c in table.columns if c not in ("lon", "lat")]

        def features() -> Iterator[str]:
            yield '{"type": "FeatureCollection", "features": ['
            first = True
            for i in range(0, len(table), CHUNK):
                part = table.iloc[i : i + CHUNK]
                records = part[props].astype(object).where(part[props].notna(), None).to_dict("records")
                for rec, x, y in zip(records, part["lon"].to_numpy(), part["lat"].to_numpy(), strict=True):
                    for key, value in rec.items():
                        if isinstance(value, np.generic):
                            rec[key] = value.item()
                    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]}}
                    feature["properties"] = rec
                    yield ("" if first else ",") + json.dumps(feature, ensure_ascii=False)
                    first = False
            yield "]}"

        headers = {"Content-Disposition": "attachment; filename=onemap-review.geojson"}
        return Response(features(), mimetype="application/geo+json", headers=headers)

    return bp
