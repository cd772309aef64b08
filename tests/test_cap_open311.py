"""CAP 1.2 alerts (alert, update, cancel) and an Open311 GeoReport v2 round trip in JSON and XML."""

from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import event, select, update

from app import runtime_of
from data import queries
from data.models import Incident
from ops import departments, lifecycle
from ops.accounts import SYSTEM, Actor
from tests.conftest import AUTH, TOKEN

H = AUTH


def cap(identifier, msg_type="Alert", references="", area=None):
    area = area or (
        "<area><areaDesc>南明区 花果园</areaDesc>"
        "<polygon>26.56,106.68 26.56,106.70 26.58,106.70 26.58,106.68 26.56,106.68</polygon>"
        "<circle>26.60,106.72 1.5</circle></area>"
    )
    refs = f"<references>{references}</references>" if references else ""
    info = (
        ""
        if msg_type == "Cancel"
        else (
            "<info><event>暴雨</event><urgency>Immediate</urgency><severity>Severe</severity>"
            f"<certainty>Likely</certainty><headline>暴雨红色预警</headline><description>注意防范</description>{area}</info>"
        )
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
        f"<identifier>{identifier}</identifier><sender>gy-weather@example.cn</sender>"
        f"<sent>2026-11-23T09:00:00+08:00</sent><status>Actual</status><msgType>{msg_type}</msgType>"
        f"<scope>Public</scope>{refs}{info}</alert>"
    ).encode()


def test_cap_alert_update_and_cancel(app):
    client = app.server.test_client()
    rt = runtime_of(app)
    post = lambda body: client.post("/api/v1/alerts/cap", data=body, headers=H, content_type="application/xml")  # noqa: E731
    r = post(cap("GY-1"))
    assert r.status_code == 201 and r.get_json()["state"] == "active"
    alerts = client.get("/api/v1/alerts", headers=H).get_json()["items"]
    shapes = alerts[0]["areas"]["features"]
    assert [f["geometry"]["type"] for f in shapes] == ["Polygon", "Polygon"]
    assert shapes[0]["geometry"]["coordinates"][0][0] == [106.68, 26.56]  # CAP lat,lon → lon first
    circle = shapes[1]["geometry"]["coordinates"][0]
    assert len(circle) > 30  # a circle drawn as a polygon
    assert len(queries.active_alert_areas(rt.store)) == 2

    ref = "gy-weather@example.cn,GY-1,2026-11-23T09:00:00+08:00"
    assert post(cap("GY-2", "Update", ref)).status_code == 201
    states = {a["identifier"]: a["state"] for a in client.get("/api/v1/alerts", headers=H).get_json()["items"]}
    assert states == {"GY-1": "updated", "GY-2": "active"}
    ref2 = "gy-weather@example.cn,GY-2,2026-11-23T09:30:00+08:00"
    assert post(cap("GY-3", "Cancel", ref2)).get_json()["state"] == "cancelled"
    active = client.get("/api/v1/alerts?state=active", headers=H).get_json()
    assert active["count"] == 0 and queries.active_alert_areas(rt.store) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"<alert><unclosed>", "body"),
        (b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "boom">]><alert>&x;</alert>', "body"),
        (b"<alert xmlns='urn:other'/>", "alert"),
        (cap("X", "Update"), "references"),
        (cap("X", "Update", "s,NOPE,2026-01-01T00:00:00Z"), "references"),
        (cap("X", area="<area><areaDesc>x</areaDesc><polygon>26.5,106.7 26.6,106.8</polygon></area>"), "polygon"),
        (cap("X", area="<area><areaDesc>x</areaDesc><circle>26.5,106.7</circle></area>"), "circle"),
        (cap("X").replace(b"<msgType>Alert</msgType>", b"<msgType>Shout</msgType>"), "msgType"),
    ],
    ids=[
        "malformed",
        "entity",
        "namespace",
        "no-references",
        "unknown-reference",
        "short-polygon",
        "bad-circle",
        "msgType",
    ],
)
def test_bad_cap_is_refused_and_stores_nothing(app, body, field):
    client = app.server.test_client()
    r = client.post("/api/v1/alerts/cap", data=body, headers=H, content_type="application/xml")
    assert r.status_code == 422 and r.get_json()["field"] == field
    assert client.get("/api/v1/alerts", headers=H).get_json()["count"] == 0


def test_a_repeated_cap_identifier_is_a_conflict(app):
    client = app.server.test_client()
    client.post("/api/v1/alerts/cap", data=cap("GY-9"), headers=H, content_type="application/xml")
    r = client.post("/api/v1/alerts/cap", data=cap("GY-9"), headers=H, content_type="application/xml")
    assert r.status_code == 409


def test_open311_round_trip_in_json_and_xml(app):
    client = app.server.test_client()
    services = client.get("/open311/v2/services.json").get_json()
    assert {"service_code", "service_name", "metadata", "type"} <= set(services[0])
    xml_services = ET.fromstring(client.get("/open311/v2/services.xml").data)
    assert xml_services.tag == "services" and len(xml_services) == len(services)
    assert client.get("/open311/v2/services/noise.json").get_json()["service_code"] == "noise"
    assert client.get("/open311/v2/services/nope.json").status_code == 404

    form = {
        "api_key": TOKEN,
        "service_code": "noise",
        "lat": "26.58",
        "long": "106.71",
        "description": "深夜施工",
        "first_name": "王",
        "last_name": "五",
        "phone": "13912345678",
    }
    r = client.post("/open311/v2/requests.json", data=form)
    assert r.status_code == 201
    rid = r.get_json()[0]["service_request_id"]
    one = client.get(f"/open311/v2/requests/{rid}.json").get_json()[0]
    assert one["status"] == "open" and one["service_code"] == "noise" and one["description"] == "深夜施工"
    assert "phone" not in one and "13912345678" not in str(one)  # public reads carry no personal data

    rt = runtime_of(app)
    with rt.store.read() as s:
        item = s.get(Incident, int(rid))
    assert item.kind == "ticket" and item.source == "open311" and item.reporter_phone == "13912345678"
    task = lifecycle.assign(rt.store, SYSTEM, int(rid), 1)
    for action in ("accept", "resolve"):
        lifecycle.act_on_task(rt.store, SYSTEM, task, action)
    closed = ET.fromstring(client.get(f"/open311/v2/requests/{rid}.xml").data)
    assert closed.tag == "service_requests" and closed.find("request/status").text == "closed"
    assert [r["service_request_id"] for r in client.get("/open311/v2/requests.json?status=closed").get_json()] == [rid]

    xml_post = client.post("/open311/v2/requests.xml", data={**form, "description": "第二条"})
    assert ET.fromstring(xml_post.data).find("request/service_request_id").text.isdigit()


@pytest.mark.parametrize(
    ("form", "status"),
    [
        ({"service_code": "noise", "lat": "26.58", "long": "106.71"}, 401),
        ({"api_key": TOKEN, "service_code": "dragons", "lat": "26.58", "long": "106.71"}, 422),
        ({"api_key": TOKEN, "service_code": "noise", "lat": "106.71", "long": "26.58"}, 422),
        ({"api_key": TOKEN, "service_code": "noise"}, 422),
    ],
    ids=["no-key", "unknown-service", "swapped", "no-location"],
)
def test_open311_errors_come_in_its_own_format(app, form, status):
    client = app.server.test_client()
    r = client.post("/open311/v2/requests.xml", data=form)
    assert r.status_code == status
    error = ET.fromstring(r.data)
    assert error.tag == "errors" and error.find("error/code").text == str(status)
    with runtime_of(app).store.read() as s:
        assert s.scalar(select(Incident.id)) is None


def test_open311_names_the_department_that_owns_each_request_in_one_query(app):
    client = app.server.test_client()
    rt = runtime_of(app)
    admin, operator = Actor(None, "admin", "admin"), Actor(None, "op", "operator")
    market = departments.create(rt.store, admin, departments.DepartmentIn.parse({"name": "市市场监管局"}))
    sanitation = departments.create(rt.store, admin, departments.DepartmentIn.parse({"name": "市环卫处"}))
    ids = []
    for n, code in enumerate(("noise", "sanitation", "garbage")):  # a kilometre apart: three requests, none joined
        form = {"api_key": TOKEN, "service_code": code, "lat": f"{26.57 + n / 100}", "long": "106.71"}
        ids.append(client.post("/open311/v2/requests.json", data=form).get_json()[0]["service_request_id"])
    assert client.get(f"/open311/v2/requests/{ids[0]}.json").get_json()[0]["agency_responsible"] == ""
    with rt.store.transaction() as s:  # verified on site (a citizen's request starts at verifying): filed, no owner
        s.execute(update(Incident).where(Incident.id.in_([int(i) for i in ids])).values(stage="filed"))
    rt.cases.act(operator, int(ids[0]), "dispatch", {"department_id": market})
    rt.cases.act(operator, int(ids[1]), "dispatch", {"department_id": sanitation})

    one = client.get(f"/open311/v2/requests/{ids[0]}.json").get_json()[0]
    assert one["agency_responsible"] == "市市场监管局" and one["service_code"] == "noise"
    xml = ET.fromstring(client.get(f"/open311/v2/requests/{ids[1]}.xml").data)
    assert xml.find("request/agency_responsible").text == "市环卫处"

    statements = []
    engines = {rt.store.engine, rt.store._read_engine}
    count = lambda *_args: statements.append(1)  # noqa: E731
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    try:
        listed = client.get("/open311/v2/requests.json").get_json()
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)
    agencies = {r["service_request_id"]: (r["agency_responsible"], r["service_code"]) for r in listed}
    assert agencies == {
        ids[0]: ("市市场监管局", "noise"),
        ids[1]: ("市环卫处", "sanitation"),
        ids[2]: ("", "garbage"),
    }
    assert len(statements) <= 3  # the requests with their departments, and their photos: not one per request
