import time

import numpy as np
import shapely
from sqlalchemy import select

from data import queries
from data.models import Incident, Worker
from ops.simulator import HOURLY_SHAPE, Simulator
from tests.conftest import SMALL_CITY


def test_day_curve_has_the_daily_total_and_a_daytime_peak():
    assert abs(HOURLY_SHAPE.mean() - 1.0) < 1e-9
    assert HOURLY_SHAPE[10] > 5 * HOURLY_SHAPE[3]


def test_a_fast_hour_creates_items_in_grids_moves_parking_and_keeps_workers_home(city):
    idx = queries.load_grid_index(city)
    sim = Simulator(city, idx, SMALL_CITY.__class__(**{**SMALL_CITY.__dict__, "sim_speed": 3600.0}), seed=3)
    now = time.monotonic()
    totals = [sim.tick(1.0, now_real=now + 11 * i) for i in range(5)]
    created = sum(t.created for t in totals)
    assert created > 50  # ~3,800 items a day arrive; five simulated hours hold hundreds
    assert sum(t.parking for t in totals) > 0 and sum(t.moved for t in totals) > 0
    with city.read() as s:
        grids = s.scalars(select(Incident.grid_id)).all()
        workers = s.execute(select(Worker.grid_id, Worker.lon, Worker.lat)).all()
    # Only a copy of a fire report jittered across the city limit may fall outside every grid.
    assert sum(g is not None for g in grids) >= 0.97 * len(grids)
    homes = idx.polygons[np.searchsorted(idx.ids, [w.grid_id for w in workers])]
    assert shapely.intersects_xy(homes, [w.lon for w in workers], [w.lat for w in workers]).all()
