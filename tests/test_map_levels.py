"""The command map at city scale: its static layers built in one vectorized pass (the same GeoJSON as one
grid at a time), and the grid layer's levels (every grid / the grids in view / district areas with their
grids' load) with live patches that send the shapes only when a screen needs other ones."""

import json

import numpy as np
import pytest
import shapely
from dash import Patch
from shapely.geometry import mapping, shape

from app import create_app, runtime_of
from callbacks.command import refresh, view_patch
from config import DEFAULT_SLA_MINUTES, Config
from data import map_view, queries
from geo.layers import TRACE_INDEX, geometry_to_display, lines_xy
from layouts.i18n import Text
from ops.accounts import Actor
from ops.incidents import NewIncident, report


@pytest.fixture(scope="module")
def rt(tmp_path_factory):
    """One small demo city (60 grids) for the module: seeding one costs seconds on a loaded machine."""
    tmp = tmp_path_factory.mktemp("levels")
    url = f"sqlite:///{tmp / 'city.db'}"
    config = Config(database_url=url, grid_count=60, parking_spaces=60, simulate=False, media_dir=str(tmp / "media"))
    return runtime_of(create_app(config))


LABELS = {"open": "open", "worker": "worker", "space": "space", "grids": "grids", "per_grid": "per grid"}


def per_grid_geojson(store, crs):
    """The conversion as it was before (one grid at a time through mapping/shape): the reference."""
    geojson = queries.grid_geojson(store)
    for feature in geojson["features"]:
        display = geometry_to_display(shape(feature["geometry"]), crs)
        feature["geometry"] = mapping(shapely.transform(display, lambda xy: np.round(xy, 5)))
        feature["properties"] = {}
    return geojson


def outline(trace):
    """A line trace (NaN between lines) back to one geometry, to compare outlines whatever their order."""
    x, y = np.asarray(trace["lon"], float), np.asarray(trace["lat"], float)
    cuts = np.flatnonzero(np.isnan(x))
    starts = [0, *(cuts + 1)[:-1]]
    return shapely.MultiLineString([np.column_stack([x[a:b], y[a:b]]) for a, b in zip(starts, cuts, strict=True)])


@pytest.mark.parametrize("crs", ["wgs84", "gcj02"])
def test_static_layers_send_the_same_geojson_as_one_grid_at_a_time(rt, crs, tmp_path):
    city = rt.store
    built = map_view.static_layers(city, crs, LABELS, cache_dir=tmp_path)
    assert json.dumps(built.geojson) == json.dumps(per_grid_geojson(city, crs))
    # The district outlines: the same lines as the union of each district's grids read on their own.
    x, y = lines_xy([geometry_to_display(g, crs) for g in queries.district_outlines(city)])
    assert shapely.equals(outline(built.traces["districts"]), outline({"lon": x, "lat": y}))
    # A second start over the same grids reads the unions back from disk: the same layers.
    assert len(list(tmp_path.glob("*.wkb.json"))) == 1
    again = map_view.static_layers(city, crs, LABELS, cache_dir=tmp_path)
    assert shapely.equals(outline(again.traces["districts"]), outline(built.traces["districts"]))
    assert json.dumps(again.district_geojson) == json.dumps(built.district_geojson)


def test_geojson_geometries_match_mapping_for_every_shape():
    square = shapely.box(0, 0, 4, 4)
    holed = shapely.Polygon(square.exterior.coords, [shapely.box(1, 1, 2, 2).exterior.coords])
    shapes = np.array(
        [
            holed,
            shapely.MultiPolygon([holed, shapely.box(5, 5, 6, 6)]),
            shapely.box(7, 7, 8, 9),
            shapely.Point(1, 2),  # not a polygon: converted on its own
            shapely.MultiPolygon([shapely.box(0, 0, 1, 1)]),
            shapely.Polygon(),
        ],
        dtype=object,
    )
    assert json.dumps(map_view.geojson_geometries(shapes)) == json.dumps([mapping(g) for g in shapes])
    assert map_view.geojson_geometries(np.empty(0, dtype=object)) == []  # a store with no grids yet


def test_a_city_within_the_limit_keeps_every_grid_whatever_the_view(rt):
    zoomed = {"zoom": 15.0, "bbox": list(rt.static.grid_bounds[0])}
    assert map_view.grid_level(rt.static, None).key == map_view.grid_level(rt.static, zoomed).key == "all"
    trace = map_view.live_traces(rt.store, rt.static, rt.crs, {"grids"}, zoomed, rt.live)["grids"]
    assert trace["geojson"] is rt.static.geojson and len(trace["locations"]) == len(rt.static.grid_ids)


def fire_in(rt, k):
    p = rt.index.polygons[k].representative_point()
    report(
        rt.store,
        rt.index,
        Actor(None, "op", "operator"),
        [NewIncident("fire", "火", "火", p.x, p.y)],
        DEFAULT_SLA_MINUTES,
    )


def grid_ops(patch):
    return {
        o["location"][2]: o["params"]["value"]
        for o in patch.to_plotly_json()["operations"]
        if o["location"][:2] == ["data", TRACE_INDEX["grids"]]
    }


def test_a_large_city_opens_on_its_districts_and_draws_grids_when_zoomed_in(rt, monkeypatch):
    t = Text("en")
    monkeypatch.setattr(map_view, "GRID_OUTLINES_MAX", 12)  # the 60-grid test city stands for 20,000
    cursor, _ = rt.cursor()
    before = int(queries.open_load_by_grid(rt.store)[1][5])
    fire_in(rt, 5)
    fire_in(rt, 5)
    rt.live.refresh()
    figure = map_view.full_figure(rt.store, rt.static, rt.crs, rt.style, ["grids"], live=rt.live)
    grids = figure["data"][TRACE_INDEX["grids"]]
    names = rt.static.district_names
    assert grids["meta"] == "districts" and grids["text"] == names
    assert grids["locations"].tolist() == [-(k + 1) for k in range(len(names))]
    assert [f["id"] for f in grids["geojson"]["features"]] == grids["locations"].tolist()
    # Each district: its open items and grids in the hover, coloured by the open items per grid.
    load = queries.open_load_by_grid(rt.store)[1]
    k = rt.static.grid_district[5]
    assert grids["customdata"][k].tolist() == [
        int(load[rt.static.grid_district == k].sum()),
        int((rt.static.grid_district == k).sum()),
    ]
    assert grids["customdata"][:, 0].sum() == load.sum() and load[5] == before + 2
    assert grids["z"][k] == pytest.approx(grids["customdata"][k, 0] / grids["customdata"][k, 1], abs=0.01)
    assert "customdata[0]" in grids["hovertemplate"] and "每网格" in grids["hovertemplate"]  # the UI language
    assert len(json.dumps(grids["geojson"])) < len(json.dumps(rt.static.geojson))

    # A new item: the poll recolours the districts and sends no shapes (the screen holds them already).
    tick = refresh(rt, t, cursor, None, {})
    ops = grid_ops(tick.figure)
    assert "z" in ops and "customdata" in ops and "geojson" not in ops and "locations" not in ops

    # Zoomed in on the grid of the fires: its outline and its neighbours', only those, with their load.
    x0, y0, x1, y1 = rt.static.grid_bounds[5]
    view = {"zoom": 15.0, "bbox": [x0, y0, x1, y1]}
    patch, digests = view_patch(rt, view, None, tick.digests)
    ops = grid_ops(patch)
    level = map_view.grid_level(rt.static, view)
    assert ops["meta"] == level.key and level.key.startswith("box:")
    shown = ops["locations"].tolist()
    assert rt.static.grid_ids[5] in shown and 0 < len(shown) <= 12
    assert [f["id"] for f in ops["geojson"]["features"]] == shown
    assert ops["z"][shown.index(rt.static.grid_ids[5])] == before + 2
    assert ops.get("zmax", 5) == 5  # the whole city's scale, unchanged (so not even resent)

    # The next item in view: only colours go out, at the grid level.
    cursor, _ = rt.cursor()
    fire_in(rt, 5)
    tick = refresh(rt, t, cursor, view, digests)
    ops = grid_ops(tick.figure)
    assert "geojson" not in ops and ops["z"][shown.index(rt.static.grid_ids[5])] == before + 3
    # A small pan keeps the same padded box: nothing to send for the grids.
    nudged = {"zoom": 15.0, "bbox": [x0 + 1e-4, y0, x1 + 1e-4, y1]}
    patch, _ = view_patch(rt, nudged, view, tick.digests)
    assert grid_ops(patch) == {}
    # Zoomed out again: the district areas come back.
    patch, digests = view_patch(rt, {"zoom": 10.0, "bbox": list(rt.static.bounds)}, view, tick.digests)
    ops = grid_ops(patch)
    assert ops["meta"] == "districts" and ops["locations"].tolist()[0] == -1
    assert isinstance(patch, Patch) and digests["grids.meta"] != tick.digests["grids.meta"]


def test_the_demo_citys_poll_never_resends_the_grid_shapes(rt):
    cursor, _ = rt.cursor()
    fire_in(rt, 2)
    ops = grid_ops(refresh(rt, Text("zh-CN"), cursor, None, {}).figure)
    assert set(ops) == {"z", "zmax"}  # as before the levels: the colours only
