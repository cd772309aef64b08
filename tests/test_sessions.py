"""Browser sessions and the Dash callback endpoint: the server decides who may do what."""

import json

import pytest

from app import runtime_of
from config import DEFAULT_SLA_MINUTES
from data.demo import DEMO_PASSWORD
from data.models import Worker
from ops.accounts import SYSTEM
from ops.incidents import NewIncident, report


def login(app, username, password=DEMO_PASSWORD):
    client = app.server.test_client()
    r = client.post("/login", data={"username": username, "password": password, "next": "/"})
    return client, r


def test_login_routes_each_role_home(app):
    _, r = login(app, "operator")
    assert r.status_code == 302 and r.headers["Location"] == "/"
    client, r = login(app, "w00001")
    assert r.headers["Location"] == "/worker"
    assert client.get("/").headers["Location"] == "/worker"  # a worker never sees the command page
    _, r = login(app, "operator", "wrong")
    assert r.status_code == 401 and "错误" in r.get_data(as_text=True)
    _, r = login(app, "nobody-at-all")
    assert r.status_code == 401


def test_login_never_redirects_off_site(app):
    client = app.server.test_client()
    r = client.post("/login", data={"username": "operator", "password": DEMO_PASSWORD, "next": "//evil.example/x"})
    assert r.headers["Location"] == "/"


def test_logout_ends_the_session(app):
    client, _ = login(app, "operator")
    assert client.post("/_dash-update-component", json={}).status_code != 401
    client.get("/logout")
    assert client.post("/_dash-update-component", json={}).status_code == 401


def assign_via_dash(client, incident_id: int, worker_id: int):
    wid = {"type": "assign-worker", "worker": worker_id}
    payload = {
        "output": "command-message.children",
        "outputs": {"id": "command-message", "property": "children"},
        "inputs": [[{"id": wid, "property": "n_clicks", "value": 1}]],
        "changedPropIds": [json.dumps(wid, separators=(",", ":"), sort_keys=True) + ".n_clicks"],
        "state": [{"id": "command-selected", "property": "data", "value": incident_id}],
    }
    return client.post("/_dash-update-component", json=payload)


@pytest.mark.parametrize(
    ("who", "http", "status"),
    [(None, 401, "new"), ("w00001", 200, "new"), ("operator", 200, "assigned"), ("supervisor", 200, "assigned")],
)
def test_assign_through_the_dash_endpoint_checks_the_session_role(app, as_role, client, who, http, status):
    rt = runtime_of(app)
    with rt.store.read() as s:
        grid = s.get(Worker, 1).grid_id
    p = rt.index.polygons[list(rt.index.ids).index(grid)].representative_point()
    (iid,) = report(rt.store, rt.index, SYSTEM, [NewIncident("fire", "火", "火", p.x, p.y)], DEFAULT_SLA_MINUTES)
    client = as_role(who) if who else client
    r = assign_via_dash(client, iid, 1)
    assert r.status_code == http, r.get_data(as_text=True)
    with rt.store.read() as s:
        from data.models import Incident

        assert s.get(Incident, iid).status == status
    if who == "w00001":
        said = r.get_json()["response"]["command-message"]["children"]
        assert said == "角色「网格员」无权派单"  # the refusal in the screen's language (zh-CN)
