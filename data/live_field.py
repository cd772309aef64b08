"""Workers and parking spaces held in memory per process, for the one map's live tick.

A tick used to read every on-duty worker's position and count every parking space per segment
in the store. Here both tables are mirrored (``data/mirror.py``): read once, then only the rows
whose ``change_seq`` moved, so a tick reads what changed and counts in memory. The SQL versions
in ``data/queries/`` (``worker_positions``, ``parking_occupancy``) stay the reference; tests hold
both to the same answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select

from data.mirror import Columns, Mirror, upsert_by_id
from data.models import ParkingSpace, Worker
from data.store import Store


def _rows(store: Store, stmt: Any) -> list[tuple[Any, ...]]:
    """Plain tuples of a select of numbers and flags: on a tick every worker may have moved."""
    with store.read() as s:
        conn = s.connection()
        if store.kind != "postgresql":
            return conn.execute(stmt).all()  # Core execution, no ORM row processing
        # psycopg's binary protocol: numbers arrive without text parsing (10,000 positions in about a
        # third of the time). On the session's own connection, so inside its transaction.
        compiled = stmt.compile(dialect=conn.dialect)
        with conn.connection.driver_connection.cursor(binary=True) as cur:
            cur.execute(str(compiled), compiled.params)
            return cur.fetchall()


class LiveWorkers(Mirror[Columns]):
    """Every worker's duty flag and position; ``refresh()`` first, then the methods answer from memory."""

    stamp = Worker.__table__.c.change_seq

    def __init__(self, store: Store, resync_s: float = 120.0):
        super().__init__(store, resync_s)

    def read(self, since: int | None) -> Columns:
        stmt = select(Worker.id, Worker.on_duty, Worker.lon, Worker.lat)
        # Changed rows come in any order (sorting them cost more than reading them); the merge sorts.
        stmt = stmt.order_by(Worker.id) if since is None else stmt.where(Worker.change_seq >= since)
        rows = _rows(self.store, stmt)
        cols = list(zip(*rows, strict=True)) if rows else [()] * 4
        return {
            "id": np.array(cols[0], dtype=np.int64),
            "on_duty": np.array(cols[1], dtype=bool),
            # A worker without a known position gets NaN (never drawn).
            "lon": np.array(cols[2], dtype=np.float64),
            "lat": np.array(cols[3], dtype=np.float64),
        }

    def merge(self, held: Columns, changed: Columns) -> Columns:
        return upsert_by_id(held, changed)

    def positions(self) -> dict[str, np.ndarray]:
        """Same answer as ``queries.worker_positions``: on-duty workers with a position, by id."""
        cols = self.held()
        keep = cols["on_duty"] & ~np.isnan(cols["lon"]) & ~np.isnan(cols["lat"])
        return {"id": cols["id"][keep], "lon": cols["lon"][keep], "lat": cols["lat"][keep]}

    def on_duty(self) -> int:
        """Workers on duty (with or without a position)."""
        return int(self.held()["on_duty"].sum())


@dataclass
class Spaces:
    cols: Columns
    _counts: dict[int, tuple[int, int]] | None = field(default=None, repr=False)

    def counts(self) -> dict[int, tuple[int, int]]:
        if self._counts is None:
            seg, occupied = self.cols["segment_id"], self.cols["occupied"]
            capacity = np.bincount(seg)
            taken = np.bincount(seg, weights=occupied).astype(np.int64)
            present = np.flatnonzero(capacity)
            self._counts = {int(s): (int(capacity[s]), int(taken[s])) for s in present}
        return self._counts


class LiveParking(Mirror[Spaces]):
    """Every parking space's segment and occupancy."""

    stamp = ParkingSpace.__table__.c.change_seq

    def __init__(self, store: Store, resync_s: float = 120.0):
        super().__init__(store, resync_s)

    def read(self, since: int | None) -> Spaces:
        stmt = select(ParkingSpace.id, ParkingSpace.segment_id, ParkingSpace.occupied)
        stmt = stmt.order_by(ParkingSpace.id) if since is None else stmt.where(ParkingSpace.change_seq >= since)
        rows = _rows(self.store, stmt)
        cols = list(zip(*rows, strict=True)) if rows else [()] * 3
        return Spaces(
            {
                "id": np.array(cols[0], dtype=np.int64),
                "segment_id": np.array(cols[1], dtype=np.int64),
                "occupied": np.array(cols[2], dtype=bool),
            }
        )

    def merge(self, held: Spaces, changed: Spaces) -> Spaces:
        if not len(changed.cols["id"]):
            return held
        return Spaces(upsert_by_id(held.cols, changed.cols))

    def counts(self) -> dict[int, tuple[int, int]]:
        """Same answer as ``queries.parking_occupancy``: segment id → (capacity, occupied spaces)."""
        return self.held().counts()
