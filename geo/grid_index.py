"""Point-in-grid for many points at once (shapely 2 STRtree, no Python loop per point).

A point on an edge shared by several grids belongs to the grid with the smallest id, so every
process and every run agrees on the owner. A point in no grid gets ``OUTSIDE``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

OUTSIDE = -1


class GridIndex:
    """An immutable spatial index over grid polygons keyed by integer grid id."""

    def __init__(self, ids: Sequence[int] | NDArray[np.int64], polygons: Sequence[shapely.Geometry]):
        self.ids = np.asarray(ids, dtype=np.int64)
        self.polygons = np.asarray(polygons, dtype=object)
        if len(self.ids) != len(self.polygons):
            raise ValueError("ids and polygons differ in length")
        shapely.prepare(self.polygons)
        self._tree = shapely.STRtree(self.polygons)
        xmin, ymin, xmax, ymax = shapely.total_bounds(self.polygons) if len(self.polygons) else (0.0, 0.0, 0.0, 0.0)
        self.bounds = (float(xmin), float(ymin), float(xmax), float(ymax))

    def __len__(self) -> int:
        return len(self.ids)

    def locate(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.int64]:
        """Grid id for each point (``OUTSIDE`` where none); edges go to the smallest id."""
        lon = np.atleast_1d(np.asarray(lon, dtype=np.float64))
        lat = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        out = np.full(lon.shape, OUTSIDE, dtype=np.int64)
        if not len(self.ids) or not lon.size:
            return out
        points = shapely.points(lon, lat)
        # "intersects" counts the boundary, so an edge point matches every grid that shares the edge.
        pt_idx, poly_idx = self._tree.query(points, predicate="intersects")
        if not pt_idx.size:
            return out
        grid_ids = self.ids[poly_idx]
        order = np.lexsort((grid_ids, pt_idx))
        pt_sorted, ids_sorted = pt_idx[order], grid_ids[order]
        first = np.ones(pt_sorted.shape, dtype=bool)
        first[1:] = pt_sorted[1:] != pt_sorted[:-1]
        out[pt_sorted[first]] = ids_sorted[first]
        return out

    def polygon(self, grid_id: int) -> shapely.Geometry | None:
        """The shape of one grid (None for an unknown id)."""
        at = np.flatnonzero(self.ids == grid_id)
        return self.polygons[at[0]] if len(at) else None

    def locate_one(self, lon: float, lat: float) -> int | None:
        """Grid id of one point, or ``None`` outside every grid."""
        gid = int(self.locate([lon], [lat])[0])
        return None if gid == OUTSIDE else gid

    def looks_swapped(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
        """True where a point is in no grid but would be inside one with lon and lat exchanged."""
        lon = np.atleast_1d(np.asarray(lon, dtype=np.float64))
        lat = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        return (self.locate(lon, lat) == OUTSIDE) & (self.locate(lat, lon) != OUTSIDE)
