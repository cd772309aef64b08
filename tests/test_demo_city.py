import json
from collections import defaultdict

import numpy as np
import pytest
import shapely
from shapely.geometry import shape
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from config import DEFAULT_SLA_MINUTES, DISTRICTS_FILE
from data.demo import DEMO_PASSWORD
from data.models import Event, Grid, Incident, User
from data.queries import load_grid_index
from geo.demo_city import make_grids, make_parking, make_roads
from geo.grid_import import _in_metres, find_gaps, find_overlaps, read_grid_file
from ops import departments
from ops.accounts import SYSTEM
from ops.cases import Cases, default_deadlines
from ops.incidents import NewIncident, report
from ops.routing import Router
from ops.simulator import CATEGORIES


def test_2000_grids_tile_the_city_without_gaps_or_overlaps_denser_in_the_core():
    districts = read_grid_file(DISTRICTS_FILE, crs="gcj02").features
    grids = make_grids(districts, 2000, seed=7)
    assert len(grids) == 2000
    geoms = _in_metres(np.array([g.geometry for g in grids], dtype=object))
    assert find_overlaps([g.name for g in grids], geoms, 1.0) == []
    assert find_gaps(geoms, 1.0) == []
    city = shapely.area(_in_metres(np.array([d.geometry for d in districts], dtype=object))).sum()
    assert abs(shapely.area(geoms).sum() - city) / city < 1e-6
    areas = defaultdict(list)
    for g, a in zip(grids, shapely.area(geoms), strict=True):
        areas[g.district].append(a)
    assert np.mean(areas["开阳县"]) > 10 * np.mean(areas["云岩区"])
    assert len({g.name for g in grids}) == 2000


def test_roads_and_parking_come_from_local_geometry():
    districts = read_grid_file(DISTRICTS_FILE, crs="gcj02").features
    roads = make_roads(districts, seed=7)
    assert {"ring", "radial", "highway"} <= {r.kind for r in roads}
    segments = make_parking(roads, 1031, seed=7)
    assert len(segments) == 11
    assert sum(len(s.spaces) for s in segments) == 1031


# --- the demo city's bodies (both backends: the ``city`` fixture) ------------------------------------


def bodies(store) -> dict[int, dict]:
    return {d["id"]: d for d in departments.list_all(store)}


def test_seeding_builds_guiyangs_bodies_in_three_levels_whose_stations_tile_each_district(city):
    tree = bodies(city)
    by_name = {d["name"]: d for d in tree.values()}
    shapes = departments.district_shapes(city)
    assert len(shapes) == 10
    city_level = {d["name"] for d in tree.values() if d["level"] == 1}
    assert {"市城市管理局", "市市场监督管理局", "市公安局交通管理局", "市消防救援支队", "市公安局"} <= city_level
    for district, outline in shapes.items():
        police = "公安分局" if district.endswith("区") else "公安局"
        for name, parent in [
            ("城市管理局", "市城市管理局"),
            ("市场监督管理局", "市市场监督管理局"),
            ("交警大队", "市公安局交通管理局"),
            ("消防救援大队", "市消防救援支队"),
            (police, "市公安局"),
        ]:
            body = by_name[district + name]
            assert body["level"] == 2 and tree[body["parent_id"]]["name"] == parent
            # A district branch answers for the union of its district's grids.
            mine, whole = _in_metres(np.array([shape(body["jurisdiction"]), outline], dtype=object))
            assert shapely.area(shapely.symmetric_difference(mine, whole)) < 1.0
        for kind, parent in [("police", district + police), ("street", district + "人民政府")]:
            kids = [
                d for d in tree.values() if d["level"] == 3 and d["kind"] == kind and d["name"].startswith(district)
            ]
            assert all(tree[d["parent_id"]]["name"] == parent for d in kids)
            assert 3 <= len(kids) <= 6 if kind == "police" else len(kids) >= 1
            areas = _in_metres(np.array([shape(d["jurisdiction"]) for d in kids], dtype=object))
            # Together they cover the district exactly; two of them share at most an edge.
            whole = _in_metres(np.array([outline], dtype=object))[0]
            assert shapely.area(shapely.symmetric_difference(shapely.union_all(areas), whole)) < 1.0
            assert find_overlaps([d["name"] for d in kids], areas, 1.0) == []
    assert len({d["code"] for d in tree.values()}) == len(tree)


def test_the_demo_staff_sign_in_for_their_department(city):
    tree = bodies(city)
    with city.read() as s:
        staff = {u.username: u for u in s.scalars(select(User).where(User.role == "staff"))}
    expected = {"city_cg": "市城市管理局", "nanming_cg": "南明区城市管理局", "nanming_jj": "南明区交警大队"}
    for username, department in expected.items():
        assert tree[staff[username].department_id]["name"] == department
        assert check_password_hash(staff[username].password_hash, DEMO_PASSWORD)


def district_points(store) -> dict[str, tuple[float, float]]:
    """A point well inside one grid of each district (its most central grid's representative point)."""
    with store.read() as s:
        rows = s.execute(select(Grid.district, Grid.geom).order_by(Grid.id)).all()
    out = {}
    for district, geom in rows:
        out.setdefault(district, geom.representative_point().coords[0])
    return out


def test_every_simulated_category_routes_to_its_body_inside_each_district(city):
    tree = bodies(city)
    router = Router(city)
    points = district_points(city)
    owner_of = {
        "违章停车": "交警大队",
        "交通事故": "交警大队",
        "占道经营": "城市管理局",
        "路灯故障": "城市管理局",
        "住宅火灾": "消防救援大队",
        "一键报警柱": "派出所",
        "盗窃": "派出所",
        "噪音扰民": "派出所",
        "邻里纠纷": "街道办事处",
        "老人血压异常": "街道办事处",
        "供水供电": "市水务管理局",
    }
    every = [c for kind in CATEGORIES.values() for c in kind]
    assert set(owner_of) <= set(every)
    for district, (lon, lat) in points.items():
        decisions = router.route_many(every, np.full(len(every), lon), np.full(len(every), lat))
        for category, d in zip(every, decisions, strict=True):
            assert d.department_id is not None, (district, category)
            name = tree[d.department_id]["name"]
            if category in owner_of:
                assert name.endswith(owner_of[category]), (district, category, name)
                if tree[d.department_id]["level"] > 1:
                    assert name.startswith(district), (district, category, name)
    # Outside the city (beyond every district) nobody owns a case: the "no owner" queue stays reachable.
    assert router.route("占道经营", 100.0, 30.0).department_id is None


def test_report_files_and_routes_a_fire_in_its_transaction_and_leaves_tickets_to_the_desk(city, monkeypatch):
    cases = Cases(city, Router(city), default_deadlines())
    tree = bodies(city)
    district, (lon, lat) = next(iter(district_points(city).items()))
    items = [
        NewIncident("ticket", "占道经营", "占道经营", lon, lat, source="citizen"),
        NewIncident("ticket", "占道经营", "占道经营", lon, lat, source="hotline"),
        NewIncident("fire", "住宅火灾", "住宅火灾", lon, lat, priority=1, source="119"),
        NewIncident("fire", "车辆起火", "车辆起火", 100.0, 30.0, priority=1, source="119"),  # outside the city
    ]
    ids = report(city, load_grid_index(city), SYSTEM, items, DEFAULT_SLA_MINUTES, cases=cases)
    with city.read() as s:
        rows = {i.id: i for i in s.scalars(select(Incident).where(Incident.id.in_(ids)))}
        events = s.execute(
            select(Event.entity_id, Event.kind, Event.data).where(Event.kind.like("case.%")).order_by(Event.id)
        ).all()
    citizen, hotline, fire, outside = (rows[i] for i in ids)
    assert (citizen.stage, citizen.department_id) == ("verifying", None)
    assert (hotline.stage, hotline.department_id) == ("reported", None)
    assert fire.stage == "dispatched" and tree[fire.department_id]["name"] == f"{district}消防救援大队"
    assert json.loads(fire.routing)["department"] == f"{district}消防救援大队"
    assert fire.stage_due_at is not None and fire.status == "new"  # a worker is sent as today
    assert (outside.stage, outside.department_id) == ("filed", None)
    assert "no_owner" in json.loads(outside.routing)["key"]
    assert [(e.entity_id, e.data["code"]) for e in events] == [(fire.id, 100), (fire.id, 600), (outside.id, 100)]
    assert events[1].data["to_department"] == fire.department_id

    def broken(*_args, **_kwargs):
        raise RuntimeError("the event rows could not be written")

    # The case rows are written in the insert's transaction: when they fail, nothing is stored.
    monkeypatch.setattr(cases, "record_new", broken)
    with pytest.raises(RuntimeError):
        report(city, load_grid_index(city), SYSTEM, items[2:3], DEFAULT_SLA_MINUTES, cases=cases)
    with city.read() as s:
        assert s.scalar(select(func.count(Incident.id))) == len(ids)
