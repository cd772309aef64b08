"""Keyset pagination of the API lists: every item exactly once, page by page, while items arrive."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from app import create_app, runtime_of
from config import DEFAULT_SLA_MINUTES, Config
from ops.accounts import SYSTEM
from ops.incidents import NewIncident, report
from tests.conftest import need_server, reset_postgres

TOKEN = "keyset-test-token"
H = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(params=["sqlite", "postgresql"])
def rt_client(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'k.db'}"
    else:
        url = need_server("PostgreSQL", "ONEMAP_TEST_DATABASE_URL")
        reset_postgres(url)
    key = "keyset-test-signing-key-0123456789"  # a shared database needs a configured key
    app = create_app(Config(database_url=url, grid_count=60, parking_spaces=60, bootstrap_token=TOKEN, secret_key=key))
    rt = runtime_of(app)
    yield rt, app.server.test_client()
    rt.store.dispose()


def add_items(rt, n: int, kind: str = "ticket") -> list[int]:
    centre = rt.static.bounds
    lon, lat = (centre[0] + centre[2]) / 2, (centre[1] + centre[3]) / 2
    items = [NewIncident(kind, "噪音扰民", f"item {i}", lon, lat) for i in range(n)]
    return report(rt.store, rt.index, SYSTEM, items, DEFAULT_SLA_MINUTES)


def read_all(client, first: str, between=lambda: None, pages_max: int = 100) -> tuple[list[int], int]:
    """Follow ``next`` from ``first`` to the end; ``between`` runs after every page. (ids, pages)."""
    ids: list[int] = []
    url, pages = first, 0
    while url is not None:
        r = client.get(url, headers=H)
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        assert body["count"] == len(body["items"])
        assert r.headers.get("Link") == (f'<{body["next"]}>; rel="next"' if body["next"] else None)
        ids += [item["id"] for item in body["items"]]
        url, pages = body["next"], pages + 1
        assert pages <= pages_max, "the pages never end"
        between()
    return ids, pages


def test_reading_2500_items_page_by_page_gets_each_once_while_items_arrive(rt_client):
    rt, client = rt_client
    before = set(add_items(rt, 2500))
    arrived: list[int] = []

    def insert() -> None:
        arrived.extend(add_items(rt, 7))

    # Newest first: what existed when the read began comes exactly once; what arrives later is newer.
    ids, pages = read_all(client, "/api/v1/incidents?kind=ticket&limit=300", insert)
    assert len(ids) == len(set(ids)) == 2500 and set(ids) == before
    assert ids == sorted(ids, reverse=True) and pages == 9
    # Oldest first, as a client keeping up does: the items that arrive during the read come too.
    arrived.clear()
    ids, _ = read_all(client, "/api/v1/incidents?kind=ticket&limit=1000&order=asc", insert)
    assert len(ids) == len(set(ids)) and ids == sorted(ids)
    assert before <= set(ids) and set(arrived[:-7]) <= set(ids)  # the last batch came after the last page


def test_next_keeps_the_filters_and_the_limit(rt_client):
    rt, client = rt_client
    add_items(rt, 5, kind="fire")
    add_items(rt, 5, kind="ticket")
    body = client.get("/api/v1/incidents?kind=fire&limit=2", headers=H).get_json()
    link = urlsplit(body["next"])
    assert link.path == "/api/v1/incidents" and not link.netloc
    assert parse_qs(link.query) == {"kind": ["fire"], "limit": ["2"], "after": [str(body["items"][-1]["id"])]}
    fires = {i["id"] for i in client.get("/api/v1/incidents?kind=fire", headers=H).get_json()["items"]}
    ids, _ = read_all(client, "/api/v1/incidents?kind=fire&limit=2")
    assert len(ids) == 5 and set(ids) == fires
    last = client.get("/api/v1/incidents?kind=fire&limit=5", headers=H)
    assert last.get_json()["next"] is None and "Link" not in last.headers


@pytest.mark.parametrize("after", ["-1", "abc", "1.5", str(2**63), ""])
@pytest.mark.parametrize(
    "path", ["/api/v1/incidents", "/api/v1/workers", "/api/v1/warnings", "/api/v1/places", "/api/v1/alerts"]
)
def test_a_bad_after_is_400(app_client, path, after):
    r = app_client.get(f"{path}?after={after}", headers=H)
    assert r.status_code == 400 and r.get_json()["field"] == "after", r.get_json()


def test_a_bad_after_is_400_on_open311(app_client):
    r = app_client.get("/open311/v2/requests.json?after=x")
    assert r.status_code == 400 and r.get_json()[0]["code"] == 400


@pytest.fixture(scope="module")
def app_client(tmp_path_factory):
    db = tmp_path_factory.mktemp("keyset") / "a.db"  # refusals change nothing: one app serves them all
    app = create_app(Config(database_url=f"sqlite:///{db}", grid_count=60, parking_spaces=60, bootstrap_token=TOKEN))
    yield app.server.test_client()
    runtime_of(app).store.dispose()


def test_workers_departments_and_open311_page_too(rt_client):
    rt, client = rt_client
    everyone = client.get("/api/v1/workers", headers=H).get_json()
    assert everyone["next"] is None and everyone["count"] >= 60  # a small city fits on the first page
    ids, pages = read_all(client, "/api/v1/workers?limit=7")
    assert ids == [w["id"] for w in everyone["items"]] and pages == -(-len(ids) // 7)
    on_duty, _ = read_all(client, "/api/v1/workers?on_duty=true&limit=5")
    assert on_duty == [w["id"] for w in everyone["items"] if w["on_duty"]]
    depts = client.get("/api/v1/departments", headers=H).get_json()["items"]
    ids, _ = read_all(client, "/api/v1/departments?limit=25&order=desc")
    assert ids == sorted((d["id"] for d in depts), reverse=True)
    made = add_items(rt, 25)
    seen: list[str] = []
    url = "/open311/v2/requests.json?limit=10"
    while url:
        r = client.get(url)
        assert r.status_code == 200
        seen += [req["service_request_id"] for req in r.get_json()]
        link = r.headers.get("Link")
        url = link[1 : link.index(">")] if link else None
    assert [int(i) for i in seen] == sorted(made, reverse=True)
