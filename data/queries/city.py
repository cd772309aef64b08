"""The city's shapes and their load: the grid index and GeoJSON, open items per grid, roads, district
outlines and names, and the areas of active CAP alerts."""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from sqlalchemy import func, select

from data.models import Alert, Grid, Incident, Road, Worker, open_item
from data.store import Store
from geo.grid_index import GridIndex


def load_grid_index(store: Store) -> GridIndex:
    """The grid index over every stored grid."""
    with store.read() as s:
        rows = s.execute(select(Grid.id, Grid.geom).order_by(Grid.id)).all()
    return GridIndex([r.id for r in rows], [r.geom for r in rows])


def grid_geojson(store: Store) -> dict[str, Any]:
    """Every grid as a GeoJSON FeatureCollection with id, name, district, community and worker ids."""
    with store.read() as s:
        grids = s.execute(
            select(Grid.id, Grid.code, Grid.name, Grid.district, Grid.community, Grid.population, Grid.geom).order_by(
                Grid.id
            )
        ).all()
        workers: dict[int, list[int]] = {}
        for wid, gid in s.execute(select(Worker.id, Worker.grid_id).order_by(Worker.id)):
            workers.setdefault(gid, []).append(wid)
    features = [
        {
            "type": "Feature",
            "id": g.id,
            "properties": {
                "id": g.id,
                "code": g.code,
                "name": g.name,
                "district": g.district,
                "community": g.community,
                "population": g.population,
                "worker_ids": workers.get(g.id, []),
            },
            "geometry": shapely.geometry.mapping(g.geom),
        }
        for g in grids
    ]
    return {"type": "FeatureCollection", "features": features}


def grid_shapes(store: Store) -> tuple[np.ndarray, list[str], list[str], np.ndarray]:
    """(ids, names, districts, shapes as a shapely array) of every grid, ordered by id: the map's one read."""
    with store.read() as s:
        rows = s.execute(select(Grid.id, Grid.name, Grid.district, Grid.geom).order_by(Grid.id)).all()
    geoms = np.empty(len(rows), dtype=object)
    geoms[:] = [r.geom for r in rows]
    return np.array([r.id for r in rows], dtype=np.int64), [r.name for r in rows], [r.district for r in rows], geoms


def open_load_by_grid(store: Store) -> tuple[np.ndarray, np.ndarray]:
    """(grid ids, open item count) for every grid, zeros included, ordered by grid id."""
    with store.read() as s:
        ids = np.asarray(s.scalars(select(Grid.id).order_by(Grid.id)).all(), dtype=np.int64)
        counted = s.execute(
            select(Incident.grid_id, func.count())
            .where(open_item(), Incident.grid_id.is_not(None))
            .group_by(Incident.grid_id)
        ).all()
    load = np.zeros(len(ids), dtype=np.int64)
    if counted and len(ids):
        gid = np.array([c[0] for c in counted], dtype=np.int64)
        pos = np.searchsorted(ids, gid)
        load[pos] = [c[1] for c in counted]
    return ids, load


def roads(store: Store) -> list[tuple[str, str, shapely.LineString]]:
    """Main roads: (name, kind, line)."""
    with store.read() as s:
        return [(r.name, r.kind, r.geom) for r in s.execute(select(Road.name, Road.kind, Road.geom))]


def district_outlines(store: Store) -> list[shapely.Geometry]:
    """The boundary of each district, as the union of its grids."""
    with store.read() as s:
        rows = s.execute(select(Grid.district, Grid.geom)).all()
    by_district: dict[str, list[shapely.Geometry]] = {}
    for district, geom in rows:
        by_district.setdefault(district, []).append(geom)
    return [shapely.union_all(g, grid_size=1e-7).boundary for g in by_district.values()]


def districts(store: Store) -> list[str]:
    with store.read() as s:
        return sorted(d for d in s.scalars(select(Grid.district).distinct()) if d)


def active_alert_areas(store: Store) -> list[shapely.Geometry]:
    """The shapes of every active CAP alert, for the map."""
    with store.read() as s:
        collections = s.scalars(select(Alert.areas).where(Alert.state == "active")).all()
    return [shapely.geometry.shape(f["geometry"]) for fc in collections for f in fc["features"]]
