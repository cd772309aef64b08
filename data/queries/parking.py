"""Kerbside parking: occupancy per segment, the segments with their counts, and the spaces."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from sqlalchemy import case, func, select

from data.models import ParkingSegment, ParkingSpace
from data.store import Store


@dataclass
class SegmentState:
    id: int
    name: str
    geom: shapely.LineString
    capacity: int
    occupied: int

    @property
    def occupancy(self) -> float:
        return self.occupied / self.capacity if self.capacity else 0.0


def parking_occupancy(store: Store) -> dict[int, tuple[int, int]]:
    """Segment id → (capacity, occupied spaces)."""
    with store.read() as s:
        return {
            r.segment_id: (r.capacity, r.occupied or 0)
            for r in s.connection().execute(
                select(
                    ParkingSpace.segment_id,
                    func.count().label("capacity"),
                    func.sum(case((ParkingSpace.occupied.is_(True), 1), else_=0)).label("occupied"),
                ).group_by(ParkingSpace.segment_id)
            )
        }


def parking_segments(store: Store) -> list[SegmentState]:
    """Every parking segment with its capacity and current occupied count."""
    counts = parking_occupancy(store)
    with store.read() as s:
        segs = s.execute(
            select(ParkingSegment.id, ParkingSegment.name, ParkingSegment.geom).order_by(ParkingSegment.id)
        ).all()
    return [SegmentState(g.id, g.name, g.geom, *counts.get(g.id, (0, 0))) for g in segs]


def parking_spaces(store: Store, bbox: tuple[float, float, float, float] | None = None) -> dict[str, np.ndarray]:
    """Spaces (inside ``bbox`` = lon_min, lat_min, lon_max, lat_max when given)."""
    stmt = select(ParkingSpace.id, ParkingSpace.code, ParkingSpace.lon, ParkingSpace.lat, ParkingSpace.occupied)
    if bbox:
        stmt = stmt.where(ParkingSpace.lon.between(bbox[0], bbox[2]), ParkingSpace.lat.between(bbox[1], bbox[3]))
    with store.read() as s:
        rows = s.execute(stmt.order_by(ParkingSpace.id)).all()
    cols = list(zip(*rows, strict=True)) if rows else [()] * 5
    return {
        "id": np.array(cols[0], dtype=np.int64),
        "code": np.array(cols[1], dtype=object),
        "lon": np.array(cols[2], dtype=np.float64),
        "lat": np.array(cols[3], dtype=np.float64),
        "occupied": np.array(cols[4], dtype=bool),
    }
