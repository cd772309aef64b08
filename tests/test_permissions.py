"""The permission table, tried as an attacker would: every role (and nobody) against every HTTP route
(enumerated from ``server.url_map``) and every server-side Dash callback (enumerated from the app's
callback map, posted to ``/_dash-update-component`` with the role's session cookie).

A route or callback without an entry here fails the test: a new surface must say who may use it.
For a refused write the store must be exactly as before. The expectations below are written out by
role, not derived from ``ops.permissions``: they are what the product promises.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select, update

from app import create_app, runtime_of
from config import DEFAULT_SLA_MINUTES, Config
from data.demo import DEMO_PASSWORD
from data.models import Department, Incident, Photo, Setting, Task, User, Worker
from ops import lifecycle
from ops.accounts import SYSTEM, create_token
from ops.case_facts import CURSOR as CASE_FACTS_CURSOR
from ops.incidents import NewIncident, report
from ops.media import store_photo

ROLES = ("anonymous", "worker", "staff", "operator", "supervisor", "admin")
LOGINS = {
    "worker": "w00001",
    "staff": "nanming_cg",
    "operator": "operator",
    "supervisor": "supervisor",
    "admin": "admin",
}
COMMAND = ("operator", "supervisor", "admin")
SIGNED_IN = ROLES[1:]


def sign_in(client: Any, username: str) -> None:
    """Log in through the form, as a browser does (any hidden field of the form is sent back)."""
    page = client.get("/login").get_data(as_text=True)
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    r = client.post("/login", data={**hidden, "username": username, "password": DEMO_PASSWORD, "next": "/"})
    assert r.status_code == 302, (username, r.status_code)


def tiny_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), "orange").save(out, "JPEG")
    return out.getvalue()


@dataclass
class City:
    app: Any
    rt: Any
    clients: dict[str, Any]
    tokens: dict[str, str | None]
    mine: int  # an item in the worker's own grid, owned by the staff's department
    other: int  # an item elsewhere, owned by no department, on another worker's task
    task: int  # that other worker's task
    department: int  # the staff's department
    ids: dict[str, int] = field(default_factory=dict)
    photo: str = ""  # a photo of an item on another worker's task in another grid, of no department

    def client(self, role: str) -> Any:
        return self.clients[role]

    def priority(self, incident_id: int) -> int:
        with self.rt.store.read() as s:
            return int(s.scalar(select(Incident.priority).where(Incident.id == incident_id)))

    def state(self) -> tuple[Any, ...]:
        """Everything a refused write could have changed."""
        with self.rt.store.read() as s:
            incidents = s.execute(
                select(
                    Incident.id,
                    Incident.status,
                    Incident.priority,
                    Incident.stage,
                    Incident.department_id,
                    Incident.assigned_worker_id,
                    Incident.urged_at,
                ).order_by(Incident.id)
            ).all()
            tasks = s.execute(select(Task.id, Task.status, Task.worker_id).order_by(Task.id)).all()
            departments = s.execute(select(Department.id, Department.name).order_by(Department.id)).all()
            # Not the case facts' cursor: any evaluation read brings that cache of the event log up to date.
            settings = s.execute(
                select(Setting.key, Setting.value).where(Setting.key != CASE_FACTS_CURSOR).order_by(Setting.key)
            ).all()
        digest = hashlib.sha256(repr((incidents, tasks, departments, settings)).encode()).hexdigest()
        return self.rt.store.latest_event_id(), digest


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> City:
    db = tmp_path_factory.mktemp("perm") / "p.db"
    # Every role's client comes from one address and tries one wrong login: no throttle in this table.
    cfg = Config(
        database_url=f"sqlite:///{db}",
        grid_count=60,
        parking_spaces=60,
        simulate=False,
        login_account_failures=1000,
        login_address_failures=100000,
        media_dir=str(db.parent / "media"),
    )
    app = create_app(cfg)
    rt = runtime_of(app)
    with rt.store.read() as s:
        me = s.execute(select(Worker.id, Worker.grid_id).where(Worker.user_id.is_not(None)).order_by(Worker.id)).first()
        far = s.execute(
            select(Worker.id, Worker.grid_id).where(Worker.grid_id != me.grid_id).order_by(Worker.id)
        ).first()
        staff_department = s.scalar(select(User.department_id).where(User.username == LOGINS["staff"]))
        users = dict(s.execute(select(User.username, User.id)).all())

    def point(grid_id: int) -> tuple[float, float]:
        p = rt.index.polygons[list(rt.index.ids).index(grid_id)].representative_point()
        return p.x, p.y

    near, away = point(me.grid_id), point(far.grid_id)
    (mine,) = report(
        rt.store,
        rt.index,
        SYSTEM,
        [NewIncident("ticket", "噪音", "噪音", *near, reporter_name="张三")],
        DEFAULT_SLA_MINUTES,
    )
    (other,) = report(
        rt.store,
        rt.index,
        SYSTEM,
        [NewIncident("ticket", "占道", "占道", *away, reporter_name="李四")],
        DEFAULT_SLA_MINUTES,
    )
    with rt.store.transaction() as s:
        s.execute(update(Incident).where(Incident.id == mine).values(department_id=staff_department))
        s.execute(update(Incident).where(Incident.id == other).values(department_id=None))
    task = lifecycle.assign(rt.store, SYSTEM, other, far.id)
    # A photo of an item no route of the table moves (``other`` is reassigned to worker 1 on the way).
    (pictured,) = report(
        rt.store, rt.index, SYSTEM, [NewIncident("ticket", "井盖", "井盖", *away)], DEFAULT_SLA_MINUTES
    )
    pictured_task = lifecycle.assign(rt.store, SYSTEM, pictured, far.id)
    photo = store_photo(cfg.media_dir, tiny_jpeg())
    with rt.store.transaction() as s:
        s.execute(update(Incident).where(Incident.id == pictured).values(department_id=None))
        s.add(Photo(incident_id=pictured, task_id=pictured_task, name=photo.name, width=16, height=16, uploaded_by="x"))
    clients: dict[str, Any] = {"anonymous": app.server.test_client()}
    tokens: dict[str, str | None] = {"anonymous": None}
    for role, username in LOGINS.items():
        clients[role] = app.server.test_client()
        sign_in(clients[role], username)
        tokens[role] = create_token(rt.store, users[username], label="perm-test")
    return City(app, rt, clients, tokens, mine, other, task, staff_department, photo=photo.name)


# ---------------------------------------------------------------------------------------------- HTTP routes


@dataclass(frozen=True)
class Call:
    """One request to a route and the status each role gets (a role missing from ``ok`` is refused)."""

    path: str | Callable[[City], str]
    auth: str  # "token" (Authorization: Bearer), "session" (cookie), "none", "api_key" (Open311 form field)
    status: dict[str, int | tuple[int, ...]]
    body: Any = None
    kind: str = "json"  # json, form, raw

    def url(self, city: City) -> str:
        return self.path(city) if callable(self.path) else self.path


def refused_api(allowed: tuple[str, ...], ok: int | tuple[int, ...] = 200) -> dict[str, int | tuple[int, ...]]:
    """A token route: nobody 401, the ``allowed`` roles ``ok``, every other role 403."""
    return {role: 401 if role == "anonymous" else ok if role in allowed else 403 for role in ROLES}


def same(status: int | tuple[int, ...]) -> dict[str, int | tuple[int, ...]]:
    return dict.fromkeys(ROLES, status)


def page(signed_in: int | tuple[int, ...], anonymous: int = 302, **roles: int) -> dict[str, int | tuple[int, ...]]:
    return {"anonymous": anonymous, **dict.fromkeys(SIGNED_IN, signed_in), **roles}


WRITE_OK = (200, 201, 404, 409, 422)  # the rule let the role in; what happened next is other tests' business
CSV = "kind,title,lon,lat,priority\nvisit,走访,106.7,26.6,2\n"
CAP = (
    '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>perm-1</identifier><sender>t</sender>'
    "<sent>2026-11-23T08:00:00+08:00</sent><status>Actual</status><msgType>Alert</msgType><scope>Public</scope>"
    "<info><category>Met</category><event>暴雨</event><urgency>Immediate</urgency><severity>Severe</severity>"
    "<certainty>Observed</certainty><area><areaDesc>南明</areaDesc><circle>26.57,106.71 2</circle></area></info>"
    "</alert>"
)
REPORT = {"kind": "ticket", "title": "井盖缺失", "category": "井盖", "lon": 106.71, "lat": 26.57}


def other(path: str) -> Callable[[City], str]:
    return lambda c: path.format(id=c.other, task=c.task, department=c.department)


ROUTES: dict[tuple[str, str], Call] = {
    ("/static/<path:filename>", "GET"): Call("/static/none.txt", "session", page(404)),
    ("/assets/<path:filename>", "GET"): Call("/assets/onemap.css", "none", same(200)),
    ("/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>", "GET"): Call(
        "/_dash-component-suites/dash/dcc/dash_core_components.js", "none", same(200)
    ),
    ("/_dash-layout", "GET"): Call("/_dash-layout", "session", page(200, anonymous=401)),
    ("/_dash-dependencies", "GET"): Call("/_dash-dependencies", "session", page(200, anonymous=401)),
    # the callbacks behind this one route are the second half of this file
    ("/_dash-update-component", "POST"): Call("/_dash-update-component", "session", page(400, anonymous=401), {}),
    ("/_reload-hash", "GET"): Call("/_reload-hash", "session", page(200)),
    ("/_favicon.ico", "GET"): Call("/_favicon.ico", "none", same(200)),
    ("/", "GET"): Call("/", "session", page(200, worker=302)),
    ("/<path:path>", "GET"): Call("/review", "session", page(200)),
    ("/api/v1/health", "GET"): Call("/api/v1/health", "none", same(200)),
    ("/api/v1/cursor", "GET"): Call("/api/v1/cursor", "token", refused_api(SIGNED_IN)),
    ("/api/v1/grids", "GET"): Call("/api/v1/grids", "token", refused_api(SIGNED_IN)),
    ("/api/v1/incidents", "GET"): Call("/api/v1/incidents", "token", refused_api(("staff", *COMMAND))),
    ("/api/v1/incidents/<int:incident_id>", "GET"): Call(
        other("/api/v1/incidents/{id}"), "token", refused_api(COMMAND)
    ),
    (
        "/api/v1/incidents/<int:incident_id>/<any(file, verify, void, dispatch, sign, start, return, escalate, "
        "handled, check, extend, extension, hold, resume, urge, callback):action>",
        "POST",
    ): Call(
        other("/api/v1/incidents/{id}/urge"), "token", refused_api(("supervisor", "admin"), WRITE_OK), {"note": "快"}
    ),
    ("/api/v1/departments", "GET"): Call("/api/v1/departments", "token", refused_api(("staff", *COMMAND))),
    ("/api/v1/evaluation", "GET"): Call("/api/v1/evaluation?month=2026-11", "token", refused_api(("staff", *COMMAND))),
    ("/api/v1/evaluation/cases", "GET"): Call(
        other("/api/v1/evaluation/cases?month=2026-11&id={department}"),
        "token",
        refused_api(("staff", *COMMAND), (200, 404)),
    ),
    ("/api/v1/evaluation/urged", "GET"): Call(
        "/api/v1/evaluation/urged?month=2026-11", "token", refused_api(("staff", *COMMAND))
    ),
    # A month that does not exist: who may have the report gets its 422, everyone else 403, and no PDF is drawn
    # here (tests/test_report.py draws one).
    ("/api/v1/evaluation/report.pdf", "GET"): Call(
        "/api/v1/evaluation/report.pdf?month=2026-13", "token", refused_api(("supervisor", "admin"), 422)
    ),
    ("/api/v1/departments/<int:department_id>/urge", "POST"): Call(
        other("/api/v1/departments/{department}/urge"),
        "token",
        refused_api(("supervisor", "admin"), WRITE_OK),
        {"note": "请加快处置"},
    ),
    ("/api/v1/departments", "POST"): Call(
        "/api/v1/departments",
        "token",
        refused_api(("admin",), WRITE_OK),
        {"name": "权限测试局", "categories": ["井盖"]},
    ),
    ("/api/v1/departments/<int:department_id>", "PUT"): Call(
        other("/api/v1/departments/{department}"),
        "token",
        refused_api(("admin",), WRITE_OK),
        {"name": "南明区城市管理局"},
    ),
    ("/api/v1/departments/import", "POST"): Call(
        "/api/v1/departments/import",
        "token",
        refused_api(("admin",), WRITE_OK),
        {"geojson": {"type": "FeatureCollection", "features": []}},
    ),
    ("/api/v1/incidents/<int:incident_id>/suggestions", "GET"): Call(
        other("/api/v1/incidents/{id}/suggestions"), "token", refused_api(COMMAND)
    ),
    ("/api/v1/incidents/<int:incident_id>/assign", "POST"): Call(
        other("/api/v1/incidents/{id}/assign"), "token", refused_api(COMMAND, WRITE_OK), {"worker_id": 1}
    ),
    ("/api/v1/incidents/<int:incident_id>/reassign", "POST"): Call(
        other("/api/v1/incidents/{id}/reassign"), "token", refused_api(COMMAND, WRITE_OK), {"worker_id": 1}
    ),
    ("/api/v1/incidents/<int:incident_id>/<any(cancel, close, reopen):action>", "POST"): Call(
        other("/api/v1/incidents/{id}/close"), "token", refused_api(COMMAND, WRITE_OK), {}
    ),
    ("/api/v1/incidents/<int:incident_id>/priority", "POST"): Call(
        other("/api/v1/incidents/{id}/priority"), "token", refused_api(COMMAND, WRITE_OK), {"priority": 1}
    ),
    # only the worker holding the task (or an admin) moves it: the command centre does not accept for them
    ("/api/v1/tasks/<int:task_id>/<any(accept, decline, arrive, resolve):action>", "POST"): Call(
        other("/api/v1/tasks/{task}/arrive"), "token", refused_api(("admin",), WRITE_OK), {}
    ),
    ("/api/v1/bulk/visits", "POST"): Call(
        "/api/v1/bulk/visits", "token", refused_api(COMMAND, WRITE_OK), CSV.encode(), "raw"
    ),
    ("/api/v1/workers", "GET"): Call("/api/v1/workers", "token", refused_api(("staff", *COMMAND))),
    ("/api/v1/incidents", "POST"): Call("/api/v1/incidents", "token", refused_api(COMMAND, WRITE_OK), REPORT),
    ("/api/v1/incidents/batch", "POST"): Call(
        "/api/v1/incidents/batch", "token", refused_api(COMMAND, WRITE_OK), {"reports": [REPORT]}
    ),
    ("/api/v1/parking/events", "POST"): Call(
        "/api/v1/parking/events", "token", refused_api(COMMAND, WRITE_OK), {"events": []}
    ),
    ("/api/v1/workers/positions", "POST"): Call(
        "/api/v1/workers/positions", "token", refused_api(COMMAND, WRITE_OK), {"positions": []}
    ),
    ("/api/v1/alarms", "POST"): Call("/api/v1/alarms", "token", refused_api(COMMAND, WRITE_OK), {"alarms": []}),
    ("/api/v1/alerts/cap", "POST"): Call("/api/v1/alerts/cap", "token", refused_api(COMMAND, WRITE_OK), CAP, "raw"),
    ("/api/v1/alerts", "GET"): Call("/api/v1/alerts", "token", refused_api(("staff", *COMMAND))),
    ("/api/v1/places", "POST"): Call("/api/v1/places", "token", refused_api(COMMAND, WRITE_OK), {"places": []}),
    ("/api/v1/places", "GET"): Call("/api/v1/places", "token", refused_api(COMMAND)),
    ("/api/v1/access-events", "POST"): Call(
        "/api/v1/access-events", "token", refused_api(COMMAND, WRITE_OK), {"events": []}
    ),
    ("/api/v1/warnings", "GET"): Call("/api/v1/warnings", "token", refused_api(COMMAND)),
    ("/api/v1/warnings/<int:warning_id>", "GET"): Call("/api/v1/warnings/999999", "token", refused_api(COMMAND, 404)),
    ("/api/v1/warnings/<int:warning_id>/<any(acknowledge, resolve):action>", "POST"): Call(
        "/api/v1/warnings/999999/acknowledge", "token", refused_api(COMMAND, 404), {}
    ),
    ("/api/v1/rules", "GET"): Call("/api/v1/rules", "token", refused_api(COMMAND)),
    ("/api/v1/rules", "PUT"): Call("/api/v1/rules", "token", refused_api(("admin",), WRITE_OK), {"rules": []}),
    **{
        ("/api/v1/<path:_rest>", method): Call("/api/v1/no-such-route", "none", same(404))
        for method in ("DELETE", "GET", "PATCH", "POST", "PUT")
    },
    ("/map/glyphs/<fontstack>/<int:start>-<int:end>.pbf", "GET"): Call(
        "/map/glyphs/Noto%20Sans%20Regular/0-255.pbf", "none", same((200, 404))
    ),
    ("/media/<name>", "GET"): Call(lambda c: f"/media/{c.photo}", "session", page(200, worker=403, staff=403)),
    ("/open311/v2/services.<fmt>", "GET"): Call("/open311/v2/services.json", "none", same(200)),
    ("/open311/v2/services/<code>.<fmt>", "GET"): Call("/open311/v2/services/no-such.json", "none", same(404)),
    ("/open311/v2/requests.<fmt>", "GET"): Call("/open311/v2/requests.json", "none", same(200)),
    ("/open311/v2/requests/<request_id>.<fmt>", "GET"): Call(
        other("/open311/v2/requests/{id}.json"), "none", same(200)
    ),
    ("/open311/v2/requests.<fmt>", "POST"): Call(
        "/open311/v2/requests.json",
        "api_key",
        {**refused_api(COMMAND, (201, 422)), "anonymous": 401},
        {"service_code": "sanitation", "lat": "26.57", "long": "106.71", "description": "井盖缺失"},
        "form",
    ),
    ("/review/report.pdf", "GET"): Call(
        "/review/report.pdf?month=2026-13", "session", page(403, supervisor=422, admin=422)
    ),
    ("/review/export.csv", "GET"): Call(
        "/review/export.csv?start=2026-01-01&end=2026-01-02", "session", page(200, worker=403, staff=403)
    ),
    ("/review/export.geojson", "GET"): Call(
        "/review/export.geojson?start=2026-01-01&end=2026-01-02", "session", page(200, worker=403, staff=403)
    ),
    ("/login", "GET"): Call("/login", "none", same(200)),
    ("/login", "POST"): Call("/login", "none", same(401), {"username": "nobody", "password": "wrong"}, "form"),
    ("/logout", "GET"): Call("/logout", "session", page(302)),
    ("/api/openapi.json", "GET"): Call("/api/openapi.json", "none", same(200)),
}


def route_keys(city: City) -> set[tuple[str, str]]:
    return {
        (rule.rule, method)
        for rule in city.app.server.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def test_every_route_has_an_entry_in_the_table(city: City) -> None:
    missing = sorted(route_keys(city) - set(ROUTES))
    gone = sorted(set(ROUTES) - route_keys(city))
    assert not missing, f"routes with no permission entry: {missing}"
    assert not gone, f"entries for routes that no longer exist: {gone}"


def send(city: City, role: str, call: Call, method: str) -> Any:
    client = city.client(role) if call.auth == "session" else city.app.server.test_client()
    headers = {}
    if call.auth == "token" and city.tokens[role]:
        headers["Authorization"] = f"Bearer {city.tokens[role]}"
    body = call.body
    if call.auth == "api_key" and city.tokens[role]:
        body = {**body, "api_key": city.tokens[role]}
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["json" if call.kind == "json" else "data"] = body
    r = client.open(call.url(city), method=method, **kwargs)
    if call.url(city) == "/logout" and role != "anonymous":
        sign_in(city.client(role), LOGINS[role])  # the other cases still need this role's session
    return r


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("key", sorted(ROUTES), ids=lambda k: f"{k[1]} {k[0][:60]}")
def test_route(city: City, key: tuple[str, str], role: str) -> None:
    call = ROUTES[key]
    before = city.state()
    r = send(city, role, call, key[1])
    expected = call.status[role]
    allowed = expected if isinstance(expected, tuple) else (expected,)
    assert r.status_code in allowed, (role, key, r.status_code, r.get_data(as_text=True)[:300])
    if r.status_code in (401, 403):
        assert city.state() == before, "a refused request changed the store"
        if key[0].startswith("/api/v1"):
            assert r.get_json()["error"] in ("unauthorized", "forbidden")


def test_what_a_worker_and_a_department_see_of_one_item(city: City) -> None:
    """A worker reads the items of their grid and their tasks, never the reporter; staff their department's."""

    def get(role: str, path: str) -> Any:
        return city.app.server.test_client().get(path, headers={"Authorization": f"Bearer {city.tokens[role]}"})

    worker = get("worker", f"/api/v1/incidents/{city.mine}")
    assert worker.status_code == 200 and worker.get_json()["reporter"] is None
    staff = get("staff", f"/api/v1/incidents/{city.mine}")
    assert staff.status_code == 200 and staff.get_json()["reporter"]["name"] == "张三"
    assert get("operator", f"/api/v1/incidents/{city.mine}").get_json()["reporter"]["name"] == "张三"
    listed = {i["id"] for i in get("staff", "/api/v1/incidents?limit=1000").get_json()["items"]}
    assert city.mine in listed and city.other not in listed
    everyone = get("operator", "/api/v1/workers").get_json()["items"]
    assert all(w["lon"] is None for w in everyone if not w["on_duty"])  # off duty: whereabouts withheld


# -------------------------------------------------------------------------------------------- Dash callbacks


def callback_name(spec: dict[str, Any]) -> str:
    fn = spec["callback"]
    fn = getattr(fn, "__wrapped__", fn)
    return f"{fn.__module__.split('.')[-1]}.{fn.__name__}"


def server_callbacks(city: City) -> dict[str, tuple[str, dict[str, Any]]]:
    out = {}
    for key, spec in city.app.callback_map.items():
        if "callback" not in spec:
            continue  # a clientside callback: the browser runs it, the server has nothing to refuse
        name = callback_name(spec)
        assert name not in out, f"two callbacks named {name}"
        out[name] = (key, spec)
    return out


def dash_post(city: City, role: str, key: str, spec: dict[str, Any], values: dict[str, Any], trigger: str) -> Any:
    """Post one callback as the browser does, with ``values`` by "id.property" (pattern ids as JSON)."""

    def fill(dep: dict[str, Any]) -> Any:
        ident = dep["id"]
        if isinstance(ident, str) and ident.startswith("{"):
            ident = json.loads(ident)
        if isinstance(ident, dict):  # a pattern (ALL): the matching components the page holds, by type
            held = values.get(f"{ident['type']}.{dep['property']}", {})
            return [{"id": json.loads(i), "property": dep["property"], "value": v} for i, v in held.items()]
        return {"id": str(ident), "property": dep["property"], "value": values.get(f"{ident}.{dep['property']}")}

    outputs = []
    for part in key.strip(".").split("..."):
        ident, prop = part.rsplit(".", 1)
        outputs.append({"id": json.loads(ident) if ident.startswith("{") else ident, "property": prop})
    payload = {
        "output": key,
        "outputs": outputs if key.startswith("..") else outputs[0],
        "inputs": [fill(d) for d in spec["inputs"]],
        "state": [fill(d) for d in spec["state"]],
        "changedPropIds": [trigger],
    }
    return city.client(role).post("/_dash-update-component", json=payload)


FILTERS = {
    "start": "2026-01-01T00:00:00",
    "end": "2027-01-01T00:00:00",
    "kinds": [],
    "categories": [],
    "districts": [],
    "statuses": [],
}
READ_CITY = {"anonymous": 401, "worker": 403, **dict.fromkeys(("staff", *COMMAND), 200)}
REVIEW = {"anonymous": 401, "worker": 403, "staff": 403, **dict.fromkeys(COMMAND, (200, 204))}
OPEN = {"anonymous": 401, **dict.fromkeys(SIGNED_IN, (200, 204))}
# A write refused by its rule still answers 200: the screen words the refusal; the store must not change.
WRITE = {"anonymous": 401, **dict.fromkeys(SIGNED_IN, (200, 204))}


@dataclass(frozen=True)
class Case:
    trigger: str
    values: Callable[[City], dict[str, Any]]
    status: dict[str, int | tuple[int, ...]]
    changes: tuple[str, ...] = ()  # roles whose call may change the store (all others must not)
    shows: dict[str, tuple[str, ...]] = field(default_factory=dict)  # role → texts the answer must hold
    hides: dict[str, tuple[str, ...]] = field(default_factory=dict)  # role → texts it must not


CALLBACKS: dict[str, list[Case]] = {
    "shell.route": [
        Case(
            "shell-url.pathname",
            lambda c: {"shell-url.pathname": "/review"},
            {"anonymous": 401, **dict.fromkeys(SIGNED_IN, 200)},
            shows={"worker": ("worker-inbox",), "staff": ("command-queue",), "operator": ("review-map",)},
            hides={"worker": ("command-queue", "review-map", "张三"), "staff": ("review-map",)},
        ),
        Case(
            "shell-url.pathname",
            lambda c: {"shell-url.pathname": "/rules"},
            {"anonymous": 401, **dict.fromkeys(SIGNED_IN, 200)},
            shows={"admin": ("rules-grid",)},
            hides={"operator": ("rules-grid",), "staff": ("rules-grid",), "worker": ("rules-grid",)},
        ),
    ],
    "command.poll": [
        Case(
            "command-poll.n_intervals", lambda c: {"command-poll.n_intervals": 1, "command-cursor.data": 0}, READ_CITY
        ),
        # The poll also follows the open item: its answer carries the panel's news, to whom may read it.
        Case(
            "command-poll.n_intervals",
            lambda c: {
                "command-poll.n_intervals": 1,
                "command-cursor.data": 0,
                "command-selected.data": c.mine,
                "command-ranking.value": "own_grid",
                "command-detail-state.data": {"id": c.mine, "state": "stale", "history": 0},
            },
            READ_CITY,
            shows={"staff": ("张三",), "operator": ("张三",)},
        ),
    ],
    "command.toggle_layers": [Case("command-layers.value", lambda c: {"command-layers.value": ["items"]}, OPEN)],
    "command.follow_view": [
        Case(
            "command-map.relayoutData",
            lambda c: {"command-map.relayoutData": {"map.zoom": 15, "map.center": {"lon": 106.71, "lat": 26.57}}},
            READ_CITY,
        )
    ],
    "command.select_warning": [
        Case(
            "command-map.clickData",
            lambda c: {"command-map.clickData": {"points": [{"curveNumber": 0, "customdata": None}]}},
            {**READ_CITY, **dict.fromkeys(("staff", *COMMAND), (200, 204))},
        )
    ],
    "command.show_detail": [
        Case(
            "command-selected.data",
            lambda c: {"command-selected.data": c.other, "command-ranking.value": "own_grid"},
            READ_CITY,
            shows={"operator": ("李四",)},
            hides={"staff": ("李四", "占道")},
        )
    ],
    "command.show_queue": [
        Case(
            "command-cursor.data",
            lambda c: {"command-cursor.data": 1},
            READ_CITY,
            shows={"operator": ("占道",), "staff": ("噪音",)},
            hides={"staff": ("占道",)},
        )
    ],
    "command.assign": [
        Case(
            "command-assign-pressed.data",
            lambda c: {"command-assign-pressed.data": {"worker": 1, "at": 1}, "command-selected.data": c.other},
            WRITE,
            shows={"worker": ("无权",), "staff": ("不属于本部门",)},
            changes=COMMAND,
        )
    ],
    "command.priority": [
        Case(
            "command-priority-chosen.data",
            lambda c: {
                "command-priority-chosen.data": {"value": str(c.priority(c.other) % 3 + 1), "at": 1},
                "command-selected.data": c.other,
            },
            WRITE,
            shows={"worker": ("无权",), "staff": ("无权",)},
            changes=COMMAND,
        )
    ],
    "command.selection": [
        Case("command-queue.selectedRows", lambda c: {"command-queue.selectedRows": [{"id": 1}]}, OPEN)
    ],
    "command.bulk": [
        Case(
            "command-bulk.n_clicks",
            lambda c: {"command-bulk.n_clicks": 1, "command-selection.data": [c.other]},
            WRITE,
            shows={"worker": ("无权",), "staff": ("无权",)},
            changes=COMMAND,
        )
    ],
    "command.case_move": [
        Case(
            "command-case-pressed.data",
            lambda c: {
                "command-case-pressed.data": {"action": "urge", "at": 1},
                "command-selected.data": c.other,
                "command-case-note.value": "快",
            },
            WRITE,
            shows={"worker": ("无权",), "staff": ("无权",)},
            changes=("supervisor", "admin"),  # urging (督办) is a supervisor's move
        )
    ],
    "command.warning_action": [
        Case(
            "command-warning-pressed.data",
            lambda c: {"command-warning-pressed.data": {"warning": 999999, "action": "acknowledge", "at": 1}},
            WRITE,
        )
    ],
    "command.start": [
        Case(
            "push-upload.contents",
            lambda c: {"push-upload.contents": "data:text/csv;base64," + base64.b64encode(CSV.encode()).decode()},
            WRITE,
            shows={"worker": ("无权",), "staff": ("无权",)},
            changes=COMMAND,
        )
    ],
    "command.watch": [
        Case(
            "push-poll.n_intervals",
            lambda c: {"push-poll.n_intervals": 1, "push-job.data": "no-such-job"},
            {"anonymous": 401, "worker": 403, "staff": 403, **dict.fromkeys(COMMAND, (200, 204))},
        )
    ],
    "command.download": [
        Case(
            "push-download-button.n_clicks",
            lambda c: {"push-download-button.n_clicks": 1, "push-job.data": "no-such-job"},
            {"anonymous": 401, "worker": 403, "staff": 403, **dict.fromkeys(COMMAND, (200, 204))},
        )
    ],
    "alerts.check": [Case("command-cursor.data", lambda c: {"command-cursor.data": 1}, OPEN)],
    # The evaluation section: ops.evaluation decides what each role sees (a worker: nothing, worded).
    "evaluation.league": [
        Case(
            "review-filters.data",
            lambda c: {"review-filters.data": FILTERS},
            OPEN,
            hides={"worker": ("城市管理局",)},
        )
    ],
    "evaluation.choropleth": [
        Case(
            "eval-data.data",
            lambda c: {"eval-data.data": [], "eval-indicator.value": "score"},
            {"anonymous": 401, "worker": 403, **dict.fromkeys(("staff", *COMMAND), (200, 204))},
        )
    ],
    "evaluation.drill": [
        Case(
            "eval-league.cellClicked",
            lambda c: {
                "eval-league.cellClicked": {"colId": "due", "rowId": str(c.department)},
                "review-filters.data": FILTERS,
            },
            OPEN,
            hides={"worker": ("噪音", "张三")},
        )
    ],
    "evaluation.pick": [Case("eval-cases.selectedRows", lambda c: {"eval-cases.selectedRows": []}, OPEN)],
    "evaluation.urge": [
        Case(
            "eval-urge-department.n_clicks",
            lambda c: {
                "eval-urge-department.n_clicks": 1,
                "eval-urge-note.value": "请加快处置",
                "eval-picked.data": {"department_id": c.department},
            },
            WRITE,
            changes=("supervisor", "admin"),
        )
    ],
    "evaluation.urged": [Case("review-filters.data", lambda c: {"review-filters.data": FILTERS}, OPEN)],
    "alerts.dismiss": [Case("alert-dismiss.n_clicks", lambda c: {"alert-dismiss.n_clicks": 1}, OPEN)],
    "alerts.open_item": [
        Case("alert-open.n_clicks", lambda c: {"alert-open.n_clicks": 1, "alert-item.data": c.other}, OPEN)
    ],
    "worker.poll": [
        Case(
            "worker-poll.n_intervals",
            lambda c: {"worker-poll.n_intervals": 1, "worker-cursor.data": 0},
            OPEN,
            hides=dict.fromkeys(SIGNED_IN, ("张三", "李四")),
        )
    ],
    "worker.send": [
        Case(
            "worker-flush.data",
            lambda c: {
                "worker-flush.data": {"entries": [{"key": "perm-k1", "task": c.task, "action": "arrive"}], "at": 1}
            },
            OPEN,
            changes=("admin",),
        ),
        # 核查 from the phone on a case outside the worker's grid: ops.cases refuses the worker and the
        # staff (403, named on the phone); the command centre may check, but the case is not handled (409).
        Case(
            "worker-flush.data",
            lambda c: {
                "worker-flush.data": {
                    "entries": [{"key": "perm-c1", "case": c.other, "action": "check", "answer": True}],
                    "at": 1,
                }
            },
            OPEN,
            shows={"worker": ("不属于你的网格",), "staff": ("不属于你的网格",), "operator": ("案件当前为",)},
        ),
    ],
    "worker.position": [
        Case(
            "worker-position.data",
            lambda c: {
                "worker-position.data": {
                    "lon": (c.rt.index.bounds[0] + c.rt.index.bounds[2]) / 2,
                    "lat": (c.rt.index.bounds[1] + c.rt.index.bounds[3]) / 2,
                }
            },
            OPEN,
            changes=("worker",),
        )
    ],
    "review.choose": [Case("review-range.value", lambda c: {"review-range.value": "7d"}, OPEN)],
    "review.figures": [Case("review-filters.data", lambda c: {"review-filters.data": FILTERS}, REVIEW)],
    "review.aggregate_layer": [
        Case(
            "review-filters.data",
            lambda c: {"review-filters.data": FILTERS, "review-mode.value": "grid", "review-metric.value": "count"},
            REVIEW,
        )
    ],
    "review.show_frame": [
        Case(
            "review-frame.value",
            lambda c: {
                "review-frame.value": 0,
                "review-frames.data": ["2026-01-01T00:00:00", "2026-06-01T00:00:00", "2027-01-01T00:00:00"],
                "review-filters.data": FILTERS,
            },
            REVIEW,
        )
    ],
    "review.drill": [
        Case(
            "review-grid-table.selectedRows",
            lambda c: {"review-grid-table.selectedRows": [], "review-filters.data": FILTERS},
            REVIEW,
        )
    ],
    "review.pick": [
        Case("review-drill.selectedRows", lambda c: {"review-drill.selectedRows": [{"id": c.other}]}, REVIEW)
    ],
    "review.parking": [Case("review-filters.data", lambda c: {"review-filters.data": FILTERS}, REVIEW)],
    "review.warnings": [Case("review-filters.data", lambda c: {"review-filters.data": FILTERS}, REVIEW)],
    "review.sheet": [Case("review-filters.data", lambda c: {"review-filters.data": FILTERS}, OPEN)],
    "rules.edit": [
        Case(
            "rules-reload.n_clicks",
            lambda c: {"rules-reload.n_clicks": 1},
            {"anonymous": 401, "worker": 403, "staff": 403, **dict.fromkeys(COMMAND, 200)},
        ),
        Case(
            "rules-save.n_clicks",
            lambda c: {"rules-save.n_clicks": 1, "rules-grid.rowData": []},
            {"anonymous": 401, "worker": 403, "staff": 403, **dict.fromkeys(COMMAND, 200)},
            changes=("admin",),
        ),
    ],
    "departments.edit": [
        Case(
            "departments-reload.n_clicks",
            lambda c: {"departments-reload.n_clicks": 1},
            WRITE,
            shows={"admin": ("南明区城市管理局",), **dict.fromkeys(("worker", "staff", "operator"), ("无权管理部门",))},
            hides=dict.fromkeys(("worker", "staff", *COMMAND[:2]), ("南明区城市管理局",)),
        )
    ],
    # last: a cancel ends the item the cases above work on
    "command.cancel": [
        Case(
            "command-cancel.n_clicks",
            lambda c: {
                "command-cancel.n_clicks": 1,
                "command-cancel-reason.value": "重复",
                "command-selected.data": c.other,
            },
            WRITE,
            shows={"worker": ("无权",), "staff": ("无权",)},
            changes=COMMAND,
        )
    ],
}


def test_every_server_callback_has_an_entry_in_the_table(city: City) -> None:
    names = set(server_callbacks(city))
    assert not sorted(names - set(CALLBACKS)), f"callbacks with no permission entry: {sorted(names - set(CALLBACKS))}"
    assert not sorted(set(CALLBACKS) - names), (
        f"entries for callbacks that no longer exist: {sorted(set(CALLBACKS) - names)}"
    )


CALLBACK_CASES = [(name, i) for name, cases in CALLBACKS.items() for i in range(len(cases))]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "n"), CALLBACK_CASES, ids=[f"{n}-{i}" for n, i in CALLBACK_CASES])
def test_callback(city: City, name: str, n: int, role: str) -> None:
    key, spec = server_callbacks(city)[name]
    case = CALLBACKS[name][n]
    before = city.state()
    r = dash_post(city, role, key, spec, case.values(city), case.trigger)
    expected = case.status[role]
    allowed = expected if isinstance(expected, tuple) else (expected,)
    text = r.get_data(as_text=True)
    assert r.status_code in allowed, (name, role, r.status_code, text[:400])
    if r.status_code == 403:
        assert r.get_json()["error"] == "forbidden"
    if role not in case.changes:
        assert city.state() == before, f"{name} as {role} changed the store"
    decoded = json.dumps(r.get_json(), ensure_ascii=False) if r.status_code == 200 else ""
    for shown in case.shows.get(role, ()):
        assert shown in decoded, (name, role, shown)
    for hidden in case.hides.get(role, ()):
        assert hidden not in decoded, (name, role, hidden)
