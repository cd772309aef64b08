"""Read grid boundaries from GeoJSON or Shapefile and say exactly what is wrong with them.

The result is WGS-84 MultiPolygons. Invalid polygons are repaired when the repair keeps the shape
(area within 1 %), otherwise rejected naming the feature. Overlaps and gaps between grids are
measured in square metres (UTM 48N) and reported; swapped lon/lat is detected before anything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.validation import explain_validity

from geo.crs import SYSTEMS, UnknownCRSError, from_metres, to_metres, to_wgs84

# Areas below this many square metres are float noise where two polygons share an edge.
AREA_TOLERANCE_M2 = 1.0
# Slivers thinner than this (mean width, metres) are rounding along a shared edge, not real gaps.
SLIVER_WIDTH_M = 0.05
REPAIR_MAX_AREA_CHANGE = 0.01
# China's extent in degrees: a file whose x looks like latitude and y like longitude here is swapped.
_CHINA_LON = (73.0, 136.0)
_CHINA_LAT = (3.0, 54.0)


class GridImportError(ValueError):
    """The file cannot become grids; ``report`` holds every problem found."""

    def __init__(self, message: str, report: ImportReport | None = None):
        super().__init__(message)
        self.report = report


@dataclass
class GridFeature:
    """One grid polygon as imported."""

    name: str
    geometry: shapely.MultiPolygon
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class Overlap:
    a: str
    b: str
    area_m2: float


@dataclass
class Gap:
    lon: float
    lat: float
    area_m2: float


@dataclass
class ImportReport:
    """What an import found: the features, plus every repair, error, overlap and gap."""

    features: list[GridFeature] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    overlaps: list[Overlap] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.overlaps

    def summary(self) -> str:
        """Human-readable lines for the CLI and API errors."""
        lines = [f"{len(self.features)} grids read"]
        lines += [f"repaired: {r}" for r in self.repaired]
        lines += [f"error: {e}" for e in self.errors]
        lines += [f"overlap: {o.a} / {o.b}: {o.area_m2:.1f} m²" for o in self.overlaps]
        lines += [f"gap near ({g.lon:.6f}, {g.lat:.6f}): {g.area_m2:.1f} m²" for g in self.gaps]
        return "\n".join(lines)


def _feature_name(props: dict[str, Any], index: int, name_field: str | None) -> str:
    for key in (name_field, "name", "NAME", "id", "ID", "code"):
        if key and props.get(key) not in (None, ""):
            return str(props[key])
    return f"feature #{index}"


def _swapped(bounds: tuple[float, float, float, float]) -> bool:
    xmin, ymin, xmax, ymax = bounds
    if abs(ymin) > 90 or abs(ymax) > 90:
        return abs(xmin) <= 90 and abs(xmax) <= 90
    lon_like_y = _CHINA_LON[0] <= ymin and ymax <= _CHINA_LON[1]
    lat_like_x = _CHINA_LAT[0] <= xmin and xmax <= _CHINA_LAT[1]
    return lon_like_y and lat_like_x


def _polygonal(geom: shapely.Geometry) -> shapely.MultiPolygon | None:
    parts = [p for p in shapely.get_parts(geom) if isinstance(p, shapely.Polygon) and not p.is_empty]
    if not parts:
        nested = [g for g in shapely.get_parts(geom) if isinstance(g, shapely.MultiPolygon)]
        parts = [p for g in nested for p in g.geoms]
    return shapely.MultiPolygon(parts) if parts else None


def _in_metres(geoms: np.ndarray) -> np.ndarray:
    return shapely.transform(geoms, lambda xy: np.column_stack(to_metres(xy[:, 0], xy[:, 1])))


def find_overlaps(names: list[str], geoms_m: np.ndarray, tolerance_m2: float) -> list[Overlap]:
    """Every pair of polygons (in metres) sharing more than ``tolerance_m2`` of area."""
    tree = shapely.STRtree(geoms_m)
    left, right = tree.query(geoms_m, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    if not left.size:
        return []
    areas = shapely.area(shapely.intersection(geoms_m[left], geoms_m[right]))
    hits = np.nonzero(areas > tolerance_m2)[0]
    return [Overlap(names[left[i]], names[right[i]], float(areas[i])) for i in hits]


def find_gaps(geoms_m: np.ndarray, tolerance_m2: float) -> list[Gap]:
    """Holes in the union of all polygons that no polygon covers, largest first."""
    union = shapely.union_all(geoms_m, grid_size=0.01)
    holes = [
        shapely.Polygon(ring)
        for poly in shapely.get_parts(union)
        if isinstance(poly, shapely.Polygon)
        for ring in poly.interiors
    ]
    gaps = []
    for hole in holes:
        if hole.area > tolerance_m2 and 2 * hole.area / hole.length > SLIVER_WIDTH_M:
            p = hole.representative_point()
            lon, lat = from_metres(p.x, p.y)
            gaps.append(Gap(float(lon), float(lat), float(hole.area)))
    return sorted(gaps, key=lambda g: -g.area_m2)


def read_grid_file(
    path: str | Path,
    crs: str = "wgs84",
    name_field: str | None = None,
    tolerance_m2: float = AREA_TOLERANCE_M2,
) -> ImportReport:
    """Read, convert to WGS-84, validate and repair; raise ``GridImportError`` if unreadable."""
    if crs.lower() not in SYSTEMS:
        raise UnknownCRSError(f"unknown coordinate system {crs!r}; use one of {', '.join(SYSTEMS)}")
    try:
        frame = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several types; all mean "not a readable grid file"
        raise GridImportError(f"cannot read {Path(path).name}: {exc}") from exc
    if frame.empty:
        raise GridImportError(f"{Path(path).name} holds no features")
    if frame.crs is not None and frame.crs.to_epsg() not in (4326, 4490, None):
        frame = frame.to_crs(4326)

    report = ImportReport()
    bounds = tuple(float(b) for b in frame.total_bounds)
    if _swapped(bounds):  # type: ignore[arg-type]
        report.errors.append(
            f"coordinates look swapped (lat, lon): bounds x {bounds[0]:.4f}..{bounds[2]:.4f}, "
            f"y {bounds[1]:.4f}..{bounds[3]:.4f}; write longitude first"
        )
        return report

    props = frame.drop(columns="geometry").to_dict("records")
    names = [_feature_name(p, i, name_field) for i, p in enumerate(props)]
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            report.errors.append(f"{name}: name used twice (features #{seen[name]} and #{i})")
        seen.setdefault(name, i)

    geoms = np.asarray(frame.geometry.values, dtype=object)
    if crs.lower() not in ("wgs84", "cgcs2000"):
        geoms = shapely.transform(geoms, lambda xy: np.column_stack(to_wgs84(xy[:, 0], xy[:, 1], crs)))
    for name, geom, prop in zip(names, geoms, props, strict=True):
        if geom is None or geom.is_empty:
            report.errors.append(f"{name}: no geometry")
            continue
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            report.errors.append(f"{name}: {geom.geom_type} is not a polygon")
            continue
        if not geom.is_valid:
            reason = explain_validity(geom)
            fixed = _polygonal(shapely.make_valid(geom))
            before = float(shapely.area(_in_metres(np.array([geom]))[0]))
            after = float(shapely.area(_in_metres(np.array([fixed]))[0])) if fixed else 0.0
            change = abs(after - before) / before if before > 0 else 1.0
            if fixed is None or change > REPAIR_MAX_AREA_CHANGE:
                report.errors.append(f"{name}: invalid polygon ({reason}) and no faithful repair")
                continue
            report.repaired.append(f"{name}: {reason}")
            geom = fixed
        multi = geom if isinstance(geom, shapely.MultiPolygon) else shapely.MultiPolygon([geom])
        report.features.append(GridFeature(name=name, geometry=multi, properties=prop))

    if len(report.features) > 1:
        geoms_m = _in_metres(np.array([f.geometry for f in report.features], dtype=object))
        feature_names = [f.name for f in report.features]
        report.overlaps = find_overlaps(feature_names, geoms_m, tolerance_m2)
        report.gaps = find_gaps(geoms_m, tolerance_m2)
    return report
