"""The engine: runs every enabled rule's detector at an instant and stores what they find as warnings.

At most one open warning per rule and place; a rule with ``create_task`` also gives the grid's worker
a verification visit. ``start_in_thread`` runs the current rule set on a timer.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from data.models import OPEN_WARNING_STATUSES, EarlyWarning, Incident, utcnow
from data.store import Store, record_event
from locales import API_LANG, render
from ops import dispatch
from ops.accounts import SYSTEM
from ops.early_warning.detectors import DETECTORS, Finding
from ops.early_warning.rules import Rule, current_rules
from ops.incidents import due_at

log = logging.getLogger(__name__)
ACTOR = "rules"
RESOLVED_HORIZON = timedelta(days=30)
ITEM_LANG = "zh-CN"  # the city's language, for the text a verification visit stores


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
