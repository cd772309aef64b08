"""The demo city's life: tickets on a day curve, fire reports (some reported by many), police
alerts, device alarms, parking turnover, workers walking their grids and handling items, and every
case's way between the command centre and the departments.

It is a source like any other: everything goes through the same ops/ functions as the API.
Stored timestamps are real time. The simulator keeps its own clock, ``speed`` times faster than
real time: it sets the hour of the day curve and when its operators, departments and workers act.
Every item waiting in the queue gets its turn (none is skipped for good, whatever its grid), so the
backlog stays bounded however long the demo runs.

The case loop (ops/cases.py), at realistic rates: the command centre files reports (a grid worker
verifies citizens' reports first; a few do not hold and are voided) and picks a body for a case no
rule owns; departments sign (most within the deadline, some late), start, have a grid worker sent
as today, and report handled; a grid worker checks on site (about 10 % fail: rework); about 5 % of
dispatched cases are returned (回退) and sent on, most to another body; about 3 % ask for more time
(most granted), about 1 % go on hold and resume; supervisors urge some overdue cases; and the
12345 desk calls citizens back after closing (about 5 % unsatisfied: rework). The simulated
city's case deadlines are the city's rules read on the simulator's clock (a working day at 10× is
a tenth of a working day of real time), so what it does late is late in the stored times too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import shapely
from sqlalchemy import func, or_, select

from config import CITY_TIMEZONE, Config
from data.demo_rates import CATEGORIES, HOURLY_SHAPE, PER_DAY
from data.models import (
    ACTIVE_TASK_STATUSES,
    MAP_KINDS,
    OPEN_STAGES,
    UNASSIGNED_STATUSES,
    Department,
    Grid,
    Incident,
    ParkingSpace,
    Task,
    User,
    Worker,
    is_done,
    utcnow,
)
from data.queries import worker_snapshot
from data.store import Store
from geo.crs import from_metres, to_metres
from geo.grid_index import GridIndex
from ops import field, lifecycle, places
from ops.accounts import Actor, shared_secret
from ops.cases import Cases, Deadlines, default_deadlines
from ops.errors import OneMapError
from ops.incidents import NewIncident, report
from ops.routing import Router
from ops.suggestions import rank

log = logging.getLogger(__name__)
SIMULATOR = Actor(user_id=None, name="simulator", role="admin")
# The simulated command centre's people, named after their desks so the case history reads well.
DISPATCHER = Actor(user_id=None, name="sim-调度员", role="operator")
SUPERVISOR = Actor(user_id=None, name="sim-督办员", role="supervisor")
CALLBACK_DESK = Actor(user_id=None, name="sim-12345回访", role="operator")
CITY_TZ = ZoneInfo(CITY_TIMEZONE)

DEMO_FLATS = 30
_NAMES = "王李张刘陈杨黄赵吴周"

# Simulated seconds before an operator assigns a waiting item: (low, high) of a uniform draw.
ASSIGN_S = (120.0, 360.0)
URGENT_ASSIGN_S = (30.0, 90.0)  # fires and priority 1
# One other item in five waits longer for an operator: the wall's queue is never empty by itself.
WAITING_SHARE = 0.2
WAITING_ASSIGN_S = (900.0, 2700.0)
# Mean simulated seconds a worker takes to accept, to arrive and to resolve (drawn from 0.5 to 1.5 of it).
TASK_S = {"assigned": 120.0, "accepted": 300.0, "on_site": 900.0}
TASK_ACTION = {"assigned": "accept", "accepted": "arrive", "on_site": "resolve"}
# Where the simulated reports come from: a ticket by the 12345 hotline or a citizen's app (which a grid
# worker verifies first, see config.verify_sources); emergencies by the 119 and 110 desks and devices.
TICKET_SOURCES = (("hotline", 0.65), ("citizen", 0.35))
EMERGENCY_SOURCES = {"fire": "119", "police": "110", "alarm": "device"}

# The case loop's shares (of the cases that reach each step) and simulated seconds (low, high).
INVALID_SHARE = 0.04  # a verified report that does not hold on site: voided
RETURN_SHARE = 0.05  # a dispatched case returned (回退) by the body it was sent to
RETURN_SAME_SHARE = 0.2  # of those, sent back to the same body (the dispatcher disagrees)
LATE_SHARE = 0.08  # a department's sign or handled report after its deadline (when the deadline is hours)
EXTEND_SHARE = 0.03  # a case in progress asks for more time
EXTEND_GRANTED = 0.85
HOLD_SHARE = 0.01  # a case in progress goes on hold (挂账) and resumes later
CHECK_FAIL_SHARE = 0.10  # the on-site check finds it not done: rework
URGE_SHARE = 0.5  # an overdue case a supervisor urges (督办)
UNSATISFIED_SHARE = 0.05  # a citizen called back after closing is not satisfied: rework
CASE_S = {
    "file": (120.0, 900.0),
    "verify": (600.0, 2400.0),
    "void": (300.0, 1800.0),
    "choose": (300.0, 1200.0),  # a dispatcher picks a body for a case no rule owns
    "redispatch": (300.0, 1200.0),
    "return": (300.0, 1800.0),
    "sign": (180.0, 2400.0),
    "start": (120.0, 900.0),
    "extend": (300.0, 900.0),
    "extension": (600.0, 2400.0),
    "hold": (600.0, 1800.0),
    "resume": (1800.0, 7200.0),
    "handled": (120.0, 1200.0),  # after the worker sent to the place has resolved the task
    "check": (600.0, 3000.0),
    "urge": (300.0, 1800.0),  # after the deadline has passed
    "callback": (1800.0, 14400.0),
}
LATE_S = (300.0, 3600.0)  # how late a late step is, past its deadline
LATE_WITHIN_S = 8 * 3600.0  # only a deadline this close (hours, not days) is ever missed on purpose
CASE_REASONS = {
    "invalid": "现场核实未发现所述问题",
    "void": "核实不属实，予以作废",
    "void_no_owner": "不属于本市受理范围",
    "return": ("不属于本部门职责", "地址不在本辖区", "问题分类有误，请重新派遣"),
    "extend": ("需协调产权单位", "材料采购中", "天气原因暂无法施工"),
    "hold": ("涉及产权纠纷，等待确权", "需多部门联合处置，等待协调"),
    "handled": "已按要求处置完毕",
    "check_failed": "现场复核未整改到位",
    "unsatisfied": "市民回访不满意：问题复发",
    "urge": "已超期，请加快办理并反馈",
    "extension_refused": "理由不充分，请按期办结",
}
NEVER = datetime.max
WORKING_STAGES = ("in_progress", "rework")
URGED_STAGES = ("dispatched", "signed", "in_progress", "rework")

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
    case_moves: int = 0  # moves of the case loop (file, dispatch, sign, check, …)


@dataclass(frozen=True)
class Body:
    """A department as the simulator's staff act for it."""

    id: int
    actor: Actor
    level: int
    categories: frozenset[str]


class Simulator:
    """Advance the city by one tick at a time; ``run`` loops until stopped."""

    def __init__(
        self,
        store: Store,
        index: GridIndex,
        config: Config,
        seed: int | None = None,
        start: datetime | None = None,
        cases: Cases | None = None,
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
        rules = cases or Cases(store, Router(store), default_deadlines(), config.verify_sources)
        self.cases = Cases(store, rules.router, self._on_sim_clock(rules.deadlines), rules.verify_sources)
        # The case loop's memory: the next step planned for each case in each state, when the
        # simulator first saw each case in each stage (its clock there), and what it promised.
        self.plans: dict[tuple[str, int, str], tuple[datetime, str]] = {}
        self.first_seen: dict[tuple[int, str], datetime] = {}
        self.asked: set[int] = set()  # cases that asked once for more time or a hold
        self.returned_by: dict[int, int] = {}
        self.callbacks: dict[int, datetime] = {}  # closed tickets and when the 12345 desk calls back
        # The simulated staff act on the city's history and on what the simulator reports, never on an item a
        # person or another system entered while it runs (a presenter's own report stays theirs to dispatch).
        with store.read() as s:
            self.born = int(s.scalar(select(func.max(Incident.id))) or 0)
        self.reported: set[int] = set()
        self._lowest: int | None = None  # the lowest open id the last pass of the operators saw
        with store.read() as s:
            workers = s.execute(
                select(Worker.grid_id, Worker.user_id, User.username)
                .join(User, User.id == Worker.user_id)
                .order_by(Worker.id)
            ).all()
        self.grid_workers: dict[int, list[Actor]] = {}
        for w in workers:
            self.grid_workers.setdefault(w.grid_id, []).append(Actor(w.user_id, w.username, "worker"))
        self.bodies: dict[int, Body] = {}
        self._load_bodies()

    def _on_sim_clock(self, rules: Deadlines) -> Deadlines:
        """The city's deadlines read on the simulator's clock: the span the rule gives at the simulated
        time (working hours and all), ``speed`` times shorter in real time."""

        def due(start: datetime, amount: int, unit: str) -> datetime:
            return start + (rules.due(self.now, amount, unit) - self.now) / self.speed

        return replace(rules, due=due)

    def _load_bodies(self) -> None:
        with self.store.read() as s:
            rows = s.execute(
                select(Department.id, Department.name, Department.level, Department.categories).where(
                    Department.active.is_(True)
                )
            ).all()
        self.bodies = {
            r.id: Body(r.id, Actor(None, f"sim-{r.name}"[:64], "staff", r.id), r.level, frozenset(r.categories or []))
            for r in rows
        }

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
                source = EMERGENCY_SOURCES.get(kind) or self._ticket_source()
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
                            source=source,
                        )
                    )
        return items

    def _ticket_source(self) -> str:
        names, shares = zip(*TICKET_SOURCES, strict=True)
        return str(names[int(self.rng.choice(len(names), p=shares))])

    def _own(self, incident_id: int) -> bool:
        return incident_id <= self.born or incident_id in self.reported

    def _forget_below(self, lowest: int) -> None:
        """Drop the reported ids below the lowest one still open (``lowest``): they are done."""
        if self.callbacks:
            lowest = min(lowest, min(self.callbacks))
        if self.reported and min(self.reported) < lowest:
            self.reported = {i for i in self.reported if i >= lowest}

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
                .where(
                    Incident.status.in_(UNASSIGNED_STATUSES),
                    # A ticket in the case loop gets a worker once its department has started on it.
                    or_(Incident.kind != "ticket", Incident.stage_at.is_(None), Incident.stage.in_(WORKING_STAGES)),
                )
                .order_by(Incident.id)
                .limit(QUEUE_LIMIT)
            ).all()
            tasks = s.execute(
                select(Task.id, Task.status, Task.incident_id)
                .where(Task.status.in_(ACTIVE_TASK_STATUSES))
                .order_by(Task.id)
                .limit(QUEUE_LIMIT)
            ).all()
        seen: set[tuple[str, int, str]] = set()
        ready = []
        self._lowest = min([r.id for r in waiting] + [t.incident_id for t in tasks], default=None)
        waiting = [r for r in waiting if self._own(r.id)]
        tasks = [t for t in tasks if self._own(t.incident_id)]
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

    # --- the case loop ------------------------------------------------------------------------------

    def _case_loop(self, stats: TickStats) -> None:
        """The command centre, the departments and the grid workers move the open cases on, each step
        at its own simulated time, drawn when the simulator first sees the case in that state."""
        with self.store.read() as s:
            rows = s.execute(
                select(
                    Incident.id,
                    Incident.kind,
                    Incident.category,
                    Incident.stage,
                    Incident.status,
                    Incident.department_id,
                    Incident.grid_id,
                    Incident.lon,
                    Incident.lat,
                    Incident.stage_at,
                    Incident.stage_due_at,
                    Incident.extension_until,
                    Incident.urged_at,
                )
                .where(Incident.stage.in_(OPEN_STAGES), Incident.stage_at.is_not(None), Incident.kind.in_(MAP_KINDS))
                .order_by(Incident.id)
                .limit(QUEUE_LIMIT)
            ).all()
        open_now = [c.id for c in rows] + ([] if self._lowest is None else [self._lowest])
        if open_now:
            self._forget_below(min(open_now))
        rows = [c for c in rows if self._own(c.id)]
        seen: set[tuple[str, int, str]] = set()
        staged: set[tuple[int, str]] = set()
        for c in rows:
            staged.add((c.id, c.stage))
            self.first_seen.setdefault((c.id, c.stage), self.now)
            state = c.stage
            if c.stage in WORKING_STAGES:
                state += "/done" if is_done(c.status) else "/open"
            self._step(("case", c.id, state), c, lambda c=c: self._plan(c), seen, stats)
            if c.extension_until is not None:
                self._step(("ext", c.id, ""), c, lambda: (self._after("extension"), "extension"), seen, stats)
            if c.stage in URGED_STAGES and c.urged_at is None and self._overdue(c):
                self._step(("urge", c.id, c.stage), c, self._urge_plan, seen, stats)
        self.plans = {k: v for k, v in self.plans.items() if k in seen}
        self.first_seen = {k: v for k, v in self.first_seen.items() if k in staged}
        open_ids = {c.id for c in rows}
        self.asked &= open_ids
        self.returned_by = {k: v for k, v in self.returned_by.items() if k in open_ids}
        for iid, at in list(self.callbacks.items()):
            if at <= self.now:
                del self.callbacks[iid]
                satisfied = bool(self.rng.uniform() >= UNSATISFIED_SHARE)
                body = {"satisfied": satisfied, "note": "" if satisfied else CASE_REASONS["unsatisfied"]}
                stats.case_moves += self._act(CALLBACK_DESK, iid, "callback", body)

    def _step(
        self,
        key: tuple[str, int, str],
        case: Any,
        plan: Callable[[], tuple[datetime, str]],
        seen: set,
        stats: TickStats,
    ) -> None:
        seen.add(key)
        if key not in self.plans:
            self.plans[key] = plan()
        at, action = self.plans[key]
        if at > self.now:
            return
        # Done once in this state; a move refused (someone else got there first) is tried again later.
        self.plans[key] = self._do(case, action, stats) or (NEVER, action)

    def _after(self, step: str) -> datetime:
        return self.now + timedelta(seconds=float(self.rng.uniform(*CASE_S[step])))

    def _span_s(self, c: Any) -> float | None:
        """The stage's allowed time on the simulator's clock."""
        if c.stage_due_at is None or c.stage_at is None:
            return None
        return (c.stage_due_at - c.stage_at).total_seconds() * self.speed

    def _overdue(self, c: Any) -> bool:
        span = self._span_s(c)
        return span is not None and self.now > self.first_seen[(c.id, c.stage)] + timedelta(seconds=span)

    def _on_deadline(self, c: Any, step: str) -> datetime:
        """A department's step: most well within the stage's deadline, a few after it."""
        start = self.first_seen[(c.id, c.stage)]
        span = self._span_s(c)
        if span is not None and span <= LATE_WITHIN_S and self.rng.uniform() < LATE_SHARE:
            return start + timedelta(seconds=span + float(self.rng.uniform(*LATE_S)))
        delay = float(self.rng.uniform(*CASE_S[step]))
        if span is not None:
            delay = min(delay, 0.8 * span)
        return max(self.now, start + timedelta(seconds=delay))

    def _urge_plan(self) -> tuple[datetime, str]:
        """Some overdue cases are urged by a supervisor a while after their deadline; the rest never."""
        return (self._after("urge"), "urge") if self.rng.uniform() < URGE_SHARE else (NEVER, "urge")

    def _plan(self, c: Any) -> tuple[datetime, str]:
        """The next step for a case in its stage (and, while a department works on it, its task's state)."""
        stage = c.stage
        if stage in ("reported", "verifying", "filed", "returned", "signed", "handled", "on_hold"):
            step = {
                "reported": "file",
                "verifying": "verify",
                "filed": "choose",
                "returned": "redispatch",
                "signed": "start",
                "handled": "check",
                "on_hold": "resume",
            }[stage]
            return self._after(step), step
        if stage == "dispatched":
            if self.rng.uniform() < RETURN_SHARE:
                return self._after("return"), "return"
            return self._on_deadline(c, "sign"), "sign"
        if is_done(c.status):  # the worker sent there is done: the department reports
            return self._on_deadline(c, "handled"), "handled"
        if c.id not in self.asked:
            draw = self.rng.uniform()
            if draw < EXTEND_SHARE:
                return self._after("extend"), "extend"
            if draw < EXTEND_SHARE + HOLD_SHARE and stage == "in_progress":
                return self._after("hold"), "hold"
        return NEVER, "wait"  # for the task: a new state, a new plan

    def _do(self, c: Any, action: str, stats: TickStats) -> tuple[datetime, str] | None:
        """Make one planned move; return a follow-up in the same state (or None)."""
        pick = self.rng.choice
        staff = self._staff(c.department_id)
        if action == "file":
            stats.case_moves += self._act(DISPATCHER, c.id, "file", {})
        elif action == "verify":
            valid = bool(self.rng.uniform() >= INVALID_SHARE)
            body = {"valid": valid, "note": "" if valid else CASE_REASONS["invalid"]}
            if self._act(self._worker(c.grid_id), c.id, "verify", body):
                stats.case_moves += 1
                return None if valid else (self._after("void"), "void")
            return self._after("verify"), "verify"
        elif action == "void":
            self._void(c.id, CASE_REASONS["void"], stats)
        elif action == "choose":
            target = self._fallback(c.category)
            if target is None:
                self._void(c.id, CASE_REASONS["void_no_owner"], stats)
            else:
                stats.case_moves += self._act(DISPATCHER, c.id, "dispatch", {"department_id": target})
        elif action == "return" and staff is not None:
            if self._act(staff, c.id, "return", {"reason": str(pick(CASE_REASONS["return"]))}):
                stats.case_moves += 1
                self.returned_by[c.id] = c.department_id
        elif action == "redispatch":
            target = self._redispatch_target(c)
            if target is None:
                self._void(c.id, CASE_REASONS["void_no_owner"], stats)
            else:
                stats.case_moves += self._act(DISPATCHER, c.id, "dispatch", {"department_id": target})
        elif action in ("sign", "start", "resume") and staff is not None:
            stats.case_moves += self._act(staff, c.id, action, {})
        elif action == "extend" and staff is not None and c.stage_due_at is not None:
            self.asked.add(c.id)
            until = c.stage_due_at + (c.stage_due_at - c.stage_at)  # twice the time it had
            body = {"until": until.isoformat(timespec="seconds") + "Z", "reason": str(pick(CASE_REASONS["extend"]))}
            stats.case_moves += self._act(staff, c.id, "extend", body)
        elif action == "extension":
            approve = bool(self.rng.uniform() < EXTEND_GRANTED)
            body = {"approve": approve, "note": "" if approve else CASE_REASONS["extension_refused"]}
            stats.case_moves += self._act(DISPATCHER, c.id, "extension", body)
        elif action == "hold" and staff is not None:
            self.asked.add(c.id)
            stats.case_moves += self._act(staff, c.id, "hold", {"reason": str(pick(CASE_REASONS["hold"]))})
        elif action == "handled" and staff is not None:
            stats.case_moves += self._act(staff, c.id, "handled", {"note": CASE_REASONS["handled"]})
        elif action == "check":
            passed = bool(self.rng.uniform() >= CHECK_FAIL_SHARE)
            body = {"passed": passed, "note": "" if passed else CASE_REASONS["check_failed"]}
            if not self._act(self._worker(c.grid_id), c.id, "check", body):
                return self._after("check"), "check"
            stats.case_moves += 1
            if not passed:  # rework: the item goes back to the queue for a worker to go again
                self._item(DISPATCHER, c.id, "reopen")
            elif c.kind == "ticket":
                self.callbacks[c.id] = self._after("callback")
        elif action == "urge":
            until = utcnow() + timedelta(seconds=7200.0 / self.speed)
            body = {"note": CASE_REASONS["urge"], "until": until.isoformat(timespec="seconds") + "Z"}
            stats.case_moves += self._act(SUPERVISOR, c.id, "urge", body)
        return None

    def _act(self, actor: Actor, incident_id: int, action: str, body: dict[str, Any]) -> int:
        """One case move; 1 when made, 0 when refused (a person on a screen got there first)."""
        try:
            self.cases.act(actor, incident_id, action, body)
        except OneMapError:
            return 0
        return 1

    def _item(self, actor: Actor, incident_id: int, action: str, reason: str = "") -> None:
        try:
            lifecycle.act_on_item(self.store, actor, incident_id, action, reason)
        except OneMapError:
            pass  # already there (cancelled or reopened by a person)

    def _void(self, incident_id: int, reason: str, stats: TickStats) -> None:
        if self._act(SUPERVISOR, incident_id, "void", {"reason": reason}):
            stats.case_moves += 1
            self._item(SUPERVISOR, incident_id, "cancel", reason)  # nobody is sent to a void report

    def _staff(self, department_id: int | None) -> Actor | None:
        if department_id is None:
            return None
        if department_id not in self.bodies:
            self._load_bodies()  # an admin added a department
        body = self.bodies.get(department_id)
        return body.actor if body else None

    def _worker(self, grid_id: int | None) -> Actor:
        """A grid worker of the case's grid (the command centre for a case outside every grid)."""
        team = self.grid_workers.get(grid_id) if grid_id is not None else None
        return team[int(self.rng.integers(len(team)))] if team else DISPATCHER

    def _fallback(self, category: str) -> int | None:
        """The body a dispatcher picks for a case no jurisdiction covers: the highest that takes it."""
        takers = sorted((b.level, b.id) for b in self.bodies.values() if category in b.categories)
        return takers[0][1] if takers else None

    def _redispatch_target(self, c: Any) -> int | None:
        """After a return: most go to another body that takes the case there, some back to the same."""
        back = self.returned_by.pop(c.id, None)
        if back is not None and self.rng.uniform() < RETURN_SAME_SHARE:
            return back
        others = [d["id"] for d in self.cases.router.explain(c.category, c.lon, c.lat) if d["id"] != back]
        if others:
            return int(others[0])
        return back if back is not None else self._fallback(c.category)

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
            ids = report(self.store, self.index, SIMULATOR, items, self.config.sla_minutes, cases=self.cases)
            self.reported.update(ids)
            stats.created = len(ids)
        self._handle(stats)
        self._case_loop(stats)
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


def start_in_thread(store: Store, index: GridIndex, config: Config, cases: Cases | None = None) -> threading.Event:
    """Run the simulator in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    sim = Simulator(store, index, config, cases=cases)
    threading.Thread(target=sim.run, args=(stop,), name="onemap-simulator", daemon=True).start()
    return stop
