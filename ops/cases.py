"""A case between bodies: 立案 → 派遣 → 签收 → 处置 → 反馈 → 核查 → 结案, and the hand-offs between them.

reported → verifying (a grid worker checks a citizen's report on site) → filed, or voided by a
supervisor → dispatched (to the department routing chose, or one a dispatcher picks) → signed (the
department acknowledges; its handling clock starts) → in progress (its staff or grid workers take it
as tasks, as today) → handled (with a note) → checked on site: closed, or rework (back to the same
department, counted). Hand-offs: return (回退, reason required; the case waits for a dispatcher to
send it on, 转派, or back), extension (延期, asked before the deadline, decided by a dispatcher), hold
/ resume (挂账 / 缓办), escalate (上报 to the parent department), urge (督办, a flag with a note and a
deadline). After closing, the citizen's callback (回访) may reopen it.

Every move is one transaction: a conditional UPDATE on the stage it starts from (and the owner it was
seen with), so of two conflicting hand-offs exactly one wins and the other is told the stage it met;
and an event row with the action code, actor, departments, reason and the new stage's deadline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from config import DEFAULT_VERIFY_SOURCES, Config
from data.models import MAP_KINDS, OPEN_STAGES, Department, Event, Grid, Incident, Photo, Worker, utcnow
from data.store import Store, record_event, record_events, retried
from ops import working_time
from ops.accounts import Actor
from ops.errors import Conflict, Forbidden, Invalid, NotFound
from ops.media import StoredPhoto, store_photo
from ops.routing import Decision, Router

# How a new item enters the loop. Emergencies (and what a sensor or the 110/119 desk reports) are filed
# and routed on arrival; any other report waits at "reported" for the command centre to file it, or at
# "verifying" for a grid worker's on-site check (核实) when its source is one that needs it.
EMERGENCY_KINDS = frozenset({"fire", "police", "alarm"})
AUTO_FILED_SOURCES = frozenset({"device", "sensor", "110", "119"})
COMMAND = ("operator", "supervisor", "admin")  # the command centre: dispatchers and their leads
SUPERVISE = ("supervisor", "admin")
REASON_LIMIT = 2000
MAX_HANDLED_PHOTOS = 6  # photos with one handled report (before / after, a few angles)

# The action code of every move, as the event log keeps it (the evaluation counts these).
CODES = {
    "verify": 110,
    "file": 100,
    "void": 814,
    "dispatch": 600,
    "redispatch": 610,
    "sign": 620,
    "return": 626,
    "escalate": 630,
    "start": 640,
    "handled": 700,
    "check_passed": 710,
    "check_failed": 720,
    "extend": 606,
    "extension_granted": 607,
    "extension_refused": 608,
    "hold": 810,
    "resume": 811,
    "urge": 900,
    "callback_satisfied": 800,
    "callback_reopened": 850,
}

# Where each move may start. A move from any other stage is refused, naming the stage it met.
FROM: dict[str, tuple[str, ...]] = {
    "verify": ("reported", "verifying"),
    "file": ("reported", "verifying"),
    "void": ("reported", "verifying", "filed", "returned"),
    "dispatch": ("filed", "returned"),
    "sign": ("dispatched",),
    "start": ("signed", "rework"),
    "return": ("dispatched", "signed"),
    "escalate": ("dispatched", "signed", "in_progress", "rework"),
    "handled": ("signed", "in_progress", "rework"),
    "check": ("handled",),
    "extend": ("signed", "in_progress", "rework"),
    "extension": ("signed", "in_progress", "rework"),
    "hold": ("dispatched", "signed", "in_progress", "rework"),
    "resume": ("on_hold",),
    "urge": OPEN_STAGES,
    "callback": ("closed",),
}
ACTIONS = tuple(FROM)


@dataclass(frozen=True)
class Deadlines:
    """How long each stage may take: (amount, unit) by stage, with overrides by category and urgency.

    Units are those of ``ops.working_time``: "minutes" (calendar time, for emergencies) or
    "working_minutes" / "working_hours" / "working_days". ``due`` turns one into a time.
    """

    due: Callable[[datetime, int, str], datetime]
    by_stage: dict[str, tuple[int, str]]
    by_category: dict[str, tuple[int, str]]  # handling time of a category (signed → handled)
    urgent: dict[str, tuple[int, str]]  # priority 1 (risk to life or property), by stage

    def of(self, stage: str, category: str, priority: int, start: datetime) -> datetime | None:
        limit = None
        if priority == 1:
            limit = self.urgent.get(stage)
        if limit is None and stage in ("signed", "in_progress", "rework"):
            limit = self.by_category.get(category)
        if limit is None:
            limit = self.by_stage.get(stage)
        return self.due(start, *limit) if limit else None


def city_cases(store: Store, config: Config) -> Cases:
    """The case rules as the app runs them: deadlines on the city's working calendar."""
    calendar = working_time.load_calendar(config.calendar_file)
    deadlines = default_deadlines(partial(working_time.add, calendar))
    return Cases(store, Router(store), deadlines, config.verify_sources, config.media_dir)


def calendar_time(start: datetime, amount: int, unit: str) -> datetime:
    """Every unit read as calendar time: for tests and for a city that counts no working hours."""
    scale = {"minutes": 1, "working_minutes": 1, "working_hours": 60, "working_days": 1440}[unit]
    return start + timedelta(minutes=amount * scale)


# Defaults from local rules (see DOMAIN notes in docs/): filing and dispatch within 1 working hour, a
# department signs within 1 working day (15 minutes for a risk to life), handling by category, the
# on-site check within 1 working day.
DEFAULT_BY_STAGE = {
    "reported": (1, "working_hours"),
    "verifying": (1, "working_hours"),
    "filed": (1, "working_hours"),
    "returned": (1, "working_hours"),
    "dispatched": (1, "working_days"),
    "signed": (1, "working_days"),
    "in_progress": (1, "working_days"),
    "rework": (1, "working_days"),
    "handled": (1, "working_days"),
}
DEFAULT_BY_CATEGORY = {
    "垃圾清运": (4, "working_hours"),
    "环境卫生": (5, "working_hours"),
    "占道经营": (2, "working_hours"),
    "路灯故障": (2, "working_days"),
    "道路破损": (3, "working_days"),
    "供水供电": (30, "minutes"),
    "政策咨询": (5, "working_days"),
    "违章停车": (1, "working_hours"),
}
DEFAULT_URGENT = {"dispatched": (15, "minutes"), "signed": (2, "working_hours"), "in_progress": (2, "working_hours")}


def default_deadlines(due: Callable[[datetime, int, str], datetime] = calendar_time) -> Deadlines:
    return Deadlines(due, dict(DEFAULT_BY_STAGE), dict(DEFAULT_BY_CATEGORY), dict(DEFAULT_URGENT))


@dataclass(frozen=True)
class Seen:
    """The case as a move found it (what its conditional UPDATE holds it to)."""

    id: int
    stage: str
    department_id: int | None
    category: str
    priority: int
    grid_id: int | None
    held_stage: str | None
    stage_due_at: datetime | None
    extension_until: datetime | None


def _seen(s: Session, incident_id: int) -> Seen:
    row = s.execute(
        select(
            Incident.id,
            Incident.stage,
            Incident.department_id,
            Incident.category,
            Incident.priority,
            Incident.grid_id,
            Incident.held_stage,
            Incident.stage_due_at,
            Incident.extension_until,
        ).where(Incident.id == incident_id)
    ).first()
    if row is None:
        raise NotFound("error.incident_missing", {"id": incident_id})
    return Seen(*row)


def _ancestors(s: Session, department_id: int | None) -> list[int]:
    out, at = [], department_id
    while at is not None and at not in out:
        out.append(at)
        at = s.scalar(select(Department.parent_id).where(Department.id == at))
    return out


def owns(s: Session, actor: Actor, department_id: int | None) -> bool:
    """Staff act for their department and every department below it."""
    return actor.department_id is not None and actor.department_id in _ancestors(s, department_id)


def _may(s: Session, actor: Actor, action: str, case: Seen) -> None:
    """Who may make each move; ``Forbidden`` otherwise (a department that does not own the case: 403)."""
    if actor.role == "admin":
        return
    department = action in ("sign", "start", "return", "escalate", "handled", "extend", "hold", "resume")
    if action in ("void", "urge"):
        ok = actor.role in SUPERVISE
    elif action in ("file", "dispatch", "extension", "callback"):
        ok = actor.role in COMMAND
    elif action in ("verify", "check"):
        ok = actor.role in COMMAND or (actor.role == "worker" and _works_in(s, actor, case.grid_id))
    elif department:
        ok = actor.role == "staff" and owns(s, actor, case.department_id)
        if not ok and actor.role == "staff" and _lost_to_last_move(s, actor, action, case.id):
            raise _conflict(s, case.id, action)
        if actor.role in COMMAND and action in ("hold", "resume"):
            ok = True  # a dispatcher may put a case on hold (疑难缓办) and take it off again
    else:
        ok = False
    if not ok:
        raise Forbidden("error.case_forbidden", {"name": actor.name, "action": action, "id": case.id}, action=action)


def _lost_to_last_move(s: Session, actor: Actor, action: str, incident_id: int) -> bool:
    """Whether the case's last move took it out of the actor's department from a stage this action
    was legal in: then this move lost a race with that hand-off (returned, escalated), and is told
    the stage it met (409), as when it loses on the conditional UPDATE, not a 403 that depends on
    which request came first. Any other move on a case the department does not own is 403."""
    data = s.scalar(
        select(Event.data)
        .where(Event.entity == "incident", Event.entity_id == incident_id, Event.kind.like("case.%"))
        .order_by(Event.id.desc())
        .limit(1)
    )
    data = data or {}
    return data.get("from") in FROM[action] and owns(s, actor, data.get("from_department"))


def _works_in(s: Session, actor: Actor, grid_id: int | None) -> bool:
    if actor.user_id is None or grid_id is None:
        return False
    return grid_id in _grids_of(s, actor)


def _grids_of(s: Session, actor: Actor) -> set[int]:
    """The grids a user works in as a grid worker (none for anyone else)."""
    if actor.role != "worker" or actor.user_id is None:
        return set()
    return set(s.scalars(select(Worker.grid_id).where(Worker.user_id == actor.user_id)).all())


def _reason(text: Any, required: bool, action: str, field: str = "reason") -> str:
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise Invalid("error.case_text", {"field": field}, field=field)
    text = text.strip()
    if required and not text:
        raise Invalid("error.case_needs_text", {"action": action, "field": field}, field=field)
    if len(text) > REASON_LIMIT:
        raise Invalid("error.case_too_long", {"field": field, "limit": REASON_LIMIT}, field=field)
    return text


# The buttons a screen offers for a move (a check, a decision and a callback each have two answers).
BUTTONS = {
    "check": ("check_passed", "check_failed"),
    "extension": ("extension_granted", "extension_refused"),
    "callback": ("callback_satisfied", "callback_reopened"),
}
DEPARTMENT_MOVES = ("sign", "return", "escalate", "handled", "extend", "hold", "resume")
COMMAND_MOVES = ("file", "dispatch", "check", "extension", "callback", "hold", "resume")


def available(actor: Actor, stage: str, owned: bool, extension_waiting: bool) -> list[str]:
    """The moves (as buttons) a person may make on a case at ``stage``; ``owned``: their department owns it.

    What a screen offers; ``Cases.act`` still decides, so a button shown a moment too long only gets a 409.
    """
    moves: list[str] = []
    if actor.role == "staff" and owned:
        moves += [m for m in DEPARTMENT_MOVES if stage in FROM[m]]
    if actor.role in COMMAND:
        moves += [m for m in COMMAND_MOVES if stage in FROM[m] and m not in moves]
        if actor.role in SUPERVISE:
            moves += [m for m in ("void", "urge") if stage in FROM[m]]
    if not extension_waiting:
        moves = [m for m in moves if m != "extension"]
    elif "extend" in moves:
        moves.remove("extend")
    out: list[str] = []
    for m in moves:
        out += BUTTONS.get(m, (m,))
    return out


# The on-site moves a grid worker makes from the phone, by the stage that asks for them.
SITE_MOVES = {"verifying": "verify", "handled": "check"}


def site_checks(store: Store, actor: Actor, limit: int = 50) -> list[dict[str, Any]]:
    """The cases waiting for the actor's on-site check (核实 in verifying, 核查 in handled), in their own
    grid(s) only, oldest stage first: id, action, title, place, when the stage began and its deadline,
    and what the department reported (the handled note). A report the worker already found false waits
    for a supervisor to void it and is not asked again. Anyone but a grid worker gets an empty list."""
    with store.read() as s:
        grids = _grids_of(s, actor)
        if not grids:
            return []
        rows = s.execute(
            select(
                Incident.id,
                Incident.stage,
                Incident.title,
                Incident.category,
                Incident.stage_at,
                Incident.stage_due_at,
                Grid.name.label("grid"),
                Grid.district,
                Department.name.label("department"),
            )
            .join(Grid, Grid.id == Incident.grid_id)
            .outerjoin(Department, Department.id == Incident.department_id)
            .where(Incident.grid_id.in_(grids), Incident.stage.in_(tuple(SITE_MOVES)))
            .order_by(Incident.stage_at, Incident.id)
            .limit(limit)
        ).all()
        last: dict[int, tuple[str, dict[str, Any]]] = {}
        for iid, kind, data in s.execute(
            select(Event.entity_id, Event.kind, Event.data)
            .where(Event.entity == "incident", Event.entity_id.in_([r.id for r in rows]), Event.kind.like("case.%"))
            .order_by(Event.id)
        ).all():
            if kind in ("case.handled", "case.verify"):
                last[iid] = (kind, data or {})
    out = []
    for r in rows:
        kind, data = last.get(r.id, ("", {}))
        if r.stage == "verifying" and kind == "case.verify":
            continue
        out.append(
            {
                "id": r.id,
                "action": SITE_MOVES[r.stage],
                "stage": r.stage,
                "title": r.title,
                "category": r.category,
                "place": f"{r.district} · {r.grid}",
                "department": r.department,
                "handled_note": data.get("reason", "") if kind == "case.handled" else "",
                "handled_photos": list(data.get("photos", ())) if kind == "case.handled" else [],
                "stage_at": r.stage_at,
                "stage_due_at": r.stage_due_at,
            }
        )
    return out


@dataclass
class Cases:
    """The case rules over one store: its router and its deadlines."""

    store: Store
    router: Router
    deadlines: Deadlines
    verify_sources: frozenset[str] = DEFAULT_VERIFY_SOURCES  # reports checked on site before filing
    media_dir: str = "media"  # where the photos of a handled report are kept

    def stage_new(self, rows: list[dict[str, Any]]) -> None:
        """Give new incident rows (dicts for their INSERT) the stage they enter the loop at, in place.

        Emergencies are filed and routed at once (one vectorized routing call for the batch):
        ``dispatched`` to the owner with the reason stored, or ``filed`` with no owner. Other reports
        start at ``reported``, or ``verifying`` when their source is in ``verify_sources``. Items that
        are no case (door-to-door visits) keep the column's default.
        """
        auto = [i for i, r in enumerate(rows) if _auto_filed(r)]
        decisions = self.router.route_many(
            [rows[i]["category"] for i in auto],
            np.array([rows[i]["lon"] for i in auto], dtype=float),
            np.array([rows[i]["lat"] for i in auto], dtype=float),
        )
        routed = dict(zip(auto, decisions, strict=True))
        for i, row in enumerate(rows):
            if row["kind"] not in CASE_KINDS:
                # The column's default, written out: every row of one INSERT names the same columns.
                row.update(stage=_DEFAULT_STAGE, department_id=None, routing=None, stage_at=None, stage_due_at=None)
                continue
            decision = routed.get(i)
            if decision is None:
                stage = "verifying" if row.get("source") in self.verify_sources else "reported"
                row.update(department_id=None, routing=None)
            else:
                stage = "filed" if decision.department_id is None else "dispatched"
                row.update(department_id=decision.department_id, routing=decision.stored())
            start = row.get("created_at") or utcnow()
            row.update(
                stage=stage,
                stage_at=start,
                stage_due_at=self.deadlines.of(stage, row["category"], row.get("priority", 3), start),
            )

    def record_new(self, s: Session, actor: Actor, ids: list[int], rows: list[dict[str, Any]]) -> None:
        """The case events of the rows ``stage_new`` filed, in the caller's transaction: 立案 (100)
        and, when routed, 派遣 (600), as ``act`` would have written them."""
        events = []
        for iid, row in zip(ids, rows, strict=True):
            if row.get("stage") not in ("filed", "dispatched"):
                continue
            start = row.get("stage_at") or utcnow()
            filed_due = self.deadlines.of("filed", row["category"], row.get("priority", 3), start)
            steps = [("file", "reported", "filed", None, filed_due, {"auto": True})]
            if row["stage"] == "dispatched":
                owner, due = row["department_id"], row["stage_due_at"]
                steps.append(("dispatch", "filed", "dispatched", owner, due, {"auto": True}))
            for action, stage, to, owner, due, extra in steps:
                data = _event_data(action, stage, to, None, owner, due, extra=extra)
                events.append({"kind": f"case.{action}", "entity": "incident", "entity_id": iid, "data": data})
        record_events(s, actor.name, events)

    def _move(
        self,
        s: Session,
        actor: Actor,
        case: Seen,
        action: str,
        to: str,
        code_name: str | None = None,
        department_id: int | None | bool = False,
        reason: str = "",
        extra: dict[str, Any] | None = None,
        values: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One conditional UPDATE from the stage (and owner) the case was seen with, and its event."""
        now = utcnow()
        owner = case.department_id if department_id is False else department_id
        changes: dict[str, Any] = {"stage": to, "department_id": owner, "updated_at": now}
        if to != case.stage:  # a new stage starts its own clock
            changes.update(stage_at=now, stage_due_at=self.deadlines.of(to, case.category, case.priority, now))
        changes.update(values or {})
        won = s.execute(
            update(Incident)
            .where(
                Incident.id == case.id,
                Incident.stage == case.stage,
                Incident.department_id.is_(None)
                if case.department_id is None
                else Incident.department_id == case.department_id,
            )
            .values(**changes)
        ).rowcount
        if not won:
            raise _conflict(s, case.id, action)
        due = changes["stage_due_at"] if "stage_due_at" in changes else case.stage_due_at
        data = _event_data(code_name or action, case.stage, to, case.department_id, owner, due, reason, extra)
        record_event(s, f"case.{code_name or action}", "incident", case.id, actor.name, data)
        return {"id": case.id, "stage": to, "department_id": owner, "stage_due_at": due}

    @retried
    def act(
        self,
        actor: Actor,
        incident_id: int,
        action: str,
        body: dict[str, Any] | None = None,
        photos: Sequence[bytes] = (),
    ) -> dict[str, Any]:
        """Make one move on a case; return its new stage, owner and deadline. ``photos`` (the bytes of
        each) come with a handled report only, as a worker's resolve takes one."""
        if action not in FROM:
            raise NotFound("error.case_action_unknown", {"action": action}, field="action")
        if photos and action != "handled":
            raise Invalid("error.photo_handled_only", field="photo")
        if len(photos) > MAX_HANDLED_PHOTOS:
            raise Invalid("error.photo_too_many", {"max": MAX_HANDLED_PHOTOS}, field="photo")
        body = body or {}
        with self.store.transaction() as s:
            case = _seen(s, incident_id)
            _may(s, actor, action, case)
            if case.stage not in FROM[action]:
                raise _conflict(s, incident_id, action)
            if action == "handled":
                return self._handled(s, actor, case, body, photos)
            return getattr(self, f"_{action}")(s, actor, case, body)

    # --- the moves ------------------------------------------------------------------------------------

    def _verify(self, s: Session, actor: Actor, case: Seen, body: dict[str, Any]) -> dict[str, Any]:
        valid = body.get("valid", True)
        if not isinstance(valid, bool):
            raise Invalid("error.case_boolean", {"field": "valid"}, field="valid")
        note = _reason(body.get("note"), required=not valid, action="verify", field="note")
        if not valid:
            # The report does not hold on site: it waits in verifying for a supervisor to void it.
            return self._move(s, actor, case, "verify", "verifying", extra={"valid": False, "note": note}, values={})
        self._move(s, actor, case, "verify", "filed", extra={"valid": True, "note": note})
        return self._file_and_route(s, actor, _seen(s, case.id))

    def _file(self, s: Session, actor: Actor, case: Seen, body: dict[str, Any]) -> dict[str, Any]:
        self._move(s, actor, case, "file", "filed", reason=_reason(body.get("note"), False, "file", "note"))
        return self._file_and_route(s, actor, _seen(s, case.id))

    def _file_and_route(self, s: Session, actor: Actor, case: Seen) -> dict[str, Any]:
        """A filed case goes to the department routing finds; with none, it waits in "no owner"."""
        lon, lat = s.execute(select(Incident.lon, Incident.lat).where(Incident.id == case.id)).one()
        decision = self.router.route(case.category, lon, lat)
        s.execute(update(Incident).where(Incident.id == case.id).values(routing=decision.stored()))
        if decision.department_id is None:
            return {"id": case.id, "stage": "filed", "department_id": None, "stage_due_at": case.stage_due_at}
        return self._move(
            s, actor, case, "dispatch", "dispatched", department_id=decision.department_id, extra={"auto": True}
        )

    def _void(self, s: Session, actor: Actor, case: Seen, body: dict[str, Any]) -> dict[str, Any]:
        return self._move(s, actor, case, "void", "voided", reason=_reason(body.get("reason"), True, "void"))

    def _dispatch(self, s: Session, actor: Actor, case: Seen, body: dict[str, Any]) -> dict[str, Any]:
        target = body.get("department_id")
        if isinstance(target, bool) or not isinstance(target, int):
            raise Invalid("error.case_department_id", {}, field="department_id")
        if s.get(Department, target) is None:
            raise NotFound("error.department_missing", {"id": target}, field="department_id")
        code = "redispatch" if case.stage == "returned" else "dispatch"
        routing = {"key": "routing.chosen", "department": s.get(Department, target).name, "by": actor.name}
        self._move(
            s,
            actor,
            case,
            "dispatch",
            "dispatched",
            code_name=code,
            department_id=target,
            reason=_reason(body.get("reason"), False, "dispatch"),
            extra={"same_department": target == _returned_from(s, case.id)} if code == "redispatch" else None,
        )
        s.execute(update(Incident).where(Incident.id == case.id).values(routing=Decision(target, routing).stored()))
        return {
            "id": case.id,
            "stage": "dispatched",
            "department_id": target,
            "stage_due_at": _seen(s, case.id).stage_due_at,
        }

    def _sign(self, s: Session, actor: Actor, case: Seen, body: dict[str, Any]) -> dict[str, Any]:
        return self._move(s, actor, case, "sign", "signed")

    def _start(self, s: Session, actor: Actor, case: Seen, body: dict[str, Any]) -> dict[str, Any]:
        # The handling clock started when the department signed: starting the work does not reset it.
        return self._move(s, actor, case, "start", "in_progress", values={"stage_due_at": case.stage_due_at})

    def _return(self, s: Session, actor: Actor, case: Seen, body: dict[str, Any]) -> dict[str, Any]:
        reason = _reason(body.get("reason"), True, "return")
        # The case stays tied to the body that returned it until a dispatcher sends it on (转派) or back.
        return self._move(
            s,
            actor,
            case,
            "return",
            "returned",
            department_id=None,
            reason=reason,
            values={"return_count": Incident.return_count + 1},
            extra={"returned_by": case.department_id},
        )

    def _escalate(self, s: Session, actor: Actor, case: Seen, body: dict[str, Any]) -> dict[str, Any]:
        reason = _reason(body.get("reason"), True, "escalate")
        parent = s.scalar(select(Department.parent_id).where(Department.id == case.department_id))
        if parent is None:
            raise Conflict("error.case_no_parent", {"id": case.id}, stage=case.stage)
        return self._move(s, actor, case, "escalate", "dispatched", department_id=parent, reason=reason)

    def _handled(
        self, s: Session, actor: Actor, case: Seen, body: dict[str, Any], photos: Sequence[bytes] = ()
    ) -> dict[str, Any]:
        note = _reason(body.get("note"), True, "handled", field="note")
        # Checked and stored before the move, so the event names them; a move that then fails (a race
        # lost on the conditional UPDATE) takes its files away with its rows.
        stored: list[StoredPhoto] = []
        try:
            for photo in photos:
                stored.append(store_photo(self.media_dir, photo))
            extra = {"photos": [p.name for p in stored]} if stored else None
            moved = self._move(s, actor, case, "handled", "handled", reason=note, extra=extra)
        except BaseException:
            for p in stored:
                (Path(self.media_dir) / p.name).unlink(missing_ok=True)
            raise
        now = utcnow()
        for p in stored:
            s.add(
                Photo(
                    incident_id=case.id,
                    name=p.name,
                    width=p.width,
                    height=p.height,
                    uploaded_by=actor.name,
                    created_at=now,
                )
            )
        return moved

    def _check(self, s: Session, actor: Actor, case: Seen, body: dict[str, Any]) -> dict[str, Any]:
        passed = body.get("passed")
        if not isinstance(passed, bool):
            raise Invalid("error.case_boolean", {"field": "passed"}, field="passed")
        note = _reason(body.get("note"), required=not passed, action="check", field="note")
        if passed:
            return self._move(
                s,
                actor,
                case,
                "check",
                "closed",
                code_name="check_passed",
                reason=note,
                values={"closed_at": utcnow(), "status": "closed"},
            )
        return self._move(
            s,
            actor,
            case,
            "check",
            "rework",
            code_name="check_failed",
            reason=note,
            values={"rework_count": Incident.rework_count + 1},
        )

    def _extend(self, s: Session, actor: Actor, case: Seen, body: dict[str, Any]) -> dict[str, Any]:
        until = _time(body.get("until"), "until")
        reason = _reason(body.get("reason"), True, "extend")
        now = utcnow()
        if case.stage_due_at is not None and now >= case.stage_due_at:
            raise Conflict("error.case_extension_late", {"id": case.id}, stage=case.stage)
        if case.stage_due_at is not None and until <= case.stage_due_at:
            raise Invalid("error.case_extension_earlier", {}, field="until")
        if case.extension_until is not None:
            raise Conflict("error.case_extension_pending", {"id": case.id}, stage=case.stage)
        return self._move(
            s,
            actor,
            case,
            "extend",
            case.stage,
            reason=reason,
            values={"extension_until": until, "extension_reason": reason},
            extra={"until": until.isoformat(timespec="seconds") + "Z"},
        )

    def _extension(self, s: Session, actor: Actor, case: Seen, body: dict[str, Any]) -> dict[str, Any]:
        approve = body.get("approve")
        if not isinstance(approve, bool):
            raise Invalid("error.case_boolean", {"field": "approve"}, field="approve")
        if case.extension_until is None:
            raise Conflict("error.case_extension_none", {"id": case.id}, stage=case.stage)
        note = _reason(body.get("note"), required=not approve, action="extension", field="note")
        values: dict[str, Any] = {"extension_until": None, "extension_reason": None}
        if approve:
            values["stage_due_at"] = case.extension_until
        return self._move(
            s,
            actor,
            case,
            "extension",
            case.stage,
            code_name="extension_granted" if approve else "extension_refused",
            reason=note,
            values=values,
            extra={"until": case.extension_until.isoformat(timespec="seconds") + "Z"},
        )

    def _hold(self, s: Session, actor: Actor, case: Seen, body: dict[str, Any]) -> dict[str, Any]:
        reason = _reason(body.get("reason"), True, "hold")
        return self._move(s, actor, case, "hold", "on_hold", reason=reason, values={"held_stage": case.stage})

    def _resume(self, s: Session, actor: Actor, case: Seen, body: dict[str, Any]) -> dict[str, Any]:
        reason = _reason(body.get("reason"), False, "resume")
        return self._move(
            s, actor, case, "resume", case.held_stage or "signed", reason=reason, values={"held_stage": None}
        )

    def _urge(self, s: Session, actor: Actor, case: Seen, body: dict[str, Any]) -> dict[str, Any]:
        note = _reason(body.get("note"), True, "urge", field="note")
        until = _time(body["until"], "until") if body.get("until") is not None else None
        now = utcnow()
        return self._move(
            s,
            actor,
            case,
            "urge",
            case.stage,
            reason=note,
            values={"urged_at": now, "urge_note": note, "urge_due_at": until},
        )

    def _callback(self, s: Session, actor: Actor, case: Seen, body: dict[str, Any]) -> dict[str, Any]:
        satisfied = body.get("satisfied")
        if not isinstance(satisfied, bool):
            raise Invalid("error.case_boolean", {"field": "satisfied"}, field="satisfied")
        note = _reason(body.get("note"), required=not satisfied, action="callback", field="note")
        if satisfied:
            return self._move(
                s, actor, case, "callback", "closed", code_name="callback_satisfied", reason=note, values={}
            )
        return self._move(
            s,
            actor,
            case,
            "callback",
            "rework",
            code_name="callback_reopened",
            reason=note,
            values={"rework_count": Incident.rework_count + 1, "status": "reopened", "closed_at": None},
        )


CASE_KINDS = frozenset(MAP_KINDS)  # a visit (bulk door-knocking, a warning's check) is a task, no case
_DEFAULT_STAGE = Incident.__table__.c.stage.default.arg


def _auto_filed(row: dict[str, Any]) -> bool:
    return row["kind"] in EMERGENCY_KINDS or (row["kind"] in CASE_KINDS and row.get("source") in AUTO_FILED_SOURCES)


def _event_data(
    action: str,
    stage: str,
    to: str,
    from_department: int | None,
    to_department: int | None,
    due: datetime | None,
    reason: str = "",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What a case event row keeps: the action code, the stages and departments, the new deadline."""
    return {
        "code": CODES[action],
        "action": action,
        "from": stage,
        "to": to,
        "from_department": from_department,
        "to_department": to_department,
        "due": due.isoformat(timespec="seconds") + "Z" if due else None,
        **({"reason": reason} if reason else {}),
        **(extra or {}),
    }


def _returned_from(s: Session, incident_id: int) -> int | None:
    data = s.scalar(
        select(Event.data)
        .where(Event.entity == "incident", Event.entity_id == incident_id, Event.kind == "case.return")
        .order_by(Event.id.desc())
        .limit(1)
    )
    return (data or {}).get("returned_by")


def _time(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise Invalid("error.case_time", {"field": field}, field=field)
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid("error.case_time", {"field": field}, field=field) from None
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    if not (datetime(2000, 1, 1) <= when <= datetime(2100, 1, 1)):
        raise Invalid("error.case_time_range", {"field": field}, field=field)
    return when


def _conflict(s: Session, incident_id: int, action: str) -> Conflict | NotFound:
    row = s.execute(select(Incident.stage, Incident.department_id).where(Incident.id == incident_id)).first()
    if row is None:
        return NotFound("error.incident_missing", {"id": incident_id})
    return Conflict(
        "error.case_stage",
        {"id": incident_id, "stage": row.stage, "action": action},
        stage=row.stage,
        department_id=row.department_id,
    )
