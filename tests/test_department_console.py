"""A department's console through the Dash callback endpoint, called directly as an attacker would:
staff see and move only their own department's cases; another department's case answers nothing
and changes nothing; the API agrees (403)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from app import runtime_of
from callbacks.command import detail_update
from data.models import Department, Event, Incident
from layouts.i18n import Text
from ops import departments
from ops.accounts import Actor, create_token, create_user
from tests.test_cases import a_case
from tests.test_sessions import login

ADMIN = Actor(None, "admin", "admin")
OPERATOR = Actor(None, "op", "operator")


@pytest.fixture
def org(make_app):
    app = make_app(parking_spaces=120)
    rt = runtime_of(app)
    with rt.store.transaction() as s:  # the demo city's own bodies would win the routing: only ours count here
        s.execute(update(Department).values(active=False))
    shapes = departments.district_shapes(rt.store)
    first, second = sorted(shapes)[:2]
    ids = {}
    for key, district in (("a", first), ("b", second)):
        spec = departments.DepartmentIn.parse(
            {"name": f"{district}城管局", "categories": ["占道经营"], "districts": [district]}, shapes
        )
        ids[key] = departments.create(rt.store, ADMIN, spec)
        create_user(rt.store, f"staff_{key}", "staff", password="onemap-demo", department_id=ids[key])
    iid = a_case(rt.store)  # in the first district: department a's
    rt.cases.act(OPERATOR, iid, "file")
    return app, rt, ids, iid


def dash_call(client, output: str, inputs: list, state: list, changed: list[str]):
    """One request to Dash's endpoint, as the browser (or anyone with a session cookie) sends it."""
    payload = {
        "output": output,
        "outputs": {"id": output.split(".")[0], "property": output.split(".", 1)[1]},
        "inputs": inputs,
        "changedPropIds": changed,
        "state": state,
    }
    return client.post("/_dash-update-component", json=payload)


def case_move_output(app) -> str:
    """The case-move callback's output key (Dash suffixes a duplicate output with a hash)."""
    (key,) = [
        k
        for k, v in app.callback_map.items()
        if "callback" in v and any(i["id"] == "command-case-pressed" for i in v["inputs"])
    ]
    return key


def case_move(client, incident_id: int, action: str, note: str = "不属本部门", app=None, photos=None):
    """A press on a case move's button, as the browser relays it (layouts: the button; callbacks: PRESSED_JS)."""
    return dash_call(
        client,
        case_move_output(app),
        [{"id": "command-case-pressed", "property": "data", "value": {"action": action, "at": 1}}],
        [
            {"id": "command-selected", "property": "data", "value": incident_id},
            {"id": "command-case-note", "property": "value", "value": note},
            {"id": "command-case-department", "property": "value", "value": None},
            {"id": "command-case-until", "property": "value", "value": None},
            {"id": "command-case-photos", "property": "contents", "value": photos},
        ],
        ["command-case-pressed.data"],
    )


def snapshot(rt, iid: int):
    with rt.store.read() as s:
        row = s.execute(select(Incident.stage, Incident.department_id, Incident.updated_at).where(Incident.id == iid))
        events = s.scalar(select(func.count()).select_from(Event).where(Event.entity_id == iid))
        return tuple(row.one()), events


def test_another_departments_staff_can_neither_see_nor_move_the_case(org):
    app, rt, ids, iid = org
    before = snapshot(rt, iid)
    assert before[0][:2] == ("dispatched", ids["a"])
    outsider, _ = login(app, "staff_b", "onemap-demo")
    r = case_move(outsider, iid, "sign", app=app)
    said = json.dumps(r.get_json(), ensure_ascii=False)
    assert r.status_code == 200 and "message-error" in said and f"{iid}" in said  # refused, and said so
    assert snapshot(rt, iid) == before  # nothing changed
    # Opened in the detail panel (the callback's logic, with the outsider's scope), it shows nothing of it.
    b_staff = Actor(None, "staff_b", "staff", ids["b"])
    shown = detail_update(rt, Text("zh-CN"), iid, None, "own_grid", "select", (ids["b"],), b_staff)
    assert f"#{iid}" not in str(shown.head) and shown.form_hidden is True and shown.history == []
    # The API says 403 for reads and moves alike.
    token = create_token(rt.store, _user_id(rt, "staff_b"))
    api = app.server.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert api.get(f"/api/v1/incidents/{iid}", headers=headers).status_code == 403
    for action, body in (("sign", {}), ("return", {"reason": "x"}), ("handled", {"note": "x"})):
        assert api.post(f"/api/v1/incidents/{iid}/{action}", json=body, headers=headers).status_code == 403
    assert [i["id"] for i in api.get("/api/v1/incidents", headers=headers).get_json()["items"]] == []
    assert snapshot(rt, iid) == before


def test_the_owning_departments_staff_sign_and_return_from_the_console(org):
    app, rt, ids, iid = org
    staff, _ = login(app, "staff_a", "onemap-demo")
    r = case_move(staff, iid, "sign", app=app)
    assert r.status_code == 200 and "签收" in r.get_data(as_text=True)
    assert snapshot(rt, iid)[0][:2] == ("signed", ids["a"])
    r = case_move(staff, iid, "return", note="", app=app)
    assert "原因" in json.dumps(r.get_json(), ensure_ascii=False)  # a return needs a reason: said in Chinese
    assert snapshot(rt, iid)[0][0] == "signed"
    case_move(staff, iid, "return", note="不属本部门职责", app=app)
    assert snapshot(rt, iid)[0][:2] == ("returned", None)


def jpeg_data_url(colour: str) -> str:
    import base64
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buf, "JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def test_the_departments_staff_report_handled_with_photos_from_the_console(org):
    """处理反馈 with photos from the panel: stored with the move, shown in the case's history; a photo sent with
    another move is not taken, and a file that is no image is refused with the case unchanged."""
    app, rt, ids, iid = org
    staff, _ = login(app, "staff_a", "onemap-demo")
    case_move(staff, iid, "sign", app=app)
    before = snapshot(rt, iid)
    bad = case_move(staff, iid, "handled", note="已清理", app=app, photos=["data:image/jpeg;base64,bm90IGFuIGltYWdl"])
    assert "message-error" in json.dumps(bad.get_json(), ensure_ascii=False)
    assert snapshot(rt, iid) == before  # refused whole: no stage change, no event
    r = case_move(staff, iid, "handled", note="已清理", app=app, photos=[jpeg_data_url("red"), jpeg_data_url("blue")])
    assert r.status_code == 200 and "message-error" not in json.dumps(r.get_json(), ensure_ascii=False)
    assert snapshot(rt, iid)[0][0] == "handled"
    with rt.store.read() as s:
        data = s.scalar(
            select(Event.data).where(Event.entity_id == iid, Event.kind == "case.handled").order_by(Event.id.desc())
        )
    names = data["photos"]
    assert len(names) == 2 and all((Path(rt.config.media_dir) / n).is_file() for n in names)
    shown = detail_update(rt, Text("zh-CN"), iid, None, "own_grid", "select")
    assert all(f"/media/{n}" in str(shown.history) for n in names)
    assert shown.case_photos is None  # opening an item clears what was chosen for the last one


def _user_id(rt, username: str) -> int:
    from data.models import User

    with rt.store.read() as s:
        return s.scalar(select(User.id).where(User.username == username))


def test_the_panel_names_the_bodies_the_routing_passed_over(org):
    app, rt, ids, iid = org
    shapes = departments.district_shapes(rt.store)
    with rt.store.read() as s:
        first = s.get(Department, ids["a"]).name.removesuffix("城管局")
    # A second body with the same category and the same district: a tie that the lower id wins.
    spec = departments.DepartmentIn.parse(
        {"name": f"{first}执法大队", "categories": ["占道经营"], "districts": [first]}, shapes
    )
    twin = departments.create(rt.store, ADMIN, spec)
    assert twin > ids["a"]

    def head(stage_reason: str = "select") -> str:
        return str(detail_update(rt, Text("zh-CN"), iid, None, "own_grid", stage_reason).head)

    shown = head()
    assert "同样可受理" in shown and f"{first}执法大队" in shown  # the tie's loser, named beside the decision
    others = shown.split("同样可受理", 1)[1].split("'", 1)[0]
    assert f"{first}执法大队" in others and f"{first}城管局" not in others  # the owner is not among the others
    rt.cases.act(ADMIN, iid, "sign")  # signed: the choice is made, the others are no longer offered
    assert "同样可受理" not in head()
