"""Every item's review columns, held in memory as one pandas frame and kept current incrementally.

A year of a city's history is a few million rows: re-reading it from the store on every click of
the review page would take seconds, while filtering and grouping columns in memory takes tens of
milliseconds. The frame is read once, then only rows whose ``change_seq`` moved are read again
(the database stamps every change to an item in commit order; ``ix_incidents_change_seq`` keeps that cheap).
"""

from __future__ import annotations

import h3
import numpy as np
import pandas as pd
from sqlalchemy import select

from data.mirror import Mirror
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


def _read(store: Store, since: int | None, chunk: int = 100_000) -> pd.DataFrame:
    """The review columns of every item (changed since ``since``), read in chunks so a million rows
    never exist as Python row objects all at once."""
    q = select(*COLUMNS)
    if since is not None:
        q = q.where(Incident.change_seq >= since)
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


class History(Mirror[pd.DataFrame]):
    """The process's copy of the item columns; ``frame()`` answers from memory after the first read."""

    stamp = Incident.__table__.c.change_seq

    def __init__(self, store: Store, max_age_s: float = 3.0, resync_s: float = 1800.0):
        super().__init__(store, resync_s, max_age_s)

    def frame(self) -> pd.DataFrame:
        """Every item; at most ``max_age_s`` behind the store."""
        return self.current()

    def read(self, since: int | None) -> pd.DataFrame:
        return _read(self.store, since)

    def merge(self, held: pd.DataFrame, changed: pd.DataFrame) -> pd.DataFrame:
        kept = held[~held.index.isin(changed.index)]
        return _concat([kept, changed]).sort_index()


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
