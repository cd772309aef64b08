"""Assemble the command map's traces from the store: the static ones once, the live ones per change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from shapely.geometry import mapping, shape

from data import queries
from data.store import Store
from geo import layers
from geo.layers import geometry_to_display, lines_xy, to_display

LIVE_LAYERS = ("grids", "items", "workers", "parking", "alerts")


@dataclass
class StaticLayers:
    """What never changes while the app runs: grid shapes, district outlines, roads."""

    grid_ids: np.ndarray
    grid_names: list[str]
    geojson: dict[str, Any]
    traces: dict[str, dict[str, Any]]
    labels: dict[str, str]  # hover words in the UI language: "open", "worker", "space"


def static_layers(store: Store, crs: str, labels: dict[str, str]) -> StaticLayers:
    geojson = queries.grid_geojson(store)
    names = [f["properties"]["name"] for f in geojson["features"]]
    for feature in geojson["features"]:
        if crs != "wgs84":
            feature["geometry"] = mapping(geometry_to_display(shape(feature["geometry"]), crs))
        # The choropleth needs only the shape: the properties are served by the API.
        feature["properties"] = {}
    ids = np.array([f["id"] for f in geojson["features"]], dtype=np.int64)
    outlines = [geometry_to_display(g, crs) for g in queries.district_outlines(store)]
    road_lines = [geometry_to_display(g, crs) for _, _, g in queries.roads(store)]
    traces = {
        "districts": layers.line_trace("districts", *lines_xy(outlines), color="#7aa2d6", width=2.2),
        "roads": layers.line_trace("roads", *lines_xy(road_lines), color="#4a5d80", width=1.6),
    }
    return StaticLayers(ids, names, geojson, traces, labels)


def live_traces(store: Store, static: StaticLayers, crs: str, which: set[str]) -> dict[str, dict[str, Any]]:
    """The traces of the layers in ``which`` (a subset of ``LIVE_LAYERS``), keyed by trace name."""
    out: dict[str, dict[str, Any]] = {}
    if "grids" in which:
        _, load = queries.open_load_by_grid(store)
        out["grids"] = layers.grid_trace(
            static.geojson, static.grid_ids, load, static.grid_names, static.labels["open"]
        )
    if "items" in which:
        out.update(layers.item_layers(queries.open_items(store), crs))
    if "workers" in which:
        w = queries.worker_positions(store)
        lon, lat = to_display(w["lon"], w["lat"], crs)
        out["workers"] = layers.workers_trace(lon, lat, w["id"], w["name"], static.labels["worker"])
    if "alerts" in which:
        out["alerts"] = layers.alerts_trace(queries.active_alert_areas(store), crs)
    if "parking" in which:
        segs = queries.parking_segments(store)
        for trace in layers.parking_traces([(s.geom, s.occupancy) for s in segs], crs):
            out[trace["name"]] = trace
    return out


def spaces_trace(
    store: Store, static: StaticLayers, crs: str, bbox: tuple[float, float, float, float] | None
) -> dict[str, Any]:
    """Per-space parking markers inside ``bbox`` (WGS-84), or an empty trace when ``bbox`` is None."""
    spaces = queries.parking_spaces(store, bbox) if bbox else queries.parking_spaces(store, (0, 0, 0, 0))
    lon, lat = to_display(spaces["lon"], spaces["lat"], crs)
    return layers.spaces_trace(lon, lat, spaces["occupied"], spaces["code"], static.labels["space"])


def full_figure(
    store: Store, static: StaticLayers, crs: str, style: dict[str, Any], visible: list[str]
) -> dict[str, Any]:
    """The first-load figure: every layer."""
    traces = dict(static.traces)
    traces.update(live_traces(store, static, crs, set(LIVE_LAYERS)))
    traces["parking_spaces"] = spaces_trace(store, static, crs, None)
    return layers.command_figure(traces, style, visible)
