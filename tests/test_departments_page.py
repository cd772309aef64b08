"""The departments page's save and import, called as its callback calls them, on both backends: an
admin's change lands in the store, every problem is named before anything is written, and anyone
else is refused."""

from __future__ import annotations

import base64
import json

import pytest
import shapely
from shapely.geometry import mapping

from callbacks.departments import import_upload, save_rows
from layouts import departments as view
from layouts.i18n import Text
from locales import render
from ops import departments
from ops.accounts import Actor
from ops.errors import Forbidden, Invalid

ADMIN = Actor(None, "admin", "admin")
OPERATOR = Actor(None, "op", "operator")
T = Text("zh-CN")


def grid(store) -> list[dict]:
    return view.department_rows(T, departments.list_all(store), departments.district_shapes(store))


def by_name(rows: list[dict], name: str) -> dict:
    return next(r for r in rows if r["name"] == name)


def test_an_admin_saves_a_changed_row_and_only_that_one(city) -> None:
    rows = grid(city)
    before = {d["id"]: d for d in departments.list_all(city)}
    row = by_name(rows, "南明区城市管理局")
    row["categories"] = "占道经营, 共享单车乱停，噪音扰民"
    assert save_rows(city, ADMIN, rows) == 1
    after = {d["id"]: d for d in departments.list_all(city)}
    assert after[row["id"]]["categories"] == ["占道经营", "共享单车乱停", "噪音扰民"]
    assert after[row["id"]]["jurisdiction"] is not None  # the area stays what it was
    assert shapely.equals(
        shapely.geometry.shape(after[row["id"]]["jurisdiction"]),
        shapely.geometry.shape(before[row["id"]]["jurisdiction"]),
    )
    assert {k: v for k, v in after.items() if k != row["id"]} == {k: v for k, v in before.items() if k != row["id"]}


def test_every_problem_is_named_and_nothing_is_saved(city) -> None:
    before = departments.list_all(city)
    rows = grid(city)
    a, b = rows[0], rows[1]
    a["categories"] = "新类别"  # a good change, held back with the bad ones
    b["name"] = ""
    rows[2]["parent"] = "没有这个部门"
    rows.append({**view.new_row(), "name": "新部门", "districts": "火星区"})
    with pytest.raises(Invalid) as caught:
        save_rows(city, ADMIN, rows)
    said = [render("zh-CN", p["key"], p["params"]) for p in caught.value.problems]
    assert len(said) == 3, said
    assert said[0].endswith("请填写 名称") and "部门「" in said[0]
    assert "没有名为「没有这个部门」的部门" in said[1]
    assert "新部门" in said[2] and "未知区县「火星区」" in said[2]
    assert departments.list_all(city) == before


def test_a_new_department_gets_whole_districts_and_reads_as_them(city) -> None:
    shapes = departments.district_shapes(city)
    two = sorted(shapes)[:2]
    rows = grid(city)
    parent = next(r for r in rows if r["level"] == 1)
    rows.append(
        {
            **view.new_row(),
            "code": "new-1",
            "name": "新部门",
            "parent": parent["name"],
            "categories": "井盖缺失",
            "districts": "，".join(two),
        }
    )
    assert save_rows(city, ADMIN, rows) == 1
    new = by_name(grid(city), "新部门")
    assert new["level"] == 2 and new["area"] == "2 个区县" and new["categories"] == "井盖缺失"


def test_a_cycle_is_refused_before_anything_is_written(city) -> None:
    rows = grid(city)
    child = next(r for r in rows if r["level"] == 2)
    top = by_name(rows, child["parent"])
    top["parent"] = child["name"]
    with pytest.raises(Invalid) as caught:
        save_rows(city, ADMIN, rows)
    assert any(p["params"]["problem"]["key"] == "error.department_cycle" for p in caught.value.problems)
    assert by_name(grid(city), top["name"])["parent"] == ""


def test_an_operator_is_refused_and_nothing_changes(city) -> None:
    before = departments.list_all(city)
    rows = grid(city)
    rows[0]["categories"] = "别的"
    with pytest.raises(Forbidden):
        save_rows(city, OPERATOR, rows)
    geojson = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"code": "x", "name": "X"}, "geometry": mapping(shapely.box(0, 0, 1, 1))}
        ],
    }
    upload = "data:application/json;base64," + base64.b64encode(json.dumps(geojson).encode()).decode()
    with pytest.raises(Forbidden):
        import_upload(city, OPERATOR, upload, None)
    assert departments.list_all(city) == before


def test_an_admin_imports_an_uploaded_file_with_its_categories(city) -> None:
    geojson = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": "imp-1", "name": "导入部门"},
                "geometry": mapping(shapely.box(106.6, 26.5, 106.7, 26.6)),
            }
        ],
    }
    upload = "data:application/json;base64," + base64.b64encode(json.dumps(geojson).encode()).decode()
    csv = "data:text/csv;base64," + base64.b64encode("code,category\nimp-1,垃圾满溢\n".encode()).decode()
    [new_id] = import_upload(city, ADMIN, upload, csv)
    row = next(r for r in grid(city) if r["id"] == new_id)
    assert row["categories"] == "垃圾满溢" and row["area"] == "自定义辖区"
    with pytest.raises(Invalid) as caught:
        import_upload(city, ADMIN, "data:application/json;base64," + base64.b64encode(b"{oops").decode(), None)
    assert caught.value.key == "error.department_file_type"
