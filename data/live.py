"""The open items every screen shows, held in memory per process and kept current incrementally.

A live tick used to recount the open load per grid, the KPIs, the queue and the most urgent items
over every open item in the store (about 100 ms each at 100,000 open items). Here the open items
are numpy columns refreshed from the rows whose ``change_seq`` moved since the last look (the
database stamps every insert and update in commit order; ``ix_incidents_change_seq`` finds them),
so a tick counts in memory and a long transaction's rows are read when it commits, however early
it wrote them. The whole set is also re-read every ``resync_s`` seconds, on time (``Reconciler``).
The SQL versions in ``data/queries/`` stay the reference; tests hold both to the same answers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select

from data.live_field import LiveParking, LiveWorkers
from data.mirror import Columns, Mirror, Newest, Reconciler, newest_columns, upsert_by_id
from data.models import (
    CASE_ACTIVE_STAGES,
    FINAL_STATUSES,
    KINDS,
    MAP_KINDS,
    OPEN_STAGES,
    OPEN_STATUSES,
    STAGES,
    STATUSES,
    UNASSIGNED_STATUSES,
    Incident,
    open_item,
    utcnow,
)
from data.queries import ItemColumns, counted_titles, kpis
from data.store import Store

COLUMNS = (
    Incident.id,
    Incident.kind,
    Incident.status,
    Incident.priority,
    Incident.grid_id,
    Incident.lon,
    Incident.lat,
    Incident.title,
    Incident.due_at,
    Incident.report_count,
    Incident.department_id,
    Incident.stage,
    Incident.stage_due_at,
)


KIND_CODE = {k: i for i, k in enumerate(KINDS)}
STATUS_CODE = {k: i for i, k in enumerate(STATUSES)}
STAGE_CODE = {k: i for i, k in enumerate(STAGES)}
IS_OPEN = np.array([st in OPEN_STATUSES for st in STATUSES])
IS_FINAL = np.array([st in FINAL_STATUSES for st in STATUSES])
IS_ACTIVE_STAGE = np.array([st in CASE_ACTIVE_STAGES for st in STAGES])
IS_OPEN_STAGE = np.array([st in OPEN_STAGES for st in STAGES])


def still_open(cols: Columns) -> np.ndarray:
    """``data.models.open_item`` over columns: open by status, or held in an active stage and not final."""
    return IS_OPEN[cols["status"]] | (IS_ACTIVE_STAGE[cols["stage"]] & ~IS_FINAL[cols["status"]])


IS_WAITING = np.array([st in UNASSIGNED_STATUSES for st in STATUSES])
ON_MAP = np.array([k in MAP_KINDS for k in KINDS])


def _read(store: Store, since: int | None, chunk: int = 100_000) -> Columns:
    """Rows as numpy columns (kind and status as small integer codes), read in chunks."""
    q = select(*COLUMNS)
    q = q.where(Incident.change_seq >= since) if since is not None else q.where(open_item())
    parts = []
    with store.read() as s:
        # A full read streams in chunks; an incremental one is small and needs no server-side cursor.
        conn = s.connection().execution_options(yield_per=chunk) if since is None else s.connection()
        for rows in conn.execute(q).partitions(chunk):
            parts.append(_columns(rows))
    if not parts:
        return _columns([])
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return cols if since is not None else _take(cols, np.argsort(cols["id"], kind="stable"))  # held by id


def _columns(rows: Any) -> Columns:
    cols = list(zip(*rows, strict=True)) if rows else [()] * len(COLUMNS)
    return {
        "id": np.array(cols[0], dtype=np.int64),
        "kind": np.array([KIND_CODE.get(k, 0) for k in cols[1]], dtype=np.int8),
        "status": np.array([STATUS_CODE.get(x, 0) for x in cols[2]], dtype=np.int8),
        "priority": np.array(cols[3], dtype=np.int8),
        "grid_id": np.array([-1 if g is None else g for g in cols[4]], dtype=np.int64),
        "lon": np.array(cols[5], dtype=np.float64),
        "lat": np.array(cols[6], dtype=np.float64),
        "title": np.array(cols[7], dtype=object),
        "due_at": np.array(cols[8], dtype="datetime64[us]"),
        "report_count": np.array(cols[9], dtype=np.int32),
        "department_id": np.array([-1 if d is None else d for d in cols[10]], dtype=np.int64),
        "stage": np.array([STAGE_CODE.get(x, 0) for x in cols[11]], dtype=np.int8),
        "stage_due_at": np.array(cols[12], dtype="datetime64[us]"),
    }


def _take(cols: Columns, index: np.ndarray) -> Columns:
    return {k: v[index] for k, v in cols.items()}


class LiveItems(Mirror[Columns]):
    """Open items as columns; ``refresh()`` before reading, then the methods answer from memory."""

    stamp = Incident.__table__.c.change_seq

    def __init__(self, store: Store, resync_s: float = 120.0):
        super().__init__(store, resync_s)

    def read(self, since: int | None) -> Columns:
        return _read(self.store, since)

    def merge(self, held: Columns, changed: Columns) -> Columns:
        return upsert_by_id(held, changed, keep=still_open(changed))

    def columns(self) -> Columns:
        """The open items now held (refresh first for the newest)."""
        return self.held()

    # --- what the screens read ---------------------------------------------------------------------------

    def load_by_grid(self, grid_ids: np.ndarray) -> np.ndarray:
        """Open items per grid, in ``grid_ids`` order (sorted ids, zeros included)."""
        gid = self.columns()["grid_id"]
        lut = self._lookup(grid_ids)
        gid = gid[(gid >= 0) & (gid < len(lut))]
        pos = lut[gid]
        return np.bincount(pos[pos >= 0], minlength=len(grid_ids)).astype(np.int64)

    def _lookup(self, grid_ids: np.ndarray) -> np.ndarray:
        """grid id → position in ``grid_ids`` (-1 for none), as an array indexed by id: O(1) per item."""
        key = (len(grid_ids), int(grid_ids[-1]) if len(grid_ids) else 0)
        cached = getattr(self, "_lut", None)
        if cached is None or cached[0] != key:
            lut = np.full(int(grid_ids.max()) + 1 if len(grid_ids) else 1, -1, dtype=np.int64)
            lut[grid_ids] = np.arange(len(grid_ids))
            self._lut = (key, lut)
        return self._lut[1]

    def kpi_counts(self, now: datetime | None = None, departments: tuple[int, ...] | None = None) -> dict[str, Any]:
        """Open per kind, unassigned and overdue: the item part of ``queries.kpis`` (``departments``: their cases)."""
        now = now or utcnow()
        cols = self.columns()
        if departments is not None:
            cols = _take(cols, np.flatnonzero(np.isin(cols["department_id"], departments)))
        per_kind = np.bincount(cols["kind"], minlength=len(KINDS))
        return {
            "open": {k: int(per_kind[KIND_CODE[k]]) for k in ("fire", "police", "ticket", "alarm")},
            "unassigned": int(IS_WAITING[cols["status"]].sum()),
            "overdue": int((cols["due_at"] < np.datetime64(now, "us")).sum()),
        }

    def case_counts(self, now: datetime | None = None, departments: tuple[int, ...] | None = None) -> dict[str, int]:
        """Cases past their stage's deadline, and cases filed that no department owns (the dispatchers' queue)."""
        now = now or utcnow()
        cols = self.columns()
        everyone = np.ones(len(cols["id"]), dtype=bool)
        mine = np.isin(cols["department_id"], departments) if departments is not None else everyone
        return {
            "stage_overdue": int((stage_overdue(cols, now) & mine).sum()),
            "no_owner": int((no_owner(cols) & mine).sum()),
        }

    def items(
        self,
        now: datetime | None = None,
        bbox: tuple[float, float, float, float] | None = None,
        per_kind: int | None = None,
        limit: int = 20_000,
        departments: tuple[int, ...] | None = None,
    ) -> ItemColumns:
        """Same answer as ``queries.open_items``: inside ``bbox``, or the ``per_kind`` most urgent
        (``departments``: only the cases those bodies own)."""
        now = now or utcnow()
        cols = self.columns()
        if departments is not None:
            cols = _take(cols, np.flatnonzero(np.isin(cols["department_id"], departments)))
        if per_kind is not None and not bbox:
            parts = []
            for kind in MAP_KINDS:
                idx = np.flatnonzero(cols["kind"] == KIND_CODE[kind])
                order = np.lexsort((-cols["id"][idx], cols["priority"][idx]))[:per_kind]
                parts.append(idx[order])
            chosen = np.concatenate(parts)
        else:
            keep = ON_MAP[cols["kind"]]
            if bbox:
                lon, lat = cols["lon"], cols["lat"]
                keep &= (lon >= bbox[0]) & (lon <= bbox[2]) & (lat >= bbox[1]) & (lat <= bbox[3])
            idx = np.flatnonzero(keep)
            chosen = idx[np.argsort(-cols["id"][idx], kind="stable")[:limit]]
        titles = counted_titles(cols["title"][chosen], cols["report_count"][chosen])
        return ItemColumns(
            id=cols["id"][chosen],
            kind=np.array(KINDS, dtype=object)[cols["kind"][chosen]],
            lon=cols["lon"][chosen],
            lat=cols["lat"][chosen],
            priority=cols["priority"][chosen].astype(np.int64),
            status=np.array(STATUSES, dtype=object)[cols["status"][chosen]],
            title=titles,
            overdue=(cols["due_at"][chosen] < np.datetime64(now, "us")) | stage_overdue(cols, now)[chosen],
            no_owner=no_owner(cols)[chosen],
        )

    def queue(self, grid_names: dict[int, str], limit: int = 300, now: datetime | None = None) -> list[dict[str, Any]]:
        """Same answer as ``queries.queue_items``: unassigned first, then overdue, priority, due time."""
        return self.queue_page(grid_names, QueueFilter(), 0, limit, now)[0]

    def queue_page(
        self,
        grid_names: dict[int, str],
        flt: QueueFilter,
        offset: int = 0,
        limit: int = 300,
        now: datetime | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of the queue in its order, with how many open items match ``flt`` in all."""
        now = now or utcnow()
        cols = self.columns()
        idx = np.flatnonzero(flt.mask(cols, grid_names, now))
        total, wanted = len(idx), offset + limit
        due = cols["due_at"][idx]
        late = due < np.datetime64(now, "us")
        waiting = IS_WAITING[cols["status"][idx]]
        if len(idx) > 4 * wanted:
            # Only the first ``wanted`` are shown: pick a generous slice by one coarse key (group, priority,
            # due to the millisecond), then order that slice exactly. Sorting every open item was most of it.
            ms = (due - due.min()).astype("timedelta64[ms]").astype(np.float64)
            coarse = (~waiting) * 4e13 + (~late) * 2e13 + cols["priority"][idx] * 1e12 + ms
            keep = np.argpartition(coarse, 2 * wanted)[: 2 * wanted]
            edge = coarse[keep].max()
            idx, due, late, waiting = (a[coarse <= edge] for a in (idx, due, late, waiting))
        order = np.lexsort((cols["id"][idx], due, cols["priority"][idx], ~late, ~waiting))[offset:wanted]
        return [_queue_row(cols, i, grid_names, now) for i in idx[order]], total

    def queue_rows_for(self, ids: list[int], grid_names: dict[int, str], now: datetime | None = None) -> dict[int, Any]:
        """The queue rows of ``ids`` that are still open, by id (the rest have left the queue)."""
        now = now or utcnow()
        held = self.columns()["id"]
        wanted = np.asarray(ids, dtype=np.int64)
        pos = np.searchsorted(held, wanted)
        pos[pos >= len(held)] = 0
        found = held[pos] == wanted if len(held) else np.zeros(len(wanted), dtype=bool)
        cols = self.columns()
        return {int(wanted[k]): _queue_row(cols, int(pos[k]), grid_names, now) for k in np.flatnonzero(found)}


@dataclass(frozen=True)
class QueueFilter:
    """What an operator narrowed the queue to: a search (id, title or grid name) and kind/priority/state filters."""

    search: str = ""
    kinds: tuple[str, ...] = ()
    priorities: tuple[int, ...] = ()
    overdue_only: bool = False
    waiting_only: bool = False
    stage_overdue_only: bool = False
    no_owner_only: bool = False
    stages: tuple[str, ...] = ()
    departments: tuple[int, ...] | None = None  # a department console: only what these bodies own

    @classmethod
    def parse(cls, raw: Any) -> QueueFilter:
        """From the page's filter store; anything malformed is dropped rather than trusted."""
        if not isinstance(raw, dict):
            return cls()
        search = raw.get("search")
        kinds = raw.get("kinds") if isinstance(raw.get("kinds"), list) else []
        priorities = raw.get("priorities") if isinstance(raw.get("priorities"), list) else []
        flags = raw.get("flags") if isinstance(raw.get("flags"), list) else []
        stages = raw.get("stages") if isinstance(raw.get("stages"), list) else []
        return cls(
            search=search.strip()[:100] if isinstance(search, str) else "",
            kinds=tuple(k for k in kinds if k in MAP_KINDS),
            priorities=tuple(int(p) for p in priorities if str(p) in ("1", "2", "3")),
            overdue_only="overdue" in flags,
            waiting_only="waiting" in flags,
            stage_overdue_only="stage_overdue" in flags,
            no_owner_only="no_owner" in flags,
            stages=tuple(st for st in stages if st in STAGES),
        )

    def mask(self, cols: Columns, grid_names: dict[int, str], now: datetime) -> np.ndarray:
        keep = ON_MAP[cols["kind"]]
        if self.kinds:
            keep &= np.isin(cols["kind"], [KIND_CODE[k] for k in self.kinds])
        if self.priorities:
            keep &= np.isin(cols["priority"], self.priorities)
        if self.overdue_only:
            keep &= cols["due_at"] < np.datetime64(now, "us")
        if self.waiting_only:
            keep &= IS_WAITING[cols["status"]]
        if self.stage_overdue_only:
            keep &= stage_overdue(cols, now)
        if self.no_owner_only:
            keep &= no_owner(cols)
        if self.stages:
            keep &= np.isin(cols["stage"], [STAGE_CODE[st] for st in self.stages])
        if self.departments is not None:
            keep &= np.isin(cols["department_id"], self.departments)
        if self.search:
            keep &= self._matches(cols, grid_names)
        return keep

    def _matches(self, cols: Columns, grid_names: dict[int, str]) -> np.ndarray:
        needle = self.search.lstrip("#").casefold()
        by_id = cols["id"] == int(needle) if needle.isdigit() and len(needle) < 19 else np.zeros(len(cols["id"]), bool)
        titles = np.fromiter((needle in t.casefold() for t in cols["title"]), dtype=bool, count=len(cols["title"]))
        grids = [g for g, name in grid_names.items() if name and needle in name.casefold()]
        return by_id | titles | np.isin(cols["grid_id"], grids)


def no_owner(cols: Columns) -> np.ndarray:
    """Filed or returned, and no department owns it: waiting for a dispatcher to choose one."""
    waiting = np.isin(cols["stage"], [STAGE_CODE["filed"], STAGE_CODE["returned"]])
    return waiting & (cols["department_id"] < 0) & ON_MAP[cols["kind"]]


def stage_overdue(cols: Columns, now: datetime) -> np.ndarray:
    """Past the deadline of the stage it is in (NaT: the stage has no clock)."""
    due = cols["stage_due_at"]
    return IS_OPEN_STAGE[cols["stage"]] & ~np.isnat(due) & (due < np.datetime64(now, "us"))


def _queue_row(cols: Columns, i: int, grid_names: dict[int, str], now: datetime) -> dict[str, Any]:
    due_at = cols["due_at"][i].astype(datetime)
    stage_due = cols["stage_due_at"][i]
    stage_due_at = None if np.isnat(stage_due) else stage_due.astype(datetime)
    stage = STAGES[cols["stage"][i]]
    return {
        "id": int(cols["id"][i]),
        "kind": KINDS[cols["kind"][i]],
        "title": cols["title"][i],
        "status": STATUSES[cols["status"][i]],
        "priority": int(cols["priority"][i]),
        "due_at": due_at,
        "grid": grid_names.get(int(cols["grid_id"][i])),
        "overdue": due_at < now,
        "stage": stage,
        "stage_due_at": stage_due_at,
        "stage_overdue": bool(stage_due_at and stage in OPEN_STAGES and stage_due_at < now),
        "department_id": int(cols["department_id"][i]) if cols["department_id"][i] >= 0 else None,
    }


@dataclass
class Live:
    """What a process holds in memory for the live screens: open items, workers, parking spaces."""

    items: LiveItems
    workers: LiveWorkers
    parking: LiveParking
    reconcile_every_s: float = 5.0
    _reconciler: Reconciler | None = field(default=None, repr=False)

    @classmethod
    def of(cls, store: Store, resync_s: float = 120.0) -> Live:
        return cls(LiveItems(store, resync_s), LiveWorkers(store, resync_s), LiveParking(store, resync_s))

    def __post_init__(self) -> None:
        # The full re-reads run on time even when nothing polls or changes (the thread ends with this object).
        self._reconciler = Reconciler(self.mirrors, min(self.reconcile_every_s, self.items.resync_s))

    def mirrors(self) -> list[Mirror[Any]]:
        return [self.items, self.workers, self.parking]

    def close(self) -> None:
        """Stop the background re-reads (a process that ends needs not call it: the thread is a daemon)."""
        if self._reconciler is not None:
            self._reconciler.stop()

    def resynced_within(self, seconds: float) -> bool:
        """Whether a background full re-read replaced any of the rows in the last ``seconds``."""
        return time.monotonic() - max(m.resynced_at for m in self.mirrors()) < seconds

    @property
    def generation(self) -> int:
        """How many background full re-reads have replaced rows: what a screen drew before one is stale."""
        return sum(m.resyncs for m in self.mirrors())

    def refresh(self) -> None:
        newest = self.newest()
        for name in ("items", "workers", "parking"):
            getattr(self, name).refresh(newest[name])

    def newest(self) -> dict[str, Newest]:
        """Each mirrored table's (newest change stamp, horizon), in one query (one round trip, not three)."""
        mirrors = {"items": self.items, "workers": self.workers, "parking": self.parking}
        cols = [c for m in mirrors.values() for c in newest_columns(self.items.store, m.stamp)]
        with self.items.store.read() as s:
            row = s.execute(select(*cols)).one()
        return {k: (row[2 * i], int(row[2 * i + 1])) for i, k in enumerate(mirrors)}

    def kpis(self, now: datetime | None = None, departments: tuple[int, ...] | None = None) -> dict[str, Any]:
        """Same answer as ``queries.kpis``, from memory (refresh first); ``departments``: their cases only."""
        return kpis(
            self.items.store,
            now,
            items=self.items.kpi_counts(now, departments),
            parking=self.parking.counts(),
            on_duty=self.workers.on_duty(),
        )
