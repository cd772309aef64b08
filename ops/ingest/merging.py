"""Merging: the one rule by which a report joins an open incident (single and batch door alike)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
from scipy.spatial import cKDTree
from sqlalchemy import select
from sqlalchemy.orm import Session

from data.models import OPEN_STATUSES, Incident
from geo.crs import from_metres, to_metres

# A report at exactly the merge distance joins: distances are compared as ``<= dedup_m`` give or
# take a micrometre, so a point placed 50 m away (through degrees and back) is 50 m on either door.
MERGE_SLACK_M = 1e-6


def open_to_join(
    s: Session, kind: str, x: np.ndarray, y: np.ndarray, now: datetime, dedup_m: float, dedup_minutes: int
) -> np.ndarray:
    """For each report at (x, y) (UTM 48N metres), the id of the nearest open incident of ``kind``
    at most ``dedup_m`` metres away and reported within ``dedup_minutes``, else -1. The one merge
    rule of the single and the batch door."""
    targets = np.full(len(x), -1, dtype=np.int64)
    if len(x) == 0:
        return targets
    reach = dedup_m + 1.0  # the box's corners one metre beyond the radius; the exact test is in metres
    lo_x, hi_x, lo_y, hi_y = np.min(x) - reach, np.max(x) + reach, np.min(y) - reach, np.max(y) + reach
    lons, lats = from_metres(np.array([lo_x, hi_x, lo_x, hi_x]), np.array([lo_y, lo_y, hi_y, hi_y]))
    open_now = s.execute(
        select(Incident.id, Incident.lon, Incident.lat).where(
            Incident.kind == kind,
            Incident.status.in_(OPEN_STATUSES),
            Incident.created_at >= now - timedelta(minutes=dedup_minutes),
            Incident.lon.between(float(np.min(lons)), float(np.max(lons))),
            Incident.lat.between(float(np.min(lats)), float(np.max(lats))),
        )
    ).all()
    if not open_now:
        return targets
    ex, ey = to_metres([r.lon for r in open_now], [r.lat for r in open_now])
    # cKDTree's bound is strict (<); the slack makes it "at most dedup_m".
    dist, nearest = cKDTree(np.column_stack([ex, ey])).query(
        np.column_stack([x, y]), distance_upper_bound=dedup_m + MERGE_SLACK_M
    )
    hit = np.isfinite(dist)
    targets[hit] = [open_now[j].id for j in nearest[hit]]
    return targets
