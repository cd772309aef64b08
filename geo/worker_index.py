"""Nearest workers in metres: a KD-tree over on-duty workers' positions (UTM 48N), plus each grid's workers."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

from geo.crs import to_metres


class WorkerIndex:
    """An immutable snapshot of where workers are; rebuild it when positions move."""

    def __init__(self, ids: ArrayLike, lon: ArrayLike, lat: ArrayLike, grid_ids: ArrayLike):
        self.ids = np.asarray(ids, dtype=np.int64)
        self.grid_ids = np.asarray(grid_ids, dtype=np.int64)
        x, y = to_metres(lon, lat)
        self.xy = np.column_stack([x, y]) if len(self.ids) else np.zeros((0, 2))
        self._tree = cKDTree(self.xy) if len(self.ids) else None
        order = np.argsort(self.grid_ids, kind="stable")
        grids, starts = np.unique(self.grid_ids[order], return_index=True)
        bounds = np.append(starts, len(order))
        self._by_grid = {int(g): order[bounds[i] : bounds[i + 1]] for i, g in enumerate(grids)}

    def __len__(self) -> int:
        return len(self.ids)

    def nearest(self, x: float, y: float, k: int) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """(distances in metres, positions in this index) of the ``k`` nearest workers to (x, y) metres."""
        if self._tree is None:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        k = min(k, len(self.ids))
        dist, pos = self._tree.query((x, y), k=k)
        if k == 1:  # a single neighbour comes back as scalars
            return np.array([dist]), np.array([pos])
        return dist, pos

    def in_grid(self, grid_id: int | None) -> NDArray[np.int64]:
        """Positions in this index of the workers of one grid."""
        return (
            self._by_grid.get(int(grid_id), np.zeros(0, dtype=np.int64))
            if grid_id is not None
            else np.zeros(0, dtype=np.int64)
        )
