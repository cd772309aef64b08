"""Every item's review columns, held in memory as one pandas frame and kept current incrementally.

A year of a city's history is a few million rows: re-reading it from the store on every click of
the review page would take seconds, while filtering and grouping columns in memory takes tens of
milliseconds. The frame is read once, then only rows whose ``updated_at`` moved are read again
(every change to an item touches ``updated_at``; ``ix_incidents_updated_at`` keeps that cheap).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

import h3
import numpy as np
import pandas as pd
from sqlalchemy import func, select

from data.models import Grid, Incident, Worker
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
# A refresh re-reads rows changed since the newest change it saw, minus this overlap, so a row
# committed late with a slightly older timestamp is still picked up.
OVERLAP = timedelta(seconds=5)


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


def _read(store: Store, since: datetime | None, chunk: int = 100_000) -> pd.DataFrame:
    """The review columns of every item (changed since ``since``), read in chunks so a million rows
    never exist as Python row objects all at once."""
    q = select(*COLUMNS)
    if since is not None:
        q = q.where(Incident.updated_at >= since)
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


class History:
    """The process's copy of the item columns; ``frame()`` answers from memory after the first read."""

    def __init__(self, store: Store, max_age_s: float = 3.0, resync_s: float = 1800.0):
        self.store = store
        self.max_age_s = max_age_s
        self.resync_s = resync_s
        self._frame: pd.DataFrame | None = None
        self._mark: datetime | None = None
        self._checked = 0.0
        self._synced = 0.0
        self._resyncing = False
        self._lock = threading.Lock()

    @property
    def ready(self) -> bool:
        """Whether the first read is done (the review page then answers at once)."""
        return self._frame is not None

    def frame(self) -> pd.DataFrame:
        """Every item; at most ``max_age_s`` behind the store."""
        with self._lock:
            now = time.monotonic()
            if self._frame is None:
                mark = self._newest()  # before the read: what changes during it is read again next time
                self._frame = _read(self.store, None)
                self._mark, self._checked, self._synced = mark, now, now
            elif now - self._checked > self.max_age_s:
                self._refresh()
                self._checked = now
            frame = self._frame
            due = now - self._synced > self.resync_s and not self._resyncing
            if due:
                self._resyncing = True
        if due:
            # A full re-read now and then heals what an incremental read cannot see (a writer's clock
            # far behind, a long transaction on PostgreSQL committing after newer ones).
            threading.Thread(target=self._resync, name="onemap-history-resync", daemon=True).start()
        return frame

    def _resync(self) -> None:
        try:
            mark = self._newest()
            fresh = _read(self.store, None)
            with self._lock:
                self._frame = fresh
                self._mark = min(self._mark, mark) if self._mark and mark else mark
                self._synced = time.monotonic()
        finally:
            self._resyncing = False

    def _newest(self) -> datetime | None:
        with self.store.read() as s:
            return s.scalar(select(func.max(Incident.updated_at)))

    def _refresh(self) -> None:
        newest = self._newest()
        if newest is None or (self._mark is not None and newest <= self._mark):
            return
        since = self._mark - OVERLAP if self._mark is not None else None
        changed = _read(self.store, since)
        assert self._frame is not None
        kept = self._frame[~self._frame.index.isin(changed.index)]
        self._frame = _concat([kept, changed]).sort_index()
        self._mark = newest


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
