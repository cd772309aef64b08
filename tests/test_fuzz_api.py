"""Fuzz the API from its own OpenAPI description (schemathesis): no request gets a 5xx, and a
refused request stores nothing."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from sqlalchemy import func, select

from app import create_app, runtime_of
from config import Config
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
