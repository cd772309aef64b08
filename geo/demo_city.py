"""Geometry of the demo city: grids, communities, main roads and kerbside parking, from real districts.

Grids are Voronoi cells of seed points clipped to each real district boundary, so they tile the
city with no gap or overlap. Seeds are drawn densest in the urban core and sparse in the counties.
Everything is deterministic for a given seed. Work happens in UTM 48N metres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.ops import substring

from geo.crs import from_metres, gcj02_to_wgs84, to_metres
from geo.grid_import import GridFeature

CENTER_LON, CENTER_LAT = 106.7100, 26.5800  # Guiyang's urban core (WGS-84)
CORE_SCALE_M = 7000.0  # grid density falls off with this length scale from the core

_COMMUNITY_FIRST = "金银花翠青龙凤兴和安宝云华瑞富祥东南西北春秋松竹"
_COMMUNITY_SECOND = "山湖园桥湾坪关溪阳林苑城庄岭井营"


@dataclass
class DemoGrid:
    district: str
    community: str
    name: str
    geometry: shapely.MultiPolygon  # WGS-84


@dataclass
class DemoRoad:
    name: str
    kind: str  # "ring", "radial" or "highway"
    geometry: shapely.LineString  # WGS-84


@dataclass
class DemoSegment:
    """A stretch of kerb with numbered parking spaces along it."""

    name: str
    geometry: shapely.LineString  # WGS-84
    spaces: list[tuple[float, float]]  # (lon, lat) of each space


def _to_m(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(geom, lambda xy: np.column_stack(to_metres(xy[:, 0], xy[:, 1])))


def _to_deg(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(geom, lambda xy: np.column_stack(from_metres(xy[:, 0], xy[:, 1])))


def _as_multi(geom: shapely.Geometry) -> shapely.MultiPolygon:
    parts = [p for p in shapely.get_parts(geom) if isinstance(p, shapely.Polygon) and p.area > 0]
    return shapely.MultiPolygon(parts)


def _core_m() -> tuple[float, float]:
    x, y = to_metres(CENTER_LON, CENTER_LAT)
    return float(x), float(y)


def _seed_points(district_m: shapely.Geometry, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` points inside the district, denser near the core (rejection sampling)."""
    cx, cy = _core_m()
    xmin, ymin, xmax, ymax = district_m.bounds
    shapely.prepare(district_m)
    chosen: list[np.ndarray] = []
    have = 0
    while have < count:
        n = max(4 * count, 1000)
        xs = rng.uniform(xmin, xmax, n)
        ys = rng.uniform(ymin, ymax, n)
        weight = np.exp(-np.hypot(xs - cx, ys - cy) / CORE_SCALE_M) + 0.01
        keep = rng.uniform(0, 1, n) < weight / weight.max()
        keep &= shapely.contains_xy(district_m, xs, ys)
        pts = np.column_stack([xs[keep], ys[keep]])
        chosen.append(pts)
        have += len(pts)
    return np.concatenate(chosen)[:count]


def _district_weight(district_m: shapely.Geometry, rng: np.random.Generator) -> float:
    """Integral of the density over the district, estimated on random points."""
    cx, cy = _core_m()
    xmin, ymin, xmax, ymax = district_m.bounds
    xs = rng.uniform(xmin, xmax, 4000)
    ys = rng.uniform(ymin, ymax, 4000)
    inside = shapely.contains_xy(district_m, xs, ys)
    weight = np.exp(-np.hypot(xs - cx, ys - cy) / CORE_SCALE_M) + 0.01
    return float((weight * inside).mean() * (xmax - xmin) * (ymax - ymin))


def _allocate(weights: list[float], total: int, minimum: int) -> list[int]:
    """Split ``total`` in proportion to ``weights``, each at least ``minimum``, summing exactly."""
    w = np.asarray(weights)
    base = np.maximum(minimum, np.floor(w / w.sum() * total).astype(int))
    while base.sum() > total:
        base[np.argmax(base)] -= 1
    remainder = w / w.sum() * total - base
    while base.sum() < total:
        i = int(np.argmax(remainder))
        base[i] += 1
        remainder[i] -= 1
    return base.tolist()


def _community_names(count: int, rng: np.random.Generator) -> list[str]:
    pairs = [a + b for a in _COMMUNITY_FIRST for b in _COMMUNITY_SECOND]
    rng.shuffle(pairs)
    names = [f"{p}社区" for p in pairs[:count]]
    names += [f"第{i + 1}社区" for i in range(len(names), count)]
    return names


def make_grids(districts: list[GridFeature], total: int, seed: int) -> list[DemoGrid]:
    """Divide the districts into ``total`` grids grouped in communities of about ten."""
    rng = np.random.default_rng(seed)
    districts_m = [_to_m(d.geometry) for d in districts]
    counts = _allocate([_district_weight(d, rng) for d in districts_m], total, minimum=3)
    grids: list[DemoGrid] = []
    for district, geom_m, count in zip(districts, districts_m, counts, strict=True):
        seeds = _seed_points(geom_m, count, rng)
        xmin, ymin, xmax, ymax = geom_m.bounds
        frame = shapely.box(xmin - 1e4, ymin - 1e4, xmax + 1e4, ymax + 1e4)
        cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=frame))
        clipped = [_as_multi(c) for c in shapely.intersection(cells, geom_m)]
        clipped = [c for c in clipped if not c.is_empty]
        centroids = np.array([[c.centroid.x, c.centroid.y] for c in clipped])
        n_comm = max(1, round(len(clipped) / 10))
        hubs = centroids[rng.choice(len(clipped), n_comm, replace=False)]
        owner = np.argmin(np.hypot(*(centroids[:, None, :] - hubs[None, :, :]).transpose(2, 0, 1)), axis=1)
        names = _community_names(n_comm, rng)
        numbering = np.zeros(n_comm, dtype=int)
        for cell, comm in zip(clipped, owner, strict=True):
            numbering[comm] += 1
            community = names[comm]
            grids.append(
                DemoGrid(
                    district=district.name,
                    community=community,
                    name=f"{district.name}{community}第{numbering[comm]:02d}网格",
                    geometry=_as_multi(_to_deg(cell)),
                )
            )
    return grids


def make_roads(districts: list[GridFeature], seed: int) -> list[DemoRoad]:
    """Ring roads round the core, radial avenues, and highways to every district seat."""
    rng = np.random.default_rng(seed + 1)
    city_m = shapely.union_all([_to_m(d.geometry) for d in districts])
    cx, cy = _core_m()
    roads: list[DemoRoad] = []
    for i, radius in enumerate((2500.0, 5500.0, 10000.0)):
        t = np.linspace(0, 2 * np.pi, 181)
        wobble = 1 + 0.06 * np.sin(3 * t + i) + 0.03 * np.cos(5 * t)
        ring = np.column_stack([cx + radius * wobble * np.cos(t), cy + radius * 0.85 * wobble * np.sin(t)])
        roads.append(DemoRoad(f"{'一二三'[i]}环路", "ring", shapely.LineString(ring)))
    for k in range(12):
        angle = k * np.pi / 6 + rng.uniform(-0.1, 0.1)
        r = np.linspace(0, 16000, 60)
        bend = 0.15 * np.sin(r / 4000.0 + k)
        pts = np.column_stack([cx + r * np.cos(angle + bend), cy + r * np.sin(angle + bend)])
        roads.append(DemoRoad(f"{k + 1}号大道", "radial", shapely.LineString(pts)))
    for d in districts:
        seat = d.properties.get("center")
        if seat is None or len(seat) != 2:
            continue
        sx, sy = to_metres(*_seat_wgs84(seat))
        if np.hypot(sx - cx, sy - cy) < 4000:
            continue
        t = np.linspace(0, 1, 40)[:, None]
        mid = np.array([(cx + sx) / 2, (cy + sy) / 2]) + rng.normal(0, 2500, 2)
        pts = (1 - t) ** 2 * np.array([cx, cy]) + 2 * (1 - t) * t * mid + t**2 * np.array([float(sx), float(sy)])
        roads.append(DemoRoad(f"{d.name}快速路", "highway", shapely.LineString(pts)))
    out = []
    for road in roads:
        clipped = shapely.intersection(road.geometry, city_m)
        parts = [p for p in shapely.get_parts(clipped) if isinstance(p, shapely.LineString) and p.length > 200]
        for j, part in enumerate(parts):
            name = road.name if len(parts) == 1 else f"{road.name}({j + 1})"
            out.append(DemoRoad(name, road.kind, _to_deg(part)))
    return out


def _seat_wgs84(center: list[float]) -> tuple[float, float]:
    # District seats in the source file are GCJ-02, like its boundaries.
    lon, lat = gcj02_to_wgs84(center[0], center[1])
    return float(lon), float(lat)


def make_parking(roads: list[DemoRoad], spaces: int, seed: int, per_segment: int = 94) -> list[DemoSegment]:
    """Kerbside parking on stretches of core roads, ``per_segment`` spaces 6 m apart on each.

    The default city has 1,031 spaces on 11 segments; a bigger city uses both kerbs of each stretch
    and stretches further from the core.
    """
    if spaces <= 0:
        return []
    rng = np.random.default_rng(seed + 2)
    cx, cy = _core_m()
    core = [r for r in roads if r.kind in ("ring", "radial")]
    segments = int(np.ceil(spaces / per_segment))
    length = per_segment * 6.0
    stretches: list[tuple[float, str, shapely.LineString]] = []
    for road in core:
        line_m = _to_m(road.geometry)
        for start in np.arange(300.0, line_m.length - length, length * 1.5):
            piece = substring(line_m, start, start + length)
            mid = piece.interpolate(0.5, normalized=True)
            distance = float(np.hypot(mid.x - cx, mid.y - cy))
            for side in (0.0, 8.0, -8.0):  # the near kerb first, then both sides of the street
                kerb = piece if side == 0 else piece.offset_curve(side)
                stretches.append((distance + abs(side) * 1e4, road.name, kerb))
    stretches.sort(key=lambda s: s[0])
    chosen = stretches[: max(segments * 3, 11)]
    order = rng.permutation(len(chosen))[:segments]
    out = []
    left = spaces
    for n, idx in enumerate(sorted(order, key=lambda i: chosen[i][0])):
        _, name, piece = chosen[idx]
        count = min(per_segment, left)
        left -= count
        pts = shapely.line_interpolate_point(piece, (np.arange(count) + 0.5) * 6.0)
        lon, lat = from_metres(shapely.get_x(pts), shapely.get_y(pts))
        out.append(
            DemoSegment(
                name=f"{name}泊位段{n + 1:03d}",
                geometry=_to_deg(piece),
                spaces=list(zip(lon.tolist(), lat.tolist(), strict=True)),
            )
        )
        if left <= 0:
            break
    return out
