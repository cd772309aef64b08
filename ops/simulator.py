"""The demo city's life: tickets on a day curve, fire reports (some reported by many), police
alerts, device alarms, parking turnover, workers walking their grids and handling items.

It is a source like any other: everything goes through the same ops/ functions as the API.
Timestamps are real time; ``speed`` multiplies rates and shortens handling delays.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import numpy as np
import shapely
from sqlalchemy import select

from config import Config
from data.models import Grid, Incident, ParkingSpace, Task, Worker, utcnow
from data.store import Store
from geo.crs import from_metres, to_metres
from geo.grid_index import GridIndex
from ops import field, lifecycle, places
from ops.accounts import Actor, shared_secret
from ops.errors import OneMapError
from ops.incidents import NewIncident, report

log = logging.getLogger(__name__)
SIMULATOR = Actor(user_id=None, name="simulator", role="admin")

DEMO_FLATS = 30
PER_DAY = {"ticket": 3000.0, "fire": 150.0, "police": 600.0, "alarm": 60.0}
CATEGORIES = {
    "ticket": [
        "环境卫生",
        "占道经营",
        "噪音扰民",
        "道路破损",
        "路灯故障",
        "违章停车",
        "邻里纠纷",
        "供水供电",
        "垃圾清运",
        "政策咨询",
    ],
    "fire": ["住宅火灾", "商铺火灾", "车辆起火", "山林火情"],
    "police": ["治安警情", "盗窃", "纠纷", "交通事故", "可疑人员"],
    "alarm": ["老人血压异常", "一键报警柱"],
}
_NAMES = "王李张刘陈杨黄赵吴周"
_HOURLY = np.array(
    [
        0.2,
        0.15,
        0.1,
        0.1,
        0.15,
        0.3,
        0.6,
        1.0,
        1.5,
        1.8,
        1.9,
        1.7,
        1.3,
        1.4,
        1.7,
        1.8,
        1.6,
        1.4,
        1.2,
        1.1,
        0.9,
        0.7,
        0.5,
        0.3,
    ]
)
HOURLY_SHAPE = _HOURLY / _HOURLY.mean()  # mean 1: a day's total matches PER_DAY


@dataclass
class TickStats:
    created: int = 0
    handled: int = 0
    parking: int = 0
    moved: int = 0


class Simulator:
    """Advance the city by one tick at a time; ``run`` loops until stopped."""

    def __init__(self, store: Store, index: GridIndex, config: Config, seed: int | None = None):
        self.store = store
        self.index = index
        self.config = config
        self.speed = config.sim_speed
        self.rng = np.random.default_rng(config.seed if seed is None else seed)
        self.sim_start = time.time()
        self.real_start = time.monotonic()
        with store.read() as s:
            grids = s.execute(select(Grid.id, Grid.population, Grid.geom).order_by(Grid.id)).all()
            self.space_ids = np.array(s.scalars(select(ParkingSpace.id)).all(), dtype=np.int64)
            self.space_state = np.array(
                s.scalars(select(ParkingSpace.occupied).order_by(ParkingSpace.id)).all(), dtype=bool
            )
        self.grid_ids = np.array([g.id for g in grids], dtype=np.int64)
        self.grid_geoms = np.array([g.geom for g in grids], dtype=object)
        pop = np.array([g.population or 1000 for g in grids], dtype=np.float64)
        self.grid_weight = pop / pop.sum()
        self.last_move = 0.0
        self.places: list[tuple[str, int]] = []  # (external id, registered occupants)
        self.access_seq = 0

    def sim_hour(self, now_real: float) -> int:
        """Hour of the simulated day (the simulated clock runs ``speed`` times faster)."""
        elapsed = (now_real - self.real_start) * self.speed
        return int(time.localtime(self.sim_start + elapsed).tm_hour)

    def _points_in_grids(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        picks = self.rng.choice(len(self.grid_ids), n, p=self.grid_weight)
        lon, lat = np.empty(n), np.empty(n)
        for i, g in enumerate(picks):
            geom = self.grid_geoms[g]
            xmin, ymin, xmax, ymax = geom.bounds
            for _ in range(50):
                x, y = self.rng.uniform(xmin, xmax), self.rng.uniform(ymin, ymax)
                if shapely.contains_xy(geom, x, y):
                    break
            else:
                p = geom.representative_point()
                x, y = p.x, p.y
            lon[i], lat[i] = x, y
        return lon, lat

    def _new_items(self, dt: float, hour: int) -> list[NewIncident]:
        items: list[NewIncident] = []
        for kind, per_day in PER_DAY.items():
            rate = per_day / 86400.0 * self.speed * dt * (HOURLY_SHAPE[hour] if kind == "ticket" else 1.0)
            n = int(self.rng.poisson(rate))
            if not n:
                continue
            lon, lat = self._points_in_grids(n)
            for x, y in zip(lon, lat, strict=True):
                cat = CATEGORIES[kind][self.rng.integers(len(CATEGORIES[kind]))]
                prio = int(self.rng.choice([1, 2, 3], p=[0.5, 0.3, 0.2] if kind == "fire" else [0.1, 0.3, 0.6]))
                copies = int(self.rng.integers(2, 6)) if kind == "fire" and self.rng.uniform() < 0.2 else 1
                for _ in range(copies):
                    # The same fire seen by several citizens: within a few tens of metres.
                    jx, jy = self.rng.normal(0, 0.0002, 2) if copies > 1 else (0.0, 0.0)
                    items.append(
                        NewIncident(
                            kind=kind,
                            category=cat,
                            title=cat,
                            lon=float(x + jx),
                            lat=float(y + jy),
                            priority=prio,
                            description=f"模拟{cat}",
                            reporter_name=_NAMES[self.rng.integers(len(_NAMES))] + "先生",
                            reporter_phone=f"13{self.rng.integers(0, 10**9):09d}",
                            source="simulator",
                        )
                    )
        return items

    def _handle(self) -> int:
        """Operators and workers at work: assign, accept, arrive and resolve with realistic delays."""
        now = utcnow()
        handled = 0
        with self.store.read() as s:
            fresh = s.execute(
                select(Incident.id, Incident.grid_id, Incident.created_at)
                .where(Incident.status == "new", Incident.grid_id.is_not(None))
                .order_by(Incident.id)
                .limit(50)
            ).all()
            tasks = s.execute(
                select(Task.id, Task.status, Task.updated_at)
                .where(Task.status.in_(("assigned", "accepted", "on_site")))
                .limit(200)
            ).all()
            workers = dict(
                s.execute(
                    select(Worker.grid_id, Worker.id).where(Worker.on_duty.is_(True)).order_by(Worker.id.desc())
                ).all()
            )
        delay = {"new": 240.0, "assigned": 120.0, "accepted": 300.0, "on_site": 900.0}
        for inc in fresh:
            # One item in five waits for an operator: the queue never empties by itself.
            if inc.id % 5 == 0 or (now - inc.created_at).total_seconds() * self.speed < delay["new"]:
                continue
            worker = workers.get(inc.grid_id)
            if worker is None:
                continue
            try:
                lifecycle.assign(self.store, SIMULATOR, inc.id, worker)
                handled += 1
            except OneMapError:
                continue
        action = {"assigned": "accept", "accepted": "arrive", "on_site": "resolve"}
        for t in tasks:
            if (now - t.updated_at).total_seconds() * self.speed < delay[t.status] * self.rng.uniform(0.5, 1.5):
                continue
            try:
                lifecycle.act_on_task(self.store, SIMULATOR, t.id, action[t.status])
                handled += 1
            except OneMapError:
                continue
        return handled

    def _parking(self, dt: float) -> int:
        if not len(self.space_ids):
            return 0
        # About five parkings per space a day: ten state changes.
        n = int(self.rng.poisson(len(self.space_ids) * 10 / 86400.0 * self.speed * dt))
        if not n:
            return 0
        idx = self.rng.choice(len(self.space_ids), min(n, len(self.space_ids)), replace=False)
        self.space_state[idx] = ~self.space_state[idx]
        seq = time.time_ns() // 1000
        changes = [field.SpaceChange(int(self.space_ids[i]), bool(self.space_state[i]), seq) for i in idx]
        return field.update_parking(self.store, SIMULATOR, changes)

    def _walk(self) -> int:
        with self.store.read() as s:
            rows = s.execute(
                select(Worker.id, Worker.grid_id, Worker.lon, Worker.lat).where(Worker.on_duty.is_(True))
            ).all()
        if not rows:
            return 0
        ids = np.array([r.id for r in rows])
        gids = np.array([r.grid_id for r in rows])
        x, y = to_metres([r.lon for r in rows], [r.lat for r in rows])
        step = self.rng.normal(0, 15.0 * min(self.speed, 20.0), (2, len(rows)))
        lon, lat = from_metres(x + step[0], y + step[1])
        home = self.grid_geoms[np.searchsorted(self.grid_ids, gids)]
        inside = shapely.contains_xy(home, lon, lat)
        old_lon = np.array([r.lon for r in rows])
        old_lat = np.array([r.lat for r in rows])
        lon, lat = np.where(inside, lon, old_lon), np.where(inside, lat, old_lat)
        return field.move_workers(
            self.store, SIMULATOR, list(zip(ids.tolist(), lon.tolist(), lat.tolist(), strict=True))
        )

    def _doors(self, dt: float) -> int:
        """Rental flats with door sensors: residents come and go; now and then a crowd arrives."""
        if not self.places:
            lon, lat = self._points_in_grids(DEMO_FLATS)
            flats = [
                {
                    "id": f"demo-flat-{k + 1:02d}",
                    "kind": "rental",
                    "address": f"出租屋 {k + 1:02d} 号",
                    "lon": float(lon[k]),
                    "lat": float(lat[k]),
                    "registered_occupants": int(self.rng.integers(1, 4)),
                }
                for k in range(DEMO_FLATS)
            ]
            places.upsert_places(self.store, self.index, SIMULATOR, {"places": flats})
            self.places = [(f["id"], f["registered_occupants"]) for f in flats]
        events = []
        at = utcnow().isoformat()
        for flat, occupants in self.places:
            comings = int(self.rng.poisson(2.0 / 3600 * self.speed * dt))  # two entries an hour
            people = [f"{flat}-resident-{int(self.rng.integers(occupants))}" for _ in range(comings)]
            if self.rng.uniform() < 0.05 / 3600 * self.speed * dt:  # about once in 20 hours per flat
                people += [f"{flat}-visitor-{self.access_seq}-{k}" for k in range(int(self.rng.integers(4, 8)))]
            for person in people:
                self.access_seq += 1
                events.append(
                    {"event_id": f"sim-door-{self.access_seq}", "place_id": flat, "credential": person, "at": at}
                )
        if not events:
            return 0
        secret = shared_secret(self.store, "access_key")
        return len(places.ingest_access(self.store, SIMULATOR, {"events": events}, secret))

    def tick(self, dt: float, now_real: float | None = None) -> TickStats:
        """Advance the city by ``dt`` real seconds."""
        now_real = time.monotonic() if now_real is None else now_real
        stats = TickStats()
        items = self._new_items(dt, self.sim_hour(now_real))
        if items:
            stats.created = len(report(self.store, self.index, SIMULATOR, items, self.config.sla_minutes))
        stats.handled = self._handle()
        stats.parking = self._parking(dt)
        self._doors(dt)
        if now_real - self.last_move >= 10.0:
            stats.moved = self._walk()
            self.last_move = now_real
        return stats

    def run(self, stop: threading.Event) -> None:
        """Tick every ``sim_tick_seconds`` until ``stop`` is set; a failed tick is logged, not fatal."""
        dt = self.config.sim_tick_seconds
        while not stop.wait(dt):
            try:
                self.tick(dt)
            except Exception:  # the demo must keep living through a transient store error
                log.exception("simulator tick failed")


def start_in_thread(store: Store, index: GridIndex, config: Config) -> threading.Event:
    """Run the simulator in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    sim = Simulator(store, index, config)
    threading.Thread(target=sim.run, args=(stop,), name="onemap-simulator", daemon=True).start()
    return stop
