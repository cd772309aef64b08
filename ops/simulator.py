"""The demo city's life: tickets on a day curve, fire reports (some reported by many), police
alerts, device alarms, parking turnover, workers walking their grids and handling items.

It is a source like any other: everything goes through the same ops/ functions as the API.
Stored timestamps are real time. The simulator keeps its own clock, ``speed`` times faster than
real time: it sets the hour of the day curve and when its operators and workers act. Every item
waiting in the queue gets its turn (none is skipped for good, whatever its grid), so the backlog
stays bounded however long the demo runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import shapely
from sqlalchemy import select

from config import CITY_TIMEZONE, Config
from data.models import (
    ACTIVE_TASK_STATUSES,
    UNASSIGNED_STATUSES,
    Grid,
    Incident,
    ParkingSpace,
    Task,
    Worker,
    utcnow,
)
from data.queries import worker_snapshot
from data.store import Store
from geo.crs import from_metres, to_metres
from geo.grid_index import GridIndex
from ops import field, lifecycle, places
from ops.accounts import Actor, shared_secret
from ops.errors import OneMapError
from ops.incidents import NewIncident, report
from ops.suggestions import rank

log = logging.getLogger(__name__)
SIMULATOR = Actor(user_id=None, name="simulator", role="admin")
CITY_TZ = ZoneInfo(CITY_TIMEZONE)

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

# Simulated seconds before an operator assigns a waiting item: (low, high) of a uniform draw.
ASSIGN_S = (120.0, 360.0)
URGENT_ASSIGN_S = (30.0, 90.0)  # fires and priority 1
# One other item in five waits longer for an operator: the wall's queue is never empty by itself.
WAITING_SHARE = 0.2
WAITING_ASSIGN_S = (900.0, 2700.0)
# Mean simulated seconds a worker takes to accept, to arrive and to resolve (drawn from 0.5 to 1.5 of it).
TASK_S = {"assigned": 120.0, "accepted": 300.0, "on_site": 900.0}
TASK_ACTION = {"assigned": "accept", "accepted": "arrive", "on_site": "resolve"}
# Rows read per tick; every row gets its turn, so this bounds a tick's work, never who is served.
QUEUE_LIMIT = 2000
# A tick after a long pause (a suspended laptop) advances at most this many real seconds.
MAX_TICK_S = 30.0


@dataclass
class TickStats:
    created: int = 0
    handled: int = 0  # assignments and task actions
    assigned: int = 0
    resolved: int = 0
    parking: int = 0
    moved: int = 0


class Simulator:
    """Advance the city by one tick at a time; ``run`` loops until stopped."""

    def __init__(
        self, store: Store, index: GridIndex, config: Config, seed: int | None = None, start: datetime | None = None
    ):
        self.store = store
        self.index = index
        self.config = config
        self.speed = config.sim_speed
        self.rng = np.random.default_rng(config.seed if seed is None else seed)
        self.now = start or utcnow()  # the simulated clock (naive UTC), moved on by each tick
        # When the simulator acts next on an item waiting in the queue or on a task in one state.
        self.due: dict[tuple[str, int, str], datetime] = {}
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

    def sim_hour(self) -> int:
        """Hour of the simulated day on the city's clock."""
        return self.now.replace(tzinfo=UTC).astimezone(CITY_TZ).hour

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

    def _is_due(self, key: tuple[str, int, str], delay_s: Callable[[], float], seen: set) -> bool:
        """Whether the simulated clock has reached this step's time, drawn when the step is first seen."""
        seen.add(key)
        at = self.due.get(key)
        if at is None:
            at = self.due[key] = self.now + timedelta(seconds=delay_s())
        return at <= self.now

    def _assign_delay(self, kind: str, priority: int) -> float:
        if kind == "fire" or priority == 1:
            return float(self.rng.uniform(*URGENT_ASSIGN_S))
        if self.rng.uniform() < WAITING_SHARE:
            return float(self.rng.uniform(*WAITING_ASSIGN_S))
        return float(self.rng.uniform(*ASSIGN_S))

    def _handle(self, stats: TickStats) -> None:
        """Operators and workers at work: assign, accept, arrive and resolve with realistic delays.

        Operators take the oldest waiting items first and give each to its best-ranked worker
        (own grid first, then nearest, lighter load first), as the detail panel suggests.
        """
        with self.store.read() as s:
            waiting = s.execute(
                select(Incident.id, Incident.kind, Incident.priority, Incident.grid_id, Incident.lon, Incident.lat)
                .where(Incident.status.in_(UNASSIGNED_STATUSES))
                .order_by(Incident.id)
                .limit(QUEUE_LIMIT)
            ).all()
            tasks = s.execute(
                select(Task.id, Task.status)
                .where(Task.status.in_(ACTIVE_TASK_STATUSES))
                .order_by(Task.id)
                .limit(QUEUE_LIMIT)
            ).all()
        seen: set[tuple[str, int, str]] = set()
        ready = []
        for r in waiting:
            if self._is_due(("item", r.id, ""), lambda r=r: self._assign_delay(r.kind, r.priority), seen):
                ready.append(r)
        snapshot = worker_snapshot(self.store) if ready else None
        for inc in ready:
            best = rank(snapshot, inc.lon, inc.lat, inc.grid_id, limit=1)
            if not best:  # nobody on duty: the item stays due and is tried again next tick
                continue
            try:
                lifecycle.assign(self.store, SIMULATOR, inc.id, best[0].worker_id)
            except OneMapError:  # someone else took it first
                continue
            stats.assigned += 1
            snapshot.loads[np.searchsorted(snapshot.index.ids, best[0].worker_id)] += 1
        for t in tasks:
            mean = TASK_S[t.status]
            if not self._is_due(("task", t.id, t.status), lambda mean=mean: mean * self.rng.uniform(0.5, 1.5), seen):
                continue
            try:
                lifecycle.act_on_task(self.store, SIMULATOR, t.id, TASK_ACTION[t.status])
            except OneMapError:  # the worker's phone got there first
                continue
            stats.resolved += t.status == "on_site"
            stats.handled += 1
        stats.handled += stats.assigned
        # Forget the steps that are done: what is no longer waiting or in that state.
        self.due = {k: v for k, v in self.due.items() if k in seen}

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
        """Advance the city by ``dt`` real seconds (``dt * speed`` on the simulated clock).

        ``now_real`` (monotonic seconds) paces only how often workers' positions are sent.
        """
        now_real = time.monotonic() if now_real is None else now_real
        self.now += timedelta(seconds=dt * self.speed)
        stats = TickStats()
        items = self._new_items(dt, self.sim_hour())
        if items:
            stats.created = len(report(self.store, self.index, SIMULATOR, items, self.config.sla_minutes))
        self._handle(stats)
        stats.parking = self._parking(dt)
        self._doors(dt)
        if now_real - self.last_move >= 10.0:
            stats.moved = self._walk()
            self.last_move = now_real
        return stats

    def run(self, stop: threading.Event) -> None:
        """Tick every ``sim_tick_seconds`` until ``stop`` is set; a failed tick is logged, not fatal.

        Each tick advances by the real time since the last one, so a slow tick (a busy machine)
        does not slow the simulated day down.
        """
        last = time.monotonic()
        while not stop.wait(self.config.sim_tick_seconds):
            now = time.monotonic()
            dt, last = min(now - last, MAX_TICK_S), now
            try:
                self.tick(dt, now)
            except Exception:  # the demo must keep living through a transient store error
                log.exception("simulator tick failed")


def start_in_thread(store: Store, index: GridIndex, config: Config) -> threading.Event:
    """Run the simulator in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    sim = Simulator(store, index, config)
    threading.Thread(target=sim.run, args=(stop,), name="onemap-simulator", daemon=True).start()
    return stop
