"""Open311 POST honours `Idempotency-Key` with the JSON API's mechanism: a retry replays the first
answer (json and xml), another body under the key is a 422, and a crash mid-work leaves no claim."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import func, select

from app import runtime_of
from data.models import IdempotencyKey, Incident, Report
from ops import ingest
from tests.conftest import TOKEN

FORMATS = ["json", "xml"]


def form(description: str) -> dict[str, str]:
    return {"api_key": TOKEN, "service_code": "noise", "lat": "26.58", "long": "106.71", "description": description}


def request_id(response: Any, fmt: str) -> str:
    if fmt == "json":
        return response.get_json()[0]["service_request_id"]
    return ET.fromstring(response.data).find("request/service_request_id").text


def reports(app: Any, description: str) -> int:
    with runtime_of(app).store.read() as s:
        return int(s.scalar(select(func.count(Report.id)).where(Report.description == description)))


def claims(app: Any, key: str) -> int:
    with runtime_of(app).store.read() as s:
        return int(s.scalar(select(func.count(IdempotencyKey.id)).where(IdempotencyKey.key == key)))


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_retry_with_the_key_gets_the_first_answer_and_files_nothing(app: Any, fmt: str) -> None:
    client, headers = app.server.test_client(), {"Idempotency-Key": f"citizen-{fmt}"}
    first = client.post(f"/open311/v2/requests.{fmt}", data=form("路灯不亮"), headers=headers)
    again = client.post(f"/open311/v2/requests.{fmt}", data=form("路灯不亮"), headers=headers)
    assert first.status_code == again.status_code == 201 and first.mimetype == again.mimetype
    assert request_id(first, fmt) == request_id(again, fmt) and request_id(first, fmt).isdigit()
    assert reports(app, "路灯不亮") == 1 and claims(app, f"citizen-{fmt}") == 1
    with runtime_of(app).store.read() as s:
        assert s.get(Incident, int(request_id(first, fmt))).report_count == 1
    # Without a key the same retry is a second report (here merged into the first at 50 m).
    client.post(f"/open311/v2/requests.{fmt}", data=form("路灯不亮"))
    assert reports(app, "路灯不亮") == 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_key_with_another_body_is_refused_as_the_json_api_refuses_it(app: Any, fmt: str) -> None:
    client, headers = app.server.test_client(), {"Idempotency-Key": "same-key"}
    assert client.post(f"/open311/v2/requests.{fmt}", data=form("井盖丢失"), headers=headers).status_code == 201
    other = client.post(f"/open311/v2/requests.{fmt}", data=form("井盖丢失了两个"), headers=headers)
    assert other.status_code == 422 and reports(app, "井盖丢失了两个") == 0
    errors = other.get_json() if fmt == "json" else ET.fromstring(other.data)
    if fmt == "json":
        assert errors[0]["code"] == 422 and "Idempotency-Key" in errors[0]["description"]
    else:
        assert errors.tag == "errors" and errors.find("error/code").text == "422"
    as_json = client.post(
        "/api/v1/incidents",
        json={"description": "x"},
        headers={"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": "same-key"},
    )
    assert as_json.status_code == 422 and as_json.get_json()["field"] == "Idempotency-Key"  # one store of keys


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_refused_report_is_the_replayed_answer(app: Any, fmt: str) -> None:
    client, headers = app.server.test_client(), {"Idempotency-Key": "bad-service"}
    bad = {**form("龙"), "service_code": "dragons"}
    first = client.post(f"/open311/v2/requests.{fmt}", data=bad, headers=headers)
    again = client.post(f"/open311/v2/requests.{fmt}", data=bad, headers=headers)
    assert first.status_code == again.status_code == 422 and first.data == again.data
    if fmt == "xml":
        assert ET.fromstring(first.data).tag == "errors"
    else:
        assert first.get_json()[0]["code"] == 422
    assert claims(app, "bad-service") == 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_crash_after_the_work_leaves_no_claim_and_the_retry_files_once(
    app: Any, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report is written, then the process is lost before the answer is stored: nothing commits,
    so the retry is not stuck on a claim (409 forever) and files the report exactly once."""
    client, headers = app.server.test_client(), {"Idempotency-Key": f"crash-{fmt}"}
    submit = ingest.submit_report

    def submit_then_crash(*args: Any, **kwargs: Any) -> tuple[int, bool]:
        submit(*args, **kwargs)
        raise RuntimeError("process lost before the answer was stored")

    monkeypatch.setattr(ingest, "submit_report", submit_then_crash)
    lost = client.post(f"/open311/v2/requests.{fmt}", data=form("垃圾满溢"), headers=headers)
    assert lost.status_code == 500 and reports(app, "垃圾满溢") == 0 and claims(app, f"crash-{fmt}") == 0
    monkeypatch.setattr(ingest, "submit_report", submit)
    retry = client.post(f"/open311/v2/requests.{fmt}", data=form("垃圾满溢"), headers=headers)
    again = client.post(f"/open311/v2/requests.{fmt}", data=form("垃圾满溢"), headers=headers)
    assert retry.status_code == again.status_code == 201 and request_id(retry, fmt) == request_id(again, fmt)
    assert reports(app, "垃圾满溢") == 1 and claims(app, f"crash-{fmt}") == 1


def test_a_json_body_is_fingerprinted_too(app: Any) -> None:
    client, headers = app.server.test_client(), {"Idempotency-Key": "json-body"}
    first = client.post("/open311/v2/requests.json", json=form("占道经营"), headers=headers)
    again = client.post("/open311/v2/requests.json", json=form("占道经营"), headers=headers)
    other = client.post("/open311/v2/requests.json", json=form("占道经营二"), headers=headers)
    assert first.status_code == again.status_code == 201 and first.get_json() == again.get_json()
    assert other.status_code == 422 and reports(app, "占道经营") == 1 and reports(app, "占道经营二") == 0
