"""Places, door-access events, warnings and rules through the HTTP API, as a client sees them."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from app import runtime_of
from data.models import AccessEvent, Grid, User, utcnow
from ops import early_warning
from ops.accounts import create_token
from tests.conftest import TOKEN


@pytest.fixture
def client(app):
    """The warning API as the bootstrap admin or as the demo operator (``who``)."""
    rt = runtime_of(app)
    with rt.store.read() as s:
        operator = s.scalar(select(User.id).where(User.username == "operator"))
        grid = s.get(Grid, 3)
    tokens = {"admin": TOKEN, "operator": create_token(rt.store, operator)}
    http = app.server.test_client()

    class Client:
        store = rt.store
        config = rt.config
        center = (grid.center_lon, grid.center_lat)

        def call(self, method, path, who="admin", **kw):
            return http.open(f"/api/v1{path}", method=method, headers={"Authorization": f"Bearer {tokens[who]}"}, **kw)

    return Client()


def test_door_activity_becomes_a_warning_an_operator_acknowledges_and_resolves(client):
    lon, lat = client.center
    place = {"id": "R-101", "kind": "rental", "address": "花溪区 3 栋 2 单元 101", "lon": lon, "lat": lat}
    bad = client.call("POST", "/places", json={"places": [{**place, "registered_occupants": -1}, {"id": "x"}]})
    assert bad.status_code == 200
    assert [r["status"] for r in bad.json["results"]] == ["rejected", "rejected"]
    assert bad.json["results"][0]["field"] == "places[0].registered_occupants"
    ok = client.call("POST", "/places", json={"places": [{**place, "registered_occupants": 1}]})
    assert ok.json["results"][0]["status"] == "created" and ok.json["results"][0]["grid_id"] == 3
    again = client.call("POST", "/places", json={"places": [{**place, "registered_occupants": 2}]})
    assert again.json["results"][0]["status"] == "updated"
    assert client.call("GET", "/places").json["items"][0]["registered_occupants"] == 2

    at = (utcnow() - timedelta(minutes=10)).isoformat() + "Z"
    events = [{"event_id": f"e{k}", "place_id": "R-101", "credential": f"card-{k}", "at": at} for k in range(5)]
    stored = client.call("POST", "/access-events", json={"events": events})
    assert stored.json["counts"] == {"stored": 5}
    assert client.call("POST", "/access-events", json={"events": events[:1]}).json["counts"] == {"duplicate": 1}
    with client.store.read() as s:
        digests = s.scalars(select(AccessEvent.credential)).all()
    assert "card-0" not in digests and len(set(digests)) == 5  # kept only as distinct digests

    rules = early_warning.current_rules(client.store, client.config.rules_file)
    early_warning.evaluate(client.store, [r for r in rules if r.type == "place_activity"])
    listed = client.call("GET", "/warnings").json
    assert listed["count"] == 1
    warning = listed["items"][0]
    assert warning["rule_id"] == "rental-crowding" and warning["status"] == "open"
    assert "花溪区" in warning["title"] and warning["incident_id"]

    path = f"/warnings/{warning['id']}"
    assert client.call("POST", f"{path}/acknowledge", who="operator", json={"note": "去看看"}).status_code == 200
    assert client.call("POST", f"{path}/acknowledge", who="operator").status_code == 409
    assert client.call("POST", f"{path}/resolve", who="operator", json={"note": 5}).status_code == 422
    done = client.call("POST", f"{path}/resolve", who="operator", json={"note": "two tenants' guests"})
    assert done.status_code == 200 and done.json["status"] == "resolved"
    assert [h["kind"] for h in done.json["history"]] == ["warning.raised", "warning.acknowledged", "warning.resolved"]
    assert client.call("GET", "/warnings").json["count"] == 0
    assert client.call("GET", "/warnings?status=resolved").json["count"] == 1
    assert client.call("GET", "/warnings?status=gone").status_code == 422
    assert client.call("GET", "/warnings/999").status_code == 404


def test_rules_are_replaced_by_admins_only_and_bad_sets_are_refused(client):
    current = client.call("GET", "/rules").json["rules"]
    assert {r["id"] for r in current} >= {"fire-unassigned", "ticket-cluster"}
    new = {"rules": [{"id": "fast-fire", "type": "unassigned", "kinds": ["fire"], "minutes": 1, "level": "high"}]}
    assert client.call("PUT", "/rules", who="operator", json=new).status_code == 403
    bad = client.call("PUT", "/rules", json={"rules": [{"id": "x", "type": "unassigned"}]})
    assert bad.status_code == 422 and "minutes is required" in bad.json["message"]
    assert client.call("PUT", "/rules", data="not json", content_type="application/json").status_code == 422
    assert client.call("PUT", "/rules", json=new).status_code == 200
    assert [r["id"] for r in client.call("GET", "/rules").json["rules"]] == ["fast-fire"]
    assert [r.id for r in early_warning.current_rules(client.store, client.config.rules_file)] == ["fast-fire"]
