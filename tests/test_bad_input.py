"""Malformed input is a 4xx with a JSON reason, never a 5xx: numbers beyond 64 bits or written with
Unicode digits, times past the last year, lone surrogates, JSON nested 100,000 deep, bodies too big
(refused before they are read)."""

import io
import json

import pytest
from sqlalchemy import func, select

from app import create_app, runtime_of
from config import Config
from data.models import AccessEvent, Event, Incident, ParkingEvent, Report
from ops.parsing import json_integer, loads_json, timestamp, whole_number

TOKEN = "bad-input-token-0123456789"
H = {"Authorization": f"Bearer {TOKEN}"}
FIRE = {"kind": "fire", "category": "住宅火灾", "lon": 106.71, "lat": 26.58, "description": "三楼冒烟"}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    return create_app(
        Config(
            database_url=f"sqlite:///{folder / 'b.db'}",
            grid_count=60,
            parking_spaces=60,
            bootstrap_token=TOKEN,
            media_dir=str(folder / "media"),
            max_body_mb=9,
        )
    )


@pytest.fixture(scope="module")
def client(app):
    return app.server.test_client()


def stored(app) -> tuple[int, ...]:
    with runtime_of(app).store.read() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(t)) for t in (Incident, Report, Event, ParkingEvent, AccessEvent)
        )


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/api/v1/workers?grid_id=99999999999999999999", 422, "grid_id"),
        ("/api/v1/workers?grid_id=²", 422, "grid_id"),
        ("/api/v1/workers?grid_id=١٢", 422, "grid_id"),  # Arabic-Indic digits pass str.isdigit() too
        ("/api/v1/incidents?limit=²", 422, "limit"),
        ("/api/v1/incidents?limit=99999999999999999999999", 422, "limit"),
        ("/api/v1/warnings?limit=²", 422, "limit"),
    ],
)
def test_query_numbers_are_ascii_digits_in_range(client, path, status, field):
    r = client.get(path, headers=H)
    assert r.status_code == status, r.text
    assert r.get_json()["field"] == field and "0" in r.get_json()["message"]


@pytest.mark.parametrize(
    "query",
    [
        "service_request_id=²",
        "service_request_id=1,99999999999999999999",
        "start_date=9999-12-31T23:59:59-23:59",
        "end_date=0001-01-01T00:00:00%2B23:59",
        "start_date=2026-13-01",
    ],
)
def test_open311_filters_refuse_bad_values_in_its_format(client, query):
    r = client.get(f"/open311/v2/requests.json?{query}")
    assert r.status_code == 422, r.text
    assert r.get_json()[0]["code"] == 422 and r.get_json()[0]["description"]
    xml = client.get(f"/open311/v2/requests.xml?{query}")
    assert xml.status_code == 422 and b"<errors>" in xml.data


def test_open311_one_request_with_unicode_digits_is_not_found(client):
    for rid in ("²", "99999999999999999999"):
        r = client.get(f"/open311/v2/requests/{rid}.json")
        assert r.status_code == 404, r.text


def test_a_lone_surrogate_in_a_title_is_bad_json_and_stores_nothing(app, client):
    before = stored(app)
    body = json.dumps({**FIRE, "title": "\ud800"})  # ensure_ascii: the text on the wire is "\ud800"
    assert "\\ud800" in body
    r = client.post("/api/v1/incidents", data=body, content_type="application/json", headers=H)
    assert r.status_code == 422 and r.get_json()["field"] == "body", r.text
    multipart = {"report": json.dumps({**FIRE, "description": "x\udfff"})}
    r = client.post("/api/v1/incidents", data=multipart, content_type="multipart/form-data", headers=H)
    assert r.status_code == 422 and r.get_json()["field"] == "report", r.text
    assert stored(app) == before


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/workers/positions", {"positions": [{"worker_id": 1, "lon": 106.71, "lat": 26.58, "at": 1e20}]}, "at"),
        ("/api/v1/workers/positions", {"positions": [{"worker_id": 1, "lon": 106.71, "lat": 26.58, "at": -5}]}, "at"),
        (
            "/api/v1/access-events",
            {"events": [{"event_id": "a1", "place_id": "p1", "credential": "c", "direction": "in", "at": 9e15}]},
            "at",
        ),
        (
            "/api/v1/parking/events",
            {
                "events": [
                    {
                        "event_id": "seq-70",
                        "event_type": "park_start",
                        "event_time": "2026-11-30T08:00:00Z",
                        "curb_space_id": "P01-001",
                        "device_id": "d1",
                        "sequence_number": 2**70,
                    }
                ]
            },
            "sequence_number",
        ),
        (
            "/api/v1/parking/events",
            {
                "events": [
                    {
                        "event_id": "late",
                        "event_type": "park_start",
                        "event_time": "9999-12-31T23:59:59-23:59",
                        "curb_space_id": "P01-001",
                        "device_id": "d1",
                        "sequence_number": 3,
                    }
                ]
            },
            "event_time",
        ),
    ],
    ids=["positions-1e20", "positions-negative", "access-9e15", "parking-seq-2**70", "parking-year-10000"],
)
def test_batch_items_out_of_range_are_rejected_by_name(app, client, path, body, field):
    before = stored(app)
    r = client.post(path, json=body, headers=H)
    assert r.status_code == 200, r.text  # a batch answers item by item
    result = r.get_json()["results"][0]
    assert result["status"] == "rejected" and result["field"].endswith(f".{field}"), result
    assert stored(app) == before


def test_not_a_number_time_is_rejected(client):
    body = '{"positions": [{"worker_id": 1, "lon": 106.71, "lat": 26.58, "at": NaN}]}'
    r = client.post("/api/v1/workers/positions", data=body, content_type="application/json", headers=H)
    assert r.get_json()["results"][0]["status"] == "rejected", r.text


@pytest.mark.parametrize(
    "path", ["/api/v1/incidents", "/api/v1/workers/positions", "/api/v1/incidents/1/verify", "/api/v1/departments"]
)
def test_json_nested_100000_deep_is_bad_json(app, client, path):
    before = stored(app)
    deep = "[" * 100_000 + "]" * 100_000
    r = client.post(path, data=deep, content_type="application/json", headers=H)
    assert r.status_code == 422 and r.get_json()["field"] == "body", r.text
    assert stored(app) == before


def test_json_nested_100000_deep_to_open311_and_dash_is_4xx(client):
    deep = '{"a":' * 100_000 + "1" + "}" * 100_000
    r = client.post("/open311/v2/requests.json", data=deep, content_type="application/json")
    assert r.status_code == 401  # parsed as no form at all: the missing api_key is the answer
    assert 400 <= client.post("/_dash-update-component", data=deep, content_type="application/json").status_code < 500


class CountingBody(io.RawIOBase):
    """A 50 MB request body made on demand, counting what the server reads of it."""

    def __init__(self, size: int):
        self.size, self.read_bytes = size, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.size - self.read_bytes)
        buffer[:n] = b" " * n
        self.read_bytes += n
        return n


@pytest.mark.parametrize("announced", [True, False], ids=["content-length", "streamed"])
def test_a_50_mb_body_is_refused_413_without_being_read_whole(app, announced):
    from werkzeug.test import EnvironBuilder

    size = 50 * 1024 * 1024
    environ = EnvironBuilder(path="/api/v1/incidents", method="POST", headers=H, content_type="application/json")
    environ = environ.get_environ()
    body = CountingBody(size)
    environ["wsgi.input"] = body
    if announced:
        environ["CONTENT_LENGTH"] = str(size)
    else:  # chunked: no length, the server reads until the stream ends
        environ.pop("CONTENT_LENGTH", None)
        environ["wsgi.input_terminated"] = True
    status: list[str] = []
    chunks = app.server.wsgi_app(environ, lambda s, _h, _e=None: status.append(s))
    answer = json.loads(b"".join(chunks))
    assert status[0].startswith("413"), (status, answer)
    assert answer["error"] and "9 MB" in answer["message"]
    assert body.read_bytes <= 10 * 1024 * 1024, body.read_bytes  # the limit (9 MB) and a buffer, not 50 MB


def test_the_documented_doors_fit_under_the_limit(client):
    # An 8 MB photo (the documented maximum) with its report passes the body limit and meets the photo check.
    photo = (io.BytesIO(b"\xff" * (8 * 1024 * 1024)), "p.jpg")
    r = client.post(
        "/api/v1/incidents",
        data={"report": json.dumps(FIRE), "photo": photo},
        content_type="multipart/form-data",
        headers=H,
    )
    assert r.status_code == 422 and r.get_json()["field"] == "photo", r.text
    rows = [{**FIRE, "lon": 106.6 + i * 1e-5, "description": "x" * 200} for i in range(5000)]
    assert len(json.dumps({"reports": rows}).encode()) < Config().max_body_mb * 1024 * 1024 / 4  # a full batch


def test_parsers_bound_their_values():
    assert whole_number("42", "n") == 42
    assert json_integer(2**63 - 1, "n") == 2**63 - 1
    assert timestamp(1_764_000_000_000, "t").year == 2025
    assert timestamp("2026-11-30T08:00:00+08:00", "t").hour == 0
    for bad in ("²", "-1", "1e3", " 1", "9" * 25, ""):
        with pytest.raises(Exception, match="whole number"):
            whole_number(bad, "n")
    for bad in (2**64, True, 1.5):
        with pytest.raises(Exception, match="whole number"):
            json_integer(bad, "n")
    for bad in (1e20, -1, float("inf"), "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", None, True):
        with pytest.raises(Exception, match="ISO 8601"):
            timestamp(bad, "t")
    with pytest.raises(ValueError):
        loads_json("[" * 100 + "]" * 100)  # deeper than 64
    assert loads_json("[" * 60 + "]" * 60)
