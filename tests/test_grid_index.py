import numpy as np
import shapely

from geo.grid_index import OUTSIDE, GridIndex


def squares() -> GridIndex:
    # Two unit squares sharing the edge x=1; ids deliberately out of order.
    return GridIndex([7, 3], [shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)])


def test_inside_and_outside():
    idx = squares()
    assert idx.locate([0.5, 1.5, 5.0], [0.5, 0.5, 5.0]).tolist() == [7, 3, OUTSIDE]
    assert idx.locate_one(5.0, 5.0) is None


def test_shared_edge_goes_to_the_smallest_id_whatever_the_order():
    for order in ([7, 3], [3, 7]):
        polys = {7: shapely.box(0, 0, 1, 1), 3: shapely.box(1, 0, 2, 1)}
        idx = GridIndex(order, [polys[i] for i in order])
        assert idx.locate([1.0, 1.0], [0.5, 1.0]).tolist() == [3, 3]


def test_swapped_coordinates_are_detected():
    idx = GridIndex([1], [shapely.box(106.6, 26.5, 106.8, 26.7)])
    flags = idx.looks_swapped([26.6, 106.7, 0.0], [106.7, 26.6, 0.0])
    assert flags.tolist() == [True, False, False]


def test_many_points_agree_with_a_plain_polygon_test():
    rng = np.random.default_rng(1)
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(rng.uniform(0, 10, (200, 2))), extend_to=shapely.box(0, 0, 10, 10))
    )
    cells = shapely.intersection(cells, shapely.box(0, 0, 10, 10))
    ids = np.arange(100, 100 + len(cells))
    idx = GridIndex(ids, cells)
    x, y = rng.uniform(-1, 11, 5000), rng.uniform(-1, 11, 5000)
    got = idx.locate(x, y)
    expected = np.full(len(x), OUTSIDE)
    for gid, cell in sorted(zip(ids, cells, strict=True), reverse=True):
        expected[shapely.intersects_xy(cell, x, y)] = gid  # descending: smallest id written last
    assert (got == expected).all()
    assert (got == OUTSIDE).sum() > 0


def test_a_workers_phone_map_outlines_their_grid():
    from layouts.worker import mini_map

    holey = shapely.Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [[(1, 1), (2, 1), (2, 2), (1, 2)]])
    two = shapely.MultiPolygon([shapely.box(10, 10, 11, 11), shapely.box(12, 10, 13, 11)])
    index = GridIndex([7, 9], [holey, two])
    assert index.polygon(9).equals(two) and index.polygon(8) is None
    worker = {"id": 1, "name": "w", "grid_id": 7, "lon": None, "lat": None}
    fig = mini_map(worker, [], {}, index.polygon(7))
    line = fig["data"][0]
    assert line["mode"] == "lines" and line["lon"].count(None) == 2  # the outer ring and the hole
    assert fig["layout"]["map"]["center"] == {"lon": holey.centroid.x, "lat": holey.centroid.y}  # no position yet
    rings = mini_map(worker, [], {}, index.polygon(9))["data"][0]
    assert rings["lon"].count(None) == 2 and min(x for x in rings["lon"] if x is not None) == 10
