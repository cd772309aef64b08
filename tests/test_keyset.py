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


# -- the page encoding: orjson straight from the rows, the very bytes jsonify(_plain(...)) wrote ------

TRICKY = [  # stored in items and workers on both backends
    "",
    "plain ascii",
    "噪音扰民：楼上\n每晚\t敲打",
    'quote " and backslash \\ and slash /',
    "\\x41 \\U0001F600 \\\\x \\u00e9 written out, not escapes",
    "Latin-1: é ü × · ¿ \xa0 \xff",
    "astral: 😀 𠀋 𝄞",
    "controls: \x01\x08\x0c\x1f\x7f and DEL \x7f\x7f",
    "\u2028\u2029\ufeff\uffff",
    "\\" + "×" + "\\\\" + "😀",
]


def test_orjson_escaped_to_ascii_is_what_pythons_json_writes():
    import json
    import random

    import orjson

    from api.pages import as_python_json

    rng = random.Random(17)
    planes = [(0x20, 0x7F), (0x80, 0x100), (0x100, 0xD800), (0xE000, 0x10000), (0x10000, 0x110000), (0, 0x20)]
    samples = [*TRICKY, "NUL \x00 (PostgreSQL stores none)"]
    for _ in range(400):
        chars = []
        for _ in range(rng.randint(1, 30)):
            lo, hi = rng.choice(planes)
            chars.append(chr(rng.randrange(lo, hi)))
        samples.append("".join(chars))
    for s in samples:
        assert as_python_json(orjson.dumps(s)) == json.dumps(s).encode(), s
    assert as_python_json(orjson.dumps(samples)) == json.dumps(samples, separators=(",", ":")).encode()


def _old_page_bytes(rt, server, actor, page: dict) -> bytes:
    """The page as the route wrote it before orjson: ``_asdict`` rows, ``shown_incident``, the
    routing sentence, ``shown_to``, ``_plain`` and Flask's ``jsonify``."""
    from flask import jsonify

    from api.v1 import _plain
    from data.models import Incident
    from data.queries.incidents import _incidents_joined
    from layouts.i18n import Text
    from ops import permissions, routing
    from ops.privacy import shown_incident

    ids = [item["id"] for item in page["items"]]
    with rt.store.read() as s:
        rows = {r.id: r._asdict() for r in s.execute(_incidents_joined().where(Incident.id.in_(ids))).all()}
    items = []
    for i in ids:
        out = shown_incident(rows[i])
        out["routing"] = routing.sentence(out.get("routing"), Text(rt.config.lang))
        items.append(permissions.shown_to(actor, out))
    with server.test_request_context():
        return jsonify(_plain({"count": len(items), "items": items, "next": page["next"]})).get_data()


def _varied_items(rt) -> tuple[int, int]:
    """Items of every kind with nulls, Chinese and awkward text, past and future times, routing
    reasons (well-formed and hand-written), in two departments; (department a, the item whose
    longitude orjson writes otherwise than Python)."""
    from datetime import timedelta

    from sqlalchemy import update

    from data.models import KINDS, Incident, utcnow
    from ops import departments
    from ops.accounts import Actor

    admin = Actor(None, "admin", "admin")
    dept_a, dept_b = (
        departments.create(rt.store, admin, departments.DepartmentIn.parse({"name": name}))
        for name in ("甲局×", "乙局")
    )
    box = rt.static.bounds
    lon, lat = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    items = []
    for n, text in enumerate(TRICKY * 2):
        kind = KINDS[n % len(KINDS)]
        phone = [None, "", "1381234", "13812345678", "+86 138-1234-5678"][n % 5]
        name = [None, "张三", text, "O'Brien \\ é"][n % 4]
        items.append(
            NewIncident(
                kind,
                ["噪音扰民", "占道经营", "火情"][n % 3],
                f"{n} {text}",
                lon + n * 1e-4,
                lat - n * 1e-4,
                1 + n % 3,
                text,
                name,
                phone,
            )
        )
    ids = report(rt.store, rt.index, SYSTEM, items, DEFAULT_SLA_MINUTES)
    now = utcnow()
    said = '{"category": "噪音扰民", "department": "甲局×", "key": "routing.inside"}'
    with rt.store.transaction() as s:
        for n, iid in enumerate(ids):
            shift = timedelta(days=1 if n % 2 else -1, microseconds=123_457 * n)
            s.execute(
                update(Incident)
                .where(Incident.id == iid)
                .values(
                    status=["new", "assigned", "resolved", "closed", "reopened", "cancelled"][n % 6],
                    due_at=now + shift,
                    stage=["reported", "filed", "dispatched", "closed", "voided", "rework"][n % 6],
                    stage_at=None if n % 3 else now - shift,
                    stage_due_at=None if n % 4 == 0 else now - shift,
                    department_id=[None, dept_a, dept_b][n % 3],
                    routing=[None, said, "手工填写的理由", "{not json"][n % 4],
                    urge_note=None if n % 2 else TRICKY[(n + 3) % len(TRICKY)],
                    grid_id=None if n % 7 == 0 else Incident.grid_id,
                    rework_count=n,
                )
            )
        tiny = ids[-1]  # Python writes 5e-05, orjson 0.00005: that page must take the old path
        s.execute(update(Incident).where(Incident.id == tiny).values(lon=0.00005, lat=-0.0))
    return dept_a, tiny


def test_incident_and_worker_pages_are_byte_for_byte_what_jsonify_wrote(rt_client, monkeypatch):
    import api.v1
    from ops.accounts import actor_for_token, create_token, create_user

    rt, client = rt_client
    dept_a, tiny = _varied_items(rt)
    staff = create_token(rt.store, create_user(rt.store, "staff_keyset", "staff", department_id=dept_a))
    fallbacks: list[int] = []  # pages answered by the old encoding
    old_answer = api.v1._plain_answer
    monkeypatch.setattr(api.v1, "_plain_answer", lambda body: fallbacks.append(1) or old_answer(body))
    firsts = ("?limit=7", "?order=asc&limit=1000", "?kind=ticket,fire&limit=3", "?status=new,reopened&order=asc")
    pages = tiny_pages = 0
    for token in (TOKEN, staff):
        actor = actor_for_token(rt.store, token)
        for first in firsts:
            url, seen = f"/api/v1/incidents{first}", []
            while url:
                r = client.get(url, headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 200 and r.mimetype == "application/json"
                page = r.get_json()
                assert r.data == _old_page_bytes(rt, client.application, actor, page), url
                tiny_pages += any(item["id"] == tiny for item in page["items"])
                seen += page["items"]
                url, pages = page["next"], pages + 1
            assert seen
            if token == staff:
                assert {item["department_id"] for item in seen} == {dept_a}
    assert len(fallbacks) == tiny_pages and pages - tiny_pages >= 8  # orjson wrote every other page
    _worker_pages_are_what_jsonify_wrote(rt, client, fallbacks)


def _worker_pages_are_what_jsonify_wrote(rt, client, fallbacks: list[int]) -> None:
    """Workers too, every page by orjson (one app per backend for both: building it is most of the time)."""
    from flask import jsonify
    from sqlalchemy import update

    from api.v1 import _plain
    from data.models import Worker, utcnow
    from data.queries import find_workers
    from ops.permissions import shown_worker

    with rt.store.transaction() as s:
        s.execute(update(Worker).where(Worker.id % 3 == 0).values(on_duty=False, position_at=utcnow()))
        s.execute(update(Worker).where(Worker.id % 5 == 0).values(name=TRICKY[6] + TRICKY[7], position_at=None))
    url, old_ones = "/api/v1/workers?limit=25", len(fallbacks)
    while url:
        r = client.get(url, headers=H)
        page = r.get_json()
        ids = {i["id"] for i in page["items"]}
        expected = [shown_worker(w) for w in find_workers(rt.store) if w["id"] in ids]
        with client.application.test_request_context():
            old = jsonify(_plain({"count": len(expected), "items": expected, "next": page["next"]})).get_data()
        assert r.status_code == 200 and r.data == old
        hidden = [w for w in page["items"] if not w["on_duty"]]
        assert hidden and all(w["lon"] is None and w["position_at"] is None for w in hidden)
        url = page["next"]
    assert len(fallbacks) == old_ones


def test_items_built_column_wise_are_shown_incident_and_shown_to_item_by_item():
    from datetime import timedelta

    from api.item_page import shown_items
    from data.models import utcnow
    from data.queries.incidents import INCIDENT_COLUMNS
    from ops.accounts import Actor
    from ops.permissions import shown_to
    from ops.privacy import shown_incident

    names = tuple(c.key for c in INCIDENT_COLUMNS)
    now = utcnow()
    rows = []
    for n, text in enumerate(TRICKY * 3):
        row = dict.fromkeys(names)
        row.update(
            id=n,
            status=["new", "closed", "reopened", "resolved"][n % 4],
            due_at=now + timedelta(days=1 if n % 3 else -1),
            stage=["filed", "closed", "rework", "voided", "handled"][n % 5],
            stage_due_at=[None, now - timedelta(hours=1), now + timedelta(hours=1)][n % 3],
            reporter_name=[None, text][n % 2],
            reporter_phone=[None, "", "1381234", "13812345678"][n % 4],
            routing=[None, text, '{"key": "routing.inside"}'][n % 3],
            title=text,
        )
        rows.append(tuple(row[k] for k in names))
    said = {}
    for role, sees in (("operator", True), ("worker", False)):  # a worker may not read reporters
        actor = Actor(None, role, role)
        got = shown_items(names, rows, sees, lambda r: said.setdefault(r, f"said {r}"), now)
        want = []
        for row in rows:
            out = shown_incident(dict(zip(names, row, strict=True)))
            out["routing"] = f"said {out['routing']}"
            want.append(shown_to(actor, out))
        assert [list(item.items()) for item in got] == [sorted(item.items()) for item in want]
    assert shown_items(names, [], True, str, now) == []
