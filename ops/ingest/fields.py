"""Field checks every door shares: who may feed data, text and number fields, coordinates placed in
the city's grid, event times and batch bodies. Each refusal is an ``Invalid`` naming its field."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from geo.crs import SYSTEMS, to_wgs84
from geo.grid_index import OUTSIDE, GridIndex
from ops.accounts import Actor
from ops.errors import Forbidden, Invalid
from ops.parsing import timestamp
from ops.permissions import roles_with

INGEST_ROLES = roles_with("feed_data")
LIMITS = {"category": 64, "description": 2000, "title": 200, "name": 64, "case_number": 64}
MAX_BATCH = 5000


def require_ingest(actor: Actor) -> None:
    """Refuse an actor whose role may not feed data."""
    if actor.role not in INGEST_ROLES:
        raise Forbidden("error.role_may_not", {"role": actor.role, "what": "feed_data"})


def text_field(body: dict[str, Any], name: str, required: bool = False, prefix: str = "") -> str:
    """A string field (stripped, "" when absent), at most its ``LIMITS`` length."""
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise Invalid("error.field_required", {"name": prefix + name}, field=prefix + name)
        return ""
    if not isinstance(value, str):
        raise Invalid("error.field_string", {"name": prefix + name}, field=prefix + name)
    if len(value) > LIMITS.get(name, 200):
        raise Invalid(
            "error.field_too_long", {"name": prefix + name, "limit": LIMITS.get(name, 200)}, field=prefix + name
        )
    return value.strip()


def _number(body: dict[str, Any], name: str, prefix: str = "") -> float:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise Invalid("error.field_number", {"name": prefix + name}, field=prefix + name)
    return float(value)


def refuse_unknown(body: dict[str, Any], allowed: set[str], prefix: str = "") -> None:
    """Refuse a body with a key outside ``allowed``, naming the first."""
    extra = sorted(set(body) - allowed)
    if extra:
        raise Invalid("error.field_unknown", {"name": prefix + extra[0]}, field=prefix + extra[0])


def coordinates(body: dict[str, Any], prefix: str = "") -> tuple[float, float, str]:
    """(lon, lat, crs) as given: numbers in range, a known system, longitude first."""
    lon, lat = _number(body, "lon", prefix), _number(body, "lat", prefix)
    crs = body.get("crs", "wgs84")
    if not isinstance(crs, str) or crs.lower() not in SYSTEMS:
        raise Invalid("error.crs_unknown", {"crs": crs, "systems": ", ".join(SYSTEMS)}, field=prefix + "crs")
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        swapped = -90 <= lon <= 90 and -180 <= lat <= 180
        raise Invalid("error.lonlat_swapped" if swapped else "error.lonlat_range", field=prefix + "lon")
    return lon, lat, crs.lower()


def locate(index: GridIndex, body: dict[str, Any], prefix: str = "") -> tuple[float, float, int]:
    """(lon, lat, grid id) in WGS-84 from ``lon``, ``lat`` and an optional ``crs``; refuses
    swapped coordinates, unknown systems and points outside the city."""
    return place_one(index, *coordinates(body, prefix), prefix)


def place_one(index: GridIndex, lon: float, lat: float, crs: str, prefix: str = "") -> tuple[float, float, int]:
    """(lon, lat, grid id) in WGS-84 of one point; ``Invalid`` when it lies outside the city."""
    wlon, wlat, grid, swapped = place_all(index, np.array([lon]), np.array([lat]), [crs])
    if grid[0] == OUTSIDE:
        exc = outside_error(lon, lat, bool(swapped[0]))
        raise Invalid(exc.key, exc.params, field=prefix + (exc.field or ""))
    return float(wlon[0]), float(wlat[0]), int(grid[0])


def place_all(index: GridIndex, lon: np.ndarray, lat: np.ndarray, crs: list[str]) -> tuple[np.ndarray, ...]:
    """WGS-84 positions, grid ids and a swapped flag for many points at once."""
    lon, lat = lon.copy(), lat.copy()
    systems = np.array(crs, dtype=object)
    for system in set(crs):
        m = systems == system
        lon[m], lat[m] = to_wgs84(lon[m], lat[m], system)
    grid = index.locate(lon, lat)
    swapped = np.zeros(len(lon), dtype=bool)
    outside = grid == OUTSIDE
    if outside.any():
        swapped[outside] = index.looks_swapped(lon[outside], lat[outside])
    return lon, lat, grid, swapped


def outside_error(lon: float, lat: float, swapped: bool) -> Invalid:
    """The refusal of a point outside the city (named as swapped when it looks so)."""
    if swapped:
        return Invalid("error.lonlat_swapped", field="lon")
    return Invalid("error.point_outside", {"lon": lon, "lat": lat}, field="lat")


def event_time(value: Any, field: str) -> datetime:
    """ISO 8601 (with or without zone) or Unix milliseconds, as naive UTC."""
    return timestamp(value, field)


def batch_items(body: Any, key: str) -> list[Any]:
    """The list under ``key``, the body's only key: not empty and at most ``MAX_BATCH`` items."""
    if not isinstance(body, dict) or set(body) != {key} or not isinstance(body[key], list):
        raise Invalid("error.batch_shape", {"key": key}, field=key)
    if not body[key]:
        raise Invalid("error.batch_empty", {"key": key}, field=key)
    if len(body[key]) > MAX_BATCH:
        raise Invalid("error.batch_too_big", {"key": key, "max": MAX_BATCH}, field=key)
    return body[key]
