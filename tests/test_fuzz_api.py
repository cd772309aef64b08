"""Fuzz the API from its own OpenAPI description (schemathesis), and beyond it with Hypothesis (any
text in query parameters, Open311, the Dash endpoint): no request gets a 5xx, and a refused request
stores nothing."""

import json
from urllib.parse import quote

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app import create_app, runtime_of
from config import Config
from data.demo import DEMO_PASSWORD
from data.models import AccessEvent, Alert, EarlyWarning, Event, Incident, ParkingEvent, Place, Report, Task

TOKEN = "fuzz-token-0123456789abcdef"
TABLES = (Incident, Report, Task, Alert, ParkingEvent, Event, Place, AccessEvent, EarlyWarning)


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    return create_app(
        Config(
            database_url=f"sqlite:///{folder / 'f.db'}",
            grid_count=60,
            parking_spaces=60,
            bootstrap_token=TOKEN,
            media_dir=str(folder / "media"),
        )
    )


@pytest.fixture(scope="module")
def api_schema(fuzz_app):
    return schemathesis.openapi.from_wsgi("/api/openapi.json", fuzz_app.server)


schema = schemathesis.pytest.from_fixture("api_schema")


def counts(app) -> tuple[int, ...]:
    with runtime_of(app).store.read() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in TABLES)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_5xx_and_refusals_store_nothing(case, fuzz_app):
    before = counts(fuzz_app)
    response = case.call(headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code < 500, (case.method, case.path, response.text[:500])
    if 400 <= response.status_code < 500:
        assert counts(fuzz_app) == before, (case.method, case.path, response.status_code, response.text[:300])


def test_ids_beyond_64_bits_in_a_body_are_refused_not_overflowed(fuzz_app):
    client = fuzz_app.server.test_client()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for path, body in [
        ("/api/v1/departments", {"name": "x", "parent_id": 2**64}),
        ("/api/v1/incidents/1/dispatch", {"department_id": 2**64}),
    ]:
        response = client.post(path, json=body, headers=headers)
        assert response.status_code == 422, (path, response.text)


# Hypothesis beyond the OpenAPI schema: any text in any query parameter, Open311, the Dash endpoint.
ODD = st.sampled_from(["²", "١٢", "-1", "9" * 30, "1e400", "NaN", "0x10", " 1", "1,²", "9999-12-31T23:59:59-23:59"])
VALUE = st.one_of(ODD, st.text(st.characters(blacklist_categories=("Cs",)), max_size=30), st.integers().map(str))
QUERIES = {
    "/api/v1/incidents": ("status", "kind", "stage", "bbox", "limit"),
    "/api/v1/workers": ("grid_id", "on_duty"),
    "/api/v1/warnings": ("status", "limit"),
    "/api/v1/places": ("limit",),
    "/api/v1/alerts": ("state",),
    "/open311/v2/requests.json": ("service_request_id", "service_code", "start_date", "end_date", "status"),
    "/open311/v2/requests.xml": ("service_request_id", "start_date", "end_date"),
}
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@FUZZ
@given(data=st.data())
def test_query_parameters_never_5xx(fuzz_app, data):
    path = data.draw(st.sampled_from(sorted(QUERIES)))
    names = data.draw(st.lists(st.sampled_from(QUERIES[path]), min_size=1, max_size=3, unique=True))
    query = {name: data.draw(VALUE) for name in names}
    r = fuzz_app.server.test_client().get(path, query_string=query, headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code < 500, (path, query, r.text[:300])


@FUZZ
@given(rid=VALUE, fmt=st.sampled_from(["json", "xml"]))
def test_open311_one_request_never_5xx(fuzz_app, rid, fmt):
    r = fuzz_app.server.test_client().get(f"/open311/v2/requests/{quote(rid, safe='')}.{fmt}")
    assert r.status_code < 500, (rid, r.text[:300])


OPEN311_FORM = st.dictionaries(
    st.sampled_from(["api_key", "service_code", "lat", "long", "description", "first_name", "phone", "crs", "x"]),
    VALUE,
    max_size=6,
)


@FUZZ
@given(form=OPEN311_FORM, as_json=st.booleans(), with_key=st.booleans())
def test_open311_posts_never_5xx_and_refusals_store_nothing(fuzz_app, form, as_json, with_key):
    if with_key:
        form = {**form, "api_key": TOKEN}
    before = counts(fuzz_app)
    client = fuzz_app.server.test_client()
    r = client.post("/open311/v2/requests.json", **({"json": form} if as_json else {"data": form}))
    assert r.status_code < 500, (form, r.text[:300])
    if r.status_code >= 400:
        assert counts(fuzz_app) == before


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def dash_client(fuzz_app):
    client = fuzz_app.server.test_client()
    r = client.post("/login", data={"username": "operator", "password": DEMO_PASSWORD, "next": "/"})
    assert r.status_code == 302
    return client


@FUZZ
@given(data=st.data())
def test_dash_endpoint_answers_garbage_with_4xx(fuzz_app, dash_client, data):
    outputs = sorted(fuzz_app.callback_map)
    shape = data.draw(st.sampled_from(["raw", "json", "keys", "callback"]))
    if shape == "raw":
        body = data.draw(st.binary(max_size=200))
    else:
        if shape == "json":
            value = data.draw(JSON)
        else:
            keys = ("output", "outputs", "inputs", "state", "changedPropIds")
            value = data.draw(st.fixed_dictionaries({}, optional=dict.fromkeys(keys, JSON)))
            if shape == "callback":  # a real callback, its inputs garbage or miscounted
                value["output"] = data.draw(st.sampled_from(outputs))
        body = json.dumps(value).encode()
    r = dash_client.post("/_dash-update-component", data=body, content_type="application/json")
    assert 400 <= r.status_code < 500, (body[:300], r.status_code, r.text[:300])
