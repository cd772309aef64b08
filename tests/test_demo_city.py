from collections import defaultdict

import numpy as np
import shapely

from config import DISTRICTS_FILE
from geo.demo_city import make_grids, make_parking, make_roads
from geo.grid_import import _in_metres, find_gaps, find_overlaps, read_grid_file


def test_2000_grids_tile_the_city_without_gaps_or_overlaps_denser_in_the_core():
    districts = read_grid_file(DISTRICTS_FILE, crs="gcj02").features
    grids = make_grids(districts, 2000, seed=7)
    assert len(grids) == 2000
    geoms = _in_metres(np.array([g.geometry for g in grids], dtype=object))
    assert find_overlaps([g.name for g in grids], geoms, 1.0) == []
    assert find_gaps(geoms, 1.0) == []
    city = shapely.area(_in_metres(np.array([d.geometry for d in districts], dtype=object))).sum()
    assert abs(shapely.area(geoms).sum() - city) / city < 1e-6
    areas = defaultdict(list)
    for g, a in zip(grids, shapely.area(geoms), strict=True):
        areas[g.district].append(a)
    assert np.mean(areas["开阳县"]) > 10 * np.mean(areas["云岩区"])
    assert len({g.name for g in grids}) == 2000


def test_roads_and_parking_come_from_local_geometry():
    districts = read_grid_file(DISTRICTS_FILE, crs="gcj02").features
    roads = make_roads(districts, seed=7)
    assert {"ring", "radial", "highway"} <= {r.kind for r in roads}
    segments = make_parking(roads, 1031, seed=7)
    assert len(segments) == 11
    assert sum(len(s.spaces) for s in segments) == 1031
