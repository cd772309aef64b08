"""Conflicting hand-offs on one case from two app processes sharing PostgreSQL and Redis.

Every round puts a fresh case at one stage and fires every move that is legal from it, each through
both processes at once: exactly one wins, every other is 409 naming the stage the winner left,
none is a 5xx, and the store holds what the winner answered with exactly one case event. A
department that does not own a case can neither read it nor move it, through either process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from api.v1 import CASE_ACTIONS, CASE_FIELDS
from config import DEFAULT_SLA_MINUTES
from data.bus import RedisBus
from data.models import Event, Incident
from data.queries import load_grid_index
from data.store import Store
from ops import departments
from ops.accounts import SYSTEM, Actor, create_token, create_user
from ops.cases import Cases, default_deadlines
from ops.errors import Conflict, Forbidden
from ops.incidents import NewIncident, report
from ops.routing import Router
from tests.conftest import need_server, reset_postgres
from tests.servers import running_app

ADMIN = Actor(None, "admin", "admin")
ROUNDS = 21  # seven of each starting stage
TIMEOUT_S = 60


@dataclass
class World:
    urls: tuple[str, str]
    store: Store
    cases: Cases
    ids: dict[str, int]  # department ids: parent, a (under parent), b
    actors: dict[str, Actor]  # staff_a, staff_b, dispatcher, supervisor
    tokens: dict[str, str]
    spots: list[tuple[float, float]]  # grid centres, one per case, so no report joins another


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    db = need_server("PostgreSQL", "ONEMAP_TEST_DATABASE_URL")
    redis = need_server("Redis", "ONEMAP_TEST_REDIS_URL")
    reset_postgres(db)
    bus = RedisBus(redis)
    bus._redis.flushdb()
    logs = tmp_path_factory.mktemp("race-apps")
    env = {
        "ONEMAP_DATABASE_URL": db,
        "ONEMAP_REDIS_URL": redis,
        "ONEMAP_SIMULATE": "0",
        "ONEMAP_GRID_COUNT": "60",
        "ONEMAP_HISTORY_DAYS": "0",
    }
    with running_app(logs / "a.log", **env) as a, running_app(logs / "b.log", **env) as b:
        store = Store(db, bus)
        parent = departments.create(store, ADMIN, departments.DepartmentIn.parse({"name": "市城管局"}))
        ids = {
            "parent": parent,
            "a": departments.create(
                store, ADMIN, departments.DepartmentIn.parse({"name": "甲区城管局", "parent_id": parent})
            ),
            "b": departments.create(store, ADMIN, departments.DepartmentIn.parse({"name": "市市场监管局"})),
        }
        actors, tokens = {}, {}
        for name, role, department in [
            ("staff_a", "staff", ids["a"]),
            ("staff_b", "staff", ids["b"]),
            ("race_dispatcher", "operator", None),
            ("race_supervisor", "supervisor", None),
        ]:
            uid = create_user(store, name, role, department_id=department)
            actors[name] = Actor(uid, name, role, department)
            tokens[name] = create_token(store, uid, "race")
        index = load_grid_index(store)
        spots = [(p.x, p.y) for p in (poly.representative_point() for poly in index.polygons)]
        yield World((a, b), store, Cases(store, Router(store), default_deadlines()), ids, actors, tokens, spots)
        store.dispose()


def new_case(w: World, n: int) -> int:
    lon, lat = w.spots[n % len(w.spots)]
    item = NewIncident("ticket", "占道经营", f"race {n}", lon, lat, source="hotline")
    (iid,) = report(w.store, load_grid_index(w.store), SYSTEM, [item], DEFAULT_SLA_MINUTES)
    dispatcher = w.actors["race_dispatcher"]
    with w.store.read() as s:
        stage = s.scalar(select(Incident.stage).where(Incident.id == iid))
    if stage != "filed":  # a report that joined an older case's incident would not be a fresh case
        pytest.fail(f"case {iid} starts at {stage}")
    w.cases.act(dispatcher, iid, "dispatch", {"department_id": w.ids["a"]})
    return iid


def case_row(w: World, iid: int) -> tuple[Any, ...]:
    with w.store.read() as s:
        return tuple(s.execute(select(Incident.__table__).where(Incident.id == iid)).one())


def case_events(w: World, iid: int) -> list[str]:
    with w.store.read() as s:
        return list(
            s.scalars(
                select(Event.kind)
                .where(Event.entity == "incident", Event.entity_id == iid, Event.kind.like("case.%"))
                .order_by(Event.id)
            )
        )


def incident_events(w: World, iid: int) -> int:
    with w.store.read() as s:
        return s.scalar(select(func.count(Event.id)).where(Event.entity == "incident", Event.entity_id == iid))


def post(url: str, token: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
    return requests.post(
        f"{url}{path}", json=body or {}, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT_S
    )


def fire_together(calls: list[tuple[str, str, str, dict[str, Any]]]) -> list[requests.Response]:
    """Send every (url, token, path, body) at the same moment, one thread each, past one barrier."""
    barrier = threading.Barrier(len(calls))

    def one(call: tuple[str, str, str, dict[str, Any]]) -> requests.Response:
        barrier.wait(TIMEOUT_S)
        return post(*call)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(one, calls))


def contenders(w: World, start: str) -> list[tuple[str, str, dict[str, Any], str]]:
    """The moves legal from ``start`` that exclude one another: (actor, action, body, event kind)."""
    if start == "dispatched":  # (signing is not among them: a signed case may still be returned)
        return [
            ("staff_a", "return", {"reason": "不属本部门"}, "case.return"),
            ("staff_a", "escalate", {"reason": "需市局协调"}, "case.escalate"),
            ("staff_a", "hold", {"reason": "等待产权确认"}, "case.hold"),
        ]
    if start == "signed":
        return [
            ("staff_a", "return", {"reason": "不属本部门"}, "case.return"),
            ("staff_a", "handled", {"note": "已清理"}, "case.handled"),
            ("staff_a", "escalate", {"reason": "需市局协调"}, "case.escalate"),
        ]
    # returned: the dispatchers send it on (转派) to one body or another, or a supervisor voids it
    return [
        ("race_dispatcher", "dispatch", {"department_id": w.ids["a"]}, "case.redispatch"),
        ("race_dispatcher", "dispatch", {"department_id": w.ids["b"]}, "case.redispatch"),
        ("race_supervisor", "void", {"reason": "重复上报"}, "case.void"),
    ]


def put_at(w: World, iid: int, start: str) -> None:
    staff = w.actors["staff_a"]
    if start in ("signed", "returned"):
        w.cases.act(staff, iid, "sign")
    if start == "returned":
        w.cases.act(staff, iid, "return", {"reason": "不属本部门"})


def test_conflicting_hand_offs_from_two_processes_have_exactly_one_winner(world):
    w = world
    for n in range(ROUNDS):
        start = ("dispatched", "signed", "returned")[n % 3]
        iid = new_case(w, n)
        put_at(w, iid, start)
        before = case_events(w, iid)
        moves = contenders(w, start)
        calls = [
            (url, w.tokens[actor], f"/api/v1/incidents/{iid}/{action}", body)
            for url in w.urls
            for actor, action, body, _kind in moves
        ]
        answers = fire_together(calls)
        statuses = [r.status_code for r in answers]
        context = (
            n,
            start,
            [(c[2].rsplit("/", 1)[1], r.status_code, r.text[-160:]) for c, r in zip(calls, answers, strict=True)],
        )
        assert all(code < 500 for code in statuses), context  # no deadlock, no serialization failure
        assert statuses.count(200) == 1 and statuses.count(409) == len(calls) - 1, context
        won = statuses.index(200)
        moved = answers[won].json()["moved"]
        stage, owner = stage_and_owner(w, iid)
        assert (stage, owner) == (moved["stage"], moved["department_id"]), context
        for answer in answers:
            if answer.status_code == 409:
                body = answer.json()
                assert body["error"] == "conflict" and body["stage"] == stage, (context, body)
                assert body["department_id"] == owner
        added = case_events(w, iid)[len(before) :]
        assert added == [moves[won % len(moves)][3]], context


def stage_and_owner(w: World, iid: int) -> tuple[str, int | None]:
    with w.store.read() as s:
        row = s.execute(select(Incident.stage, Incident.department_id).where(Incident.id == iid)).one()
    return row.stage, row.department_id


def test_another_department_can_neither_read_nor_move_the_case_through_either_process(world):
    w = world
    iid = new_case(w, ROUNDS + 1)
    w.cases.act(w.actors["staff_a"], iid, "sign")
    before_row, before_events = case_row(w, iid), incident_events(w, iid)
    token = w.tokens["staff_b"]
    body = {"reason": "x", "note": "x", "passed": True, "department_id": w.ids["b"], "until": "2099-01-01T00:00:00Z"}
    for url in w.urls:
        read = requests.get(f"{url}/api/v1/incidents/{iid}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert read.status_code == 403, read.text
        listed = requests.get(f"{url}/api/v1/incidents", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert iid not in [item["id"] for item in listed.json()["items"]]
        for action in CASE_ACTIONS:
            fields = {k: v for k, v in body.items() if k in CASE_FIELDS[action]}
            answer = post(url, token, f"/api/v1/incidents/{iid}/{action}", fields)
            assert answer.status_code == 403, (url, action, answer.text)
            assert answer.json()["error"] == "forbidden"
    assert case_row(w, iid) == before_row
    assert incident_events(w, iid) == before_events


def test_a_late_hand_off_from_the_department_that_just_handed_the_case_on_is_a_conflict(world):
    w = world
    staff = w.actors["staff_a"]
    iid = new_case(w, ROUNDS + 2)
    w.cases.act(staff, iid, "sign")
    w.cases.act(staff, iid, "escalate", {"reason": "需市局协调"})
    # Legal from the stage the case left (signed): this move lost a race with the escalation.
    with pytest.raises(Conflict) as lost:
        w.cases.act(staff, iid, "handled", {"note": "已清理"})
    assert lost.value.detail == {"stage": "dispatched", "department_id": w.ids["parent"]}
    # Not legal from there: the parent's case is simply not the branch's to move.
    with pytest.raises(Forbidden):
        w.cases.act(staff, iid, "sign")
    with pytest.raises(Forbidden):
        w.cases.act(w.actors["staff_b"], iid, "return", {"reason": "x"})
