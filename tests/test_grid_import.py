import json
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from config import DISTRICTS_FILE
from geo.grid_import import GridImportError, read_grid_file


def write(tmp_path: Path, features: list[tuple[str, list]]) -> Path:
    fc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"name": n}, "geometry": {"type": "Polygon", "coordinates": [ring]}}
            for n, ring in features
        ],
    }
    path = tmp_path / "grids.geojson"
    path.write_text(json.dumps(fc))
    return path


def square(x: float, y: float, d: float = 0.01) -> list:
    return [[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]


def test_the_real_district_file_imports_clean():
    report = read_grid_file(DISTRICTS_FILE, crs="gcj02")
    assert report.ok, report.summary()
    assert len(report.features) == 10
    assert {f.name for f in report.features} >= {"南明区", "云岩区", "清镇市"}
    assert not report.gaps and not report.overlaps
    import numpy as np

    from geo.grid_import import _in_metres

    area = shapely.area(_in_metres(np.array([f.geometry for f in report.features]))).sum() / 1e6
    assert 8000 < area < 8100


def test_gcj02_import_moves_the_city_by_hundreds_of_metres():
    raw = read_grid_file(DISTRICTS_FILE, crs="wgs84").features[0].geometry
    fixed = read_grid_file(DISTRICTS_FILE, crs="gcj02").features[0].geometry
    dx = raw.centroid.x - fixed.centroid.x
    assert 0.003 < abs(dx) < 0.008


def test_repairable_polygon_is_repaired_and_named(tmp_path):
    spike = [
        [106.7, 26.5],
        [106.71, 26.5],
        [106.71, 26.51],
        [106.705, 26.51],
        [106.705, 26.515],
        [106.705, 26.51],
        [106.7, 26.51],
        [106.7, 26.5],
    ]
    report = read_grid_file(write(tmp_path, [("spiky", spike)]))
    assert report.ok
    assert report.repaired and report.repaired[0].startswith("spiky:")
    assert report.features[0].geometry.is_valid


def test_bowtie_is_rejected_naming_the_feature(tmp_path):
    bowtie = [[106.7, 26.5], [106.71, 26.51], [106.71, 26.5], [106.7, 26.51], [106.7, 26.5]]
    report = read_grid_file(write(tmp_path, [("ok", square(106.8, 26.5)), ("bowtie", bowtie)]))
    assert not report.ok
    assert any(e.startswith("bowtie: invalid polygon") for e in report.errors)
    assert [f.name for f in report.features] == ["ok"]


def test_overlaps_are_reported_with_both_names_and_area(tmp_path):
    report = read_grid_file(write(tmp_path, [("a", square(106.7, 26.5)), ("b", square(106.705, 26.5))]))
    assert not report.ok
    (ov,) = report.overlaps
    assert {ov.a, ov.b} == {"a", "b"}
    assert 250_000 < ov.area_m2 < 600_000  # half of a ~1 km × 1.1 km square


def test_gaps_are_reported_where_no_grid_covers(tmp_path):
    ring = [
        (f"g{i}{j}", square(106.7 + 0.01 * i, 26.5 + 0.01 * j)) for i in range(3) for j in range(3) if (i, j) != (1, 1)
    ]
    report = read_grid_file(write(tmp_path, ring))
    assert report.ok  # gaps are reported, not fatal
    (gap,) = report.gaps
    assert 900_000 < gap.area_m2 < 1_300_000
    assert 106.71 < gap.lon < 106.72 and 26.51 < gap.lat < 26.52


def test_swapped_lon_lat_is_detected(tmp_path):
    swapped = [[y, x] for x, y in square(106.7, 26.5)]
    report = read_grid_file(write(tmp_path, [("swapped", swapped)]))
    assert not report.ok and "swapped" in report.errors[0]


def test_shapefile_reads_like_geojson(tmp_path):
    frame = gpd.GeoDataFrame(
        {"name": ["s1", "s2"]},
        geometry=[shapely.box(106.7, 26.5, 106.71, 26.51), shapely.box(106.71, 26.5, 106.72, 26.51)],
        crs=4326,
    )
    frame.to_file(tmp_path / "grids.shp")
    report = read_grid_file(tmp_path / "grids.shp")
    assert report.ok and [f.name for f in report.features] == ["s1", "s2"]


def test_unreadable_file_gives_a_clear_error(tmp_path):
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json")
    with pytest.raises(GridImportError, match="cannot read bad.geojson"):
        read_grid_file(bad)
