import json

import numpy as np
import shapely

from data.queries import ItemColumns
from geo.layers import LAYER_TRACES, TRACES, command_figure, item_layers, lines_xy, map_style


def test_style_is_local_unless_a_tile_server_is_configured():
    text = json.dumps(map_style())
    assert "http" not in text and map_style()["glyphs"].startswith("/map/")
    assert map_style()["sources"]  # never empty: see map_style's docstring
    tiled = map_style("http://127.0.0.1:8080/{z}/{x}/{y}.png")
    assert tiled["sources"]["tiles"]["tiles"] == ["http://127.0.0.1:8080/{z}/{x}/{y}.png"]


def empty_containers(value: object, path: str = "style") -> list[str]:
    if isinstance(value, dict | list) and not value:
        return [path]
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    return [p for k, v in items for p in empty_containers(v, f"{path}.{k}")]


def test_style_has_no_empty_object_that_would_make_the_map_reload_it():
    # plotly.js prunes empty objects from the layout it was given and then sees a changed style.
    for style in (map_style(), map_style("http://127.0.0.1:8080/{z}/{x}/{y}.png")):
        assert empty_containers(style) == []
        assert None not in json.loads(json.dumps(style))["sources"].values()


def test_lines_are_joined_with_gaps():
    lon, lat = lines_xy([shapely.LineString([(0, 0), (1, 1)]), shapely.LineString([(2, 2), (3, 3)])])
    assert np.isnan(lon[2]) and lon[3] == 2 and len(lon) == 6


def test_items_split_by_kind_with_an_overdue_halo():
    items = ItemColumns(
        id=np.array([1, 2, 3]),
        kind=np.array(["fire", "ticket", "fire"], dtype=object),
        lon=np.array([106.7, 106.8, 106.9]),
        lat=np.array([26.5, 26.6, 26.7]),
        priority=np.array([1, 3, 1]),
        status=np.array(["new"] * 3, dtype=object),
        title=np.array(["a", "b", "c"], dtype=object),
        overdue=np.array([False, False, True]),
    )
    layers = item_layers(items, "wgs84")
    assert layers["fire"]["customdata"].tolist() == [1, 3]
    assert isinstance(layers["fire"]["lon"], np.ndarray)  # numpy goes out base64-encoded
    assert layers["overdue"]["lon"].tolist() == [106.9]
    shifted = item_layers(items, "gcj02")
    assert 0.002 < shifted["fire"]["lon"][0] - 106.7 < 0.008


def test_command_figure_keeps_trace_order_and_visibility():
    traces = {name: {"type": "scattermap", "name": name} for name in TRACES}
    fig = command_figure(traces, map_style(), ["fire"])
    assert [t["name"] for t in fig["data"]] == list(TRACES)
    visible = {t["name"] for t in fig["data"] if t["visible"]}
    assert visible == {"districts", "roads", "suggested", *LAYER_TRACES["fire"]}  # the rings of a panel stay on
    assert fig["layout"]["uirevision"] and fig["layout"]["map"]["center"]["lat"] > 26
