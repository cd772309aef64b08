"""Wiring of the command page: poll the cursor, patch what changed, toggle layers, show spaces on zoom."""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, Patch, State, no_update

from data import map_view, queries
from data.runtime import Runtime
from geo.layers import LAYER_TRACES, SPACES_MIN_ZOOM, TRACE_INDEX
from layouts.command import feed_items, kpi_values
from layouts.i18n import Text
from layouts.ids import KPI_IDS, Ids

KPI_ORDER = list(KPI_IDS)


def refresh(rt: Runtime, t: Text, cursor: int | None) -> tuple[Any, ...]:
    """Outputs of one poll: (figure patch, cursor, badge text, badge colour, feed, *KPI texts)."""
    latest, healthy = rt.cursor()
    badge = (t("live.ok"), "green") if healthy else (t("live.degraded"), "red")
    if cursor is not None and latest <= cursor:
        return (no_update, no_update, *badge, no_update, *[no_update] * len(KPI_ORDER))
    newest, layers = queries.layers_changed_since(rt.store, cursor or 0)
    patch = Patch()
    live = layers & set(map_view.LIVE_LAYERS)
    for name, trace in map_view.live_traces(rt.store, rt.static, rt.crs, live).items():
        i = TRACE_INDEX[name]
        if name == "grids":
            patch["data"][i]["z"] = trace["z"]
            patch["data"][i]["zmax"] = trace["zmax"]
            continue
        for key in ("lon", "lat", "customdata", "text"):
            if key in trace:
                patch["data"][i][key] = trace[key]
    feed = feed_items(queries.latest_items(rt.store), t) if "feed" in layers else no_update
    if "kpi" in layers:
        values = kpi_values(queries.kpis(rt.store))
        kpi = [values[k] for k in KPI_ORDER]
    else:
        kpi = [no_update] * len(KPI_ORDER)
    return (patch, max(newest, latest), *badge, feed, *kpi)


def visibility_patch(visible: list[str]) -> Patch:
    """Show the traces of the toggled-on layers and hide the rest."""
    patch = Patch()
    on = set(visible or [])
    for layer, traces in LAYER_TRACES.items():
        for name in traces:
            patch["data"][TRACE_INDEX[name]]["visible"] = layer in on
    return patch


def viewport_bbox(relayout: dict[str, Any] | None) -> tuple[float, float, float, float] | None:
    """The visible WGS-84 box when zoomed in far enough for single parking spaces, else None."""
    if not relayout or "map.zoom" not in relayout or relayout["map.zoom"] < SPACES_MIN_ZOOM:
        return None
    corners = relayout.get("map._derived", {}).get("coordinates")
    if corners:
        lons = [c[0] for c in corners]
        lats = [c[1] for c in corners]
        return min(lons), min(lats), max(lons), max(lats)
    center = relayout.get("map.center", {})
    span = 360.0 / 2 ** relayout["map.zoom"]
    return center["lon"] - span, center["lat"] - span / 2, center["lon"] + span, center["lat"] + span / 2


def register(app: Dash, rt: Runtime, t: Text) -> None:
    """Attach the command page's callbacks to ``app``."""

    @app.callback(
        Output(Ids.MAP, "figure"),
        Output(Ids.CURSOR, "data"),
        Output(Ids.LIVE_BADGE, "children"),
        Output(Ids.LIVE_BADGE, "color"),
        Output(Ids.FEED, "children"),
        *[Output(KPI_IDS[k], "children") for k in KPI_ORDER],
        Input(Ids.POLL, "n_intervals"),
        State(Ids.CURSOR, "data"),
        prevent_initial_call=True,
    )
    def poll(_n: int, cursor: int | None) -> tuple[Any, ...]:
        return refresh(rt, t, cursor)

    @app.callback(
        Output(Ids.MAP, "figure", allow_duplicate=True), Input(Ids.LAYERS, "value"), prevent_initial_call=True
    )
    def toggle_layers(visible: list[str]) -> Patch:
        return visibility_patch(visible)

    @app.callback(
        Output(Ids.MAP, "figure", allow_duplicate=True), Input(Ids.MAP, "relayoutData"), prevent_initial_call=True
    )
    def zoom_spaces(relayout: dict[str, Any] | None) -> Patch:
        if not relayout or "map.zoom" not in relayout:
            return no_update
        trace = map_view.spaces_trace(rt.store, rt.static, rt.crs, viewport_bbox(relayout))
        patch = Patch()
        i = TRACE_INDEX["parking_spaces"]
        for key in ("lon", "lat", "text", "marker"):
            patch["data"][i][key] = trace[key]
        return patch

    app.clientside_callback(
        "function(n) { return new Date().toLocaleTimeString('zh-CN', {hour12: false}); }",
        Output(Ids.CLOCK, "children"),
        Input(Ids.POLL, "n_intervals"),
    )
