"""Assemble the command map's traces from the store: the static ones once, the live ones per change."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping, shape

from data import queries
from data.live import Live
from data.models import UNASSIGNED_STATUSES
from data.store import Store
from geo import layers
from geo.layers import geometry_to_display, lines_xy, to_display

LIVE_LAYERS = ("grids", "items", "workers", "parking", "alerts", "warnings")
LOW_ZOOM_PER_KIND = 2000  # below the detail zoom: the most urgent items of each kind; grids show the rest
View = dict[str, Any]  # {"zoom": float, "bbox": [lon_min, lat_min, lon_max, lat_max]} from the browser
WarningTitle = Callable[[Mapping[str, Any]], str]  # a warning row (title, title_key, title_params) as text


def stored_title(row: Mapping[str, Any]) -> str:
    return row["title"]


@dataclass
class StaticLayers:
    """What never changes while the app runs: grid shapes, district outlines, roads."""

    grid_ids: np.ndarray
    grid_names: list[str]
    geojson: dict[str, Any]
    traces: dict[str, dict[str, Any]]
    labels: dict[str, str]  # hover words in the UI language: "open", "worker", "space"
    parking_ids: np.ndarray  # segment ids in the order of the parking markers
    parking_lon: np.ndarray
    parking_lat: np.ndarray
    parking_names: list[str]
    warning_title: WarningTitle = stored_title  # injected by the app: the UI language's words
    bounds: list[float] | None = None  # the districts' box (west, south, east, north), the map's home view

    @cached_property
    def names_by_id(self) -> dict[int, str]:
        return dict(zip(self.grid_ids.tolist(), self.grid_names, strict=True))


def static_layers(
    store: Store, crs: str, labels: dict[str, str], warning_title: WarningTitle = stored_title
) -> StaticLayers:
    geojson = queries.grid_geojson(store)
    names = [f["properties"]["name"] for f in geojson["features"]]
    for feature in geojson["features"]:
        # Five decimals (about a metre) is plenty on screen and halves what the first load sends.
        display = geometry_to_display(shape(feature["geometry"]), crs)
        feature["geometry"] = mapping(shapely.transform(display, lambda xy: np.round(xy, 5)))
        # The choropleth needs only the shape: the properties are served by the API.
        feature["properties"] = {}
    ids = np.array([f["id"] for f in geojson["features"]], dtype=np.int64)
    outlines = [geometry_to_display(g, crs) for g in queries.district_outlines(store)]
    road_lines = [geometry_to_display(g, crs) for _, _, g in queries.roads(store)]
    segments = queries.parking_segments(store)
    kerbs = [geometry_to_display(seg.geom, crs) for seg in segments]
    middles = [k.interpolate(0.5, normalized=True) for k in kerbs]
    traces = {
        "districts": layers.line_trace("districts", *lines_xy(outlines), color="#7aa2d6", width=2.2),
        "roads": layers.line_trace("roads", *lines_xy(road_lines), color="#4a5d80", width=1.6),
        "parking_lines": layers.line_trace("parking_lines", *lines_xy(kerbs), color="#8da2c0", width=3),
    }
    return StaticLayers(
        ids,
        names,
        geojson,
        traces,
        labels,
        parking_ids=np.array([seg.id for seg in segments], dtype=np.int64),
        parking_lon=np.array([p.x for p in middles]),
        parking_lat=np.array([p.y for p in middles]),
        parking_names=[seg.name for seg in segments],
        warning_title=warning_title,
        bounds=shapely.total_bounds(outlines).tolist() if outlines else None,
    )


def detailed(view: View | None) -> bool:
    return bool(view and view.get("bbox") and view.get("zoom", 0) >= layers.DETAIL_ZOOM)


def live_traces(
    store: Store,
    static: StaticLayers,
    crs: str,
    which: set[str],
    view: View | None = None,
    live: Live | None = None,
    departments: tuple[int, ...] | None = None,
) -> dict[str, dict[str, Any]]:
    """The traces of the layers in ``which`` (a subset of ``LIVE_LAYERS``), keyed by trace name.

    ``departments``: a department console's screen, whose items are only the cases those bodies own.

    Items are everything inside the viewport when zoomed in, else the most urgent of each kind.
    With ``live`` (refreshed by the caller) loads, items, workers and parking are answered from memory.
    """
    out: dict[str, dict[str, Any]] = {}
    if "grids" in which:
        load = live.items.load_by_grid(static.grid_ids) if live else queries.open_load_by_grid(store)[1]
        out["grids"] = layers.grid_trace(
            static.geojson, static.grid_ids, load, static.grid_names, static.labels["open"]
        )
    if "items" in which:
        if departments is not None and live is not None:
            box = tuple(view["bbox"]) if detailed(view) else None  # type: ignore[index]
            items = live.items.items(bbox=box, per_kind=None if box else LOW_ZOOM_PER_KIND, departments=departments)
        elif detailed(view):
            box = tuple(view["bbox"])  # type: ignore[index]
            items = live.items.items(bbox=box) if live else queries.open_items(store, bbox=box)
        else:
            items = (
                live.items.items(per_kind=LOW_ZOOM_PER_KIND)
                if live
                else queries.open_items(store, per_kind=LOW_ZOOM_PER_KIND)
            )
        out.update(layers.item_layers(items, crs, np.isin(items.status, UNASSIGNED_STATUSES)))
    if "workers" in which:
        w = live.workers.positions() if live else queries.worker_positions(store)
        lon, lat = to_display(w["lon"], w["lat"], crs)
        out["workers"] = layers.workers_trace(lon, lat, w["id"], static.labels["worker"])
    if "alerts" in which:
        out["alerts"] = layers.alerts_trace(queries.active_alert_areas(store), crs)
    if "warnings" in which:
        w = queries.warning_points(store)
        lon, lat = to_display(w["lon"], w["lat"], crs)
        rows = zip(w["title"], w["title_key"], w["title_params"], strict=True)
        titles = [static.warning_title({"title": a, "title_key": k, "title_params": p}) for a, k, p in rows]
        out["warnings"] = layers.warnings_trace(lon, lat, w["id"], np.array(titles, dtype=object), w["open"])
    if "parking" in which:
        # The segments' shapes are static; only the counts move.
        counts = live.parking.counts() if live else queries.parking_occupancy(store)
        values = np.array(
            [(lambda c: c[1] / c[0] if c[0] else 0.0)(counts.get(int(i), (0, 0))) for i in static.parking_ids]
        )
        out["parking"] = layers.parking_trace(static.parking_lon, static.parking_lat, values, static.parking_names)
    return out


def spaces_trace(
    store: Store, static: StaticLayers, crs: str, bbox: tuple[float, float, float, float] | None
) -> dict[str, Any]:
    """Per-space parking markers inside ``bbox`` (WGS-84), or an empty trace when ``bbox`` is None."""
    spaces = queries.parking_spaces(store, bbox) if bbox else queries.parking_spaces(store, (0, 0, 0, 0))
    lon, lat = to_display(spaces["lon"], spaces["lat"], crs)
    return layers.spaces_trace(lon, lat, spaces["occupied"], spaces["code"], static.labels["space"])


def full_figure(
    store: Store,
    static: StaticLayers,
    crs: str,
    style: dict[str, Any],
    visible: list[str],
    view: View | None = None,
    live: Live | None = None,
    departments: tuple[int, ...] | None = None,
) -> dict[str, Any]:
    """The first-load figure: every layer (a department console's items: only its cases)."""
    traces = dict(static.traces)
    traces.update(live_traces(store, static, crs, set(LIVE_LAYERS), view, live, departments))
    traces["parking_spaces"] = spaces_trace(store, static, crs, None)
    return layers.command_figure(traces, style, visible, static.bounds)
