"""Every item's review columns, held in memory as one pandas frame and kept current incrementally.

A year of a city's history is a few million rows: re-reading it from the store on every click of
the review page would take seconds, while filtering and grouping columns in memory takes tens of
milliseconds. The frame is read once, then only rows whose ``change_seq`` moved are read again
(the database stamps every change to an item in commit order; ``ix_incidents_change_seq`` keeps that cheap).

The frame holds a window, not the whole history: the items created in the last ``window_days`` days
(config ``review_window_days``), plus the few created earlier that were still open at the window's
start (the backlog chart counts them). The window's start moves with the clock and each refresh
drops what fell out of it, so a process's memory is bounded by the window, not by the length of the
history. A period that starts before the window is read from the store on demand (``covering``) into
one archive frame of the same columns, kept current the same way and dropped when idle.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import h3
import numpy as np
import pandas as pd
from sqlalchemy import and_, func, or_, select

from config import DEFAULT_REVIEW_WINDOW_DAYS
from data.mirror import Mirror
from data.models import Grid, Incident, Worker, utcnow
from data.review import finished_at
from data.store import Store

COLUMNS = (
    Incident.id,
    Incident.kind,
    Incident.category,
    Incident.status,
    Incident.priority,
    Incident.grid_id,
    Incident.assigned_worker_id,
    Incident.lon,
    Incident.lat,
    Incident.created_at,
    Incident.updated_at,
    Incident.due_at,
    Incident.resolved_at,
    Incident.closed_at,
)
HEX_RESOLUTION = 8  # ~0.74 km² cells; coarser levels are parents of these
CATEGORICAL = ("kind", "category", "status")


def hex_cells(lat: np.ndarray, lon: np.ndarray, resolution: int = HEX_RESOLUTION) -> np.ndarray:
    """H3 cell ids (int64) of WGS-84 points."""
    if len(lat) == 0:
        return np.zeros(0, dtype=np.uint64)
    # h3-py converts one point per call: round to ~1 m and convert each distinct point once.
    key = np.round(lat, 5) * 1e6 + np.round(lon, 5)
    uniq, inverse = np.unique(key, return_inverse=True)
    first = np.zeros(len(uniq), dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(key))[::-1]
    pairs = zip(lat[first].tolist(), lon[first].tolist(), strict=True)
    cells = np.array([h3.str_to_int(h3.latlng_to_cell(a, b, resolution)) for a, b in pairs], dtype=np.uint64)
    return cells[inverse]


# (first created, end of creation or None, open at): the items created in [first, end), and those created
# before ``first`` that had not finished by ``open at`` (what a backlog from then on counts).
Scope = tuple[datetime, datetime | None, datetime]


def _scope_clause(scope: Scope) -> Any:
    """``scope`` as a WHERE clause; the same rows as ``in_scope`` (``review.finished_at`` in SQL)."""
    first, end, open_at = scope
    created = Incident.created_at >= first
    if end is not None:
        created = and_(created, Incident.created_at < end)
    done = func.coalesce(Incident.resolved_at, Incident.closed_at)
    unfinished = or_(
        done >= open_at,
        and_(done.is_(None), or_(Incident.status != "cancelled", Incident.updated_at >= open_at)),
    )
    return or_(created, and_(Incident.created_at < first, unfinished))


def in_scope(frame: pd.DataFrame, scope: Scope) -> np.ndarray:
    """Which rows of ``frame`` ``scope`` holds (see ``Scope``)."""
    first, end, open_at = scope
    created = frame["created_at"].to_numpy()
    inside = created >= np.datetime64(first)
    if end is not None:
        inside &= created < np.datetime64(end)
    before = created < np.datetime64(first)
    if before.any():
        done = finished_at(frame[before])
        before[before] = (done.isna() | (done >= open_at)).to_numpy()
    return inside | before


def _read(store: Store, since: int | None, chunk: int = 100_000, scope: Scope | None = None) -> pd.DataFrame:
    """The review columns of every item (changed since ``since``; within ``scope`` when given), read in
    chunks so a million rows never exist as Python row objects all at once."""
    q = select(*COLUMNS)
    if since is not None:
        q = q.where(Incident.change_seq >= since)
    if scope is not None:
        q = q.where(_scope_clause(scope))
    names = [c.key for c in COLUMNS]
    parts = []
    with store.read() as s:
        # A full read streams in chunks; an incremental one is small and needs no server-side cursor.
        conn = s.connection().execution_options(yield_per=chunk) if since is None else s.connection()
        for rows in conn.execute(q).partitions(chunk):
            parts.append(_columns(pd.DataFrame.from_records(rows, columns=names)))
    frame = _concat(parts) if parts else _columns(pd.DataFrame(columns=names))
    return frame.set_index("id", drop=False)


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Stack frames keeping the text columns categorical (one shared category set per column)."""
    parts = [p for p in parts if len(p)] or parts[:1]
    for name in CATEGORICAL:
        categories = sorted(set().union(*(p[name].cat.categories for p in parts)))
        for p in parts:
            p[name] = p[name].cat.set_categories(categories)
    return pd.concat(parts)


def _columns(frame: pd.DataFrame) -> pd.DataFrame:
    for name in ("created_at", "updated_at", "due_at", "resolved_at", "closed_at"):
        frame[name] = pd.to_datetime(frame[name])
    frame["id"] = frame["id"].astype(np.int64)
    frame["grid_id"] = frame["grid_id"].fillna(-1).astype(np.int32)
    frame["assigned_worker_id"] = frame["assigned_worker_id"].fillna(-1).astype(np.int32)
    frame["priority"] = frame["priority"].astype(np.int8)
    frame["lon"] = frame["lon"].astype(np.float64)
    frame["lat"] = frame["lat"].astype(np.float64)
    for name in CATEGORICAL:
        frame[name] = frame[name].astype("category")
    frame["h3"] = hex_cells(frame["lat"].to_numpy(), frame["lon"].to_numpy())
    return frame


def period_frame(store: Store, start: datetime, end: datetime) -> pd.DataFrame:
    """The rows that answer the review figures of [start, end), read once from the store."""
    return _read(store, None, scope=(start, end, start))


class History(Mirror[pd.DataFrame]):
    """The process's copy of the item columns over the window; ``frame()`` answers from memory after
    the first read, ``covering(start, end)`` also answers a period that starts before the window."""

    stamp = Incident.__table__.c.change_seq
    PRUNE_S = 60.0  # drop what fell out of the window when its start moved by this much
    ARCHIVE_IDLE_S = 300.0  # an archive frame nobody asked for in this long is dropped

    def __init__(
        self,
        store: Store,
        max_age_s: float = 3.0,
        resync_s: float = 1800.0,
        window_days: float = DEFAULT_REVIEW_WINDOW_DAYS,
        clock: Callable[[], datetime] = utcnow,
    ):
        super().__init__(store, resync_s, max_age_s)
        self.window = timedelta(days=window_days)
        self.clock = clock
        self.cutoff: datetime | None = None  # the window's start as of the rows held (None: not read yet)
        self._archive: Archive | None = None
        self._archive_lock = threading.Lock()
        self.archive_reads = 0

    def scope(self) -> Scope:
        """What the frame holds now: created since the window's start, or open at it."""
        cutoff = self.clock() - self.window
        return cutoff, None, cutoff

    def frame(self) -> pd.DataFrame:
        """The items of the window; at most ``max_age_s`` behind the store."""
        return self.current()

    def read(self, since: int | None) -> pd.DataFrame:
        scope = self.scope()
        frame = _read(self.store, since, scope=scope)
        if since is None:
            self.cutoff = scope[0] if self.cutoff is None else max(self.cutoff, scope[0])
        return frame

    def merge(self, held: pd.DataFrame, changed: pd.DataFrame) -> pd.DataFrame:
        kept = held[~held.index.isin(changed.index)]
        return self._prune(_concat([kept, changed]).sort_index())

    def _catch_up(self, newest: Any) -> None:
        super()._catch_up(newest)
        # The window's start moves with the clock even when nothing changed: drop what fell out of it.
        if (
            self._state is not None
            and self.cutoff is not None
            and self.scope()[0] - self.cutoff >= timedelta(seconds=self.PRUNE_S)
        ):
            self._state = self._prune(self._state)

    def _prune(self, frame: pd.DataFrame) -> pd.DataFrame:
        scope = self.scope()
        keep = in_scope(frame, scope)
        self.cutoff = scope[0] if self.cutoff is None else max(self.cutoff, scope[0])
        return frame if keep.all() else frame[keep]

    def archived(self, start: datetime) -> bool:
        """Whether a period starting at ``start`` is before the window (read from the store)."""
        cutoff = self.cutoff if self.cutoff is not None else self.scope()[0]
        return start < cutoff

    def covering(self, start: datetime, end: datetime) -> pd.DataFrame:
        """Rows that answer every review figure of the period [start, end) exactly as the whole
        history would: the window's frame when the period starts inside it, else the period's own
        frame read from the store (one per process, the last asked for, dropped after
        ``ARCHIVE_IDLE_S`` unused)."""
        frame = self.current()
        if not self.archived(start):
            return frame
        # A period that reaches into the window reads on to the newest items: the archive then also
        # answers the same range a moment later ("365d" with a shorter window), caught up, not re-read.
        assert self.cutoff is not None
        upto = None if end >= self.cutoff else end
        with self._archive_lock:
            archive = self._archive
            made = archive is None or not archive.holds(start, end)
            if made:
                self._drop_archive()
                archive = self._archive = Archive(self.store, start, upto, self.max_age_s)
                self.archive_reads += 1
            archive.used = time.monotonic()
        frame = archive.current()
        # Idle time counts from the end of a use: a read longer than the idle time must not drop its own archive.
        archive.used = time.monotonic()
        if made:
            self._expire_later(archive, self.ARCHIVE_IDLE_S)
        return frame

    def held_archive(self) -> pd.DataFrame | None:
        """The archive frame this process holds, if any (tests and the bench count its rows)."""
        archive = self._archive
        return archive._state if archive is not None else None

    def _drop_archive(self) -> None:
        self._archive = None

    def _expire(self, archive: Archive) -> None:
        with self._archive_lock:
            if self._archive is not archive:
                return
            idle = time.monotonic() - archive.used
            if idle >= self.ARCHIVE_IDLE_S:
                self._drop_archive()
                return
        self._expire_later(archive, self.ARCHIVE_IDLE_S - idle)

    def _expire_later(self, archive: Archive, delay: float) -> None:
        timer = threading.Timer(delay, self._expire, args=(archive,))
        timer.daemon = True
        timer.start()


class Archive(History):
    """One period before the window: its items and those still open at its start, read on demand."""

    def __init__(self, store: Store, start: datetime, end: datetime | None, max_age_s: float = 3.0):
        super().__init__(store, max_age_s=max_age_s)
        self.period = (start, end)  # end None: up to the newest item
        self.used = time.monotonic()

    def scope(self) -> Scope:
        start, end = self.period
        return start, end, start

    def holds(self, start: datetime, end: datetime) -> bool:
        """Whether this archive answers [start, end): its items are those created in a range around
        it, and those still open at its start were open at any later instant too if not finished."""
        first, last = self.period
        return first <= start and (last is None or end <= last)


def grid_table(store: Store) -> pd.DataFrame:
    """Grid id → name, district, population, centre (small; read per use)."""
    with store.read() as s:
        rows = s.execute(
            select(Grid.id, Grid.name, Grid.district, Grid.population, Grid.center_lon, Grid.center_lat)
        ).all()
    return pd.DataFrame.from_records(
        rows, columns=["grid_id", "grid", "district", "population", "lon", "lat"]
    ).set_index("grid_id")


def worker_table(store: Store) -> pd.DataFrame:
    with store.read() as s:
        rows = s.execute(select(Worker.id, Worker.name, Worker.role, Worker.grid_id)).all()
    return pd.DataFrame.from_records(rows, columns=["worker_id", "worker", "role", "grid_id"]).set_index("worker_id")
