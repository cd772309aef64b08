"""Evaluation (综合评价): the indicators a city judges its bodies by, computed from the case event log.

``evaluate(store, start, end, level)`` returns an ``Evaluation``: one ``Row`` per department (with its
own figures and its subtree's, ``tree``), grid, grid worker or dispatcher, each with counts, rates,
stage times, a weighted composite score and a grade. ``cases(...)`` lists the cases behind one number
(the drill-down). Everything is SQL aggregates (SQLAlchemy Core, SQLite and PostgreSQL alike): per case
first (the rows ``ops.case_facts`` keeps from the event log, one a case, as they stood at ``end``),
then per body.

Definitions (docs/evaluation.md says the same, with the sources). Every figure of a period
[start, end) is computed from the events logged before ``end`` only, so a past period's figures
do not change afterwards.

- A case's **owner** is the department its last dispatch (派遣 600, 转派 610 or 上报 630) before
  ``end`` sent it to. Its **first dispatch** is the first of those events.
- **Dispatched in the period**: first dispatch in [start, end). Each case belongs to one period.
- **Due to close (应结案)**: dispatched in the period, not voided (814), not on hold (810 without a later
  811) at ``end``, and either closed or past its deadline at ``end``. The deadline is the latest one
  logged (the ``due`` of its last dispatch, signing 620 or granted extension 607). A case still inside
  its time limit at ``end`` is **pending**, neither closed nor due.
- **Closed (结案)**: due, with a passed check (710) not followed by a citizen's reopening (850).
- **结案率** = closed / due. **按期处置率** = handled on time / due, where on time means its first
  "handled" (700) came no later than its handling deadline (the ``due`` of its last signing or granted
  extension). **返工率** = due cases with at least one failed check (720) or reopening (850) / due.
- **Returns (回退 626)**, **extensions asked (606) / granted (607)**: events in [start, end) whose
  ``from_department`` is the body. A return is **justified** when the case's next re-dispatch (610)
  went to another body (``same_department`` false), not back to the same one.
- **Stage times** (cases dispatched in the period, in hours, mean and p90 by nearest rank): sign =
  first dispatch → first signing; handle = first signing → first handled; check = last handled →
  close.
- **积存 (backlog)**: cases the body owns that are on hold at ``end`` and have been for more than
  ``BACKLOG_DAYS`` days (any dispatch period).
- Grid worker: **有效上报率** = reports (``incident.created`` by the worker) not voided / reports;
  **按时核实率** = verifications (110) within ``verify_minutes`` of the report / verifications;
  **按时核查率** = checks (710/720) no later than the check deadline its "handled" event set / checks;
  **tasks handled** = tasks resolved or closed in the period; **median response** = minutes from the
  task's assignment to its last update, for those tasks.
- Dispatcher (the actor of non-automatic 立案 100 and 派遣 600/610 events in the period):
  **按时立案率** = filings within ``file_minutes`` of the report / filings; **准确派遣率** =
  (dispatched − wrongly routed) / dispatched, a dispatch being wrongly routed when the body it went to
  returned the case and it was then re-dispatched to another body.
- **Composite**: Σ weightᵢ · scoreᵢ / Σ weightᵢ over the indicators that have a denominator, in
  percent; a rate scores itself, a "1 − rate" indicator its complement, and **volume** scores the
  body's due (or handled, reported, dispatched) count against the largest at its level (the busiest
  scores 1). Grades: A ≥ 90, B ≥ 75, C ≥ 60, D ≥ 40, E below. Weights: ``evaluation.toml``.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    DateTime,
    Integer,
    and_,
    case,
    column,
    exists,
    false,
    func,
    not_,
    or_,
    select,
    type_coerce,
    values,
)
from sqlalchemy.sql import ColumnElement

from config import CITY_TIMEZONE
from data.models import DEPARTMENT_STAGES, Department, Event, Grid, Incident, Task, User, Worker
from data.store import Store
from ops import case_facts
from ops.accounts import Actor
from ops.errors import Conflict, Forbidden, Invalid, NotFound

LEVELS = ("department", "grid", "worker", "dispatcher")
BACKLOG_DAYS = 60
GRADES = ((90.0, "A"), (75.0, "B"), (60.0, "C"), (40.0, "D"))
WEIGHTS_FILE = Path(__file__).resolve().parent.parent / "evaluation.toml"
# The default weights, percent (evaluation.toml overrides them); "volume" is scored as described above.
DEFAULT_WEIGHTS: dict[str, dict[str, float]] = {
    "department": {"closing_rate": 30, "on_time_rate": 30, "no_rework": 30, "volume": 10},
    "grid": {"closing_rate": 30, "on_time_rate": 30, "no_rework": 30, "volume": 10},
    "worker": {"valid_report_rate": 40, "on_time_verify_rate": 30, "on_time_check_rate": 30},
    "dispatcher": {"on_time_filing_rate": 20, "accurate_dispatch_rate": 60, "volume": 20},
}
DEFAULT_LIMITS = {"verify_minutes": 60, "file_minutes": 60}
# Which count is a level's volume, and which rates are scored as their complement.
VOLUME = {"department": "due", "grid": "due", "worker": "reports", "dispatcher": "dispatched"}
COMPLEMENT = {"no_rework": "rework_rate"}
SEE_ALL = ("operator", "supervisor", "admin")
# What a drill-down may list (department and grid levels): a count's name → which cases it counts.
DRILL = ("dispatched", "due", "closed", "not_closed", "on_time", "late", "reworked", "pending", "on_hold", "backlog")

STAGES = ("sign", "handle", "check")


@dataclass(frozen=True)
class Settings:
    """Weights by level (percent, by indicator) and the time limits the worker and dispatcher rates use."""

    weights: dict[str, dict[str, float]] = field(
        default_factory=lambda: {k: dict(v) for k, v in DEFAULT_WEIGHTS.items()}
    )
    verify_minutes: int = DEFAULT_LIMITS["verify_minutes"]
    file_minutes: int = DEFAULT_LIMITS["file_minutes"]


def load_settings(path: str | Path = WEIGHTS_FILE) -> Settings:
    """The ``[weights.<level>]`` and ``[limits]`` of evaluation.toml over the defaults (a missing file: defaults)."""
    p = Path(path)
    data: dict[str, Any] = tomllib.loads(p.read_text(encoding="utf-8")) if p.exists() else {}
    weights = {k: dict(v) for k, v in DEFAULT_WEIGHTS.items()}
    for level, table in (data.get("weights") or {}).items():
        if level not in weights:
            raise ValueError(f"evaluation weights: unknown level {level!r}")
        weights[level] = {str(k): float(v) for k, v in table.items()}
    limits = {**DEFAULT_LIMITS, **(data.get("limits") or {})}
    return Settings(weights, int(limits["verify_minutes"]), int(limits["file_minutes"]))


@dataclass
class Row:
    """One body's figures. ``counts``: whole numbers (numerators and denominators); ``rates``: 0..1 or
    None when the denominator is 0; ``hours``: ``{"sign"|"handle"|"check": {"mean", "p90", "n"}}``;
    ``tree``: the same three for the department and every department below it (department level)."""

    id: int | str
    name: str
    parent_id: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    rates: dict[str, float | None] = field(default_factory=dict)
    hours: dict[str, dict[str, float | None]] = field(default_factory=dict)
    score: float | None = None
    grade: str | None = None
    tree: dict[str, Any] | None = None

    def plain(self) -> dict[str, Any]:
        return _plain(self)


@dataclass
class Evaluation:
    """The figures of one level over [start, end): ``rows`` in the order of the body ids."""

    level: str
    start: datetime
    end: datetime
    rows: list[Row]
    weights: dict[str, float]

    def by_id(self) -> dict[int | str, Row]:
        return {r.id: r for r in self.rows}

    def plain(self) -> dict[str, Any]:
        return _plain(self)  # rows included, each as Row.plain gives it


def _plain(value: Any) -> Any:
    """``dataclasses.asdict`` for these rows: the same dicts, lists and tuples, without its deep copy of
    every leaf (numbers, text, times: immutable), which cost most of a league of 2,000 grids."""
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (Row, Evaluation)):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def grade(score: float | None) -> str | None:
    """A ≥ 90, B ≥ 75, C ≥ 60, D ≥ 40, E below."""
    if score is None:
        return None
    for bound, letter in GRADES:
        if score >= bound:
            return letter
    return "E"


def previous(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The period of the same length just before [start, end) (what the trend compares against)."""
    return start - (end - start), start


# --- SQL pieces that differ by dialect --------------------------------------------------------------


def _seconds(dialect: str, later: Any, earlier: Any) -> ColumnElement[float]:
    if dialect == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _after(dialect: str, at: Any, minutes: int) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return at + timedelta(minutes=minutes)
    return type_coerce(func.strftime("%Y-%m-%d %H:%M:%f000", at, f"+{minutes} minutes"), DateTime)


@dataclass(frozen=True)
class _Flags:
    """The per-case rows (``pc``, owner included) and joined to their incidents (``source``), with each
    count's condition as SQL."""

    source: Any
    owner: Any
    grid: Any
    pc: Any
    when: dict[str, ColumnElement[bool]]


def _flags(dialect: str, start: datetime, end: datetime, kept: bool = True) -> _Flags:
    """The per-case rows of [start, end) (``case_facts.as_of``; ``kept=False``: recomputed from the
    events alone, what the kept rows must equal) with each count's condition."""
    pc = case_facts.as_of(dialect, start, end, kept)
    source = pc.join(Incident, Incident.id == pc.c.case_id)
    on_hold = and_(pc.c.held_at.is_not(None), or_(pc.c.resumed_at.is_(None), pc.c.resumed_at < pc.c.held_at))
    closed = and_(pc.c.closed_at.is_not(None), or_(pc.c.reopened_at.is_(None), pc.c.reopened_at < pc.c.closed_at))
    dispatched = and_(pc.c.dispatched_at >= start, pc.c.dispatched_at < end)
    live = and_(dispatched, pc.c.voids == 0, not_(on_hold))
    due = and_(live, or_(closed, pc.c.deadline < end))
    on_time = and_(due, pc.c.handled_at.is_not(None), pc.c.handled_at <= pc.c.handle_deadline)
    when = {
        "dispatched": dispatched,
        "due": due,
        "closed": and_(due, closed),
        "not_closed": and_(due, not_(closed)),
        "on_time": on_time,
        "late": and_(due, not_(on_time)),
        "reworked": and_(due, pc.c.reworks > 0),
        "pending": and_(live, not_(closed), or_(pc.c.deadline.is_(None), pc.c.deadline >= end)),
        "on_hold": on_hold,
        "backlog": and_(on_hold, pc.c.held_at < end - timedelta(days=BACKLOG_DAYS)),
    }
    return _Flags(source, pc.c.owner, Incident.grid_id, pc, when)


def _percentile(conn: Any, key: Any, value: Any, source: Any, where: Any, q: float) -> dict[Any, float]:
    """The nearest-rank ``q`` quantile of ``value`` by ``key`` (window functions: both backends)."""
    ranked = (
        select(
            key.label("k"),
            value.label("v"),
            func.row_number().over(partition_by=key, order_by=value).label("rn"),
            func.count().over(partition_by=key).label("n"),
        )
        .select_from(source)
        .where(where, value.is_not(None))
        .subquery()
    )
    rows = conn.execute(
        select(ranked.c.k, func.min(ranked.c.v)).where(ranked.c.rn >= q * ranked.c.n).group_by(ranked.c.k)
    )
    return {k: float(v) for k, v in rows}


def _percentiles(
    conn: Any, keys: list[Any], values: dict[str, Any], source: Any, where: Any, q: float, how: str | None = None
) -> dict:
    """``_percentile`` of each of ``values`` by each of ``keys`` at once: ``{(name, i): {key: value}}``,
    ``i`` the index in ``keys``, the nearest rank (the smallest value whose rank reaches q·n; NULLs left
    out). On PostgreSQL (``how="ordered"``) one ordered-set aggregate over grouping sets in the server;
    on SQLite (``how="fetched"``; in process, so the rows cost no transfer) the rows of ``source`` that
    pass ``where`` are read once and ranked here. The two agree (tests/test_case_facts.py)."""
    how = how or ("ordered" if conn.dialect.name == "postgresql" else "fetched")
    if how == "ordered":
        return _percentiles_ordered(conn, keys, values, source, where, q)
    names = list(values)
    picked = select(*keys, *values.values()).select_from(source).where(where)
    found: dict[tuple[str, int], dict[Any, list[float]]] = {(n, i): {} for n in names for i in range(len(keys))}
    for row in conn.execute(picked):
        for j, name in enumerate(names):
            v = row[len(keys) + j]
            if v is None:
                continue
            for i in range(len(keys)):
                found[name, i].setdefault(row[i], []).append(float(v))
    out: dict[tuple[str, int], dict[Any, float]] = {}
    for pair, groups in found.items():
        out[pair] = {}
        for k, vs in groups.items():
            vs.sort()
            out[pair][k] = vs[max(0, math.ceil(q * len(vs)) - 1)]
    return out


def _percentiles_ordered(conn: Any, keys: list[Any], values: dict[str, Any], source: Any, where: Any, q: float) -> dict:
    """``_percentiles`` on PostgreSQL: ``percentile_disc`` (NULLs left out, as the fetched path does) by
    ``GROUPING SETS`` of the keys; ``GROUPING(...)`` says which key a row is for."""
    base = (
        select(
            *[k.label(f"k{i}") for i, k in enumerate(keys)],
            *[v.label(f"v_{name}") for name, v in values.items()],
        )
        .select_from(source)
        .where(where)
        .subquery("pick")
    )
    ks = [base.c[f"k{i}"] for i in range(len(keys))]
    query = select(
        func.grouping(*ks).label("g"),
        *ks,
        *[func.percentile_disc(q).within_group(base.c[f"v_{name}"]).label(name) for name in values],
    ).group_by(func.grouping_sets(*ks))
    out: dict[tuple[str, int], dict[Any, float]] = {(name, i): {} for name in values for i in range(len(keys))}
    width = len(keys)
    for row in conn.execute(query).mappings():
        # GROUPING sets a bit (the first key the highest) for each key the row is not grouped by.
        i = next(j for j in range(width) if not (row["g"] >> (width - 1 - j)) & 1)
        for name in values:  # a None key: the cases with no ancestor at that depth, as the fetched path gives
            if row[name] is not None:
                out[name, i][row[f"k{i}"]] = float(row[name])
    return out


def _stages(dialect: str, f: _Flags) -> dict[str, Any]:
    pc = f.pc
    return {
        "sign": _seconds(dialect, pc.c.signed_at, pc.c.dispatched_at),
        "handle": _seconds(dialect, pc.c.handled_at, pc.c.signed_at),
        "check": case((pc.c.closed_at > pc.c.last_handled_at, _seconds(dialect, pc.c.closed_at, pc.c.last_handled_at))),
    }


def _case_figures(
    conn: Any,
    dialect: str,
    f: _Flags,
    key: Any,
    source: Any,
    keys_at_depth: list[Any] | None = None,
    ranked: Any = None,
) -> dict:
    """Counts and stage-time sums by ``key`` (an owner or a grid) over ``source`` (the kept rows, or
    joined to the incidents for a grid); the p90 of each stage by ``key`` (``"own"``) and by each of
    ``keys_at_depth`` (``"tree"``: a case keyed by its owner's ancestor at that depth, since a subtree's
    quantile cannot be summed from its children's; ``ranked``: ``source`` joined to what those keys name)."""
    stages = _stages(dialect, f)
    columns = [func.count(case((cond, 1))).label(name) for name, cond in f.when.items()]
    for name, seconds in stages.items():
        picked = case((f.when["dispatched"], seconds))
        columns += [func.sum(picked).label(f"{name}_sum"), func.count(picked).label(f"{name}_n")]
    out: dict[Any, dict[str, Any]] = {}
    for row in conn.execute(select(key.label("k"), *columns).select_from(source).group_by(key)).mappings():
        out[row["k"]] = dict(row)
    keys = [key, *(keys_at_depth or [])]
    p90 = _percentiles(conn, keys, stages, ranked if ranked is not None else source, f.when["dispatched"], 0.9)
    own = {name: p90[name, 0] for name in stages}
    tree = {name: [p90[name, i] for i in range(1, len(keys))] for name in stages}
    return {"rows": out, "own": own, "tree": tree}


def _hours(rows: Iterable[dict[str, Any]], p90: dict[str, dict[Any, float]], k: Any) -> dict[str, Any]:
    rows = list(rows)
    out = {}
    for name in STAGES:
        n = sum(int(r.get(f"{name}_n") or 0) for r in rows)
        total = sum(float(r.get(f"{name}_sum") or 0.0) for r in rows)
        p = p90[name].get(k)
        out[name] = {"mean": total / n / 3600.0 if n else None, "p90": p / 3600.0 if p is not None else None, "n": n}
    return out


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _case_rates(c: dict[str, int]) -> dict[str, float | None]:
    return {
        "closing_rate": _rate(c["closed"], c["due"]),
        "on_time_rate": _rate(c["on_time"], c["due"]),
        "rework_rate": _rate(c["reworked"], c["due"]),
        "justified_return_rate": _rate(c["returns_justified"], c["returns"]),
        "extension_grant_rate": _rate(c["extensions_granted"], c["extensions_asked"]),
    }


_COUNTS = (*DRILL, "returns", "returns_justified", "extensions_asked", "extensions_granted")


def _moves(conn: Any, start: datetime, end: datetime, key: str) -> dict[Any, dict[str, int]]:
    """Returns (and how many were justified) and extensions asked and granted in [start, end), by the
    department (``key="department"``) or the grid of the case (``key="grid"``)."""
    nxt = Event.__table__.alias("nxt")
    next_redispatch = (
        select(func.min(nxt.c.id))
        .where(nxt.c.entity_id == Event.entity_id, nxt.c.kind == "case.redispatch", nxt.c.id > Event.id)
        .where(nxt.c.at < end)
        .correlate(Event.__table__)
        .scalar_subquery()
    )
    later = Event.__table__.alias("later")
    justified = (
        exists()
        .where(
            later.c.id == next_redispatch,
            func.coalesce(later.c.data["same_department"].as_boolean(), false()) == false(),
        )
        .correlate(Event.__table__)
    )
    by = Event.data["from_department"].as_integer() if key == "department" else Incident.grid_id
    source = Event.__table__ if key == "department" else Event.__table__.join(Incident, Incident.id == Event.entity_id)
    query = (
        select(
            by.label("k"),
            func.count(case((Event.kind == "case.return", 1))).label("returns"),
            func.count(case((and_(Event.kind == "case.return", justified), 1))).label("returns_justified"),
            func.count(case((Event.kind == "case.extend", 1))).label("extensions_asked"),
            func.count(case((Event.kind == "case.extension_granted", 1))).label("extensions_granted"),
        )
        .select_from(source)
        .where(
            Event.entity == "incident",
            Event.kind.in_(("case.return", "case.extend", "case.extension_granted")),
            Event.at >= start,
            Event.at < end,
        )
        .group_by(by)
    )
    return {r["k"]: {n: int(r[n]) for n in r if n != "k"} for r in conn.execute(query).mappings()}


def _tree(store: Store) -> tuple[dict[int, dict[str, Any]], dict[int, list[int]]]:
    with store.read() as s:
        rows = s.execute(select(Department.id, Department.name, Department.parent_id).order_by(Department.id))
        departments = {r.id: {"name": r.name, "parent_id": r.parent_id} for r in rows}
    chains: dict[int, list[int]] = {}
    for d in departments:
        chain, at = [], d
        while at is not None and at not in chain and at in departments:
            chain.append(at)
            at = departments[at]["parent_id"]
        chains[d] = chain[::-1]  # the root first, the department last
    return departments, chains


def _score(rates: dict[str, float | None], volume: float | None, weights: dict[str, float]) -> float | None:
    """Σ weight · score / Σ weight over the indicators with a value; None when no rate has one (a body
    with nothing due has no performance to grade, whatever its volume)."""
    parts = []
    for name, weight in weights.items():
        if name == "volume":
            value = volume
        elif name in COMPLEMENT:
            r = rates.get(COMPLEMENT[name])
            value = None if r is None else 1.0 - r
        else:
            value = rates.get(name)
        if value is not None and weight > 0:
            parts.append((name, weight, value))
    total = sum(w for _, w, _ in parts)
    if total <= 0 or all(name == "volume" for name, _, _ in parts):
        return None
    return round(100.0 * sum(w * v for _, w, v in parts) / total, 2)


def _finish(level: str, rows: list[Row], weights: dict[str, float]) -> None:
    key = VOLUME[level]
    largest = max((r.counts.get(key, 0) for r in rows), default=0)
    for r in rows:
        volume = r.counts.get(key, 0) / largest if largest else None
        r.score = _score(r.rates, volume, weights)
        r.grade = grade(r.score)


def evaluate(
    store: Store,
    start: datetime,
    end: datetime,
    level: str = "department",
    settings: Settings | None = None,
    kept: bool = True,
) -> Evaluation:
    """Every body's indicators at ``level`` over [start, end) (naive UTC), from the event log (its
    per-case part from ``case_facts``, brought up to date first; ``kept=False``: from the events alone)."""
    if level not in LEVELS:
        raise Invalid("error.evaluation_level", {"levels": ", ".join(LEVELS)}, field="level")
    if end <= start:
        raise Invalid("error.evaluation_period", {}, field="end")
    settings = settings or load_settings()
    weights = settings.weights[level]
    if kept and level in ("department", "grid"):
        case_facts.refresh(store)
    rows = {
        "department": _departments,
        "grid": _grids,
        "worker": _workers,
        "dispatcher": _dispatchers,
    }[level](store, start, end, settings, kept)
    _finish(level, rows, weights)
    return Evaluation(level, start, end, rows, weights)


def _zero() -> dict[str, int]:
    return dict.fromkeys(_COUNTS, 0)


def _departments(store: Store, start: datetime, end: datetime, settings: Settings, kept: bool = True) -> list[Row]:
    departments, chains = _tree(store)
    dialect = store.engine.dialect.name
    f = _flags(dialect, start, end, kept)
    depth = max((len(c) for c in chains.values()), default=0)
    # The p90 of a subtree cannot be summed from its children: rank again by each depth's ancestor,
    # looked up in a small table of (department, its ancestor at each depth) joined to the cases.
    at_depth: list[Any] = []
    ranked = None
    if depth > 1 and chains:
        names = [f"a{k}" for k in range(depth - 1)]
        ancestors = (
            values(column("d", Integer), *[column(n, Integer) for n in names], name="ancestors")
            .data([(d, *[c[k] if len(c) > k else None for k in range(depth - 1)]) for d, c in chains.items()])
            .cte("ancestors")
        )  # a CTE: SQLite takes no column names on a VALUES in FROM
        at_depth = [ancestors.c[n] for n in names]
        ranked = f.pc.outerjoin(ancestors, ancestors.c.d == f.owner)
    with store.read() as session:
        conn = session.connection()
        figures = _case_figures(conn, dialect, f, f.owner, f.pc, at_depth, ranked)  # no incidents join needed
        moves = _moves(conn, start, end, "department")
    own: dict[int, dict[str, Any]] = {}
    for d in departments:
        c = _zero()
        raw = figures["rows"].get(d, {})
        c.update({k: int(raw.get(k) or 0) for k in DRILL})
        c.update(moves.get(d, {}))
        own[d] = {"counts": c, "raw": raw}
    out = []
    for d, info in departments.items():
        below = [x for x, chain in chains.items() if d in chain]
        tree_counts = {k: sum(own[x]["counts"][k] for x in below) for k in _COUNTS}
        level_of = len(chains[d]) - 1
        by_subtree = {
            n: figures["tree"][n][level_of] if len(below) > 1 and level_of < len(at_depth) else figures["own"][n]
            for n in STAGES
        }
        tree_hours = _hours([own[x]["raw"] for x in below], by_subtree, d)
        out.append(
            Row(
                id=d,
                name=info["name"],
                parent_id=info["parent_id"],
                counts=own[d]["counts"],
                rates=_case_rates(own[d]["counts"]),
                hours=_hours([own[d]["raw"]], figures["own"], d),
                tree={"counts": tree_counts, "rates": _case_rates(tree_counts), "hours": tree_hours},
            )
        )
    return out


def _grids(store: Store, start: datetime, end: datetime, settings: Settings, kept: bool = True) -> list[Row]:
    dialect = store.engine.dialect.name
    f = _flags(dialect, start, end, kept)
    with store.read() as session:
        conn = session.connection()
        figures = _case_figures(conn, dialect, f, f.grid, f.source)
        moves = _moves(conn, start, end, "grid")
        grids = conn.execute(select(Grid.id, Grid.name, Grid.district).order_by(Grid.id)).all()
    out = []
    for g in grids:
        raw = figures["rows"].get(g.id, {})
        c = _zero()
        c.update({k: int(raw.get(k) or 0) for k in DRILL})
        c.update(moves.get(g.id, {}))
        out.append(Row(g.id, g.name, None, c, _case_rates(c), _hours([raw], figures["own"], g.id)))
    return out


def _workers(store: Store, start: datetime, end: datetime, settings: Settings, kept: bool = True) -> list[Row]:
    dialect = store.engine.dialect.name
    in_period = and_(Event.at >= start, Event.at < end)
    v = Event.__table__.alias("v")
    voided = (
        exists()
        .where(v.c.entity == "incident", v.c.entity_id == Event.entity_id, v.c.kind == "case.void", v.c.at < end)
        .correlate(Event.__table__)
    )
    h = Event.__table__.alias("h")
    check_due = (
        select(case_facts.due_time(dialect, h.c.data))
        .where(
            h.c.entity == "incident", h.c.entity_id == Event.entity_id, h.c.kind == "case.handled", h.c.id < Event.id
        )
        .order_by(h.c.id.desc())
        .limit(1)
        .correlate(Event.__table__)
        .scalar_subquery()
    )
    verify_due = _after(dialect, Incident.created_at, settings.verify_minutes)
    events = (
        select(
            Event.actor.label("k"),
            func.count(case((Event.kind == "incident.created", 1))).label("reports"),
            func.count(case((and_(Event.kind == "incident.created", not_(voided)), 1))).label("valid_reports"),
            func.count(case((Event.kind == "case.verify", 1))).label("verifications"),
            func.count(case((and_(Event.kind == "case.verify", Event.at <= verify_due), 1))).label("verified_on_time"),
            func.count(case((Event.kind.in_(("case.check_passed", "case.check_failed")), 1))).label("checks"),
            func.count(
                case((and_(Event.kind.in_(("case.check_passed", "case.check_failed")), Event.at <= check_due), 1))
            ).label("checked_on_time"),
        )
        .select_from(Event.__table__.join(Incident, Incident.id == Event.entity_id))
        .where(
            Event.entity == "incident",
            Event.kind.in_(("incident.created", "case.verify", "case.check_passed", "case.check_failed")),
            in_period,
        )
        .group_by(Event.actor)
    )
    done = and_(Task.status.in_(("resolved", "closed")), Task.updated_at >= start, Task.updated_at < end)
    minutes = _seconds(dialect, Task.updated_at, Task.created_at) / 60.0
    with store.read() as session:
        conn = session.connection()
        by_actor = {r["k"]: dict(r) for r in conn.execute(events).mappings()}
        tasks = dict(conn.execute(select(Task.worker_id, func.count()).where(done).group_by(Task.worker_id)).all())
        median = _percentile(conn, Task.worker_id, minutes, Task.__table__, done, 0.5)
        workers = conn.execute(
            select(Worker.id, Worker.name, User.username)
            .select_from(Worker.__table__.outerjoin(User, User.id == Worker.user_id))
            .order_by(Worker.id)
        ).all()
    out = []
    for w in workers:
        e = by_actor.get(w.username, {}) if w.username else {}
        c = {
            k: int(e.get(k) or 0)
            for k in ("reports", "valid_reports", "verifications", "verified_on_time", "checks", "checked_on_time")
        }
        c["tasks_handled"] = int(tasks.get(w.id, 0))
        rates = {
            "valid_report_rate": _rate(c["valid_reports"], c["reports"]),
            "on_time_verify_rate": _rate(c["verified_on_time"], c["verifications"]),
            "on_time_check_rate": _rate(c["checked_on_time"], c["checks"]),
        }
        m = median.get(w.id)
        row = Row(w.id, w.name, None, c, rates, {"response": {"median_minutes": m, "n": c["tasks_handled"]}})
        out.append(row)
    return out


def _dispatchers(store: Store, start: datetime, end: datetime, settings: Settings, kept: bool = True) -> list[Row]:
    dialect = store.engine.dialect.name
    auto = func.coalesce(Event.data["auto"].as_boolean(), false())
    r = Event.__table__.alias("r")
    x = Event.__table__.alias("x")
    rerouted = (
        exists()
        .where(
            x.c.entity_id == r.c.entity_id,
            x.c.kind == "case.redispatch",
            x.c.id > r.c.id,
            x.c.at < end,
            func.coalesce(x.c.data["same_department"].as_boolean(), false()) == false(),
        )
        .correlate(r)
    )
    wrong = (
        exists()
        .where(
            r.c.entity == "incident",
            r.c.entity_id == Event.entity_id,
            r.c.kind == "case.return",
            r.c.id > Event.id,
            r.c.at < end,
            r.c.data["from_department"].as_integer() == Event.data["to_department"].as_integer(),
            rerouted,
        )
        .correlate(Event.__table__)
    )
    dispatch = Event.kind.in_(("case.dispatch", "case.redispatch"))
    filing = Event.kind == "case.file"
    file_due = _after(dialect, Incident.created_at, settings.file_minutes)
    query = (
        select(
            Event.actor.label("k"),
            func.count(case((filing, 1))).label("filed"),
            func.count(case((and_(filing, Event.at <= file_due), 1))).label("filed_on_time"),
            func.count(case((dispatch, 1))).label("dispatched"),
            func.count(case((and_(dispatch, wrong), 1))).label("wrongly_routed"),
        )
        .select_from(Event.__table__.join(Incident, Incident.id == Event.entity_id))
        .where(
            Event.entity == "incident",
            or_(filing, dispatch),
            auto == false(),
            Event.at >= start,
            Event.at < end,
        )
        .group_by(Event.actor)
    )
    with store.read() as session:
        conn = session.connection()
        found = {row["k"]: dict(row) for row in conn.execute(query).mappings()}
        names = dict(conn.execute(select(User.username, User.display_name)).all())
    out = []
    for actor in sorted(found):
        c = {k: int(found[actor][k]) for k in ("filed", "filed_on_time", "dispatched", "wrongly_routed")}
        rates = {
            "on_time_filing_rate": _rate(c["filed_on_time"], c["filed"]),
            "accurate_dispatch_rate": _rate(c["dispatched"] - c["wrongly_routed"], c["dispatched"]),
        }
        out.append(Row(actor, names.get(actor, actor), None, c, rates, {}))
    return out


# --- who may see what, and the cases behind a number --------------------------------------------------


def visible(store: Store, actor: Actor, level: str) -> set[int] | None:
    """The department ids an actor may see figures of (None: all); ``Forbidden`` for anyone else.

    The command centre (operators, supervisors, admins) sees every level; a department's staff see the
    department level for their department and those below it; grid workers see none.
    """
    if actor.role in SEE_ALL:
        return None
    if actor.role == "staff" and actor.department_id is not None and level == "department":
        _, chains = _tree(store)
        return {d for d, chain in chains.items() if actor.department_id in chain}
    raise Forbidden("error.evaluation_forbidden", {"role": actor.role, "level": level})


def for_actor(
    store: Store,
    actor: Actor,
    start: datetime,
    end: datetime,
    level: str = "department",
    settings: Settings | None = None,
) -> Evaluation:
    """``evaluate`` as ``actor`` may see it: a department's staff get their subtree's rows only."""
    if level not in LEVELS:
        raise Invalid("error.evaluation_level", {"levels": ", ".join(LEVELS)}, field="level")
    scope = visible(store, actor, level)
    result = evaluate(store, start, end, level, settings)
    if scope is not None:
        result.rows = [r for r in result.rows if r.id in scope]
    return result


def cases(
    store: Store,
    actor: Actor,
    start: datetime,
    end: datetime,
    level: str,
    body_id: int,
    count: str,
    tree: bool = False,
    page: int = 1,
    size: int = 50,
    order: str = "dispatched",
    kept: bool = True,
) -> dict[str, Any]:
    """The cases behind one count of a department (``tree``: with its subtree) or a grid, a page at a
    time: ``{"total", "page", "size", "items"}``, each item with its stage times (the timeline). By
    first dispatch, or ``order="deadline"``: the earliest deadline first (the longest overdue)."""
    if level not in ("department", "grid"):
        raise Invalid("error.evaluation_drill_level", {}, field="level")
    if count not in DRILL:
        raise Invalid("error.evaluation_count", {"counts": ", ".join(DRILL)}, field="count")
    if not (1 <= size <= 500) or not (1 <= page <= 1_000_000):
        raise Invalid("error.evaluation_page", {}, field="page")
    scope = visible(store, actor, level)
    if kept:
        case_facts.refresh(store)
    f = _flags(store.engine.dialect.name, start, end, kept)
    if level == "department":
        departments, chains = _tree(store)
        if body_id not in departments:
            raise NotFound("error.department_missing", {"id": body_id})
        bodies = {d for d, chain in chains.items() if body_id in chain} if tree else {body_id}
        if scope is not None and not bodies <= scope:
            raise Forbidden("error.evaluation_forbidden", {"role": actor.role, "level": level})
        where = and_(f.owner.in_(sorted(bodies)), f.when[count])
    else:
        where = and_(f.grid == body_id, f.when[count])
    pc = f.pc
    with store.read() as session:
        conn = session.connection()
        total = conn.execute(select(func.count()).select_from(f.source).where(where)).scalar_one()
        rows = conn.execute(
            select(
                Incident.id,
                Incident.title,
                Incident.category,
                Incident.stage,
                Incident.urged_at,
                f.owner.label("department_id"),
                Incident.grid_id,
                Incident.created_at,
                pc.c.dispatched_at,
                pc.c.signed_at,
                pc.c.handled_at,
                pc.c.closed_at,
                pc.c.deadline,
                pc.c.handle_deadline,
                pc.c.held_at,
                pc.c.reworks,
            )
            .select_from(f.source)
            .where(where)
            .order_by(pc.c.deadline if order == "deadline" else pc.c.dispatched_at, Incident.id)
            .limit(size)
            .offset((page - 1) * size)
        ).mappings()
        items = [_times(dict(r)) for r in rows]
    return {"total": int(total), "page": page, "size": size, "items": items}


def _times(row: dict[str, Any]) -> dict[str, Any]:
    # SQLite hands back computed deadlines as text; every time leaves here as a datetime.
    for k in ("deadline", "handle_deadline"):
        if isinstance(row.get(k), str):
            row[k] = datetime.fromisoformat(row[k])
    return row


def month(text: str) -> tuple[datetime, datetime]:
    """A calendar month "YYYY-MM" on the city's clock, as [start, end) in naive UTC."""
    try:
        first = datetime.strptime(text, "%Y-%m")
    except (TypeError, ValueError):
        raise Invalid("error.evaluation_month", {}, field="month") from None
    nxt = datetime(first.year + first.month // 12, first.month % 12 + 1, 1)
    return _local_midnight(first), _local_midnight(nxt)


def _local_midnight(day: datetime) -> datetime:
    zone = ZoneInfo(CITY_TIMEZONE)
    return day.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


def league(
    store: Store,
    actor: Actor,
    start: datetime,
    end: datetime,
    level: str = "department",
    settings: Settings | None = None,
    before: tuple[datetime, datetime] | None = None,
) -> dict[str, Any]:
    """``for_actor`` as plain data, each row with the score of the previous period of the same length
    (or ``before``, such as the previous calendar month) as ``previous_score`` and the change
    (``trend``, points; None when either score is missing)."""
    settings = settings or load_settings()
    before = before or previous(start, end)
    now = for_actor(store, actor, start, end, level, settings)
    old_rows = for_actor(store, actor, *before, level, settings).by_id()
    out = now.plain()
    for row in out["rows"]:
        old = old_rows.get(row["id"])
        row["previous_score"] = old.score if old else None
        both = row["score"] is not None and row["previous_score"] is not None
        row["trend"] = round(row["score"] - row["previous_score"], 2) if both else None
    out["previous"] = {"start": before[0], "end": before[1]}
    return out


def urged(store: Store, actor: Actor, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Cases urged (督办 900) in [start, end), newest first, with what came of them: ``outcome`` is
    "closed" (closed after the urge, ``on_time`` against the urge's own deadline when it set one),
    "open" or "voided"."""
    scope = visible(store, actor, "department")
    urge = Event.__table__.alias("urge")
    after = Event.__table__.alias("after")
    closed_after = (
        select(func.min(after.c.at))
        .where(
            after.c.entity == "incident",
            after.c.entity_id == urge.c.entity_id,
            after.c.kind == "case.check_passed",
            after.c.id > urge.c.id,
        )
        .correlate(urge)
        .scalar_subquery()
    )
    query = (
        select(
            urge.c.id.label("event_id"),
            urge.c.entity_id.label("id"),
            urge.c.at.label("urged_at"),
            urge.c.actor.label("urged_by"),
            urge.c.data["reason"].as_string().label("note"),
            Incident.title,
            Incident.stage,
            Incident.department_id,
            Incident.urge_due_at,
            closed_after.label("closed_at"),
        )
        .select_from(urge.join(Incident, Incident.id == urge.c.entity_id))
        .where(urge.c.entity == "incident", urge.c.kind == "case.urge", urge.c.at >= start, urge.c.at < end)
        .order_by(urge.c.id.desc())
    )
    if scope is not None:
        query = query.where(Incident.department_id.in_(sorted(scope)))
    with store.read() as session:
        rows = [dict(r) for r in session.execute(query).mappings()]
    for r in rows:
        if r["closed_at"] is not None:
            r["outcome"] = "closed"
            r["on_time"] = r["urge_due_at"] is None or r["closed_at"] <= r["urge_due_at"]
        else:
            r["outcome"] = "voided" if r["stage"] == "voided" else "open"
            r["on_time"] = None
    return rows


def urge_department(cases_rules: Any, store: Store, actor: Actor, department_id: int, note: str) -> list[int]:
    """Urge (督办) every open case the department owns, each by the case's own urge move
    (``ops.cases.Cases.act``: its permission check, its event); the ids urged. A case that moved
    on meanwhile is skipped (its move was refused as a conflict), not an error."""
    if actor.role not in ("supervisor", "admin"):
        raise Forbidden("error.evaluation_urge", {"role": actor.role})
    if not isinstance(note, str) or not note.strip():
        raise Invalid("error.case_needs_text", {"action": "urge", "field": "note"}, field="note")
    with store.read() as session:
        if session.get(Department, department_id) is None:
            raise NotFound("error.department_missing", {"id": department_id})
        ids = session.scalars(
            select(Incident.id)
            .where(Incident.department_id == department_id, Incident.stage.in_(DEPARTMENT_STAGES))
            .order_by(Incident.id)
        ).all()
    done = []
    for incident_id in ids:
        try:
            cases_rules.act(actor, incident_id, "urge", {"note": note})
        except Conflict:
            continue
        done.append(incident_id)
    return done


__all__ = [
    "LEVELS",
    "league",
    "month",
    "urge_department",
    "urged",
    "Evaluation",
    "Row",
    "Settings",
    "cases",
    "evaluate",
    "for_actor",
    "grade",
    "load_settings",
    "previous",
    "visible",
]
