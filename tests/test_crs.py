import numpy as np
import pytest

from geo.crs import UnknownCRSError, distance_m, from_wgs84, gcj02_to_wgs84, to_wgs84, wgs84_to_gcj02


@pytest.fixture
def city_points() -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.meshgrid(np.linspace(106.1, 107.3, 60), np.linspace(26.1, 27.4, 60))
    return lon.ravel(), lat.ravel()


@pytest.mark.parametrize("system", ["gcj02", "bd09", "cgcs2000", "wgs84"])
def test_round_trip_within_half_a_metre(city_points, system):
    lon, lat = city_points
    back = to_wgs84(*from_wgs84(lon, lat, system), system)
    assert distance_m(lon, lat, *back).max() < 0.5


def test_gcj02_offset_is_hundreds_of_metres_so_a_missing_conversion_shows(city_points):
    lon, lat = city_points
    offset = distance_m(lon, lat, *wgs84_to_gcj02(lon, lat))
    assert 300 < offset.min() and offset.max() < 800


def test_inverse_matches_forward_on_the_district_file_centre():
    # 南明区 centre as published (GCJ-02) lies ~540 m from its WGS-84 position.
    wlon, wlat = gcj02_to_wgs84(106.715963, 26.573743)
    assert 400 < distance_m(wlon, wlat, 106.715963, 26.573743) < 700


def test_unknown_system_is_refused():
    with pytest.raises(UnknownCRSError, match="unknown coordinate system 'utm'"):
        to_wgs84(1.0, 2.0, "utm")
