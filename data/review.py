"""Review figures over the in-memory history frame: filters, per-grid and per-worker metrics, time
series, hexagons, playback frames and parking statistics. Pure functions of their inputs (the clock
is a parameter), so tests pin every figure on both store backends.

Times are stored as naive UTC; hours and days are counted in the city's local time (``LOCAL``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

import h3
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import select

from config import CITY_TIMEZONE
from data.models import Incident, ParkingEvent, ParkingSegment, ParkingSpace
from data.store import Store
from geo.crs import to_metres

LOCAL = CITY_TIMEZONE
RANGES = ("today", "7d", "30d", "365d", "custom")
METRICS = ("count", "median_response", "overdue_rate", "per_1000")
FINISHED = ("resolved", "closed", "cancelled")
ILLEGAL_PARKING = "违章停车"  # the ticket category counted against each parking segment
ILLEGAL_PARKING_METRES = 50.0
DENSITY_CELL = 0.001  # degrees (~100 m): the density map sends one weighted point per cell


@dataclass
class Filters:
    start: datetime
    end: datetime
    kinds: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    districts: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)


def _local_midnight_utc(day: date) -> datetime:
    midnight = pd.Timestamp(datetime.combine(day, datetime.min.time()), tz=LOCAL)
    return midnight.tz_convert("UTC").tz_localize(None).to_pydatetime()


def period(name: str, now: datetime, first: date | None = None, last: date | None = None) -> tuple[datetime, datetime]:
    """[start, end) in naive UTC for a named range; a custom range covers whole local days."""
    if name == "today":
        today = pd.Timestamp(now, tz="UTC").tz_convert(LOCAL).date()
        return _local_midnight_utc(today), now
    if name in ("7d", "30d", "365d"):
        return now - timedelta(days=int(name[:-1])), now
    if name == "custom":
        if first is None or last is None:
            raise ValueError("a custom range needs a first and a last day")
        if last < first:
            first, last = last, first
        return _local_midnight_utc(first), _local_midnight_utc(last + timedelta(days=1))
    raise ValueError(f"unknown range {name!r}; use one of {', '.join(RANGES)}")


def select_items(frame: pd.DataFrame, grids: pd.DataFrame, f: Filters) -> pd.DataFrame:
    """Items created in [start, end) that pass every filter (an empty filter passes everything)."""
    created = frame["created_at"].to_numpy()
    mask = (created >= np.datetime64(f.start)) & (created < np.datetime64(f.end))
    if f.kinds:
        mask &= frame["kind"].isin(f.kinds).to_numpy()
    if f.categories:
        mask &= frame["category"].isin(f.categories).to_numpy()
    if f.statuses:
        mask &= frame["status"].isin(f.statuses).to_numpy()
    if f.districts:
        ids = grids.index[grids["district"].isin(f.districts)]
        mask &= frame["grid_id"].isin(ids).to_numpy()
    return frame[mask]


def finished_at(items: pd.DataFrame) -> pd.Series:
    """When each item left the open states (resolved, else closed, else its cancellation); NaT if open."""
    done = items["resolved_at"].fillna(items["closed_at"])
    cancelled = (items["status"] == "cancelled").to_numpy()
    return done.where(~cancelled | done.notna(), items["updated_at"])


def response_minutes(items: pd.DataFrame) -> pd.Series:
    """Report to resolution, in minutes, for resolved items."""
    return (items["resolved_at"] - items["created_at"]).dt.total_seconds() / 60.0


def overdue(items: pd.DataFrame, now: datetime) -> pd.Series:
    """Finished after the due time, or still open past it (cancelled items are never overdue)."""
    done = finished_at(items)
    late = (done > items["due_at"]) | (done.isna() & (items["due_at"] < now))
    return late & (items["status"] != "cancelled")


def _summary(items: pd.DataFrame, key: str, now: datetime) -> pd.DataFrame:
    work = pd.DataFrame(
        {
            key: items[key].to_numpy(),
            "response": response_minutes(items).to_numpy(),
            "overdue": overdue(items, now).to_numpy(),
            "open": ~items["status"].isin(FINISHED).to_numpy(),
        }
    )
    grouped = work.groupby(key, sort=False)
    out = pd.DataFrame(
        {
            "items": grouped.size(),
            "open": grouped["open"].sum(),
            "median_response": grouped["response"].median(),
            "overdue_rate": grouped["overdue"].mean(),
        }
    )
    out["open"] = out["open"].astype(int)
    return out


def grid_metrics(items: pd.DataFrame, grids: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """Per grid: items, open, median response (min), overdue rate, per 1,000 residents (when known)."""
    inside = items[items["grid_id"] >= 0]
    out = _summary(inside, "grid_id", now).join(grids[["grid", "district", "population"]], how="left")
    out["per_1000"] = out["items"] / out["population"] * 1000.0
    out.loc[~(out["population"] > 0), "per_1000"] = np.nan
    return out.sort_values("items", ascending=False)


def worker_metrics(items: pd.DataFrame, workers: pd.DataFrame, grids: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """Per assigned worker: items, open, median response, overdue rate, with name and grid."""
    handled = items[items["assigned_worker_id"] >= 0]
    out = _summary(handled, "assigned_worker_id", now).join(workers, how="left")
    out["grid"] = grids["grid"].reindex(out["grid_id"].to_numpy()).to_numpy()
    out.index.name = "worker_id"
    return out.sort_values("items", ascending=False)


def metric_by_grid(table: pd.DataFrame, grid_ids: np.ndarray, metric: str) -> np.ndarray:
    """One metric per grid in ``grid_ids`` order (0 / NaN where a grid has no items)."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}")
    column = "items" if metric == "count" else metric
    values = table[column].reindex(grid_ids)
    return values.fillna(0).to_numpy(float) if metric == "count" else values.to_numpy(float)


def local_times(items: pd.DataFrame, column: str = "created_at") -> pd.DatetimeIndex:
    return pd.DatetimeIndex(items[column]).tz_localize("UTC").tz_convert(LOCAL)


def _kinds(items: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Integer codes of each item's kind and the kind names (categorical, so no text is compared)."""
    kind = items["kind"] if isinstance(items["kind"].dtype, pd.CategoricalDtype) else items["kind"].astype("category")
    return kind.cat.codes.to_numpy(np.int64), [str(k) for k in kind.cat.categories]


def _local_ns(items: pd.DataFrame, column: str = "created_at") -> np.ndarray:
    """Local wall-clock nanoseconds since the epoch (one UTC offset: China keeps one all year)."""
    offset = _offset_s(datetime(2000, 1, 1)) * 1_000_000_000
    return items[column].to_numpy("datetime64[ns]").astype(np.int64) + offset


def _by_kind(index: Any, counts: np.ndarray, kinds: list[str]) -> pd.DataFrame:
    table = pd.DataFrame(counts, index=index, columns=kinds)
    return table.loc[:, table.sum(axis=0) > 0]


def volume_by_hour(items: pd.DataFrame) -> pd.DataFrame:
    """Items per local hour of day (rows 0..23) and kind (columns)."""
    codes, kinds = _kinds(items)
    hour = (_local_ns(items) // 3_600_000_000_000) % 24
    counts = np.bincount(hour * len(kinds) + codes, minlength=24 * len(kinds)).reshape(24, len(kinds))
    return _by_kind(range(24), counts, kinds)


def volume_by_day(items: pd.DataFrame, start: datetime | None = None, end: datetime | None = None) -> pd.DataFrame:
    """Items per local day (rows, naive local midnights) and kind (columns). Given the period
    [start, end), every local day it touches has a row, days without items too."""
    codes, kinds = _kinds(items)
    day_ns = 86_400_000_000_000
    day = _local_ns(items) // day_ns
    offset = _offset_s(datetime(2000, 1, 1)) * 1_000_000_000
    if start is not None and end is not None:
        first = (int(np.datetime64(start, "ns").astype(np.int64)) + offset) // day_ns
        last = (int(np.datetime64(end, "ns").astype(np.int64)) + offset - 1) // day_ns
        inside = (day >= first) & (day <= last)
        day, codes = day[inside], codes[inside]
    else:
        first = int(day.min()) if len(day) else 0
        last = int(day.max()) if len(day) else -1
    span = max(last - first + 1, 0)
    counts = np.bincount((day - first) * len(kinds) + codes, minlength=span * len(kinds))
    index = pd.to_datetime((first + np.arange(span)) * day_ns)
    return _by_kind(index, counts.reshape(span, len(kinds)), kinds)


def backlog(frame: pd.DataFrame, grids: pd.DataFrame, f: Filters, points: int = 96) -> pd.DataFrame:
    """Open items at ``points`` instants across [start, end] by kind: those created by an instant
    and not finished by it, under the period's kind, category and district filters (items created
    before the period count too; the status filter does not apply to a backlog)."""
    base = select_items(frame, grids, Filters(datetime(1970, 1, 1), f.end, f.kinds, f.categories, f.districts))
    times = pd.date_range(f.start, f.end, periods=points)
    at = times.to_numpy("datetime64[ns]").astype(np.int64)
    codes, kinds = _kinds(base)
    n = len(kinds)

    def reached(ns: np.ndarray, keep: np.ndarray) -> np.ndarray:
        # How many of the events at ``ns`` happened by each instant: bucket, count, accumulate.
        slot = np.searchsorted(at, ns[keep], side="left")
        counts = np.bincount(slot * n + codes[keep], minlength=(points + 1) * n).reshape(points + 1, n)
        return np.cumsum(counts, axis=0)[:points]

    created = base["created_at"].to_numpy("datetime64[ns]").astype(np.int64)
    done = finished_at(base)
    finished = done.to_numpy("datetime64[ns]").astype(np.int64)
    open_now = reached(created, np.ones(len(base), bool)) - reached(finished, done.notna().to_numpy())
    return _by_kind(times, open_now, kinds)


def hexagons(items: pd.DataFrame, resolution: int) -> tuple[list[str], np.ndarray, dict[str, Any]]:
    """Item counts per H3 cell (8 or coarser) and the cells as GeoJSON polygons."""
    cells = items["h3"].to_numpy(np.uint64)
    if resolution < 8 and len(cells):
        uniq, inverse = np.unique(cells, return_inverse=True)
        parents = np.array([_parent(int(c), resolution) for c in uniq])
        cells = parents.astype(np.uint64)[inverse]
    ids, counts = np.unique(cells, return_counts=True)
    names = [h3.int_to_str(int(c)) for c in ids]
    features = [{"type": "Feature", "id": name, "properties": {}, "geometry": _cell_polygon(name)} for name in names]
    return names, counts, {"type": "FeatureCollection", "features": features}


@lru_cache(maxsize=500_000)
def _parent(cell: int, resolution: int) -> int:
    return h3.str_to_int(h3.cell_to_parent(h3.int_to_str(cell), resolution))


@lru_cache(maxsize=200_000)
def _cell_polygon(name: str) -> dict[str, Any]:
    """A cell's outline as a GeoJSON polygon (cells never move, so each is computed once)."""
    ring = [[round(lng, 6), round(lat, 6)] for lat, lng in h3.cell_to_boundary(name)]
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


def density_points(items: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Items binned to ~100 m cells: (lon, lat, count) per occupied cell, what a density map needs."""
    if items.empty:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    ix = np.floor(items["lon"].to_numpy() / DENSITY_CELL).astype(np.int64)
    iy = np.floor(items["lat"].to_numpy() / DENSITY_CELL).astype(np.int64)
    keys, counts = np.unique(ix * (1 << 20) + iy, return_counts=True)  # |iy| < 2^20 for any latitude
    return (keys // (1 << 20) + 0.5) * DENSITY_CELL, (keys % (1 << 20) + 0.5) * DENSITY_CELL, counts


def frame_edges(start: datetime, end: datetime) -> list[datetime]:
    """Playback steps on whole local hours (periods up to three days) or whole local days beyond;
    the first and last steps are cut to the period."""
    freq = "h" if end - start <= timedelta(days=3) else "D"
    lo = pd.Timestamp(start, tz="UTC").tz_convert(LOCAL).floor(freq)
    hi = pd.Timestamp(end, tz="UTC").tz_convert(LOCAL).ceil(freq)
    inner = pd.date_range(lo, hi, freq=freq).tz_convert("UTC").tz_localize(None)
    cuts = [t.to_pydatetime() for t in inner if start < t < end]
    return [start, *cuts, end]


def frame_items(items: pd.DataFrame, edges: list[datetime], k: int) -> pd.DataFrame:
    """Items created during playback step ``k``."""
    k = max(0, min(k, len(edges) - 2))
    created = items["created_at"].to_numpy()
    return items[(created >= np.datetime64(edges[k])) & (created < np.datetime64(edges[k + 1]))]


# --- parking ---------------------------------------------------------------------------------------------


def parking_stats(store: Store, start: datetime, end: datetime) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per segment over [start, end): occupancy %, turnover (arrivals per space per day), average
    dwell (min) and illegal-parking tickets within 50 m; and occupancy % by local hour of day.

    Sessions are rebuilt from each space's park_start / park_end events; a session open at the
    start (its park_start earlier) counts from the start, one still open counts to the end.
    """
    with store.read() as s:
        segments = s.execute(select(ParkingSegment.id, ParkingSegment.name, ParkingSegment.geom)).all()
        spaces = s.execute(select(ParkingSpace.id, ParkingSpace.segment_id)).all()
        events = s.execute(
            select(ParkingEvent.space_id, ParkingEvent.event_type, ParkingEvent.event_time)
            .where(ParkingEvent.event_type.in_(("park_start", "park_end")))
            .where(ParkingEvent.event_time >= start - timedelta(days=1), ParkingEvent.event_time < end)
            .order_by(ParkingEvent.space_id, ParkingEvent.event_time, ParkingEvent.sequence_number)
        ).all()
        illegal = s.execute(
            select(Incident.lon, Incident.lat).where(
                Incident.kind == "ticket",
                Incident.category == ILLEGAL_PARKING,
                Incident.created_at >= start,
                Incident.created_at < end,
            )
        ).all()
    seg_ids = [r.id for r in segments]
    capacity = pd.Series([r.segment_id for r in spaces]).value_counts().reindex(seg_ids, fill_value=0)
    space_segment = {r.id: r.segment_id for r in spaces}
    sessions = _sessions(events, start, end)
    span_s = max((end - start).total_seconds(), 1.0)
    offset = _offset_s(start)
    frame = pd.DataFrame(sessions, columns=["space", "a", "b", "arrived"])
    frame["segment"] = frame["space"].map(space_segment)
    frame = frame.dropna(subset=["segment"])
    a = (pd.to_datetime(frame["a"]).to_numpy("datetime64[s]").astype(np.int64)) + offset
    b = (pd.to_datetime(frame["b"]).to_numpy("datetime64[s]").astype(np.int64)) + offset
    frame["seconds"] = (b - a).astype(float)
    per_hour = pd.DataFrame(_hour_seconds(b) - _hour_seconds(a), index=frame.index)
    per_hour["segment"] = frame["segment"].to_numpy()
    by_hour = per_hour.groupby("segment").sum().reindex(seg_ids, fill_value=0.0)
    arrived = frame[frame["arrived"].astype(bool)]  # an empty frame's column is object-typed: no mask
    grouped = frame.groupby("segment")["seconds"].sum().reindex(seg_ids, fill_value=0.0)
    arrivals = arrived.groupby("segment").size().reindex(seg_ids, fill_value=0)
    dwell = (arrived.groupby("segment")["seconds"].mean() / 60.0).reindex(seg_ids)
    names = {r.id: r.name for r in segments}
    days = span_s / 86400.0
    spaces_n = capacity.replace(0, np.nan)
    table = pd.DataFrame(
        {
            "segment": [names[i] for i in seg_ids],
            "spaces": capacity.to_numpy(),
            "occupancy_pct": (100.0 * grouped / (spaces_n * span_s)).to_numpy(),
            "turnover": (arrivals / spaces_n / days).to_numpy(),
            "avg_dwell_min": dwell.to_numpy(),
            "illegal_parking": _near_segments(segments, illegal),
        },
        index=pd.Index(seg_ids, name="segment_id"),
    )
    lo = int(np.datetime64(start, "s").astype(np.int64)) + offset
    hi = int(np.datetime64(end, "s").astype(np.int64)) + offset
    exposure = capacity.to_numpy()[:, None] * (_hour_seconds(np.array([hi])) - _hour_seconds(np.array([lo])))
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = np.where(exposure > 0, 100.0 * by_hour.to_numpy() / exposure, np.nan)
    return table, pd.DataFrame(pct, index=table["segment"], columns=range(24))


def _offset_s(at: datetime) -> int:
    """The city's UTC offset in seconds at ``at`` (China keeps one offset all year)."""
    return int(pd.Timestamp(at, tz="UTC").tz_convert(LOCAL).utcoffset().total_seconds())


def _hour_seconds(t: np.ndarray) -> np.ndarray:
    """For local epoch seconds ``t``: seconds spent in each hour of day (columns 0..23) since the epoch.
    The seconds of [a, b) in hour h are then ``_hour_seconds(b)[h] - _hour_seconds(a)[h]``."""
    t = np.asarray(t, dtype=np.int64)[:, None]
    hours = np.arange(24, dtype=np.int64)[None, :] * 3600
    return (t // 86400) * 3600 + np.clip(t % 86400 - hours, 0, 3600)


def _sessions(events: list[Any], start: datetime, end: datetime) -> list[tuple[int, datetime, datetime, bool]]:
    """(space, from, to, arrived inside the period) for each parked stretch clipped to [start, end)."""
    out = []
    current: int | None = None
    since: datetime | None = None
    for space, kind, at in events:
        if space != current:
            if current is not None and since is not None:
                out.append((current, max(since, start), end, since >= start))
            current, since = space, None
        if kind == "park_start":
            if since is None:
                since = at
        elif since is not None:
            if at > start:
                out.append((space, max(since, start), min(at, end), since >= start))
            since = None
    if current is not None and since is not None:
        out.append((current, max(since, start), end, since >= start))
    return [s for s in out if s[2] > s[1]]


def _near_segments(segments: list[Any], points: list[Any]) -> np.ndarray:
    """Illegal-parking tickets within ``ILLEGAL_PARKING_METRES`` of each segment (in metres)."""
    counts = np.zeros(len(segments), dtype=int)
    if not points or not segments:
        return counts
    lon = np.array([p.lon for p in points])
    lat = np.array([p.lat for p in points])
    x, y = to_metres(lon, lat)
    pts = shapely.points(x, y)
    for i, seg in enumerate(segments):
        line = shapely.transform(seg.geom, lambda xy: np.column_stack(to_metres(xy[:, 0], xy[:, 1])))
        counts[i] = int(shapely.dwithin(line, pts, ILLEGAL_PARKING_METRES).sum())
    return counts
