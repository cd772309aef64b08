"""Past cases between bodies, written in bulk: the demo city's last days (so the evaluation page and
the monthly report have a history from the first start) and the bench's year of cases.

Each case is drawn as a sequence of moves in time (file → dispatch → sign → handled → check, with the
returns, extensions, holds, failed checks and reopenings a city sees), each logged as the event row
``ops.cases`` writes for that move (``_event_data``: action code, stages, departments, deadline), so
``ops.evaluation`` reads a drawn case exactly as it reads a real one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import bindparam, insert, select, update

from data.models import Department, Event, Incident, User, utcnow
from data.store import Store, record_event
from ops.cases import _event_data
from ops.routing import Router

# How often each turn happens (a share of the cases that reach the stage), and how long each stage takes.
P_RETURN, P_RETURN_ELSEWHERE, P_VOID_AFTER_RETURN = 0.05, 0.7, 0.1
P_EXTEND, P_GRANT = 0.03, 0.8
P_HOLD, P_RESUME = 0.02, 0.5
P_CHECK_FAILED, P_REOPENED = 0.08, 0.01
SIGN_LIMIT_H, HANDLE_LIMIT_H, CHECK_LIMIT_H = 4.0, 72.0, 24.0
# In the demo, the share of the past citizens' tickets that went round the loop between bodies (the rest a
# grid worker settled on the spot, as the history seeds them).
DEMO_CASE_SHARE = 0.12  # ~10,000 cases a month in the 2,000-grid demo: some 150 per department
CHUNK = 20_000


def _hours(rng: np.random.Generator, median_h: float, sigma: float = 0.8) -> timedelta:
    return timedelta(hours=float(rng.lognormal(np.log(median_h), sigma)))


class DrawnCase:
    """One case's moves in time order, as ``ops.cases`` logs them (stopping at ``now``)."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.events: list[dict[str, Any]] = []
        self.stage = "reported"
        self.owner: int | None = None
        self.closed_at: datetime | None = None
        self.handled_at: datetime | None = None
        self.open = True  # still running: its next move is not yet due by ``now``

    def move(
        self,
        at: datetime,
        action: str,
        to: str,
        actor: str,
        owner: Any = False,
        due: datetime | None = None,
        extra: dict[str, Any] | None = None,
    ) -> bool:
        """Log the move at ``at``, unless ``at`` is after now (the case stops where it is: False)."""
        if not self.open or at >= self.now:
            self.open = False
            return False
        new_owner = self.owner if owner is False else owner
        data = _event_data(action, self.stage, to, self.owner, new_owner, due, extra=extra)
        self.events.append({"at": at, "kind": f"case.{action}", "actor": actor, "data": data})
        self.stage, self.owner = to, new_owner
        if action == "check_passed":
            self.closed_at = at
        elif action == "callback_reopened":
            self.closed_at = None
        elif action == "handled":
            self.handled_at = at
        return True

    @property
    def last_at(self) -> datetime | None:
        return self.events[-1]["at"] if self.events else None

    @property
    def finished(self) -> bool:
        return self.stage in ("closed", "voided")

    def counts(self) -> dict[str, int]:
        return {
            "rework_count": sum(e["kind"] in ("case.check_failed", "case.callback_reopened") for e in self.events),
            "return_count": sum(e["kind"] == "case.return" for e in self.events),
        }


def draw_case(
    rng: np.random.Generator,
    now: datetime,
    created: datetime,
    owner: int,
    others: np.ndarray,
    dispatchers: list[str],
    staff_of: Callable[[int], str],
) -> DrawnCase:
    """The moves of one case reported at ``created`` and routed to ``owner`` (``others``: where a return
    may be sent on), by ``dispatchers`` and each department's ``staff_of``."""
    c = DrawnCase(now)
    staff = staff_of(owner)
    who = dispatchers[int(rng.integers(len(dispatchers)))]
    t = created + timedelta(minutes=float(rng.uniform(2, 50)))
    if not c.move(t, "file", "filed", who):
        return c
    t += timedelta(minutes=float(rng.uniform(1, 20)))
    if not c.move(t, "dispatch", "dispatched", who, owner, t + timedelta(hours=SIGN_LIMIT_H), {"auto": False}):
        return c
    if rng.random() < P_RETURN:
        t += _hours(rng, 2.0)
        returned_by = c.owner
        if not c.move(t, "return", "returned", staff, None, None, {"returned_by": returned_by}):
            return c
        t += _hours(rng, 1.0)
        if rng.random() < P_VOID_AFTER_RETURN:
            c.move(t, "void", "voided", who)
            return c
        target = int(rng.choice(others)) if rng.random() < P_RETURN_ELSEWHERE else returned_by
        staff = staff_of(target)
        extra = {"same_department": target == returned_by}
        if not c.move(t, "redispatch", "dispatched", who, target, t + timedelta(hours=SIGN_LIMIT_H), extra):
            return c
    t += _hours(rng, 1.5)
    handle_due = t + timedelta(hours=HANDLE_LIMIT_H)
    if not c.move(t, "sign", "signed", staff, due=handle_due):
        return c
    work = _hours(rng, 30.0, 0.9)
    last = t  # the latest move so far: every later one comes after it
    if rng.random() < P_EXTEND:
        asked = last = t + timedelta(hours=24)
        until = handle_due + timedelta(hours=48)
        if not c.move(asked, "extend", "signed", staff, due=handle_due, extra={"until": _z(until)}):
            return c
        if rng.random() < P_GRANT:
            handle_due, last = until, asked + timedelta(hours=4)
            if not c.move(last, "extension_granted", "signed", who, due=handle_due):
                return c
        work += timedelta(hours=36)
    if rng.random() < P_HOLD:
        held = last + min(timedelta(hours=12), (t + work - last) / 2)  # while the work is under way
        if not c.move(held, "hold", "on_hold", staff, due=handle_due):
            return c
        if rng.random() >= P_RESUME:
            return c  # on hold for good: the backlog (积存) once 60 days have passed
        pause = timedelta(days=float(rng.lognormal(np.log(20), 0.6)))
        if not c.move(held + pause, "resume", "signed", staff, due=handle_due):
            return c
        work += pause
    t += work
    if not c.move(t, "handled", "handled", staff, due=t + timedelta(hours=CHECK_LIMIT_H)):
        return c
    if rng.random() < P_CHECK_FAILED:
        t = _rework(c, rng, t + _hours(rng, 6.0), "check_failed", who, staff, handle_due)
        if t is None:
            return c
    t += _hours(rng, 6.0)
    if not c.move(t, "check_passed", "closed", who, due=handle_due):
        return c
    if rng.random() < P_REOPENED:
        t = _rework(c, rng, t + timedelta(days=2), "callback_reopened", who, staff, handle_due)
        if t is None:
            return c
        t += _hours(rng, 6.0)
        c.move(t, "check_passed", "closed", who, due=handle_due)
    return c


def _rework(
    c: DrawnCase, rng: np.random.Generator, at: datetime, action: str, who: str, staff: str, handle_due: datetime
) -> datetime | None:
    """Sent back at ``at`` (a failed check, a citizen's reopening) and handled again: when, or None once
    the case stops at ``now``."""
    if not c.move(at, action, "rework", who, due=handle_due):
        return None
    at += _hours(rng, 24.0)
    if not c.move(at, "handled", "handled", staff, due=at + timedelta(hours=CHECK_LIMIT_H)):
        return None
    return at


def _z(at: datetime) -> str:
    return at.isoformat(timespec="seconds") + "Z"


def seed_demo_cases(store: Store, seed: int, now: datetime | None = None) -> dict[str, int]:
    """Send a share of the demo history's citizens' tickets round the loop: each one routed to the body
    that owns its category and place, its moves logged by the city's dispatchers and that body's staff.
    Only cases the draw finishes before ``now`` are kept (the live simulator owns the present); the
    incident rows take the case's owner, stage and times. Returns what was written."""
    now = now or utcnow()
    rng = np.random.default_rng(seed + 16)
    with store.read() as s:
        rows = s.execute(
            select(Incident.id, Incident.category, Incident.lon, Incident.lat, Incident.created_at)
            .where(Incident.source == "history", Incident.kind == "ticket", Incident.status == "closed")
            .order_by(Incident.id)
        ).all()
        departments = np.array(s.scalars(select(Department.id).where(Department.active)).all())
        staff: dict[int, str] = {}
        for user in s.execute(
            select(User.username, User.department_id).where(User.department_id.is_not(None)).order_by(User.id)
        ):
            staff.setdefault(user.department_id, user.username)
        names = dict(s.execute(select(Department.id, Department.name)).tuples().all())
        dispatchers = list(s.scalars(select(User.username).where(User.role == "operator").order_by(User.id)))
    if not rows or not len(departments):
        return {"cases": 0, "events": 0}
    dispatchers = dispatchers or ["operator"]
    picked = [r for r in rows if rng.random() < DEMO_CASE_SHARE]
    if not picked:
        return {"cases": 0, "events": 0}
    decisions = Router(store).route_many(
        [r.category for r in picked], np.array([r.lon for r in picked]), np.array([r.lat for r in picked])
    )

    def staff_of(department_id: int) -> str:
        return staff.get(department_id) or names.get(department_id, str(department_id))

    updates: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for r, d in zip(picked, decisions, strict=True):
        if d.department_id is None:
            continue  # nobody owns it: a grid worker settled it, as the history says
        c = draw_case(rng, now, r.created_at, d.department_id, departments, dispatchers, staff_of)
        if not c.finished:
            continue
        last = c.last_at
        updates.append(
            {
                "iid": r.id,
                "dep": c.owner,
                "stg": c.stage,
                "stg_at": last,
                "st": "closed" if c.stage == "closed" else "cancelled",
                "upd": last,
                "res": c.handled_at if c.stage == "closed" else None,
                "clo": c.closed_at,
                **c.counts(),
            }
        )
        events += [{**e, "entity": "incident", "entity_id": r.id} for e in c.events]
    with store.transaction() as s:
        statement = (
            update(Incident)
            .where(Incident.id == bindparam("iid"))
            .values(
                department_id=bindparam("dep"),
                stage=bindparam("stg"),
                stage_at=bindparam("stg_at"),
                status=bindparam("st"),
                updated_at=bindparam("upd"),
                resolved_at=bindparam("res"),
                closed_at=bindparam("clo"),
                rework_count=bindparam("rework_count"),
                return_count=bindparam("return_count"),
            )
        )
        for i in range(0, len(updates), CHUNK):
            s.connection().execute(statement, updates[i : i + CHUNK])
        for i in range(0, len(events), CHUNK):
            s.connection().execute(insert(Event.__table__), events[i : i + CHUNK])  # Core: no ORM bulk path
        summary = {"cases": len(updates), "events": len(events)}
        record_event(s, "history.cases_seeded", "city", None, "demo", summary)
    return summary
