"""Exports of the review page's current view: the filtered items as CSV (UTF-8 with BOM, so Excel
reads the Chinese) or as GeoJSON points, with names in the UI language. Logged-in operators,
supervisors and admins only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

import numpy as np
import pandas as pd
from flask import Blueprint, Response, jsonify, request

from api.report_pdf import report_response
from api.session import current_actor
from data import review
from data.history import grid_table, worker_table
from data.models import utcnow
from data.runtime import Runtime
from layouts.i18n import Text
from ops.errors import Forbidden, Invalid, OneMapError, Unauthorized
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


def parse_export_args(args: dict[str, str]) -> review.Filters:
    """Filters from an export link's query string; refuses bad values by name."""
    try:
        start, end = datetime.fromisoformat(args["start"]), datetime.fromisoformat(args["end"])
    except KeyError as exc:
        raise Invalid("error.time_required", {"name": exc.args[0]}, field=exc.args[0]) from None
    except ValueError:
        raise Invalid("error.times_iso", field="start") from None
    if end <= start:
        raise Invalid("error.end_after_start", field="end")

    def listed(name: str) -> list[str]:
        return [v for v in (args.get(name) or "").split(",") if v]

    return review.Filters(start, end, listed("kinds"), listed("categories"), listed("districts"), listed("statuses"))


def export_frame(
    items: pd.DataFrame, grids: pd.DataFrame, workers: pd.DataFrame, now: datetime, t: Text
) -> pd.DataFrame:
    """The exported columns of each item, for people: kind and status in the UI language, grid,
    district and worker by name, integer ids, times on the city's clock (ISO 8601 with offset)."""
    local = review.local_times(items)
    resolved_local = review.local_times(items, "resolved_at")
    grid_ids = items["grid_id"].to_numpy()
    worker = pd.Series(items["assigned_worker_id"].to_numpy(), dtype="Int64").where(lambda w: w >= 0)

    def named(codes: pd.Series, key: str) -> np.ndarray:
        names = {c: t.get(f"{key}.{c}", str(c)) for c in codes.astype(str).unique()}
        return codes.astype(str).map(names).to_numpy(object)

    # Series with nullable integers (not .to_numpy()): an id must not become a float like 491.0.
    return pd.DataFrame(
        {
            "id": pd.Series(items["id"].to_numpy(np.int64)),
            "kind": named(items["kind"], "kind"),
            "category": items["category"].astype(str).to_numpy(object),
            "status": named(items["status"], "status"),
            "priority": pd.Series(items["priority"].to_numpy(np.int64)),
            "grid_id": pd.Series(grid_ids, dtype="Int64").where(lambda g: g >= 0),
            "grid": grids["grid"].reindex(grid_ids).to_numpy(object),
            "district": grids["district"].reindex(grid_ids).to_numpy(object),
            "worker_id": worker,
            "worker": workers["worker"].reindex(worker.fillna(-1).to_numpy(np.int64)).to_numpy(object),
            "created_at": local.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "resolved_at": resolved_local.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "response_min": review.response_minutes(items).round(1).to_numpy(),
            "overdue": review.overdue(items, now).to_numpy(),
            "lon": items["lon"].round(6).to_numpy(),
            "lat": items["lat"].round(6).to_numpy(),
        }
    )


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
        items = review.select_items(rt.history.covering(f.start, f.end), grids, f)
        return export_frame(items, grids, worker_table(rt.store), utcnow(), t)

    @bp.get("/review/report.pdf")
    def month_report() -> Response:
        """The evaluation section's "monthly report" link: the same PDF as the API's, for a signed-in supervisor."""
        actor = current_actor(rt)
        if actor is None:
            raise Unauthorized("error.login_first")
        return report_response(rt, actor, request.args.get("month", ""), request.args.get("lang", rt.config.lang))

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
