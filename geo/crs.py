"""Coordinate systems: WGS-84 (storage), GCJ-02 and BD-09 (Chinese map vendors), CGCS2000, UTM 48N.

GCJ-02 is an obfuscated datum defined only by its forward formula; the inverse is solved by
fixed-point iteration, which converges to well under a centimetre in a few steps.
All functions take and return numpy arrays (scalars work too) so callers convert batches at once.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pyproj import Transformer

SYSTEMS = ("wgs84", "gcj02", "bd09", "cgcs2000")
UTM_48N = "EPSG:32648"

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by the GCJ-02 formula
_EE = 0.00669342162296594323
_BD_K = np.pi * 3000.0 / 180.0

Floats = NDArray[np.float64]


class UnknownCRSError(ValueError):
    """The named coordinate system is not one we convert."""


def _offsets(lon: Floats, lat: Floats) -> tuple[Floats, Floats]:
    x = lon - 105.0
    y = lat - 35.0
    sq = np.sqrt(np.abs(x))
    s6x, s2x = np.sin(6.0 * x * np.pi), np.sin(2.0 * x * np.pi)
    common = (20.0 * s6x + 20.0 * s2x) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sq
    dlat += common
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sq
    dlon += common
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad) * np.pi)
    return dlon, dlat


def _arr(v: ArrayLike) -> Floats:
    return np.asarray(v, dtype=np.float64)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    """Apply the GCJ-02 offset (valid inside China, where every OneMap city lies)."""
    lon, lat = _arr(lon), _arr(lat)
    dlon, dlat = _offsets(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    """Invert GCJ-02 by iteration: error below 1e-9 degrees (0.1 mm) after convergence."""
    glon, glat = _arr(lon), _arr(lat)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(30):
        tlon, tlat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = tlon - glon, tlat - glat
        wlon, wlat = wlon - elon, wlat - elat
        if np.all(np.abs(elon) < 1e-10) and np.all(np.abs(elat) < 1e-10):
            break
    return wlon, wlat


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    """Baidu's BD-09 is a further rotation and scaling of GCJ-02."""
    x, y = _arr(lon), _arr(lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _BD_K)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_K)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    """Closed-form inverse of ``gcj02_to_bd09`` (residual well under 1 m, refined once)."""
    blon, blat = _arr(lon), _arr(lat)
    x, y = blon - 0.0065, blat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _BD_K)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD_K)
    glon, glat = z * np.cos(theta), z * np.sin(theta)
    for _ in range(3):
        tlon, tlat = gcj02_to_bd09(glon, glat)
        glon, glat = glon - (tlon - blon), glat - (tlat - blat)
    return glon, glat


def to_wgs84(lon: ArrayLike, lat: ArrayLike, system: str) -> tuple[Floats, Floats]:
    """Convert coordinates given in ``system`` to WGS-84."""
    system = system.lower()
    if system in ("wgs84", "cgcs2000"):
        # CGCS2000 and WGS-84 agree to a few centimetres: far below any position we receive.
        return _arr(lon), _arr(lat)
    if system == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if system == "bd09":
        return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))
    raise UnknownCRSError(f"unknown coordinate system {system!r}; use one of {', '.join(SYSTEMS)}")


def from_wgs84(lon: ArrayLike, lat: ArrayLike, system: str) -> tuple[Floats, Floats]:
    """Convert WGS-84 coordinates to ``system`` (for display on vendor tiles)."""
    system = system.lower()
    if system in ("wgs84", "cgcs2000"):
        return _arr(lon), _arr(lat)
    if system == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    if system == "bd09":
        return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))
    raise UnknownCRSError(f"unknown coordinate system {system!r}; use one of {', '.join(SYSTEMS)}")


@lru_cache(maxsize=4)
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def to_metres(lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    """WGS-84 degrees to UTM 48N metres (Guiyang lies in zone 48)."""
    x, y = _transformer("EPSG:4326", UTM_48N).transform(_arr(lon), _arr(lat))
    return _arr(x), _arr(y)


def point_to_metres(lon: float, lat: float) -> tuple[float, float]:
    """One WGS-84 point to UTM 48N metres, without array overhead (for per-request hot paths)."""
    return _transformer("EPSG:4326", UTM_48N).transform(lon, lat)


def from_metres(x: ArrayLike, y: ArrayLike) -> tuple[Floats, Floats]:
    """UTM 48N metres back to WGS-84 degrees."""
    lon, lat = _transformer(UTM_48N, "EPSG:4326").transform(_arr(x), _arr(y))
    return _arr(lon), _arr(lat)


def distance_m(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike) -> Floats:
    """Distance in metres between WGS-84 points (broadcasting), measured in UTM 48N."""
    x1, y1 = to_metres(lon1, lat1)
    x2, y2 = to_metres(lon2, lat2)
    return np.hypot(x1 - x2, y1 - y2)
