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


def _read(store: Store, since: datetime | None) -> pd.DataFrame:
    q = select(*COLUMNS)
    if since is not None:
        q = q.where(Incident.updated_at >= since)
    with store.read() as s:
        rows = s.execute(q).all()
    frame = pd.DataFrame.from_records(rows, columns=[c.key for c in COLUMNS])
    for name in ("created_at", "updated_at", "due_at", "resolved_at", "closed_at"):
        frame[name] = pd.to_datetime(frame[name])
    frame["grid_id"] = frame["grid_id"].fillna(-1).astype(np.int32)
    frame["assigned_worker_id"] = frame["assigned_worker_id"].fillna(-1).astype(np.int32)
    frame["priority"] = frame["priority"].astype(np.int8)
    frame["lon"] = frame["lon"].astype(np.float64)
    frame["lat"] = frame["lat"].astype(np.float64)
    frame["h3"] = hex_cells(frame["lat"].to_numpy(), frame["lon"].to_numpy())
    return frame.set_index("id", drop=False)


class History:
    """The process's copy of the item columns; ``frame()`` answers from memory after the first read."""

    def __init__(self, store: Store, max_age_s: float = 3.0):
        self.store = store
        self.max_age_s = max_age_s
        self._frame: pd.DataFrame | None = None
        self._mark: datetime | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def frame(self) -> pd.DataFrame:
        """Every item; at most ``max_age_s`` behind the store."""
        with self._lock:
            now = time.monotonic()
            if self._frame is None:
                self._frame = self._categorise(_read(self.store, None))
                self._mark = self._newest()
                self._checked = now
            elif now - self._checked > self.max_age_s:
                self._refresh()
                self._checked = now
            return self._frame

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
        merged = pd.concat([kept.astype({c: object for c in CATEGORICAL}), changed])
        self._frame = self._categorise(merged.sort_index())
        self._mark = newest

    @staticmethod
    def _categorise(frame: pd.DataFrame) -> pd.DataFrame:
        # Categories make the filters and group-bys on these text columns integer work.
        for name in CATEGORICAL:
            frame[name] = frame[name].astype("category")
        return frame


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
