"""Assemble the command map's traces from the store: the static ones once, the live ones per change."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping

from config import DEFAULT_MAP_GRID_OUTLINES
from data import queries
from data.live import Live
from data.models import UNASSIGNED_STATUSES
from data.queries.city import grid_shapes
from data.store import Store
from geo import layers
from geo.crs import from_wgs84
from geo.layers import geometry_to_display, lines_xy, to_display

LIVE_LAYERS = ("grids", "items", "workers", "parking", "alerts", "warnings")
# The most grid outlines the map draws at once. The demo city (`python app.py`: 2,000 grids, the default
# ONEMAP_GRID_COUNT) stays under it with a quarter to spare and keeps every grid on its first map
# (~1.3 MB of figure); a city above it (the bench city: 20,000, ~7 MB) opens on its districts instead.
# ONEMAP_MAP_GRID_OUTLINES tunes it for slower or faster screens (and lets a test city of a few hundred
# grids stand for a large one).
try:
    GRID_OUTLINES_MAX = int(os.environ.get("ONEMAP_MAP_GRID_OUTLINES") or DEFAULT_MAP_GRID_OUTLINES)
except ValueError:  # Config.from_env refuses it, naming the variable, before the app serves anything
    GRID_OUTLINES_MAX = DEFAULT_MAP_GRID_OUTLINES
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
    labels: dict[str, str]  # hover words in the UI language: "open", "worker", "space", "grids", "per_grid"
    parking_ids: np.ndarray  # segment ids in the order of the parking markers
    parking_lon: np.ndarray
    parking_lat: np.ndarray
    parking_names: list[str]
    warning_title: WarningTitle = stored_title  # injected by the app: the UI language's words
    bounds: list[float] | None = None  # the districts' box (west, south, east, north), the map's home view
    grid_bounds: np.ndarray | None = None  # (n, 4) display-CRS box of each grid, to pick those in a viewport
    grid_district: np.ndarray | None = None  # each grid's position in ``district_names``
    district_names: list[str] = field(default_factory=list)
    district_geojson: dict[str, Any] | None = None  # the districts' areas, feature ids -1, -2, …

    @cached_property
    def names_by_id(self) -> dict[int, str]:
        return dict(zip(self.grid_ids.tolist(), self.grid_names, strict=True))

    @cached_property
    def district_grid_counts(self) -> np.ndarray:
        return np.bincount(self.grid_district, minlength=len(self.district_names))  # type: ignore[arg-type]


def display_rounded(geoms: np.ndarray, crs: str) -> np.ndarray:
    """Shapes in the display CRS, rounded to five decimals (about a metre: plenty on screen, and it halves
    what the first load sends); one vectorized pass over every coordinate of every shape."""

    def convert(xy: np.ndarray) -> np.ndarray:
        if crs != "wgs84":
            xy = np.column_stack(from_wgs84(xy[:, 0], xy[:, 1], crs))
        return np.round(xy, 5)

    return shapely.transform(geoms, convert)


def geojson_geometries(geoms: np.ndarray) -> list[dict[str, Any]]:
    """GeoJSON geometry dicts of ``geoms`` (what ``shapely.geometry.mapping`` gives for each, as lists),
    built from one ``get_coordinates`` over the whole array and its ring and part offsets."""
    kind = shapely.get_type_id(geoms)
    simple = (kind == 3) | (kind == 6)  # polygons and multipolygons, the grids' shapes; the rest one by one
    polys = geoms[simple]
    parts, part_of = shapely.get_parts(polys, return_index=True)
    rings, ring_of = shapely.get_rings(parts, return_index=True)
    xy, coord_of = shapely.get_coordinates(rings, return_index=True)
    coords = xy.tolist()

    def spans(owner: np.ndarray, n: int) -> zip[tuple[int, int]]:  # (start, end) of each owner's children
        end = np.cumsum(np.bincount(owner, minlength=n))
        return zip((end - np.bincount(owner, minlength=n)).tolist(), end.tolist(), strict=True)

    ring_lists = [coords[a:b] for a, b in spans(coord_of, len(rings))]
    part_lists = [ring_lists[a:b] for a, b in spans(ring_of, len(parts))]
    built = iter(
        {"type": "Polygon", "coordinates": part_lists[a]}
        if k == 3
        else {"type": "MultiPolygon", "coordinates": part_lists[a:b]}
        for k, (a, b) in zip(kind[simple].tolist(), spans(part_of, len(polys)), strict=True)
    )
    return [next(built) if s else mapping(g) for g, s in zip(geoms, simple.tolist(), strict=True)]


AREA_CACHE = Path(tempfile.gettempdir()) / "onemap-district-areas"


def district_areas(
    geoms: np.ndarray, district: np.ndarray, names: list[str], cache_dir: Path | None = AREA_CACHE
) -> list[shapely.Geometry]:
    """Each district's area, the union of its grids (WGS-84), in the order of ``names``.

    The unions are the one costly part of a start (~0.2 s of CPU at 2,000 grids, ~3 s at 20,000, several
    times that on a loaded machine), so they are kept on disk under a digest of every grid's shape and
    district: a later start over the same grids reads them back (any change of a grid is a new digest,
    never a stale answer). ``cache_dir=None`` always computes.
    """
    path = None
    if cache_dir is not None:
        h = hashlib.blake2b(digest_size=16)
        h.update(json.dumps(names, ensure_ascii=False).encode())
        h.update(np.asarray(district, dtype=np.int64).tobytes())
        for wkb in shapely.to_wkb(geoms).tolist():
            h.update(len(wkb).to_bytes(4, "little"))
            h.update(wkb)
        path = cache_dir / f"{h.hexdigest()}.wkb.json"
        try:
            return list(shapely.from_wkb(json.loads(path.read_text()), on_invalid="raise"))
        except (OSError, ValueError, shapely.errors.GEOSException):
            pass
    areas = [shapely.union_all(geoms[district == k], grid_size=1e-7) for k in range(len(names))]
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps([shapely.to_wkb(a, hex=True) for a in areas]))
            tmp.replace(path)  # atomic: processes starting together never read half a file
        except OSError:
            pass  # a read-only disk only costs the next start the unions again
    return areas


def static_layers(
    store: Store,
    crs: str,
    labels: dict[str, str],
    warning_title: WarningTitle = stored_title,
    cache_dir: Path | None = AREA_CACHE,
) -> StaticLayers:
    ids, names, districts, geoms = grid_shapes(store)
    display = display_rounded(geoms, crs)
    # The choropleth needs only the shape: the properties are served by the API.
    features = [
        {"type": "Feature", "id": i, "properties": {}, "geometry": g}
        for i, g in zip(ids.tolist(), geojson_geometries(display), strict=True)
    ]
    geojson = {"type": "FeatureCollection", "features": features}
    district_names = list(dict.fromkeys(districts))
    position = {d: k for k, d in enumerate(district_names)}
    grid_district = np.array([position[d] for d in districts], dtype=np.int64)
    areas = district_areas(geoms, grid_district, district_names, cache_dir)
    outlines = [geometry_to_display(a.boundary, crs) for a in areas]
    shown_areas = display_rounded(np.array(areas, dtype=object), crs) if areas else np.empty(0, dtype=object)
    district_geojson = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "id": -(k + 1), "properties": {}, "geometry": g}
            for k, g in enumerate(geojson_geometries(shown_areas))
        ],
    }
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
        grid_bounds=shapely.bounds(display) if len(display) else np.zeros((0, 4)),
        grid_district=grid_district,
        district_names=district_names,
        district_geojson=district_geojson,
    )


@dataclass(frozen=True)
class GridLevel:
    """What the grid layer draws for one view: every grid ("all"), the grids of a padded viewport
    ("box:…", ``rows`` their positions), or the districts with their grids' load ("districts")."""

    key: str
    rows: np.ndarray | None = None


def grid_level(static: StaticLayers, view: View | None) -> GridLevel:
    """Grid outlines while at most ``GRID_OUTLINES_MAX`` would be drawn, else the district areas.

    A city within the limit (the demo's 2,000 grids) always draws every grid, as it always did. A larger
    one draws its districts until the viewport, padded by a quarter of its size on each side and snapped
    outward to 0.01° (so a small pan keeps the same grids and sends nothing), holds few enough grids.
    """
    if len(static.grid_ids) <= GRID_OUTLINES_MAX or not static.district_geojson:
        return GridLevel("all")
    box = (view or {}).get("bbox")
    if box and static.grid_bounds is not None:
        west, south, east, north = (float(v) for v in box)
        dx, dy = (east - west) / 4, (north - south) / 4
        w, s = np.floor((west - dx) * 100) / 100, np.floor((south - dy) * 100) / 100
        e, n = np.ceil((east + dx) * 100) / 100, np.ceil((north + dy) * 100) / 100
        b = static.grid_bounds
        rows = np.flatnonzero((b[:, 0] <= e) & (b[:, 2] >= w) & (b[:, 1] <= n) & (b[:, 3] >= s))
        if len(rows) <= GRID_OUTLINES_MAX:
            return GridLevel(f"box:{w:.2f},{s:.2f},{e:.2f},{n:.2f}", rows)
    return GridLevel("districts")


def grid_layer(static: StaticLayers, load: np.ndarray, level: GridLevel) -> dict[str, Any]:
    """The grid layer's trace at ``level`` from every grid's open load (ordered as ``static.grid_ids``).

    The colour means the same at every level: open items per grid (a district: the mean over its grids),
    on the same scale (``zmax`` from the busiest grid of the whole city, never from what is in view).
    """
    label = static.labels["open"]
    zmax = max(5, int(load.max()) if len(load) else 5)
    if level.key == "all":
        trace = layers.grid_trace(static.geojson, static.grid_ids, load, static.grid_names, label)
    elif level.rows is not None:
        rows = level.rows
        features = static.geojson["features"]
        subset = {"type": "FeatureCollection", "features": [features[i] for i in rows.tolist()]}
        names = [static.grid_names[i] for i in rows.tolist()]
        trace = layers.grid_trace(subset, static.grid_ids[rows], load[rows], names, label)
    else:
        counts = static.district_grid_counts
        total = np.bincount(static.grid_district, weights=load, minlength=len(counts))  # type: ignore[arg-type]
        trace = layers.district_load_trace(
            static.district_geojson,  # type: ignore[arg-type]
            static.district_names,
            total.astype(np.int64),
            counts,
            static.labels,
        )
    trace["zmax"] = zmax
    trace["meta"] = level.key  # what the shapes are: a screen holding the same key is sent only the colours
    return trace


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
        out["grids"] = grid_layer(static, load, grid_level(static, view))
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
