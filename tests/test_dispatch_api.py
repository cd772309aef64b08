"""Dispatch through the API as every role and as nobody: assignment, task actions, bad input."""

import io
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app import create_app, runtime_of
from config import DEFAULT_SLA_MINUTES, Config
from data.models import Grid, User, Worker
from ops.accounts import SYSTEM, create_token
from ops.incidents import NewIncident, report


@pytest.fixture
def api(tmp_path):
    app = create_app(
        Config(
            database_url=f"sqlite:///{tmp_path / 'd.db'}",
            grid_count=60,
            parking_spaces=60,
            media_dir=str(tmp_path / "media"),
        )
    )
    rt = runtime_of(app)
    tokens = {}
    with rt.store.read() as s:
        users = dict(s.execute(select(User.username, User.id)).all())
    for name in ("operator", "supervisor", "admin", "w00001", "w00002"):
        tokens[name] = create_token(rt.store, users[name])

    class Api:
        store = rt.store
        media_dir = rt.config.media_dir
        token_of = tokens  # a test adds the tokens of users it creates

        def call(self, method, path, who=None, **kw):
            headers = {"Authorization": f"Bearer {tokens[who]}"} if who else {}
            return app.server.test_client().open(f"/api/v1{path}", method=method, headers=headers, **kw)

        def new_item(self, worker_id=1, kind="fire", phone="13812345678"):
            with rt.store.read() as s:
                grid = s.get(Grid, s.get(Worker, worker_id).grid_id)
            item = NewIncident(kind, "住宅火灾", "住宅火灾", grid.center_lon, grid.center_lat, reporter_phone=phone)
            return report(rt.store, rt.index, SYSTEM, [item], DEFAULT_SLA_MINUTES)[0]

    return Api()


def test_permission_matrix_for_assign(api):
    expected = {None: 401, "w00001": 403, "operator": 200, "supervisor": 200, "admin": 200}
    for who, status in expected.items():
        iid = api.new_item()
        r = api.call("POST", f"/incidents/{iid}/assign", who, json={"worker_id": 1})
        assert r.status_code == status, (who, r.get_json())
        state = api.call("GET", f"/incidents/{iid}", "operator").get_json()["status"]
        assert state == ("assigned" if status == 200 else "new")


def test_only_the_assigned_worker_acts_on_a_task(api):
    iid = api.new_item()
    task = api.call("POST", f"/incidents/{iid}/assign", "operator", json={"worker_id": 1}).get_json()["task"]
    for who, status in {None: 401, "w00002": 403, "operator": 403, "supervisor": 403}.items():
        assert api.call("POST", f"/tasks/{task['id']}/accept", who).status_code == status, who
    assert api.call("POST", f"/tasks/{task['id']}/accept", "w00001").get_json()["task"]["status"] == "accepted"
    assert api.call("POST", f"/tasks/{task['id']}/arrive", "w00001").status_code == 200
    r = api.call("POST", f"/tasks/{task['id']}/resolve", "w00001", json={"note": "已处置"})
    assert r.get_json()["task"]["status"] == "resolved"
    detail = api.call("GET", f"/incidents/{iid}", "supervisor").get_json()
    assert detail["status"] == "resolved" and detail["resolved_at"]
    kinds = [(h["kind"], h["actor"]) for h in detail["history"]]
    assert kinds == [
        ("incident.created", "api"),
        ("incident.assigned", "operator"),
        ("task.accept", "w00001"),
        ("task.arrive", "w00001"),
        ("task.resolve", "w00001"),
    ]


def test_second_assign_is_409_naming_the_assignee(api):
    iid = api.new_item()
    api.call("POST", f"/incidents/{iid}/assign", "operator", json={"worker_id": 1})
    r = api.call("POST", f"/incidents/{iid}/assign", "supervisor", json={"worker_id": 2})
    body = r.get_json()
    assert r.status_code == 409 and body["assigned_worker_id"] == 1 and "worker 1" in body["message"]


def test_illegal_transition_is_refused_and_changes_nothing(api):
    iid = api.new_item()
    task = api.call("POST", f"/incidents/{iid}/assign", "operator", json={"worker_id": 1}).get_json()["task"]
    before = api.store.latest_event_id()
    r = api.call("POST", f"/tasks/{task['id']}/arrive", "w00001")
    assert r.status_code == 409 and "cannot arrive" in r.get_json()["message"]
    assert api.store.latest_event_id() == before
    assert api.call("GET", f"/incidents/{iid}", "operator").get_json()["status"] == "assigned"


def test_decline_needs_a_reason_and_returns_the_item_to_the_queue(api):
    iid = api.new_item()
    task = api.call("POST", f"/incidents/{iid}/assign", "operator", json={"worker_id": 1}).get_json()["task"]
    assert api.call("POST", f"/tasks/{task['id']}/decline", "w00001").status_code == 422
    r = api.call("POST", f"/tasks/{task['id']}/decline", "w00001", json={"reason": "不在辖区"})
    assert r.status_code == 200
    assert api.call("GET", f"/incidents/{iid}", "operator").get_json()["status"] == "declined"
    assert api.call("POST", f"/incidents/{iid}/assign", "operator", json={"worker_id": 2}).status_code == 200


def test_reassign_cancel_reopen_and_priority(api):
    iid = api.new_item(kind="ticket")
    api.call("POST", f"/incidents/{iid}/assign", "operator", json={"worker_id": 1})
    r = api.call("POST", f"/incidents/{iid}/reassign", "operator", json={"worker_id": 2, "reason": "就近"})
    assert r.status_code == 200 and r.get_json()["incident"]["assigned_worker_id"] == 2
    tasks = api.call("GET", f"/incidents/{iid}", "operator").get_json()["tasks"]
    assert [t["status"] for t in tasks] == ["cancelled", "assigned"]
    r = api.call("POST", f"/incidents/{iid}/priority", "operator", json={"priority": 1})
    item = r.get_json()
    due = datetime.fromisoformat(item["due_at"][:-1]) - datetime.fromisoformat(item["created_at"][:-1])
    assert item["priority"] == 1 and due == timedelta(minutes=DEFAULT_SLA_MINUTES["ticket"][1])
    assert api.call("POST", f"/incidents/{iid}/cancel", "operator").status_code == 422  # a reason is required
    assert api.call("POST", f"/incidents/{iid}/cancel", "operator", json={"reason": "重复"}).get_json()["status"] == (
        "cancelled"
    )
    assert api.call("POST", f"/incidents/{iid}/reopen", "operator").get_json()["status"] == "reopened"
    assert api.call("POST", f"/incidents/{iid}/cancel", "w00002", json={"reason": "x"}).status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("{not json", "body"),
        ("[1, 2]", "body"),
        ("{}", "worker_id"),
        ('{"worker_id": "7"}', "worker_id"),
        ('{"worker_id": 1, "color": "red"}', "color"),
    ],
)
def test_bad_assign_bodies_are_422_naming_the_field(api, body, field):
    iid = api.new_item()
    r = api.call("POST", f"/incidents/{iid}/assign", "operator", data=body, content_type="application/json")
    assert r.status_code == 422 and r.get_json()["field"] == field
    assert api.call("GET", f"/incidents/{iid}", "operator").get_json()["status"] == "new"


def test_unknown_things_are_404(api):
    iid = api.new_item()
    assert api.call("POST", f"/incidents/{iid}/assign", "operator", json={"worker_id": 99999}).status_code == 404
    assert api.call("POST", "/incidents/99999/assign", "operator", json={"worker_id": 1}).status_code == 404
    assert api.call("GET", "/incidents/99999", "operator").status_code == 404
    assert api.call("POST", "/tasks/99999/accept", "w00001").status_code == 404


def test_listing_filters_masks_phones_and_validates(api):
    fire = api.new_item(kind="fire")
    api.new_item(kind="ticket")
    body = api.call("GET", "/incidents?kind=fire&status=new", "operator").get_json()
    assert [i["id"] for i in body["items"]] == [fire]
    assert body["items"][0]["reporter"]["phone"] == "138****5678"
    lon, lat = body["items"][0]["lon"], body["items"][0]["lat"]
    box = f"{lon - 0.001},{lat - 0.001},{lon + 0.001},{lat + 0.001}"
    assert fire in [i["id"] for i in api.call("GET", f"/incidents?bbox={box}", "operator").get_json()["items"]]
    for query, field in [
        ("status=lost", "status"),
        ("kind=cat", "kind"),
        ("bbox=1,2,3", "bbox"),
        ("bbox=26,106,27,107", "bbox"),
        ("limit=0", "limit"),
    ]:
        r = api.call("GET", f"/incidents?{query}", "operator")
        assert r.status_code == 422 and r.get_json()["field"] == field, query


def test_suggestions_rank_the_grid_workers_first_and_workers_show_load(api):
    iid = api.new_item(worker_id=1)
    items = api.call("GET", f"/incidents/{iid}/suggestions", "operator").get_json()["items"]
    assert [s["own_grid"] for s in items[:2]] == [True, True] and not items[2]["own_grid"]
    assert all(s["distance_m"] >= 0 for s in items)
    api.call("POST", f"/incidents/{iid}/assign", "operator", json={"worker_id": items[0]["worker_id"]})
    workers = api.call("GET", f"/workers?grid_id={items[0]['grid_id']}", "operator").get_json()["items"]
    load = {w["id"]: w["open_tasks"] for w in workers}
    assert load[items[0]["worker_id"]] == 1
    assert api.call("GET", "/workers?on_duty=maybe", "operator").status_code == 422


def test_bulk_push_through_the_api(api):
    with api.store.read() as s:
        grid = s.get(Grid, 1)
    body = f"lon,lat,note\n{grid.center_lon},{grid.center_lat},入户走访\nabc,26.5,坏行\n"
    assert api.call("POST", "/bulk/visits", "w00001", data=body, content_type="text/csv").status_code == 403
    r = api.call("POST", "/bulk/visits", "operator", data=body, content_type="text/csv")
    assert r.status_code == 200
    assert r.get_json() == {
        "created": 1,
        "rejected": 1,
        "errors": [{"line": 3, "reason": "no location: lon and lat must be numbers"}],
    }
    r = api.call("POST", "/bulk/visits", "operator", data="lat,note\n", content_type="text/csv")
    assert r.status_code == 422 and r.get_json()["field"] == "lon"


def jpeg_with_gps() -> bytes:
    from PIL import Image

    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (26.0, 35.0, 0.0), 3: "E", 4: (106.0, 42.0, 0.0)}  # GPS IFD
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_resolve_with_a_photo_strips_exif_and_refuses_fakes(api, tmp_path):
    from PIL import Image

    iid = api.new_item()
    task = api.call("POST", f"/incidents/{iid}/assign", "operator", json={"worker_id": 1}).get_json()["task"]
    api.call("POST", f"/tasks/{task['id']}/accept", "w00001")
    fake = {"note": "已处置", "photo": (io.BytesIO(b"not an image at all"), "scene.jpg")}
    r = api.call("POST", f"/tasks/{task['id']}/resolve", "w00001", data=fake, content_type="multipart/form-data")
    assert r.status_code == 422 and r.get_json()["field"] == "photo"
    assert api.call("GET", f"/incidents/{iid}", "operator").get_json()["status"] == "accepted"  # nothing changed

    real = {"note": "已处置", "photo": (io.BytesIO(jpeg_with_gps()), "scene.jpg")}
    r = api.call("POST", f"/tasks/{task['id']}/resolve", "w00001", data=real, content_type="multipart/form-data")
    assert r.status_code == 200, r.get_json()
    detail = api.call("GET", f"/incidents/{iid}", "operator").get_json()
    (name,) = detail["photos"]
    with Image.open(Path(api.media_dir) / name) as stored:
        assert stored.size == (64, 48) and not stored.getexif()


def test_staff_return_through_the_api_answers_the_move_once_the_case_is_no_longer_theirs(api):
    from ops import departments
    from ops.accounts import Actor, create_user

    admin = Actor(None, "admin", "admin")
    ours, other = (
        departments.create(api.store, admin, departments.DepartmentIn.parse({"name": name}))
        for name in ("甲局", "乙局")
    )
    api.token_of["staff_a"] = create_token(api.store, create_user(api.store, "staff_a", "staff", department_id=ours))
    iid = api.new_item()
    assert api.call("POST", f"/incidents/{iid}/dispatch", "operator", json={"department_id": ours}).status_code == 200
    assert api.call("GET", f"/incidents/{iid}", "staff_a").json["department_id"] == ours
    r = api.call("POST", f"/incidents/{iid}/return", "staff_a", json={"reason": "不属本部门职责"})
    assert r.status_code == 200 and r.json["moved"]["stage"] == "returned" and r.json["incident"] is None
    assert api.call("GET", f"/incidents/{iid}", "staff_a").status_code == 403
    r = api.call("POST", f"/incidents/{iid}/dispatch", "operator", json={"department_id": other})
    assert r.status_code == 200 and r.json["incident"]["department_id"] == other
