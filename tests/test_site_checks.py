"""核实 / 核查 on the grid worker's phone: the cases waiting for a worker's on-site check are those of
their own grid(s) only, the move goes through ops.cases (another grid's worker: 403, nothing changed),
and from the phone's outbox it is applied once per key; a move that lost a race is answered by name.
A department's handled report may carry photos (ops and the case route), shown in the case's history
and on the checker's phone."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import pytest
from PIL import Image
from plotly.utils import PlotlyJSONEncoder
from sqlalchemy import func, select, update

from app import runtime_of
from config import DEFAULT_SLA_MINUTES
from data.models import Department, Event, Grid, Incident, Photo, Worker
from data.queries import incident_detail, load_grid_index
from layouts.command import detail_history
from layouts.i18n import Text
from layouts.worker import site_cards
from ops.accounts import SYSTEM, Actor, create_user
from ops.cases import MAX_HANDLED_PHOTOS, Cases, default_deadlines, site_checks
from ops.errors import Conflict, Forbidden, Invalid
from ops.incidents import NewIncident, report
from ops.routing import Router
from tests.conftest import AUTH
from tests.test_cases import ADMIN, OPERATOR, make_departments
from tests.test_worker_outbox import send


def case_in(store, grid_id: int, category: str = "占道经营", source: str = "hotline") -> int:
    """A report at a point of the grid, waiting at "reported"."""
    index = load_grid_index(store)
    p = index.polygon(grid_id).representative_point()
    (iid,) = report(
        store,
        index,
        SYSTEM,
        [NewIncident("ticket", category, f"{category}{grid_id}", p.x, p.y, source=source)],
        DEFAULT_SLA_MINUTES,
    )
    with store.transaction() as s:
        s.get(Incident, iid).stage = "reported"
    return iid


def worker_of(store, grid_id: int) -> Actor:
    with store.read() as s:
        w = s.execute(select(Worker.user_id, Worker.name).where(Worker.grid_id == grid_id).order_by(Worker.id)).first()
    return Actor(w.user_id, w.name, "worker")


def handled(cases: Cases, staff: Actor, iid: int, note: str) -> None:
    cases.act(OPERATOR, iid, "file")
    cases.act(staff, iid, "sign")
    cases.act(staff, iid, "handled", {"note": note})


def stage_of(store, iid: int) -> tuple[str, int]:
    with store.read() as s:
        row = s.execute(select(Incident.stage, Incident.rework_count).where(Incident.id == iid)).one()
    return row.stage, row.rework_count


@pytest.fixture
def loop(city):
    """Two grids of one district whose city-management branch owns 占道经营, its staff, the case rules."""
    with city.transaction() as s:
        s.execute(update(Department).values(active=False))
    ids = make_departments(city)
    uid = create_user(city, "staff_branch", "staff", department_id=ids["branch"])
    with city.read() as s:
        mine, other = s.scalars(select(Grid.id).where(Grid.district == ids["district"]).order_by(Grid.id).limit(2))
    return (
        city,
        Actor(uid, "staff_branch", "staff", ids["branch"]),
        Cases(city, Router(city), default_deadlines()),
        mine,
        other,
    )


def test_a_worker_sees_only_their_own_grids_cases_waiting_for_their_check(loop):
    store, staff, cases, mine, other = loop
    done_here = case_in(store, mine)
    handled(cases, staff, done_here, "摊位已清理")
    to_verify = case_in(store, mine)
    with store.transaction() as s:
        s.get(Incident, to_verify).stage = "verifying"
    still_with_department = case_in(store, mine)
    cases.act(OPERATOR, still_with_department, "file")
    done_there = case_in(store, other)
    handled(cases, staff, done_there, "已劝离")

    me, them = worker_of(store, mine), worker_of(store, other)
    seen = {c["id"]: c for c in site_checks(store, me)}
    assert set(seen) == {done_here, to_verify}  # not the department's open case, not the other grid's
    assert seen[done_here]["action"] == "check" and seen[done_here]["handled_note"] == "摊位已清理"
    with store.read() as s:
        grid = s.get(Grid, mine)
    assert seen[done_here]["place"] == f"{grid.district} · {grid.name}" and seen[done_here]["department"]
    assert seen[to_verify]["action"] == "verify" and seen[to_verify]["handled_note"] == ""
    assert [c["id"] for c in site_checks(store, them)] == [done_there]
    # Nobody but a grid worker has an on-site list (the command centre works from its queue).
    assert site_checks(store, OPERATOR) == [] and site_checks(store, staff) == []
    # A report the worker found false waits for a supervisor to void it: not asked again.
    cases.act(me, to_verify, "verify", {"valid": False, "note": "现场无此摊位"})
    assert stage_of(store, to_verify)[0] == "verifying"
    assert [c["id"] for c in site_checks(store, me)] == [done_here]


def test_the_check_works_for_the_grids_worker_and_another_grids_worker_gets_403(loop):
    store, staff, cases, mine, other = loop
    iid = case_in(store, mine)
    handled(cases, staff, iid, "摊位已清理")
    with pytest.raises(Forbidden) as refused:
        cases.act(worker_of(store, other), iid, "check", {"passed": True})
    assert refused.value.status == 403 and stage_of(store, iid) == ("handled", 0)
    me = worker_of(store, mine)
    with pytest.raises(Invalid):  # 不通过 needs a note
        cases.act(me, iid, "check", {"passed": False, "note": " "})
    assert stage_of(store, iid) == ("handled", 0)
    assert cases.act(me, iid, "check", {"passed": False, "note": "摊位仍在"})["stage"] == "rework"
    assert stage_of(store, iid) == ("rework", 1)
    with store.read() as s:
        event = s.execute(select(Event).where(Event.kind == "case.check_failed", Event.entity_id == iid)).scalar_one()
    assert event.actor == me.name and event.data["reason"] == "摊位仍在"


def a_handled_case_of_worker_one(rt) -> int:
    """A case in worker 1's grid, handled by its department (an admin makes the department's moves)."""
    with rt.store.read() as s:
        grid = s.get(Worker, 1).grid_id
        department = s.scalar(select(Department.id).order_by(Department.id))
    iid = case_in(rt.store, grid, category="环境卫生")
    if rt.cases.act(ADMIN, iid, "file")["stage"] != "dispatched":
        rt.cases.act(ADMIN, iid, "dispatch", {"department_id": department})
    rt.cases.act(ADMIN, iid, "sign")
    rt.cases.act(ADMIN, iid, "handled", {"note": "路面已冲洗"})
    return iid


def test_a_check_from_the_outbox_is_applied_once_and_a_lost_race_is_named(app, as_role):
    rt = runtime_of(app)
    iid = a_handled_case_of_worker_one(rt)
    client = as_role("worker")
    entry = {"key": "c-1", "user": 1, "case": iid, "action": "check", "answer": False, "note": "仍有污渍"}
    first = send(app, client, entry)
    assert first == [{"key": "c-1", "final": True, "ok": True, "text": f"案件 #{iid}：返工"}]
    assert send(app, client, entry) == first  # the answer was lost: the resend replays it
    with rt.store.read() as s:
        moves = s.scalar(select(func.count()).where(Event.kind == "case.check_failed", Event.entity_id == iid))
        stage = s.scalar(select(Incident.stage).where(Incident.id == iid))
    assert moves == 1 and stage == "rework"
    # Another phone's 通过 for the same case, queued before it saw the first: it lost, and says so.
    (late,) = send(app, client, {**entry, "key": "c-2", "answer": True, "note": ""})
    assert late["final"] and not late["ok"]
    assert late["text"] == f"「通过」未执行：#{iid} 案件当前为「返工」，已由他人处理"
    # A negative answer without a note is refused by ops.cases (and leaves the outbox, answered).
    other = a_handled_case_of_worker_one(rt)
    (bare,) = send(app, client, {"key": "c-3", "case": other, "action": "check", "answer": False, "note": ""})
    assert bare["final"] and not bare["ok"]
    with rt.store.read() as s:
        assert s.scalar(select(Incident.stage).where(Incident.id == other)) == "handled"


def png(color: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 12), color).save(buf, "PNG")
    return buf.getvalue()


def test_a_handled_report_carries_photos_to_the_history_and_the_checkers_phone(loop, tmp_path):
    store, staff, rules, mine, _ = loop
    media = tmp_path / "media"
    media.mkdir()
    cases = replace(rules, media_dir=str(media))
    iid = case_in(store, mine)
    cases.act(OPERATOR, iid, "file")
    with pytest.raises(Invalid):  # photos come with a handled report, no other move
        cases.act(staff, iid, "sign", {}, [png("red")])
    assert stage_of(store, iid) == ("dispatched", 0) and list(media.iterdir()) == []
    cases.act(staff, iid, "sign")
    with pytest.raises(Invalid):  # one unreadable photo: nothing is kept, the move is not made
        cases.act(staff, iid, "handled", {"note": "已清理"}, [png("red"), b"not a picture"])
    assert stage_of(store, iid) == ("signed", 0) and list(media.iterdir()) == []
    cases.act(staff, iid, "handled", {"note": "已清理"}, [png("red"), png("blue")])

    with store.read() as s:
        photos = s.execute(select(Photo.name, Photo.uploaded_by).where(Photo.incident_id == iid)).all()
        event = s.execute(select(Event.data).where(Event.kind == "case.handled", Event.entity_id == iid)).scalar_one()
    names = [p.name for p in photos]
    assert len(names) == 2 and event["photos"] == names and {p.uploaded_by for p in photos} == {staff.name}
    for name in names:  # re-encoded as JPEG under a random name, as a resolve's photo is
        with Image.open(media / name) as stored:
            assert stored.format == "JPEG" and stored.size == (16, 12)
    (waiting,) = site_checks(store, worker_of(store, mine))
    assert waiting["id"] == iid and waiting["handled_photos"] == names
    page = json.dumps(site_cards([waiting], Text("zh-CN")), cls=PlotlyJSONEncoder)
    assert all(f"/media/{n}" in page for n in names)
    history = json.dumps(detail_history(incident_detail(store, iid), Text("zh-CN")), cls=PlotlyJSONEncoder)
    assert all(f"/media/{n}" in history for n in names)

    # A second report that lost the race (the case is handled already) keeps no file of its own.
    with pytest.raises(Conflict):
        cases.act(staff, iid, "handled", {"note": "再次反馈"}, [png("green")])
    assert sorted(p.name for p in media.iterdir()) == sorted(names)
    with pytest.raises(Invalid):
        cases.act(staff, iid, "handled", {"note": "太多"}, [png("red")] * (MAX_HANDLED_PHOTOS + 1))


def test_the_case_route_takes_a_handled_report_with_photos_as_multipart(app, client):
    rt = runtime_of(app)
    with rt.store.read() as s:
        grid = s.get(Worker, 1).grid_id
        department = s.scalar(select(Department.id).order_by(Department.id))
    iid = case_in(rt.store, grid, category="环境卫生")
    if rt.cases.act(ADMIN, iid, "file")["stage"] != "dispatched":
        rt.cases.act(ADMIN, iid, "dispatch", {"department_id": department})
    url = f"/api/v1/incidents/{iid}"
    refused = client.post(f"{url}/sign", headers=AUTH, data={"photo": (io.BytesIO(png("red")), "a.png")})
    assert refused.status_code == 422 and refused.get_json()["field"] == "photo"
    assert client.post(f"{url}/sign", headers=AUTH, json={}).status_code == 200
    odd = client.post(
        f"{url}/handled", headers=AUTH, data={"note": "x", "colour": "red"}, content_type="multipart/form-data"
    )
    assert odd.status_code == 422 and odd.get_json()["field"] == "colour"
    files = [(io.BytesIO(png("red")), "before.png"), (io.BytesIO(png("blue")), "after.png")]
    r = client.post(f"{url}/handled", headers=AUTH, data={"note": "路面已冲洗", "photo": files})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["moved"]["stage"] == "handled"
    with rt.store.read() as s:
        names = s.scalars(select(Photo.name).where(Photo.incident_id == iid).order_by(Photo.id)).all()
        event = s.execute(select(Event.data).where(Event.kind == "case.handled", Event.entity_id == iid)).scalar_one()
    assert len(names) == 2 and event["photos"] == list(names) and event["reason"] == "路面已冲洗"
    assert client.get(f"/media/{names[0]}").status_code in (302, 401)  # photos are for signed-in people only
