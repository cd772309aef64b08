"""Early warnings ("the community brain"): rules configured without code, evaluated over the store.

A rule set comes from ``rules.toml`` (or, once an admin stores one, from the ``rules`` setting every
process shares). ``evaluate`` runs every rule at a given instant (the clock is a parameter, so tests
control it), raises at most one open warning per rule and place, and optionally gives the grid's
worker a verification visit. Warnings are acknowledged and resolved like items, each step an event.
"""

from __future__ import annotations

import json
import logging
import threading
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from data.models import (
    ACTIVE_TASK_STATUSES,
    OPEN_STATUSES,
    OPEN_WARNING_STATUSES,
    UNASSIGNED_STATUSES,
    AccessEvent,
    EarlyWarning,
    Grid,
    Incident,
    ParkingSegment,
    ParkingSpace,
    Place,
    RuleWatch,
    Setting,
    Task,
    Worker,
    utcnow,
)
from data.store import Store, record_event
from locales import API_LANG, Message, msg, render
from ops import dispatch
from ops.accounts import SYSTEM, Actor
from ops.errors import Conflict, Forbidden, Invalid, NotFound
from ops.incidents import due_at
from ops.permissions import roles_with

log = logging.getLogger(__name__)
ACTOR = "rules"
LEVELS = ("high", "medium", "low")
SETTING = "rules"
RESOLVED_HORIZON = timedelta(days=30)
WARNING_ROLES = roles_with("handle_warnings")
ITEM_LANG = "zh-CN"  # the city's language, for the text a verification visit stores

# Each rule type: its parameters as (name, type, lowest allowed value or None, default or REQUIRED).
REQUIRED = object()
PARAMS: dict[str, dict[str, tuple[type, float | None, Any]]] = {
    "ticket_cluster": {
        "count": (int, 2, REQUIRED),
        "hours": (float, 0.1, REQUIRED),
        "categories": (list, None, []),
        "kinds": (list, None, ["ticket"]),
    },
    "parking_occupancy": {"percent": (float, 1, REQUIRED), "minutes": (float, 0, REQUIRED)},
    "unassigned": {"kinds": (list, None, ["fire"]), "minutes": (float, 0, REQUIRED)},
    "worker_silent": {"minutes": (float, 1, REQUIRED)},
    "device_alarm": {"minutes": (float, 1, 60)},
    "place_activity": {
        "minutes": (float, 1, REQUIRED),
        "excess": (int, 1, REQUIRED),
        "place_kinds": (list, None, []),
    },
}
COMMON = {"id", "type", "name", "level", "create_task", "enabled"}
HIGHEST = {"percent": 100}  # parameters with an upper bound too


@dataclass(frozen=True)
class Rule:
    id: str
    type: str
    name: str
    level: str = "medium"
    create_task: bool = False
    enabled: bool = True
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(out.pop("params"))
        return out


@dataclass
class Finding:
    """One place where a rule holds now."""

    place_key: str
    title: Message  # stored as its key and parameters: each screen reads it in its own language
    lon: float | None
    lat: float | None
    grid_id: int | None
    detail: dict[str, Any]


def parse_rules(doc: Any) -> list[Rule]:
    """Rules from a parsed document (``{"rule": [...]}`` or a list); every problem in one ``Invalid``.

    Each problem is a message naming its rule (``rules.where.*``), so the rules page can show it in
    the reader's language; the API answers the same problems in English.
    """
    raw = doc.get("rule", doc.get("rules")) if isinstance(doc, dict) else doc
    if not isinstance(raw, list):
        raise Invalid("error.rules_not_list")
    problems: list[Message] = []
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        where = msg("rules.where.n", n=i + 1)
        if not isinstance(item, dict):
            problems.append(msg("rules.problem.table", where=where))
            continue
        rid, rtype = item.get("id"), item.get("type")
        if not isinstance(rid, str) or not rid.strip() or len(rid) > 64:
            problems.append(msg("rules.problem.id", where=where))
            continue
        where = msg("rules.where.id", id=rid)
        if rid in seen:
            problems.append(msg("rules.problem.id_twice", where=where))
        seen.add(rid)
        if rtype not in PARAMS:
            problems.append(msg("rules.problem.type", where=where, types=", ".join(PARAMS)))
            continue
        spec = PARAMS[rtype]
        unknown = set(item) - COMMON - set(spec)
        if unknown:
            problems.append(msg("rules.problem.unknown_keys", where=where, keys=", ".join(sorted(unknown))))
        level = item.get("level", "medium")
        if level not in LEVELS:
            problems.append(msg("rules.problem.level", where=where, levels=", ".join(LEVELS)))
        flags = {k: item.get(k, default) for k, default in (("create_task", False), ("enabled", True))}
        for key, value in flags.items():
            if not isinstance(value, bool):
                problems.append(msg("rules.problem.bool", where=where, key=key))
        params: dict[str, Any] = {}
        for key, (kind, lowest, default) in spec.items():
            value = item.get(key, default)
            if value is REQUIRED:
                problems.append(msg("rules.problem.required", where=where, key=key))
                continue
            if kind is list:
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    problems.append(msg("rules.problem.texts", where=where, key=key))
                    continue
            elif isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and value != int(value)):
                whole = "rules.problem.whole_number" if kind is int else "rules.problem.number"
                problems.append(msg(whole, where=where, key=key))
                continue
            elif lowest is not None and value < lowest:
                problems.append(msg("rules.problem.at_least", where=where, key=key, lowest=f"{lowest:g}"))
                continue
            elif key in HIGHEST and value > HIGHEST[key]:
                problems.append(msg("rules.problem.at_most", where=where, key=key, highest=f"{HIGHEST[key]:g}"))
                continue
            params[key] = kind(value)
        rules.append(Rule(rid, rtype, str(item.get("name") or rid), level, **flags, params=params))
    if problems:
        raise Invalid("error.rules_invalid", field="rules", problems=problems)
    return rules


def load_file(path: str | Path) -> list[Rule]:
    try:
        with open(path, "rb") as fh:
            return parse_rules(tomllib.load(fh))
    except tomllib.TOMLDecodeError as exc:
        raise Invalid("error.rules_toml", {"path": str(path), "reason": str(exc)}, field="rules") from exc


def current_rules(store: Store, path: str | Path) -> list[Rule]:
    """The stored rule set when an admin saved one, else the file's."""
    with store.read() as s:
        stored = s.scalar(select(Setting.value).where(Setting.key == SETTING))
    if stored is not None:
        return parse_rules(json.loads(stored))
    return load_file(path)


def save_rules(store: Store, actor: Actor, doc: Any) -> list[Rule]:
    """Validate and store a rule set for every process (admins only); the change is an event."""
    if actor.role != "admin":
        raise Forbidden("error.rules_admin_only")
    rules = parse_rules(doc)
    value = json.dumps({"rules": [r.to_dict() for r in rules]}, ensure_ascii=False)
    with store.transaction() as s:
        if s.get(Setting, SETTING) is None:
            s.add(Setting(key=SETTING, value=value))
        else:
            s.execute(update(Setting).where(Setting.key == SETTING).values(value=value))
        record_event(s, "rules.saved", "rules", None, actor.name, {"ids": [r.id for r in rules]})
    return rules


# --- detectors: (store, rule, now, last resolution per place) -> findings ---------------------------------


def _grid_names(store: Store, ids: set[int]) -> dict[int, tuple[str, float, float]]:
    if not ids:
        return {}
    with store.read() as s:
        rows = s.execute(select(Grid.id, Grid.name, Grid.center_lon, Grid.center_lat).where(Grid.id.in_(ids)))
        return {r.id: (r.name, r.center_lon, r.center_lat) for r in rows}


def ticket_cluster(store: Store, rule: Rule, now: datetime, resolved: dict[str, datetime]) -> list[Finding]:
    p = rule.params
    start = now - timedelta(hours=p["hours"])
    base = (
        select(Incident.grid_id, Incident.category, func.count())
        .where(Incident.kind.in_(p["kinds"]), Incident.created_at <= now)
        .where(Incident.grid_id.is_not(None), Incident.status != "cancelled")
        .group_by(Incident.grid_id, Incident.category)
        .having(func.count() >= p["count"])
    )
    if p["categories"]:
        base = base.where(Incident.category.in_(p["categories"]))
    counts: dict[tuple[int, str], int] = {}
    with store.read() as s:
        # Counted by the database: a city's day of tickets never crosses into Python.
        for gid, category, n in s.execute(base.where(Incident.created_at > start)):
            since = resolved.get(f"grid:{gid}:{category}")
            if since is not None and since > start:
                # Tickets already answered by a resolved warning at this place do not count again.
                again = base.where(Incident.created_at > since, Incident.grid_id == gid, Incident.category == category)
                n = next((row[2] for row in s.execute(again)), 0)
            if n:
                counts[(gid, category)] = n
    hits = {k: n for k, n in counts.items() if n >= p["count"]}
    grids = _grid_names(store, {g for g, _ in hits})
    out = []
    for (gid, category), n in sorted(hits.items()):
        name, lon, lat = grids[gid]
        title = msg("warning.text.ticket_cluster", grid=name, hours=f"{p['hours']:g}", category=category, n=n)
        out.append(Finding(f"grid:{gid}:{category}", title, lon, lat, gid, {"count": n, "category": category}))
    return out


def parking_occupancy(store: Store, rule: Rule, now: datetime, resolved: dict[str, datetime]) -> list[Finding]:
    p = rule.params
    taken = func.sum(case((ParkingSpace.occupied, 1), else_=0))
    with store.transaction() as s:
        rows = s.execute(
            select(ParkingSpace.segment_id, func.count(ParkingSpace.id), taken).group_by(ParkingSpace.segment_id)
        ).all()
        full = {sid: (n, k or 0) for sid, n, k in rows if n and 100.0 * (k or 0) / n >= p["percent"]}
        watches = dict(
            s.execute(select(RuleWatch.place_key, RuleWatch.since).where(RuleWatch.rule_id == rule.id)).all()
        )
        keys = {f"segment:{sid}": sid for sid in full}
        gone = [k for k in watches if k not in keys]
        if gone:
            s.execute(delete(RuleWatch).where(RuleWatch.rule_id == rule.id, RuleWatch.place_key.in_(gone)))
        new = [{"rule_id": rule.id, "place_key": k, "since": now} for k in keys if k not in watches]
        if new:
            s.execute(RuleWatch.__table__.insert(), new)
    hold = timedelta(minutes=p["minutes"])
    due: dict[str, datetime] = {}
    for key in keys:
        since = max(watches.get(key, now), resolved.get(key, datetime.min))
        if now - since >= hold:
            due[key] = since
    if not due:
        return []
    with store.read() as s:
        segments = {
            r.id: r
            for r in s.execute(
                select(ParkingSegment.id, ParkingSegment.name, ParkingSegment.geom).where(
                    ParkingSegment.id.in_([keys[k] for k in due])
                )
            )
        }
    out = []
    for key, since in due.items():
        sid = keys[key]
        total, occupied = full[sid]
        name, geom = segments[sid].name, segments[sid].geom
        mid = geom.interpolate(0.5, normalized=True)
        pct = 100.0 * occupied / total
        held = (now - since).total_seconds() / 60
        title = msg("warning.text.parking_occupancy", segment=name, pct=f"{pct:.0f}", minutes=f"{held:.0f}")
        out.append(Finding(key, title, mid.x, mid.y, None, {"percent": round(pct, 1), "since": since.isoformat()}))
    return out


def unassigned(store: Store, rule: Rule, now: datetime, resolved: dict[str, datetime]) -> list[Finding]:
    cutoff = now - timedelta(minutes=rule.params["minutes"])
    with store.read() as s:
        rows = s.execute(
            select(Incident.id, Incident.kind, Incident.title, Incident.lon, Incident.lat, Incident.grid_id)
            .where(Incident.kind.in_(rule.params["kinds"]), Incident.status.in_(UNASSIGNED_STATUSES))
            # New items wait since they came in; declined or reopened ones since they came back.
            .where(
                ((Incident.status == "new") & (Incident.created_at <= cutoff))
                | ((Incident.status != "new") & (Incident.updated_at <= cutoff))
            )
        ).all()
    out = []
    for r in rows:
        key = f"incident:{r.id}"
        if key in resolved:
            continue  # one warning per item: once resolved, it stays answered
        title = msg(
            "warning.text.unassigned", id=r.id, kind=r.kind, title=r.title, minutes=f"{rule.params['minutes']:g}"
        )
        out.append(Finding(key, title, r.lon, r.lat, r.grid_id, {"incident": r.id}))
    return out


def worker_silent(store: Store, rule: Rule, now: datetime, resolved: dict[str, datetime]) -> list[Finding]:
    cutoff = now - timedelta(minutes=rule.params["minutes"])
    with store.read() as s:
        rows = s.execute(
            select(Worker.id, Worker.name, Worker.lon, Worker.lat, Worker.grid_id, Worker.position_at)
            .join(Task, Task.worker_id == Worker.id)
            .where(Task.status.in_(ACTIVE_TASK_STATUSES[1:]), Task.updated_at <= cutoff)
            .where((Worker.position_at.is_(None)) | (Worker.position_at <= cutoff))
            .distinct()
        ).all()
    out = []
    for r in rows:
        key = f"worker:{r.id}"
        if key in resolved and resolved[key] > cutoff:
            continue  # resolved lately: silence counts again from the resolution
        last = r.position_at.isoformat() if r.position_at else None
        title = msg("warning.text.worker_silent", name=r.name, minutes=f"{rule.params['minutes']:g}")
        out.append(Finding(key, title, r.lon, r.lat, r.grid_id, {"worker": r.id, "last_position_at": last}))
    return out


def device_alarm(store: Store, rule: Rule, now: datetime, resolved: dict[str, datetime]) -> list[Finding]:
    start = now - timedelta(minutes=rule.params["minutes"])
    with store.read() as s:
        rows = s.execute(
            select(Incident.id, Incident.category, Incident.title, Incident.lon, Incident.lat, Incident.grid_id)
            .where(Incident.kind == "alarm", Incident.status.in_(OPEN_STATUSES))
            .where(Incident.created_at > start, Incident.created_at <= now)
        ).all()
    return [
        Finding(
            f"incident:{r.id}",
            msg("warning.text.device_alarm", id=r.id, category=r.category, title=r.title),
            r.lon,
            r.lat,
            r.grid_id,
            {"incident": r.id},
        )
        for r in rows
        if f"incident:{r.id}" not in resolved
    ]


def place_activity(store: Store, rule: Rule, now: datetime, resolved: dict[str, datetime]) -> list[Finding]:
    p = rule.params
    start = now - timedelta(minutes=p["minutes"])
    q = (
        select(Place.id, AccessEvent.credential, func.max(AccessEvent.at))
        .join(AccessEvent, AccessEvent.place_id == Place.id)
        .where(AccessEvent.at > start, AccessEvent.at <= now, AccessEvent.direction == "in")
        .group_by(Place.id, AccessEvent.credential)
    )
    if p["place_kinds"]:
        q = q.where(Place.kind.in_(p["place_kinds"]))
    distinct: dict[int, int] = {}
    with store.read() as s:
        for pid, _cred, last in s.execute(q):
            if last <= resolved.get(f"place:{pid}", start):
                continue  # entries already answered by a resolved warning
            distinct[pid] = distinct.get(pid, 0) + 1
        places = {
            r.id: r
            for r in s.execute(select(Place).where(Place.id.in_(list(distinct)))).scalars()
            if distinct[r.id] >= r.registered_occupants + p["excess"]
        }
    out = []
    for pid, place in sorted(places.items()):
        n = distinct[pid]
        title = msg(
            "warning.text.place_activity",
            address=place.address,
            n=n,
            minutes=f"{p['minutes']:g}",
            registered=place.registered_occupants,
        )
        detail = {"place": pid, "distinct_entries": n, "registered_occupants": place.registered_occupants}
        out.append(Finding(f"place:{pid}", title, place.lon, place.lat, place.grid_id, detail))
    return out


DETECTORS: dict[str, Callable[[Store, Rule, datetime, dict[str, datetime]], list[Finding]]] = {
    "ticket_cluster": ticket_cluster,
    "parking_occupancy": parking_occupancy,
    "unassigned": unassigned,
    "worker_silent": worker_silent,
    "device_alarm": device_alarm,
    "place_activity": place_activity,
}


# --- the engine --------------------------------------------------------------------------------------------


def _place_state(store: Store, rule_id: str, now: datetime) -> tuple[set[str], dict[str, datetime]]:
    """(places with an open warning of this rule, latest resolution time per place within
    ``RESOLVED_HORIZON``: older resolutions no longer matter to any rule window, and the set stays small)."""
    with store.read() as s:
        rows = s.execute(
            select(EarlyWarning.place_key, EarlyWarning.status, EarlyWarning.resolved_at)
            .where(EarlyWarning.rule_id == rule_id)
            .where(
                EarlyWarning.status.in_(OPEN_WARNING_STATUSES) | (EarlyWarning.resolved_at >= now - RESOLVED_HORIZON)
            )
        ).all()
    open_keys = {r.place_key for r in rows if r.status in OPEN_WARNING_STATUSES}
    resolved: dict[str, datetime] = {}
    for r in rows:
        if r.status == "resolved" and r.resolved_at and r.resolved_at > resolved.get(r.place_key, datetime.min):
            resolved[r.place_key] = r.resolved_at
    return open_keys, resolved


def evaluate(
    store: Store,
    rules: list[Rule],
    now: datetime | None = None,
    item_lang: str = ITEM_LANG,
    sla_minutes: dict[str, dict[int, int]] | None = None,
) -> list[int]:
    """Run every enabled rule at ``now``; return the ids of the warnings raised.

    Safe to run in several processes at once: the partial unique index keeps one open warning per
    rule and place, and a loser's insert is dropped. ``item_lang`` is the language of a verification
    visit's category and title (an item stores text, not keys).
    """
    now = now or utcnow()
    raised: list[int] = []
    for rule in rules:
        if not rule.enabled:
            continue
        open_keys, resolved = _place_state(store, rule.id, now)
        try:
            findings = DETECTORS[rule.type](store, rule, now, resolved)
        except Exception:  # one broken rule must not silence the others
            log.exception("rule %s failed", rule.id)
            continue
        fresh = [f for f in findings if f.place_key not in open_keys]
        if fresh:
            raised += _raise_all(store, rule, fresh, now, item_lang, sla_minutes)
    return raised


def _raise_all(
    store: Store,
    rule: Rule,
    findings: list[Finding],
    now: datetime,
    item_lang: str,
    sla_minutes: dict[str, dict[int, int]] | None,
) -> list[int]:
    """Raise every finding of one rule in one write transaction (a thousand warnings must not hold
    the store's writer a thousand times); if another process raced us to one of them, one by one."""
    try:
        with store.transaction() as s:
            staged = [_stage(s, rule, f, now, item_lang, sla_minutes) for f in findings]
    except IntegrityError:
        staged = []
        for f in findings:
            try:
                with store.transaction() as s:
                    staged.append(_stage(s, rule, f, now, item_lang, sla_minutes))
            except IntegrityError:
                continue  # another process raised this warning first
    visits = [item for _, item in staged if item is not None]
    if visits:
        result = dispatch.auto_assign(store, SYSTEM, visits)
        if result.failed:
            log.info("verification visits stay in the queue: %s", result.failed)
    return [wid for wid, _ in staged]


def _raise(
    store: Store,
    rule: Rule,
    f: Finding,
    now: datetime,
    item_lang: str,
    sla_minutes: dict[str, dict[int, int]] | None,
) -> int | None:
    """Raise one finding; None when another process raised it first."""
    raised = _raise_all(store, rule, [f], now, item_lang, sla_minutes)
    return raised[0] if raised else None


def _stage(
    s: Any,
    rule: Rule,
    f: Finding,
    now: datetime,
    item_lang: str,
    sla_minutes: dict[str, dict[int, int]] | None,
) -> tuple[int, int | None]:
    """Add one warning (and its verification visit) to the open transaction ``s``."""
    row = EarlyWarning(
        rule_id=rule.id,
        rule_type=rule.type,
        place_key=f.place_key,
        level=rule.level,
        status="open",
        title=render(API_LANG, f.title["key"], f.title["params"])[:300],
        title_key=f.title["key"],
        title_params=f.title["params"],
        detail={**f.detail, "rule_name": rule.name},
        lon=f.lon,
        lat=f.lat,
        grid_id=f.grid_id,
        created_at=now,
        updated_at=now,
        note="",
    )
    s.add(row)
    s.flush()
    if rule.create_task and f.lon is not None and f.lat is not None:
        sla = sla_minutes or {"visit": {2: 4320}}
        verify = render(item_lang, "warning.verify")
        item = Incident(
            kind="visit",
            category=verify,
            priority=2,
            status="new",
            title=f"{verify}: {render(item_lang, f.title['key'], f.title['params'])}"[:200],
            description=rule.name,
            lon=f.lon,
            lat=f.lat,
            grid_id=f.grid_id,
            source="rules",
            external_id=f"warning-{row.id}",
            created_at=now,
            updated_at=now,
            due_at=due_at(now, "visit", 2, sla),
        )
        s.add(item)
        s.flush()
        row.incident_id = item.id
        record_event(s, "incident.created", "incident", item.id, ACTOR, {"ids": [item.id], "kinds": ["visit"]})
    record_event(s, "warning.raised", "warning", row.id, ACTOR, {"rule": rule.id, "place": f.place_key, **f.detail})
    return row.id, row.incident_id


def _require(actor: Actor) -> None:
    if actor.role not in WARNING_ROLES:
        raise Forbidden("error.role_may_not", {"role": actor.role, "what": "handle_warnings"})


def acknowledge(store: Store, actor: Actor, warning_id: int, note: str = "", now: datetime | None = None) -> None:
    """An open warning is seen and being handled."""
    _require(actor)
    _move(store, actor, warning_id, "acknowledged", ("open",), note, now or utcnow())


def resolve(store: Store, actor: Actor, warning_id: int, note: str = "", now: datetime | None = None) -> None:
    """The warning is dealt with; the rule fires again at this place only on evidence newer than this."""
    _require(actor)
    _move(store, actor, warning_id, "resolved", OPEN_WARNING_STATUSES, note, now or utcnow())


def _move(
    store: Store, actor: Actor, warning_id: int, target: str, sources: tuple[str, ...], note: str, now: datetime
) -> None:
    if len(note) > 2000:
        raise Invalid("error.note_too_long", {"limit": 2000}, field="note")
    values: dict[str, Any] = {"status": target, "updated_at": now}
    if target == "acknowledged":
        values.update(acknowledged_at=now, acknowledged_by=actor.name)
    else:
        values.update(resolved_at=now, resolved_by=actor.name)
    if note:
        values["note"] = note
    with store.transaction() as s:
        current = s.scalar(select(EarlyWarning.status).where(EarlyWarning.id == warning_id))
        if current is None:
            raise NotFound("error.warning_missing", {"id": warning_id})
        won = s.execute(
            update(EarlyWarning).where(EarlyWarning.id == warning_id, EarlyWarning.status.in_(sources)).values(**values)
        ).rowcount
        if not won:
            raise Conflict(
                "error.warning_state", {"id": warning_id, "status": current, "target": target}, status=current
            )
        record_event(s, f"warning.{target}", "warning", warning_id, actor.name, {"note": note} if note else {})


def start_in_thread(
    store: Store, rules_file: str, every_s: float, item_lang: str, sla_minutes: dict[str, dict[int, int]]
) -> threading.Event:
    """Evaluate the current rule set every ``every_s`` seconds in a daemon thread; set the event to stop."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every_s):
            try:
                evaluate(store, current_rules(store, rules_file), item_lang=item_lang, sla_minutes=sla_minutes)
            except Exception:  # a transient store error or a bad rule file must not end the rules for good
                log.exception("warning rules failed")

    threading.Thread(target=loop, name="onemap-rules", daemon=True).start()
    return stop
