"""Case facts: one row a case with the times and counts its case events give, kept from the event log.

The evaluation's figures are per case first (when was it first dispatched, signed, handled, closed;
its deadlines; how often it was reworked), then per body. Computing the per-case part means a GROUP BY
over every case event of the period's cases, for every league, drill-down and report. ``case_facts``
keeps that row instead, one a case (``data.models.CaseFact``), and ``refresh`` folds in the case
events logged since its cursor:

- The cursor is the largest ``events.id`` folded in (the ``case_facts.cursor`` setting). Event ids are
  in commit order (``data.store.commit_order_events`` on PostgreSQL, one writer on SQLite), so
  ``id > cursor`` never skips an event committed after a pass read past it.
- A pass recomputes each case it touches from all of that case's events (not an increment), so a
  pass that runs twice, or a row recomputed from events newer than the cursor, gives the same row:
  the job is idempotent. Passes are serialized by a row lock on the cursor (PostgreSQL; SQLite has one
  writer); a pass goes in windows of event ids, each one transaction that moves the cursor with its
  rows, so a crash leaves the cursor where the last commit put it.
- A row also says which event it saw last (``last_event_id``, ``last_at``). For a period ending at
  ``end``, a case whose ``last_at`` is before ``end`` has exactly this row as of ``end``; a case with
  events at or after ``end`` is recomputed from its events before ``end`` (``rows(..., end=end)``):
  a past period's figures do not change when its cases move on.

Writers that append case events with a bulk INSERT (the demo and bench histories, tests) need do
nothing: the next ``refresh`` finds their events by id like any other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Select, and_, case, cast, delete, func, insert, or_, select, type_coerce, update
from sqlalchemy.sql import ColumnElement

from data.models import CaseFact, Event, Setting
from data.store import Store

CURSOR = "case_facts.cursor"
CHUNK = 5_000  # cases recomputed per statement
WINDOW = 200_000  # event ids folded per transaction
DISPATCHES = ("case.dispatch", "case.redispatch", "case.escalate")
COLUMNS = tuple(c.name for c in CaseFact.__table__.columns)


def due_time(dialect: str, data: Any) -> ColumnElement[Any]:
    """An event's ``due`` (ISO text with a Z) as a timestamp comparable with ``events.at``."""
    text = data["due"].as_string()
    if dialect == "postgresql":
        return cast(text, DateTime)
    # SQLite keeps DateTime as 'YYYY-MM-DD HH:MM:SS.ffffff': give the deadline the same shape.
    return type_coerce(func.datetime(text).op("||")(".000000"), DateTime)


def _first(kind: str | tuple[str, ...], value: Any) -> ColumnElement[Any]:
    kinds = (kind,) if isinstance(kind, str) else kind
    return func.min(case((Event.kind.in_(kinds), value)))


def _last(kind: str | tuple[str, ...], value: Any) -> ColumnElement[Any]:
    kinds = (kind,) if isinstance(kind, str) else kind
    return func.max(case((Event.kind.in_(kinds), value)))


def rows(dialect: str, which: ColumnElement[bool], end: datetime | None = None) -> Select[Any]:
    """The ``CaseFact`` columns (in ``COLUMNS`` order) of the cases ``which`` picks (a condition on
    ``Event.entity_id``), from their case events (before ``end`` when given). Only cases that were
    dispatched at least once have an owner and a row here."""
    due = due_time(dialect, Event.data)
    where = [Event.entity == "incident", which, Event.kind.like("case.%")]
    if end is not None:
        where.append(Event.at < end)
    per = (
        select(
            Event.entity_id.label("case_id"),
            func.max(Event.id).label("last_event_id"),
            func.max(Event.at).label("last_at"),
            _last(DISPATCHES, Event.id).label("owner_event"),
            _first(DISPATCHES, Event.at).label("dispatched_at"),
            _first("case.sign", Event.at).label("signed_at"),
            _first("case.handled", Event.at).label("handled_at"),
            _last("case.handled", Event.at).label("last_handled_at"),
            _last("case.check_passed", Event.at).label("closed_at"),
            _last("case.callback_reopened", Event.at).label("reopened_at"),
            _last((*DISPATCHES, "case.sign", "case.extension_granted"), due).label("deadline"),
            _last(("case.sign", "case.extension_granted"), due).label("handle_deadline"),
            func.count(case((Event.kind.in_(("case.check_failed", "case.callback_reopened")), 1))).label("reworks"),
            func.count(case((Event.kind == "case.void", 1))).label("voids"),
            _last("case.hold", Event.at).label("held_at"),
            _last("case.resume", Event.at).label("resumed_at"),
        )
        .where(*where)
        .group_by(Event.entity_id)
        .subquery("per")
    )
    # The owner by a lookup of each row's last dispatch (its primary key): a join let PostgreSQL's
    # planner, misjudging how few rows come, merge-join against the whole events index.
    owner_ev = Event.__table__.alias("owner_ev")
    picked = {c: per.c[c] for c in COLUMNS if c != "owner"}
    picked["owner"] = (
        select(owner_ev.c.data["to_department"].as_integer())
        .where(owner_ev.c.id == per.c.owner_event)
        .scalar_subquery()
    )
    return select(*[picked[c].label(c) for c in COLUMNS]).where(per.c.owner_event.is_not(None))


def cursor(store: Store) -> int:
    """The largest event id folded in so far (0 before the first pass)."""
    with store.read() as s:
        return _cursor(s)


def _cursor(s: Any, lock: bool = False) -> int:
    query = select(Setting.value).where(Setting.key == CURSOR)
    return int(s.scalar(query.with_for_update() if lock else query) or 0)


def _pending(s: Any, after: int) -> int | None:
    """The newest case event after ``after``, or None."""
    return s.scalar(select(func.max(Event.id)).where(Event.id > after, Event.kind.like("case.%")))


def refresh(store: Store) -> int:
    """Fold the case events after the cursor into ``case_facts``; return how many case rows were
    recomputed (a case with events in two windows twice; 0 and no write when nothing is new: one
    indexed read). A long backlog (the first pass after the upgrade) goes in windows of ``WINDOW``
    event ids, each one transaction that moves the cursor with its rows: every statement stays
    bounded, and a pass killed midway keeps the windows it committed."""
    with store.read() as s:
        if _pending(s, _cursor(s)) is None:
            return 0
    store.setting(CURSOR, lambda: "0")
    dialect = store.engine.dialect.name
    folded = 0
    while True:
        with store.transaction() as s:
            after = _cursor(s, lock=True)  # serializes passes: under the lock, the cursor the last one committed
            top = _pending(s, after)
            if top is None:
                return folded
            upto = min(top, after + WINDOW)
            touched = sorted(
                s.scalars(
                    select(Event.entity_id)
                    .where(Event.id > after, Event.id <= upto, Event.entity == "incident", Event.kind.like("case.%"))
                    .distinct()
                )
            )
            conn = s.connection()
            for i in range(0, len(touched), CHUNK):
                ids = touched[i : i + CHUNK]
                conn.execute(delete(CaseFact).where(CaseFact.case_id.in_(ids)))
                conn.execute(insert(CaseFact).from_select(COLUMNS, rows(dialect, Event.entity_id.in_(ids))))
            s.execute(update(Setting).where(Setting.key == CURSOR).values(value=str(upto)))
        folded += len(touched)
        if upto == top:
            return folded


def as_of(dialect: str, start: datetime, end: datetime, kept: bool = True) -> Any:
    """The per-case rows a count of [start, end) can take in, as they stood at ``end`` (a subquery with
    the ``CaseFact`` columns): the kept row of each case whose last event is before ``end``, and the
    cases with events at or after ``end`` recomputed from their events before it. Only cases first
    dispatched in the period or held at some time are read (no other case has a count; on hold and
    backlog count any period's cases). ``kept=False``: every such case recomputed from its events (what
    the kept rows must equal; the tests compare the two)."""
    if not kept:
        return rows(dialect, Event.entity_id.in_(_relevant(start, end)), end).subquery("per_case")
    f = CaseFact
    in_period = and_(f.dispatched_at >= start, f.dispatched_at < end)
    settled = select(*[f.__table__.c[c] for c in COLUMNS]).where(
        f.last_at < end, f.dispatched_at.is_not(None), in_period | f.held_at.is_not(None)
    )
    # A case's hold before ``end`` may be followed by another after it: any case ever held may count.
    later = select(f.case_id).where(
        f.last_at >= end, f.dispatched_at < end, (f.dispatched_at >= start) | f.held_at.is_not(None)
    )
    moved = rows(dialect, Event.entity_id.in_(later), end)
    return settled.union_all(moved).subquery("per_case")


def _relevant(start: datetime, end: datetime) -> Any:
    """From the events alone: the cases with a dispatch in [start, end) or a hold before ``end``."""
    return select(Event.entity_id).where(
        Event.entity == "incident",
        or_(
            and_(Event.kind.in_(DISPATCHES), Event.at >= start, Event.at < end),
            and_(Event.kind == "case.hold", Event.at < end),
        ),
    )
