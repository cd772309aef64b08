"""Wiring of the review page: filters → figures and tables; playback frames; drill-down; exports."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

import numpy as np
import pandas as pd
from dash import ClientsideFunction, Dash, Input, Output, Patch, State, ctx, no_update

from api.session import require_actor
from data import queries, review
from data.history import grid_table, worker_table
from data.models import utcnow
from data.runtime import Runtime
from geo.layers import to_display
from layouts import review as view
from layouts.i18n import Text
from layouts.ids import ReviewIds
from ops import permissions
from ops.privacy import shown_incident

DRILL_LIMIT = 2000


def filters_from(data: dict[str, Any]) -> review.Filters:
    return review.Filters(
        start=datetime.fromisoformat(data["start"]),
        end=datetime.fromisoformat(data["end"]),
        kinds=list(data.get("kinds") or []),
        categories=list(data.get("categories") or []),
        districts=list(data.get("districts") or []),
        statuses=list(data.get("statuses") or []),
    )


def export_query(f: review.Filters) -> str:
    return urlencode(
        {
            "start": f.start.isoformat(timespec="seconds"),
            "end": f.end.isoformat(timespec="seconds"),
            **{k: ",".join(v) for k, v in (("kinds", f.kinds), ("categories", f.categories)) if v},
            **{k: ",".join(v) for k, v in (("districts", f.districts), ("statuses", f.statuses)) if v},
        }
    )


def _rows(table: pd.DataFrame, key: str) -> list[dict[str, Any]]:
    out = table.reset_index().rename(columns={"index": key})
    out["median_response"] = out["median_response"].round(1)
    out["overdue_pct"] = (100 * out["overdue_rate"]).round(1)
    if "per_1000" in out:
        out["per_1000"] = out["per_1000"].round(2)
    out = out.drop(columns=["overdue_rate"]).astype(object)
    return out.where(pd.notna(out), None).to_dict("records")


def register(app: Dash, rt: Runtime, t: Text) -> None:
    """Attach the review page's callbacks to ``app``."""

    def grids() -> pd.DataFrame:
        return rt.shared("review:grids", 0, lambda: grid_table(rt.store))

    def selected(data: dict[str, Any]) -> pd.DataFrame:
        permissions.require(require_actor(rt), "review_items")
        f = filters_from(data)
        return review.select_items(rt.history.covering(f.start, f.end), grids(), f)

    @app.callback(
        Output(ReviewIds.FILTERS, "data"),
        Output(ReviewIds.CSV, "href"),
        Output(ReviewIds.GEOJSON, "href"),
        Input(ReviewIds.RANGE, "value"),
        Input(ReviewIds.DATES, "value"),
        Input(ReviewIds.KINDS, "value"),
        Input(ReviewIds.CATEGORIES, "value"),
        Input(ReviewIds.DISTRICTS, "value"),
        Input(ReviewIds.STATUSES, "value"),
    )
    def choose(
        name: str, dates: list[str] | None, kinds: Any, categories: Any, districts: Any, statuses: Any
    ) -> tuple[Any, ...]:
        if name == "custom":
            picked = [d for d in (dates or []) if d]
            if len(picked) < 2:
                return no_update, no_update, no_update  # wait for both days
            first, last = (date.fromisoformat(d[:10]) for d in picked[:2])
            start, end = review.period(name, utcnow(), first, last)
        else:
            start, end = review.period(name, utcnow())
        f = review.Filters(start, end, kinds or [], categories or [], districts or [], statuses or [])
        data = {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "kinds": f.kinds,
            "categories": f.categories,
            "districts": f.districts,
            "statuses": f.statuses,
        }
        query = export_query(f)
        return data, f"/review/export.csv?{query}", f"/review/export.geojson?{query}"

    @app.callback(
        Output(ReviewIds.SUMMARY, "children"),
        Output(ReviewIds.HOUR_CHART, "figure"),
        Output(ReviewIds.DAY_CHART, "figure"),
        Output(ReviewIds.RESPONSE_CHART, "figure"),
        Output(ReviewIds.BACKLOG_CHART, "figure"),
        Output(ReviewIds.GRID_TABLE, "rowData"),
        Output(ReviewIds.WORKER_TABLE, "rowData"),
        Output(ReviewIds.FRAMES, "data"),
        Output(ReviewIds.FRAME, "max"),
        Output(ReviewIds.FRAME, "value"),
        Input(ReviewIds.FILTERS, "data"),
        prevent_initial_call=True,
    )
    def figures(data: dict[str, Any] | None) -> tuple[Any, ...]:
        if not data:
            return (no_update,) * 10
        f = filters_from(data)
        now = utcnow()
        items = selected(data)
        by_grid = review.grid_metrics(items, grids(), now)
        workers = rt.shared("review:workers", 0, lambda: worker_table(rt.store))
        by_worker = review.worker_metrics(items, workers, grids(), now).head(2000)
        response = review.response_minutes(items)
        late = review.overdue(items, now)
        summary = t("review.summary").format(
            n=len(items),
            median=f"{response.median():.0f}" if response.notna().any() else "—",
            overdue=f"{100 * late.mean():.1f}" if len(items) else "0.0",
        )
        if rt.history.archived(f.start):
            summary += " · " + t("review.archived")  # not the window each process holds: read from the store
        edges = review.frame_edges(f.start, f.end)
        return (
            summary,
            view.hour_chart(t, review.volume_by_hour(items)),
            view.day_chart(t, review.volume_by_day(items, f.start, f.end)),
            view.response_chart(t, response, items["kind"].astype(str)),
            view.backlog_chart(t, review.backlog(rt.history.covering(f.start, f.end), grids(), f)),
            _rows(by_grid, "grid_id"),
            _rows(by_worker, "worker_id"),
            [e.isoformat() for e in edges],
            max(len(edges) - 2, 0),
            0,
        )

    @app.callback(
        Output(ReviewIds.MAP, "figure"),
        Input(ReviewIds.FILTERS, "data"),
        Input(ReviewIds.MODE, "value"),
        Input(ReviewIds.METRIC, "value"),
        Input(ReviewIds.HEX_RES, "value"),
        prevent_initial_call=True,
    )
    def aggregate_layer(data: dict[str, Any] | None, mode: str, metric: str, res: str) -> Any:
        if not data:
            return no_update
        items = selected(data)
        patch = Patch()
        patch["data"][view.BASE] = base_trace(items, mode, metric, int(res or 8))
        return patch

    def base_trace(items: pd.DataFrame, mode: str, metric: str, res: int) -> dict[str, Any]:
        if mode == "density":
            lon, lat, weight = review.density_points(items)
            lon, lat = to_display(lon, lat, rt.crs)
            return view.density_trace(lon, lat, weight)
        if mode == "hex":
            names, counts, geojson = review.hexagons(items, res)
            labels = [t("review.hex.label").format(n=int(c)) for c in counts]
            return view.choropleth_trace("hex", geojson, names, counts.astype(float), labels, ".0f")
        table = review.grid_metrics(items, grids(), utcnow())
        ids = rt.static.grid_ids
        z = review.metric_by_grid(table, ids, metric)
        if metric == "overdue_rate":
            z = 100 * z
        fmt = ".0f" if metric == "count" else ".1f"
        return view.choropleth_trace("grids", rt.static.geojson, ids, z, rt.static.grid_names, fmt)

    @app.callback(
        Output(ReviewIds.MAP, "figure", allow_duplicate=True),
        Output(ReviewIds.FRAME_LABEL, "children"),
        Output(ReviewIds.FRAME_SHOWN, "data"),
        Input(ReviewIds.FRAME, "value"),
        State(ReviewIds.FRAMES, "data"),
        State(ReviewIds.FILTERS, "data"),
        prevent_initial_call=True,
    )
    def show_frame(k: int | None, frames: list[str] | None, data: dict[str, Any] | None) -> tuple[Any, Any, Any]:
        if not frames or not data or len(frames) < 2:
            return no_update, no_update, k
        edges = [datetime.fromisoformat(e) for e in frames]
        k = max(0, min(int(k or 0), len(edges) - 2))
        items = review.frame_items(selected(data), edges, k)
        lon, lat = to_display(items["lon"].to_numpy(), items["lat"].to_numpy(), rt.crs)
        patch = Patch()
        patch["data"][view.PLAYBACK]["lon"] = lon.astype(np.float32)
        patch["data"][view.PLAYBACK]["lat"] = lat.astype(np.float32)
        patch["data"][view.PLAYBACK]["marker"]["color"] = [view.KIND_HEX[k] for k in items["kind"].astype(str)]
        a, b = (pd.Timestamp(e, tz="UTC").tz_convert(review.LOCAL) for e in (edges[k], edges[k + 1]))
        label = t("review.frame").format(start=f"{a:%m-%d %H:%M}", end=f"{b:%m-%d %H:%M}", n=len(items))
        return patch, label, k

    # Play / pause; play at the last step starts again from the first.
    app.clientside_callback(
        """function(n, disabled, value, max) {
            const noUpdate = window.dash_clientside.no_update;
            if (!disabled) { return [true, PLAY_LABEL, noUpdate]; }
            return [false, PAUSE_LABEL, (value || 0) >= (max || 0) ? 0 : noUpdate];
        }""".replace("PLAY_LABEL", json.dumps(t("review.play"))).replace("PAUSE_LABEL", json.dumps(t("review.pause"))),
        Output(ReviewIds.TICK, "disabled"),
        Output(ReviewIds.PLAY, "children"),
        Output(ReviewIds.FRAME, "value", allow_duplicate=True),
        Input(ReviewIds.PLAY, "n_clicks"),
        State(ReviewIds.TICK, "disabled"),
        State(ReviewIds.FRAME, "value"),
        State(ReviewIds.FRAME, "max"),
        prevent_initial_call=True,
    )

    app.clientside_callback(
        "function(speed) { return 1000 / Number(speed || 1); }",
        Output(ReviewIds.TICK, "interval"),
        Input(ReviewIds.SPEED, "value"),
    )
    # Each tick steps the slider once the current step is on the map (a slow draw or answer delays
    # playback instead of skipping steps); at the last step playback stops by itself.
    app.clientside_callback(
        """function(n, value, max, shown) {
            const noUpdate = window.dash_clientside.no_update;
            if (shown !== value) { return [noUpdate, noUpdate, noUpdate]; }
            const next = (value || 0) + 1;
            if (next >= max) { return [max, true, PLAY_LABEL]; }
            return [next, noUpdate, noUpdate];
        }""".replace("PLAY_LABEL", json.dumps(t("review.play"))),
        Output(ReviewIds.FRAME, "value", allow_duplicate=True),
        Output(ReviewIds.TICK, "disabled", allow_duplicate=True),
        Output(ReviewIds.PLAY, "children", allow_duplicate=True),
        Input(ReviewIds.TICK, "n_intervals"),
        State(ReviewIds.FRAME, "value"),
        State(ReviewIds.FRAME, "max"),
        State(ReviewIds.FRAME_SHOWN, "data"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(ReviewIds.DRILL, "rowData"),
        Output(ReviewIds.DRILL_TITLE, "children"),
        Output(ReviewIds.MAP, "figure", allow_duplicate=True),
        Output(ReviewIds.ITEM, "children", allow_duplicate=True),
        Input(ReviewIds.GRID_TABLE, "selectedRows"),
        Input(ReviewIds.WORKER_TABLE, "selectedRows"),
        State(ReviewIds.FILTERS, "data"),
        prevent_initial_call=True,
    )
    def drill(by_grid: list[dict[str, Any]] | None, by_worker: list[dict[str, Any]] | None, data: Any) -> Any:
        rows = by_grid if ctx.triggered_id == ReviewIds.GRID_TABLE else by_worker
        if not data:
            return no_update, no_update, no_update, no_update
        items = selected(data)
        if not rows:
            label, chosen = t("review.drill"), items.iloc[0:0]
        elif ctx.triggered_id == ReviewIds.GRID_TABLE:
            chosen = items[items["grid_id"] == int(rows[0]["grid_id"])]
            label = f"{t('review.drill')} · {rows[0]['grid']}"
        else:
            chosen = items[items["assigned_worker_id"] == int(rows[0]["worker_id"])]
            label = f"{t('review.drill')} · {rows[0]['worker']}"
        chosen = chosen.sort_values("created_at", ascending=False)
        shown = chosen.head(DRILL_LIMIT)
        label += " " + t("review.drill.count").format(n=len(chosen), shown=len(shown))
        response = review.response_minutes(shown).round(1)
        local = review.local_times(shown)
        table = [
            {
                "id": int(i),
                "kind": t(f"kind.{k}"),
                "category": c,
                "status": t(f"status.{s}"),
                "created": f"{when:%Y-%m-%d %H:%M}",
                "response": None if pd.isna(r) else float(r),
            }
            for i, k, c, s, when, r in zip(
                shown["id"],
                shown["kind"].astype(str),
                shown["category"].astype(str),
                shown["status"].astype(str),
                local,
                response,
                strict=True,
            )
        ]
        lon, lat = to_display(shown["lon"].to_numpy(), shown["lat"].to_numpy(), rt.crs)
        patch = Patch()
        patch["data"][view.DRILL]["lon"] = lon.astype(np.float32)
        patch["data"][view.DRILL]["lat"] = lat.astype(np.float32)
        patch["data"][view.DRILL]["text"] = [f"#{r['id']} {r['category']}" for r in table]
        patch["data"][view.FOCUS]["lon"] = []
        patch["data"][view.FOCUS]["lat"] = []
        return table, label, patch, view.item_detail(t, None)

    @app.callback(
        Output(ReviewIds.ITEM, "children"),
        Output(ReviewIds.MAP, "figure", allow_duplicate=True),
        Input(ReviewIds.DRILL, "selectedRows"),
        prevent_initial_call=True,
    )
    def pick(rows: list[dict[str, Any]] | None) -> tuple[Any, Any]:
        """A drill-down row: the item's detail beside the table, and the map centred on it."""
        permissions.require(require_actor(rt), "review_items")
        detail = queries.incident_detail(rt.store, int(rows[0]["id"])) if rows else None
        if detail is None:
            return view.item_detail(t, None), no_update
        if detail["assigned_worker_id"] is not None:
            detail["worker_name"] = queries.worker_name(rt.store, detail["assigned_worker_id"])
        lon, lat = to_display(np.array([detail["lon"]]), np.array([detail["lat"]]), rt.crs)
        x, y = float(lon[0]), float(lat[0])
        patch = Patch()
        patch["data"][view.FOCUS]["lon"] = [x, x]
        patch["data"][view.FOCUS]["lat"] = [y, y]
        patch["layout"]["map"]["center"] = {"lon": x, "lat": y}
        patch["layout"]["map"]["zoom"] = view.FOCUS_ZOOM
        return view.item_detail(t, shown_incident(detail)), patch

    @app.callback(
        Output(ReviewIds.PARKING_TABLE, "rowData"),
        Output(ReviewIds.PARKING_HOURS, "figure"),
        Input(ReviewIds.FILTERS, "data"),
        prevent_initial_call=True,
    )
    def parking(data: dict[str, Any] | None) -> tuple[Any, Any]:
        permissions.require(require_actor(rt), "review_items")
        if not data:
            return no_update, no_update
        f = filters_from(data)
        stats, hours = review.parking_stats(rt.store, f.start, f.end)
        rows = stats.reset_index().round({"occupancy_pct": 1, "turnover": 2, "avg_dwell_min": 1}).astype(object)
        rows = rows.where(pd.notna(rows), None).to_dict("records")
        return rows, view.parking_heatmap(t, hours)

    @app.callback(
        Output(ReviewIds.WARNINGS_TABLE, "rowData"),
        Output(ReviewIds.WARNINGS_SUMMARY, "children"),
        Input(ReviewIds.FILTERS, "data"),
        prevent_initial_call=True,
    )
    def warnings(data: dict[str, Any] | None) -> tuple[Any, Any]:
        permissions.require(require_actor(rt), "review_items")
        if not data:
            return no_update, no_update
        f = filters_from(data)
        rows = view.warning_rows(t, queries.warnings_between(rt.store, f.start, f.end))
        return rows, view.warning_summary(t, rows)

    @app.callback(
        Output(ReviewIds.SHEET, "data"),
        Input(ReviewIds.FILTERS, "data"),
        Input(ReviewIds.MODE, "value"),
        Input(ReviewIds.METRIC, "value"),
        prevent_initial_call=True,
    )
    def sheet(data: dict[str, Any] | None, mode: str, metric: str) -> Any:
        if not data:
            return no_update
        return view.sheet_header(t, filters_from(data), mode or "grid", metric or "count")

    # PNG for a report: one sheet, the map and every chart under the period and filters (assets/review_sheet.js).
    app.clientside_callback(
        ClientsideFunction(namespace="review", function_name="sheet"),
        Output(ReviewIds.PNG_DONE, "children"),
        Output(ReviewIds.PNG_DONE, "title"),
        Input(ReviewIds.PNG, "n_clicks"),
        State(ReviewIds.SHEET, "data"),
        prevent_initial_call=True,
    )
