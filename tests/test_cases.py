"""Departments, routing and the case's stages between bodies, on both backends."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
import shapely
from shapely.geometry import mapping
from sqlalchemy import select, update

from config import DEFAULT_SLA_MINUTES
from data.models import STAGES, Department, Event, Incident, utcnow
from geo.jurisdictions import Body, JurisdictionIndex
from locales import render
from ops import departments
from ops.accounts import SYSTEM, Actor, create_user
from ops.cases import CODES, FROM, Cases, default_deadlines
from ops.errors import Conflict, Forbidden, Invalid
from ops.incidents import NewIncident, report
from ops.routing import Router, sentence

ADMIN = Actor(None, "admin", "admin")
OPERATOR = Actor(None, "op", "operator")
SUPERVISOR = Actor(None, "boss", "supervisor")


def square(x0: float, y0: float, size: float) -> dict:
    return mapping(shapely.box(x0, y0, x0 + size, y0 + size))


def test_the_most_specific_jurisdiction_wins_and_edges_have_one_owner():
    big = shapely.box(0, 0, 10, 10)
    left, right = shapely.box(0, 0, 5, 10), shapely.box(5, 0, 10, 10)
    bodies = [
        Body(1, frozenset({"占道经营"}), 1, None, None),  # city-wide bureau
        Body(2, frozenset({"占道经营"}), 2, big, 100.0),  # district branch
        Body(3, frozenset({"占道经营"}), 3, left, 50.0),  # two stations sharing the edge x = 5
        Body(4, frozenset({"占道经营"}), 3, right, 50.0),
        Body(5, frozenset({"噪音扰民"}), 3, left, 10.0),  # smaller, but another category
    ]
    index = JurisdictionIndex(bodies)
    lon = np.array([2.0, 7.0, 5.0, 50.0, 2.0])
    lat = np.array([5.0, 5.0, 5.0, 50.0, 5.0])
    cats = ["占道经营", "占道经营", "占道经营", "占道经营", "违章停车"]
    owners = index.ids[index.owners(lon, lat, cats)].tolist()
    # inside the left station; inside the right; on the shared edge: the tie goes to the lower id, every
    # time; outside every polygon: the city-wide bureau; a category nobody takes: nobody.
    assert owners[:4] == [3, 4, 3, 1]
    assert index.owners(lon[4:], lat[4:], cats[4:]).tolist() == [-1]
    assert [int(index.ids[j]) for j in index.candidates(5.0, 5.0, "占道经营")] == [3, 4, 2, 1]
    # Reversed input order changes nothing.
    again = JurisdictionIndex(bodies[::-1])
    assert again.ids[again.owners(lon[:4], lat[:4], cats[:4])].tolist() == owners[:4]


def make_departments(store) -> dict[str, int]:
    shapes = departments.district_shapes(store)
    district = sorted(shapes)[0]
    bureau = departments.create(
        store, ADMIN, departments.DepartmentIn.parse({"name": "市城管局", "categories": ["占道经营", "环境卫生"]})
    )
    branch = departments.create(
        store,
        ADMIN,
        departments.DepartmentIn.parse(
            {"name": f"{district}城管局", "parent_id": bureau, "categories": ["占道经营"], "districts": [district]},
            shapes,
        ),
    )
    market = departments.create(
        store, ADMIN, departments.DepartmentIn.parse({"name": "市市场监管局", "categories": ["噪音扰民"]})
    )
    return {"bureau": bureau, "branch": branch, "market": market, "district": district}


def a_case(store, category: str = "占道经营", inside: bool = True) -> int:
    from data.queries import load_grid_index

    index = load_grid_index(store)
    with store.read() as s:
        from data.models import Grid

        district = sorted({d for (d,) in s.execute(select(Grid.district)).all()})[0]
        gid = s.scalar(select(Grid.id).where(Grid.district == district if inside else Grid.district != district))
    p = index.polygon(gid).representative_point()
    item = NewIncident("ticket", category, category, p.x, p.y, source="hotline")
    (iid,) = report(store, index, SYSTEM, [item], DEFAULT_SLA_MINUTES)
    with store.transaction() as s:
        s.get(Incident, iid).stage = "reported"
    return iid


@pytest.fixture
def org(city):
    with city.transaction() as s:  # the demo city's own bodies stand aside: these tests write the rule table
        s.execute(update(Department).values(active=False))
    ids = make_departments(city)
    staff = {}
    for key in ("bureau", "branch", "market"):
        uid = create_user(city, f"staff_{key}", "staff", department_id=ids[key])
        staff[key] = Actor(uid, f"staff_{key}", "staff", ids[key])
    return city, ids, staff, Cases(city, Router(city), default_deadlines())


def stage_of(store, iid: int) -> tuple[str, int | None]:
    with store.read() as s:
        row = s.execute(select(Incident.stage, Incident.department_id).where(Incident.id == iid)).one()
    return row.stage, row.department_id


def test_the_whole_loop_with_a_failed_check_and_rework(org):
    store, ids, staff, cases = org
    iid = a_case(store)
    assert cases.act(OPERATOR, iid, "file")["department_id"] == ids["branch"]  # the district's branch, not the city
    with store.read() as s:
        routing = s.scalar(select(Incident.routing).where(Incident.id == iid))
    said = sentence(
        routing,
        lambda key: {"routing.inside": "routed to {department}: category {category}, inside its jurisdiction"}[key],
    )
    assert said == f"routed to {ids['district']}城管局: category 占道经营, inside its jurisdiction"
    for actor, action, body, stage in [
        (staff["branch"], "sign", {}, "signed"),
        (staff["branch"], "start", {}, "in_progress"),
        (staff["branch"], "handled", {"note": "已清理"}, "handled"),
        (OPERATOR, "check", {"passed": False, "note": "摊位仍在"}, "rework"),
        (staff["branch"], "handled", {"note": "已取缔"}, "handled"),
        (OPERATOR, "check", {"passed": True}, "closed"),
    ]:
        assert cases.act(actor, iid, action, body)["stage"] == stage
    with store.read() as s:
        case = s.get(Incident, iid)
        events = s.execute(
            select(Event.kind, Event.data, Event.actor).where(Event.entity_id == iid, Event.kind.like("case.%"))
        ).all()
    assert case.rework_count == 1 and case.status == "closed"
    assert [e.data["code"] for e in events] == [100, 600, 620, 640, 700, 720, 700, 710]
    assert all(e.data["to_department"] == ids["branch"] for e in events[1:])
    assert {e.actor for e in events} == {"op", "staff_branch"}


def test_a_return_then_redispatch_to_another_body_is_counted(org):
    store, ids, staff, cases = org
    iid = a_case(store)
    cases.act(OPERATOR, iid, "file")
    with pytest.raises(Invalid):
        cases.act(staff["branch"], iid, "return", {"reason": "  "})
    assert cases.act(staff["branch"], iid, "return", {"reason": "不属本部门"})["stage"] == "returned"
    assert stage_of(store, iid) == ("returned", None)  # in the dispatchers' queue, owned by nobody
    cases.act(OPERATOR, iid, "dispatch", {"department_id": ids["market"]})
    assert stage_of(store, iid) == ("dispatched", ids["market"])
    with store.read() as s:
        case = s.get(Incident, iid)
        last = s.execute(select(Event.data).where(Event.entity_id == iid).order_by(Event.id.desc())).scalars().first()
    assert case.return_count == 1 and last["code"] == CODES["redispatch"] and last["same_department"] is False


def test_every_illegal_move_is_refused_naming_the_stage_and_changes_nothing(org):
    store, ids, staff, cases = org
    iid = a_case(store)
    for stage in STAGES:
        with store.transaction() as s:
            case = s.get(Incident, iid)
            case.stage, case.department_id = stage, ids["branch"] if stage != "reported" else None
        for action, starts in FROM.items():
            if stage in starts:
                continue
            with store.read() as s:
                before = s.execute(select(Incident.__table__).where(Incident.id == iid)).one()
            with pytest.raises(Conflict) as err:
                cases.act(
                    ADMIN, iid, action, {"reason": "x", "note": "x", "passed": True, "department_id": ids["market"]}
                )
            assert err.value.detail["stage"] == stage
            assert render("en", f"stage.{stage}", {}) in err.value.message  # the answer names the stage it met
            with store.read() as s:
                assert s.execute(select(Incident.__table__).where(Incident.id == iid)).one() == before


def test_another_departments_staff_can_neither_act_nor_escalate_past_the_top(org):
    store, ids, staff, cases = org
    iid = a_case(store)
    cases.act(OPERATOR, iid, "file")
    for actor in (staff["market"], Actor(None, "w", "worker")):
        with pytest.raises(Forbidden):
            cases.act(actor, iid, "sign")
    assert stage_of(store, iid) == ("dispatched", ids["branch"])
    # The city bureau is the branch's parent: its staff act for the branch's cases too.
    cases.act(staff["bureau"], iid, "sign")
    cases.act(staff["branch"], iid, "escalate", {"reason": "需市局协调"})
    assert stage_of(store, iid) == ("dispatched", ids["bureau"])
    with pytest.raises(Forbidden):
        cases.act(staff["branch"], iid, "sign")  # the bureau's case now, above the branch
    cases.act(staff["bureau"], iid, "sign")
    with pytest.raises(Conflict):
        cases.act(staff["bureau"], iid, "escalate", {"reason": "再上报"})


def test_extension_hold_urge_and_the_citizens_callback(org):
    store, ids, staff, cases = org
    iid = a_case(store)
    cases.act(OPERATOR, iid, "file")
    signed = cases.act(staff["branch"], iid, "sign")
    due = signed["stage_due_at"]
    later = (due + timedelta(days=2)).isoformat() + "Z"
    cases.act(staff["branch"], iid, "extend", {"until": later, "reason": "需协调产权单位"})
    with pytest.raises(Conflict):
        cases.act(staff["branch"], iid, "extend", {"until": later, "reason": "again"})
    with pytest.raises(Forbidden):
        cases.act(staff["branch"], iid, "extension", {"approve": True})  # the department cannot grant itself
    cases.act(OPERATOR, iid, "extension", {"approve": True})
    with store.read() as s:
        assert s.get(Incident, iid).stage_due_at == due + timedelta(days=2)
    cases.act(staff["branch"], iid, "hold", {"reason": "等待产权确认"})
    assert stage_of(store, iid)[0] == "on_hold"
    with pytest.raises(Conflict):
        cases.act(staff["branch"], iid, "handled", {"note": "x"})
    cases.act(staff["branch"], iid, "resume")
    assert stage_of(store, iid)[0] == "signed"
    with pytest.raises(Forbidden):
        cases.act(OPERATOR, iid, "urge", {"note": "加快"})
    cases.act(SUPERVISOR, iid, "urge", {"note": "市长热线督办", "until": (utcnow() + timedelta(hours=4)).isoformat()})
    with store.read() as s:
        assert s.get(Incident, iid).urge_note == "市长热线督办"
    cases.act(staff["branch"], iid, "handled", {"note": "已处理"})
    cases.act(OPERATOR, iid, "check", {"passed": True})
    cases.act(OPERATOR, iid, "callback", {"satisfied": False, "note": "问题复发"})
    assert stage_of(store, iid) == ("rework", ids["branch"])


def test_routing_many_cases_at_once_decides_as_one_at_a_time(org):
    store, ids, _staff, _cases = org
    from data.queries import load_grid_index

    index = load_grid_index(store)
    rng = np.random.default_rng(3)
    xmin, ymin, xmax, ymax = index.bounds
    lon, lat = rng.uniform(xmin, xmax, 300), rng.uniform(ymin, ymax, 300)
    cats = rng.choice(["占道经营", "环境卫生", "噪音扰民", "邻里纠纷"], 300).tolist()
    router = Router(store)
    many = router.route_many(cats, lon, lat)
    one = [router.route(c, x, y) for c, x, y in zip(cats, lon.tolist(), lat.tolist(), strict=True)]
    assert [(d.department_id, d.reason) for d in many] == [(d.department_id, d.reason) for d in one]
    assert {d.department_id for d in many} == {ids["bureau"], ids["branch"], ids["market"], None}


def test_a_case_nobody_owns_waits_in_the_no_owner_queue(org):
    store, ids, staff, cases = org
    iid = a_case(store, category="邻里纠纷")
    out = cases.act(OPERATOR, iid, "file")
    assert out["stage"] == "filed" and out["department_id"] is None
    with store.read() as s:
        assert "no_owner" in s.scalar(select(Incident.routing).where(Incident.id == iid))


def test_a_case_nobody_owns_is_ringed_on_the_map_until_a_body_takes_it(org):
    from data.live import LiveItems
    from data.queries import open_items
    from geo.layers import item_layers

    store, ids, staff, cases = org
    iid = a_case(store, category="邻里纠纷")  # no body takes this category
    owned = a_case(store)  # the branch's
    cases.act(OPERATOR, iid, "file")
    cases.act(OPERATOR, owned, "file")
    mirror = LiveItems(store)

    def ringed() -> tuple[set[int], set[int]]:
        mirror.refresh()
        out = []
        for items in (open_items(store), mirror.items()):
            ring = item_layers(items, "wgs84")["no_owner"]
            out.append({int(i) for i in items.id[items.no_owner]})
            assert len(ring["lon"]) == int(items.no_owner.sum())  # one ring per such case, at its place
        return out[0], out[1]

    store_view, memory_view = ringed()
    assert iid in store_view and iid in memory_view  # both paths agree: flagged
    assert owned not in store_view and owned not in memory_view
    cases.act(OPERATOR, iid, "dispatch", {"department_id": ids["market"]})  # a dispatcher chooses a body
    store_view, memory_view = ringed()
    assert iid not in store_view and iid not in memory_view
