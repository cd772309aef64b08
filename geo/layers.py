"""Map figure builders: pure functions from data (numpy columns, shapely geometries) to figure dicts.

The figure's trace order is fixed (``TRACES``) so callbacks can patch one layer by index.
Coordinates go out in the display CRS (WGS-84 unless the tile server is GCJ-02).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import shapely

from geo.crs import from_wgs84
from geo.theme import KIND_COLOURS

CENTER = {"lon": 106.71, "lat": 26.58}
ZOOM = 10.2
SPACES_MIN_ZOOM = 15.0
DETAIL_ZOOM = 13.0  # below it the map shows aggregates and the most urgent items; above, everything in view
BACKGROUND = "#0b1220"
UIREVISION = "onemap-command"

# Trace order in the command map; layer toggles and patches refer to these indices.
TRACES = (
    "grids",
    "districts",
    "roads",
    "alerts",
    "parking_lines",
    "parking",
    "parking_spaces",
    "workers",
    "overdue",
    "no_owner",
    "ticket",
    "police",
    "alarm",
    "fire",
    "warnings",
    "suggested",
)
TRACE_INDEX = {name: i for i, name in enumerate(TRACES)}
# Which traces each operator toggle shows or hides.
LAYER_TRACES = {
    "grids": ("grids",),
    "alerts": ("alerts",),
    "parking": ("parking_lines", "parking", "parking_spaces"),
    "workers": ("workers",),
    "ticket": ("ticket",),
    "police": ("police",),
    "alarm": ("alarm",),
    "fire": ("fire",),
    "overdue": ("overdue",),
    "no_owner": ("no_owner",),
    "warnings": ("warnings",),
}
WARNING_OPEN = "#ffe14d"  # open warnings are the brightest thing on the wall
WARNING_ACKNOWLEDGED = "#ff9f1a"
ITEM_STYLE = {
    "ticket": {"color": KIND_COLOURS["ticket"], "size": 7},
    "police": {"color": KIND_COLOURS["police"], "size": 9},
    "alarm": {"color": KIND_COLOURS["alarm"], "size": 9},
    "fire": {"color": KIND_COLOURS["fire"], "size": 12},
}
# Parking occupancy: green below 60 %, amber to 85 %, red above (stepped, so colours mean thresholds).
PARKING_COLORSCALE = [
    [0.0, "#2ecc71"],
    [0.6, "#2ecc71"],
    [0.6, "#f39c12"],
    [0.85, "#f39c12"],
    [0.85, "#e74c3c"],
    [1.0, "#e74c3c"],
]
GRID_COLORSCALE = [[0.0, "#13233f"], [0.3, "#1f4e79"], [0.6, "#b7791f"], [1.0, "#e53e3e"]]


def map_style(tile_url: str | None = None, glyphs: str = "/map/glyphs/{fontstack}/{range}.pbf") -> dict[str, Any]:
    """A local MapLibre style: a dark background, plus raster tiles only when a tile server is configured.

    ``glyphs`` points at the app's own glyph route: MapLibre rejects symbol layers without one.
    No object or list in it is empty, anywhere: ``Plotly.react`` deletes empty objects from the layout
    in place after the map has kept it, while dcc.Graph hands every update a fresh copy, and the map
    compares each update's style with the kept one as JSON; one ``{}`` made every update a "new"
    style, which MapLibre reloaded (blank frames, every layer rebuilt). An empty ``sources`` would
    even be rejected ("missing required property"). So the anchor is a bare geometry, not a Feature.
    """
    anchor = {"type": "Point", "coordinates": [CENTER["lon"], CENTER["lat"]]}
    style: dict[str, Any] = {
        "version": 8,
        "glyphs": glyphs,
        "sources": {"onemap-anchor": {"type": "geojson", "data": anchor}},
        "layers": [{"id": "bg", "type": "background", "paint": {"background-color": BACKGROUND}}],
    }
    if tile_url:
        style["sources"]["tiles"] = {"type": "raster", "tiles": [tile_url], "tileSize": 256}
        style["layers"].append({"id": "tiles", "type": "raster", "source": "tiles", "paint": {"raster-opacity": 0.55}})
    return style


def to_display(lon: np.ndarray, lat: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 to the map's display CRS."""
    return from_wgs84(lon, lat, crs) if crs != "wgs84" else (np.asarray(lon, float), np.asarray(lat, float))


def geometry_to_display(geom: shapely.Geometry, crs: str) -> shapely.Geometry:
    if crs == "wgs84":
        return geom
    return shapely.transform(geom, lambda xy: np.column_stack(from_wgs84(xy[:, 0], xy[:, 1], crs)))


def lines_xy(lines: Iterable[shapely.Geometry]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate line coordinates with NaN between lines, so one trace draws them all."""
    parts: list[np.ndarray] = []
    gap = np.array([[np.nan, np.nan]])
    for line in lines:
        for part in shapely.get_parts(line):
            parts.append(np.asarray(part.coords)[:, :2])
            parts.append(gap)
    if not parts:
        return np.zeros(0), np.zeros(0)
    xy = np.concatenate(parts)
    return xy[:, 0], xy[:, 1]


def line_trace(
    name: str, lon: np.ndarray, lat: np.ndarray, color: str, width: float, hover: bool = False
) -> dict[str, Any]:
    return {
        "type": "scattermap",
        "name": name,
        "mode": "lines",
        "lon": lon,
        "lat": lat,
        "line": {"color": color, "width": width},
        "hoverinfo": "text" if hover else "skip",
        "showlegend": False,
    }


def grid_trace(
    geojson: dict[str, Any], ids: np.ndarray, load: np.ndarray, names: list[str], label: str = "open"
) -> dict[str, Any]:
    """Grids as a choropleth coloured by open-item load (sent once; recoloured by patching ``z``)."""
    return {
        "type": "choroplethmap",
        "name": "grids",
        "geojson": geojson,
        "featureidkey": "id",
        "locations": ids,
        "z": load.astype(np.int32),
        "zmin": 0,
        "zmax": max(5, int(load.max()) if len(load) else 5),
        "colorscale": GRID_COLORSCALE,
        "showscale": False,
        "marker": {"opacity": 0.55, "line": {"width": 0.4, "color": "#35507a"}},
        "text": names,
        "hovertemplate": f"%{{text}}<br>{label} %{{z}}<extra></extra>",
    }


def district_load_trace(
    geojson: dict[str, Any],
    names: list[str],
    load: np.ndarray,
    grids: np.ndarray,
    labels: dict[str, str],
) -> dict[str, Any]:
    """The grid layer when too many grids would be drawn: each district's area coloured by the open items
    per grid (the mean over its grids, the grid scale's meaning), its hover the name and the counts.
    Feature ids are -1, -2, … so they never meet a grid id; ``zmax`` is set by the caller."""
    per_grid = np.divide(load, grids, out=np.zeros(len(load)), where=grids > 0)
    open_, grids_, mean = (labels.get(k, k) for k in ("open", "grids", "per_grid"))
    return {
        "type": "choroplethmap",
        "name": "grids",
        "geojson": geojson,
        "featureidkey": "id",
        "locations": -(np.arange(len(names), dtype=np.int64) + 1),
        "z": np.round(per_grid, 2).astype(np.float32),
        "zmin": 0,
        "zmax": 5,
        "colorscale": GRID_COLORSCALE,
        "showscale": False,
        "marker": {"opacity": 0.55, "line": {"width": 0.4, "color": "#35507a"}},
        "text": names,
        "customdata": np.column_stack([load, grids]).astype(np.int32),
        "hovertemplate": (
            f"%{{text}}<br>{open_} %{{customdata[0]}} · {grids_} %{{customdata[1]}}<br>{mean} %{{z:.1f}}<extra></extra>"
        ),
    }


# Waiting items are drawn bright; once someone has them they fade, so the wall shows what still needs a hand.
WAITING_OPACITY, TAKEN_OPACITY = 0.95, 0.4


def items_trace(
    kind: str,
    lon: np.ndarray,
    lat: np.ndarray,
    ids: np.ndarray,
    titles: np.ndarray,
    waiting: np.ndarray | None = None,
) -> dict[str, Any]:
    style = ITEM_STYLE[kind]
    opacity = np.where(waiting, WAITING_OPACITY, TAKEN_OPACITY) if waiting is not None else 0.9
    return {
        "type": "scattermap",
        "name": kind,
        "mode": "markers",
        "lon": lon.astype(np.float32),
        "lat": lat.astype(np.float32),
        "customdata": ids.astype(np.int32),
        "text": titles,
        "marker": {"size": style["size"], "color": style["color"], "opacity": opacity},
        "hovertemplate": "%{text} #%{customdata}<extra></extra>",
        "showlegend": False,
    }


def overdue_trace(lon: np.ndarray, lat: np.ndarray) -> dict[str, Any]:
    """A wide halo under overdue items, visible across a dark control room."""
    return {
        "type": "scattermap",
        "name": "overdue",
        "mode": "markers",
        "lon": lon,
        "lat": lat,
        "marker": {"size": 22, "color": "#ff2d55", "opacity": 0.35},
        "hoverinfo": "skip",
        "showlegend": False,
    }


def warnings_trace(
    lon: np.ndarray, lat: np.ndarray, ids: np.ndarray, titles: np.ndarray, is_open: np.ndarray
) -> dict[str, Any]:
    """Open early warnings as large bright discs above every other layer (acknowledged ones in amber)."""
    return {
        "type": "scattermap",
        "name": "warnings",
        "mode": "markers",
        "lon": np.asarray(lon, dtype=np.float32),
        "lat": np.asarray(lat, dtype=np.float32),
        "customdata": np.asarray(ids, dtype=np.int32),
        "text": titles,
        "marker": {
            "size": 30,
            "color": np.where(is_open, WARNING_OPEN, WARNING_ACKNOWLEDGED).tolist(),
            "opacity": 0.85,
        },
        "hovertemplate": "⚠ %{text}<extra></extra>",
        "showlegend": False,
    }


def workers_trace(lon: np.ndarray, lat: np.ndarray, ids: np.ndarray, label: str = "worker") -> dict[str, Any]:
    """Every on-duty worker; float32 positions (a metre is 1e-5 degrees, float32 keeps ~0.2 m here)."""
    return {
        "type": "scattermap",
        "name": "workers",
        "mode": "markers",
        "lon": lon.astype(np.float32),
        "lat": lat.astype(np.float32),
        "customdata": ids.astype(np.int32),
        "marker": {"size": 5, "color": "#3ee0cf", "opacity": 0.8},
        "hovertemplate": f"{label} #%{{customdata}}<extra></extra>",
        "showlegend": False,
    }


def spaces_trace(
    lon: np.ndarray, lat: np.ndarray, occupied: np.ndarray, codes: np.ndarray, label: str = "space"
) -> dict[str, Any]:
    return {
        "type": "scattermap",
        "name": "parking_spaces",
        "mode": "markers",
        "lon": lon,
        "lat": lat,
        "text": codes,
        "marker": {"size": 8, "color": np.where(occupied, "#e74c3c", "#2ecc71").tolist()},
        "hovertemplate": f"{label} %{{text}}<extra></extra>",
        "showlegend": False,
    }


def alerts_trace(areas: list[shapely.Geometry], crs: str) -> dict[str, Any]:
    """Active CAP alert areas: filled outlines, one trace for all."""
    outlines = [geometry_to_display(part.exterior, crs) for area in areas for part in shapely.get_parts(area)]
    trace = line_trace("alerts", *lines_xy(outlines), color="#ff5050", width=2.5)
    trace.update(fill="toself", fillcolor="rgba(255, 80, 80, 0.18)")
    return trace


def parking_trace(lon: np.ndarray, lat: np.ndarray, occupancy: np.ndarray, names: list[str]) -> dict[str, Any]:
    """One marker per road segment at its middle, coloured by occupancy (green <60 %, amber, red >85 %)."""
    return {
        "type": "scattermap",
        "name": "parking",
        "mode": "markers",
        "lon": lon,
        "lat": lat,
        "text": names,
        "marker": {
            "size": 11,
            "color": occupancy.astype(np.float32),
            "cmin": 0,
            "cmax": 1,
            "colorscale": PARKING_COLORSCALE,
        },
        "hovertemplate": "%{text}<br>%{marker.color:.0%}<extra></extra>",
        "showlegend": False,
    }


def no_owner_trace(lon: np.ndarray, lat: np.ndarray) -> dict[str, Any]:
    """A white ring under cases no department owns: a dispatcher must choose the body (立案 without owner)."""
    return {
        "type": "scattermap",
        "name": "no_owner",
        "mode": "markers",
        "lon": lon,
        "lat": lat,
        "marker": {"size": 18, "color": "#ffffff", "opacity": 0.4},
        "hoverinfo": "skip",
        "showlegend": False,
    }


def item_layers(items: Any, crs: str, waiting: np.ndarray | None = None) -> dict[str, dict[str, Any]]:
    """The item traces (one per kind), the overdue halo and the no-owner ring from ``ItemColumns``
    (``waiting``: nobody has it)."""
    lon, lat = to_display(items.lon, items.lat, crs)
    layers = {}
    for kind in ITEM_STYLE:
        m = items.kind == kind
        layers[kind] = items_trace(
            kind, lon[m], lat[m], items.id[m], items.title[m], waiting[m] if waiting is not None else None
        )
    layers["overdue"] = overdue_trace(lon[items.overdue], lat[items.overdue])
    unowned = items.no_owner if items.no_owner is not None else np.zeros(len(lon), dtype=bool)
    layers["no_owner"] = no_owner_trace(lon[unowned], lat[unowned])
    return layers


def home_center(bounds: Sequence[float]) -> dict[str, float]:
    """The middle of a (west, south, east, north) box."""
    west, south, east, north = bounds
    return {"lon": (west + east) / 2, "lat": (south + north) / 2}


def suggested_trace(lon: Sequence[float], lat: Sequence[float]) -> dict[str, Any]:
    """Rings around the workers the open item's panel suggests, so the operator sees who and where."""
    return {
        "type": "scattermap",
        "name": "suggested",
        "mode": "markers",
        "lon": np.asarray(lon, dtype=np.float32),
        "lat": np.asarray(lat, dtype=np.float32),
        "marker": {"size": 20, "color": "#00e5ff", "opacity": 0.45},
        "hoverinfo": "skip",
        "showlegend": False,
    }


def command_figure(
    traces: dict[str, dict[str, Any]],
    style: dict[str, Any],
    visible: Iterable[str],
    home: Sequence[float] | None = None,
) -> dict[str, Any]:
    """The whole command map from one trace per name in ``TRACES``, centred on ``home`` (west, south,
    east, north) when given; the browser then fits the zoom to the map's size (callbacks/wall.py)."""
    shown = {t for layer in visible for t in LAYER_TRACES.get(layer, ())} | {"districts", "roads", "suggested"}
    data = []
    for name in TRACES:
        trace = dict(traces[name]) if name in traces else suggested_trace([], [])
        trace["visible"] = name in shown
        data.append(trace)
    return {
        "data": data,
        "layout": {
            "map": {"style": style, "center": home_center(home) if home else CENTER, "zoom": ZOOM},
            "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
            "paper_bgcolor": BACKGROUND,
            "plot_bgcolor": BACKGROUND,
            "uirevision": UIREVISION,
            "hoverlabel": {"bgcolor": "#1a2740", "font": {"color": "#e6edf7", "size": 14}},
            "showlegend": False,
            "dragmode": "pan",
        },
    }
