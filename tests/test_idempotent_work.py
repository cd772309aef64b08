"""Idempotency that survives failures: the key, the work and the stored answer are one transaction
(on SQLite and PostgreSQL); `/bulk/visits` honours the key; a deadlock is rerun inside the boundary."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select, text, update

from api.idempotency import run_once
from app import create_app, runtime_of
from config import DEFAULT_SLA_MINUTES, Config
from data import queries
from data.models import IdempotencyKey, Incident, ParkingEvent, ParkingSpace, Setting, User
from data.store import RETRIES, Store, retried
from ops import bulk
from ops.accounts import Actor, create_token
from ops.errors import Conflict


def operator(store: Store) -> Actor:
    with store.read() as s:
        uid = s.scalar(select(User.id).where(User.username == "operator"))
    return Actor(uid, "operator", "operator")


def visits(store: Store, rows: int, tag: str) -> str:
    idx = queries.load_grid_index(store)
    lines = ["lon,lat,note"]
    for i in range(rows):
        p = idx.polygons[i % len(idx.polygons)].representative_point()
        lines.append(f"{p.x:.7f},{p.y:.7f},{tag}-{i}")
    return "\n".join(lines) + "\n"


def stored(store: Store, tag: str) -> int:
    with store.read() as s:
        return int(s.scalar(select(func.count(Incident.id)).where(Incident.description.like(f"{tag}-%"))))


def keys(store: Store, key: str) -> int:
    with store.read() as s:
        return int(s.scalar(select(func.count(IdempotencyKey.id)).where(IdempotencyKey.key == key)))


def test_a_crash_after_the_work_commits_nothing_and_the_retry_runs_once(city: Store) -> None:
    """The old claim committed first: the work committed on its own, then the crash freed the key, and
    the retry stored it all again."""
    actor, body = operator(city), visits(city, 40, "crash")

    def work_then_crash() -> tuple[dict, int]:
        bulk.push_visits(city, queries.load_grid_index(city), actor, body, DEFAULT_SLA_MINUTES)
        raise RuntimeError("process lost before the answer was stored")

    with pytest.raises(RuntimeError):
        run_once(city, actor, "k-crash", "fp", work_then_crash)
    assert stored(city, "crash") == 0 and keys(city, "k-crash") == 0

    def work() -> tuple[dict, int]:
        result = bulk.push_visits(city, queries.load_grid_index(city), actor, body, DEFAULT_SLA_MINUTES)
        return {"created": result.created}, 200

    assert run_once(city, actor, "k-crash", "fp", work) == ({"created": 40}, 200)
    assert run_once(city, actor, "k-crash", "fp", work) == ({"created": 40}, 200)  # replayed, not run
    assert stored(city, "crash") == 40 and keys(city, "k-crash") == 1


def test_a_rule_violation_undoes_its_writes_and_is_the_replayed_answer(city: Store) -> None:
    actor, body = operator(city), visits(city, 5, "rule")
    runs = []

    def work() -> tuple[dict, int]:
        runs.append(1)
        bulk.push_visits(city, queries.load_grid_index(city), actor, body, DEFAULT_SLA_MINUTES)
        raise Conflict("error.idempotency_key_running")

    first = run_once(city, actor, "k-rule", "fp", work)
    assert first[1] == 409 and run_once(city, actor, "k-rule", "fp", work) == first
    assert runs == [1] and stored(city, "rule") == 0 and keys(city, "k-rule") == 1


@pytest.fixture
def api(tmp_path: Path) -> tuple[FlaskClient, dict[str, str], Store]:
    app = create_app(Config(database_url=f"sqlite:///{tmp_path / 'd.db'}", grid_count=60, parking_spaces=60))
    rt = runtime_of(app)
    token = create_token(rt.store, operator(rt.store).user_id)
    return app.server.test_client(), {"Authorization": f"Bearer {token}"}, rt.store


def test_bulk_visits_sent_twice_with_one_key_stores_once(api: tuple[FlaskClient, dict[str, str], Store]) -> None:
    client, auth, store = api
    body = visits(store, 2000, "twice")
    headers = {**auth, "Idempotency-Key": "push-1"}
    first = client.post("/api/v1/bulk/visits", data=body, content_type="text/csv", headers=headers)
    again = client.post("/api/v1/bulk/visits", data=body, content_type="text/csv", headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.get_json() == again.get_json() and first.get_json()["created"] == 2000
    assert stored(store, "twice") == 2000
    other = client.post("/api/v1/bulk/visits", data=visits(store, 3, "x"), content_type="text/csv", headers=headers)
    assert other.status_code == 422 and other.get_json()["field"] == "Idempotency-Key"


def test_a_deadlock_is_rerun_inside_the_transaction_boundary(store: Store) -> None:
    """Two transactions lock two rows in opposite orders: PostgreSQL kills one, which reruns and wins."""
    if store.kind != "postgresql":
        pytest.skip("SQLite has one writer at a time: no deadlock to rerun")
    with store.transaction() as s:
        s.add_all([Setting(key="lock-a", value="0"), Setting(key="lock-b", value="0")])
    runs: list[str] = []
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    @retried
    def cross(first: str, second: str) -> None:
        with store.transaction() as s:
            runs.append(first)
            s.execute(text("SET LOCAL deadlock_timeout = '200ms'"))
            s.execute(update(Setting).where(Setting.key == first).values(value=Setting.value + "1"))
            if len(runs) <= 2:  # only the first round meets in the middle
                barrier.wait(10)
            s.execute(update(Setting).where(Setting.key == second).values(value=Setting.value + "1"))

    def run(first: str, second: str) -> None:
        try:
            cross(first, second)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=pair) for pair in (("lock-a", "lock-b"), ("lock-b", "lock-a"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert 3 <= len(runs) <= 2 * RETRIES  # one of the two ran again
    with store.read() as s:
        values = dict(s.execute(select(Setting.key, Setting.value).where(Setting.key.like("lock-%"))).all())
    assert values == {"lock-a": "011", "lock-b": "011"}  # each committed once: no lost or doubled write


def test_sensor_batches_crossing_the_same_spaces_never_deadlock(city: Store) -> None:
    """Two gateways post batches over the same spaces whose sequence order runs opposite ways (the batch is
    applied in sequence order), beside the simulator's own changes: every event is stored, none refused."""
    from ops.accounts import Actor
    from ops.field import SpaceChange, update_parking
    from ops.ingest import ingest_parking

    sensor = Actor(user_id=None, name="gateway", role="operator")
    with city.read() as s:
        spaces = s.execute(select(ParkingSpace.id, ParkingSpace.code).order_by(ParkingSpace.id).limit(12)).all()
    errors: list[BaseException] = []
    rounds = 25

    def gateway(k: int) -> None:
        order = spaces if k == 0 else spaces[::-1]
        try:
            for r in range(rounds):
                base = (r + 1) * 1000
                events = [
                    {
                        "event_id": f"gw{k}-{r}-{j}",
                        "event_type": "park_start" if (r + j) % 2 else "park_end",
                        "event_time": "2026-12-01T08:00:00Z",
                        "curb_space_id": sp.code,
                        "device_id": f"gw{k}",
                        "sequence_number": base + j * 2 + k,
                    }
                    for j, sp in enumerate(order)
                ]
                answer = ingest_parking(city, sensor, {"events": events})
                assert all(a["status"] in ("applied", "stale") for a in answer), answer
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    def simulator() -> None:
        try:
            for r in range(rounds):
                changes = [
                    SpaceChange(sp.id, bool(r % 2), (r + 1) * 1000 + 500 - j) for j, sp in enumerate(spaces[::-1])
                ]
                update_parking(city, sensor, changes)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=gateway, args=(k,)) for k in (0, 1)] + [threading.Thread(target=simulator)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    with city.read() as s:
        stored = s.scalar(select(func.count()).select_from(ParkingEvent).where(ParkingEvent.event_id.like("gw%")))
    assert stored == 2 * rounds * len(spaces)
