"""Ranking against a plain reference: every candidate (the nearest sixteen and the item's own grid)
scored by distance in metres plus load, own grid first."""

import numpy as np

from data.queries import WorkerSnapshot
from geo.crs import point_to_metres, to_metres
from geo.worker_index import WorkerIndex
from ops.suggestions import LOAD_PENALTY_M, rank


def test_rank_matches_a_brute_force_reference():
    rng = np.random.default_rng(3)
    n = 3000
    lon, lat = rng.uniform(106.5, 106.9, n), rng.uniform(26.4, 26.8, n)
    grids = rng.integers(1, 400, n)
    snapshot = WorkerSnapshot(
        WorkerIndex(np.arange(1, n + 1), lon, lat, grids),
        [(i + 1, f"w{i}", "网格员", int(grids[i]), None) for i in range(n)],
        rng.integers(0, 4, n),
    )
    x, y = to_metres(lon, lat)
    for _ in range(200):
        qlon, qlat, grid = rng.uniform(106.5, 106.9), rng.uniform(26.4, 26.8), int(rng.integers(1, 400))
        qx, qy = point_to_metres(qlon, qlat)
        dist = np.hypot(x - qx, y - qy)
        candidates = set(np.argsort(dist)[:16].tolist()) | set(np.flatnonzero(grids == grid).tolist())
        for ranking, bonus in (("own_grid", 1e9), ("nearest", 0.0)):
            got = rank(snapshot, qlon, qlat, grid, ranking=ranking)
            load = LOAD_PENALTY_M * snapshot.loads
            score = {p: dist[p] + load[p] - (bonus if grids[p] == grid else 0) for p in candidates}
            expected = sorted(candidates, key=lambda p: score[p])[:8]
            assert [s.worker_id for s in got] == [p + 1 for p in expected]
            assert all(s.own_grid == (s.grid_id == grid) for s in got)
            assert [s.distance_m for s in got] == [round(float(dist[p]), 1) for p in expected]
