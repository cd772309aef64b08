"""The per-case rows the evaluation reads (ops.case_facts) are exactly what the event log gives: the
same league, grid table and drill-down as a recomputation from the events alone, for periods that end
now and periods that end in the past (whose cases moved on afterwards), after later events, after a
rebuild from nothing, and with passes running at once (both backends)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, func, select, update

from data.demo_history import seed_history
from data.models import CaseFact, Event, Incident, Setting, utcnow
from data.store import record_event
from ops import case_facts, evaluation
from ops.accounts import Actor
from ops.case_history import seed_demo_cases
from tests.conftest import SMALL_CITY

SUPERVISOR = Actor(user_id=None, name="test", role="supervisor")
ROOT = Path(__file__).resolve().parent.parent


def _history(city) -> dict:
    now = utcnow()
    seed_history(city, SMALL_CITY, 60, now)
    written = seed_demo_cases(city, SMALL_CITY.seed, now)
    assert written["cases"] > 40, written
    return {"now": now, **written}


def _periods(now):
    day = timedelta(days=1)
    return [
        (now - 30 * day, now + timedelta(minutes=1)),  # ends after every event
        (now - 40 * day, now - 10 * day),  # ends in the past: cases dispatched in it moved on after
        (now - 60 * day, now - 25 * day),
        (now - 3 * day, now - 1 * day),
    ]


def _same(a, b) -> bool:
    """Equal, floats to 1e-9 relative (a sum's last digit follows the order the rows were added in)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _same_figures(city, periods) -> int:
    """Every department and grid figure and every drill-down list of ``periods`` from the kept rows equals
    the recomputation from the events; returns how many cases the comparison covered."""
    covered = 0
    for start, end in periods:
        for level in ("department", "grid"):
            kept = evaluation.evaluate(city, start, end, level).plain()
            fresh = evaluation.evaluate(city, start, end, level, kept=False).plain()
            assert _same(kept, fresh), (level, start, end)
            counts = [r["counts"] for r in kept["rows"]]
            covered += sum(c["dispatched"] for c in counts)
        busiest = max(kept["rows"], key=lambda r: r["counts"]["dispatched"])
        for count in ("due", "closed", "late", "pending", "on_hold"):
            args = (city, SUPERVISOR, start, end, "grid", busiest["id"], count)
            assert _same(evaluation.cases(*args, size=500), evaluation.cases(*args, size=500, kept=False)), count
    return covered


def _facts(city) -> dict:
    with city.read() as s:
        return {r.case_id: tuple(r) for r in s.execute(select(*CaseFact.__table__.columns).order_by(CaseFact.case_id))}


def test_kept_rows_give_the_figures_the_events_give(city) -> None:
    h = _history(city)
    assert case_facts.cursor(city) == 0
    covered = _same_figures(city, _periods(h["now"]))
    assert covered > 40  # the comparison saw real cases, not empty tables
    with city.read() as s:
        newest = s.scalar(select(func.max(Event.id)).where(Event.kind.like("case.%")))
        kept = s.scalar(select(func.count()).select_from(CaseFact))
    assert case_facts.cursor(city) == newest
    assert kept == h["cases"]  # every seeded case was dispatched once at least: one row each
    assert case_facts.refresh(city) == 0  # nothing new: no pass


def test_later_events_reach_the_kept_rows_and_leave_past_periods_alone(city) -> None:
    h = _history(city)
    now = h["now"]
    past = (now - 40 * timedelta(days=1), now - 10 * timedelta(days=1))
    before_past = evaluation.evaluate(city, *past).plain()
    current = (now - 30 * timedelta(days=1), now + timedelta(hours=1))
    before_now = evaluation.evaluate(city, *current).plain()
    with city.read() as s:  # a case dispatched and closed inside both periods, reopened by the citizen now
        f = CaseFact
        case_id = s.scalar(
            select(f.case_id)
            .where(f.dispatched_at > current[0], f.closed_at < past[1], f.reopened_at.is_(None))
            .where(f.reworks == 0, f.voids == 0, f.held_at.is_(None), f.deadline < now)
            .order_by(f.case_id)
            .limit(1)
        )
    assert case_id is not None
    with city.transaction() as s:
        record_event(s, "case.callback_reopened", "incident", case_id, "citizen", {"action": "callback_reopened"})

    assert case_facts.refresh(city) == 1  # the one case touched, recomputed
    assert _same(evaluation.evaluate(city, *past).plain(), before_past)  # a past period does not change
    after_now = evaluation.evaluate(city, *current).plain()
    closed = sum(r["counts"]["closed"] for r in after_now["rows"])
    assert closed == sum(r["counts"]["closed"] for r in before_now["rows"]) - 1
    assert sum(r["counts"]["reworked"] for r in after_now["rows"]) == 1 + sum(
        r["counts"]["reworked"] for r in before_now["rows"]
    )
    _same_figures(city, [past, current])


def test_a_rebuild_from_nothing_and_passes_at_once_give_the_same_rows(city) -> None:
    _history(city)
    case_facts.refresh(city)
    first = _facts(city)
    with city.transaction() as s:  # forget everything: the next pass folds the whole log in again
        s.execute(delete(CaseFact))
        s.execute(update(Setting).where(Setting.key == case_facts.CURSOR).values(value="0"))
    errors: list[BaseException] = []

    def run() -> None:
        try:
            case_facts.refresh(city)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert _facts(city) == first


def test_a_case_never_dispatched_has_no_row(city) -> None:
    _history(city)
    with city.read() as s:
        some = s.scalar(select(Incident.id).where(Incident.kind == "ticket").order_by(Incident.id.desc()).limit(1))
        had = s.scalar(
            select(func.count()).select_from(Event).where(Event.entity_id == some, Event.kind.like("case.%"))
        )
    assert had == 0  # a ticket outside the drawn cases
    with city.transaction() as s:
        record_event(
            s, "case.verify", "incident", some, "w", {"action": "verify", "from": "verifying", "to": "reported"}
        )
    case_facts.refresh(city)
    with city.read() as s:
        assert s.get(CaseFact, some) is None


def test_the_ordered_set_quantiles_equal_the_ranked_ones(city) -> None:
    """PostgreSQL's p90s come from ``percentile_disc`` over grouping sets; they equal the nearest rank
    ranked in Python from the fetched rows (what SQLite runs), for owners and for every depth of the tree."""
    if city.kind != "postgresql":
        return  # one path on SQLite: nothing to compare
    h = _history(city)
    case_facts.refresh(city)
    departments, chains = evaluation._tree(city)
    depth = max(len(c) for c in chains.values())
    assert depth >= 2  # a tree, so the ancestor keys are exercised
    for start, end in _periods(h["now"])[:2]:
        f = evaluation._flags(city.engine.dialect.name, start, end)
        at_depth = [
            evaluation.case({d: c[k] for d, c in chains.items() if len(c) > k}, value=f.owner, else_=None)
            for k in range(depth - 1)
        ]
        stages = evaluation._stages(city.engine.dialect.name, f)
        with city.read() as s:
            conn = s.connection()
            args = (conn, [f.owner, *at_depth], stages, f.source, f.when["dispatched"], 0.9)
            quick, ranked = evaluation._percentiles(*args), evaluation._percentiles(*args, how="fetched")
        for key in ranked:
            diff = {k: (quick[key].get(k), v) for k, v in ranked[key].items() if quick[key].get(k) != v}
            extra = set(quick[key]) - set(ranked[key])
            assert not diff and not extra, (key, list(diff.items())[:5], extra)
        assert quick == ranked
        assert sum(len(v) for v in quick.values()) > 10


def test_init_db_folds_the_log_in_before_the_first_read(city, tmp_path) -> None:
    """``manage.py init-db`` after an upgrade: the whole case log is folded in by the command, so the
    first evaluation read finds nothing to do."""
    h = _history(city)
    url = city.engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "ONEMAP_DATABASE_URL": url, "ONEMAP_SECRET_KEY": "x" * 32}
    done = subprocess.run(
        [sys.executable, "manage.py", "init-db"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert f"case facts up to date ({h['cases']:,} cases folded in)" in done.stdout, done.stdout
    assert case_facts.refresh(city) == 0


def test_a_long_backlog_folds_in_windows_to_the_same_rows(city, monkeypatch) -> None:
    """The first pass over a long log goes window by window (each its own transaction moving the
    cursor); the rows are those of one pass over everything."""
    _history(city)
    case_facts.refresh(city)
    whole = _facts(city)
    with city.transaction() as s:
        s.execute(delete(CaseFact))
        s.execute(update(Setting).where(Setting.key == case_facts.CURSOR).values(value="0"))
    monkeypatch.setattr(case_facts, "WINDOW", 97)
    seen: list[int] = []
    real = case_facts._cursor

    def watch(s, lock=False):
        value = real(s, lock)
        if lock:
            seen.append(value)
        return value

    monkeypatch.setattr(case_facts, "_cursor", watch)
    case_facts.refresh(city)
    assert len(seen) > 5 and seen == sorted(seen)  # many windows, the cursor moving forward
    assert _facts(city) == whole
