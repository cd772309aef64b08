"""The fault suite: real PostgreSQL, Redis and two app processes of the suite's own, killed and
restarted under load. After each scenario it counts sent, acknowledged and stored (from the
database) and asserts: nothing lost, nothing duplicated, no 500, every retry answered with the
original outcome.

The load is bulk visit pushes (`/api/v1/bulk/visits`, each row one stored visit with a unique note),
each sent with an Idempotency-Key and retried with the same key until it is answered.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from sqlalchemy import func, select, text

from data.models import ACTIVE_TASK_STATUSES, IdempotencyKey, Incident, Task, Worker
from data.queries import load_grid_index
from tests.faults.conftest import TOKEN, App, Cluster

pytestmark = pytest.mark.faults
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SCENARIO_S = 90  # each scenario's own bound, far above what it needs on a loaded machine


@dataclass
class Tally:
    """What the clients saw: every status, the first answer of each key, and its rows."""

    statuses: Counter = field(default_factory=Counter)
    acked: dict[str, dict[str, Any]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)  # key -> rows sent
    mismatches: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def saw(self, status: int | str) -> None:
        with self.lock:
            self.statuses[status] += 1


_POINTS: dict[int, list[Any]] = {}  # per private cluster: a point inside each grid (read before any outage)


def visits_csv(cluster: Cluster, key: str, rows: int) -> str:
    if cluster.pg.port not in _POINTS:
        _POINTS[cluster.pg.port] = [p.representative_point() for p in load_grid_index(cluster.store).polygons]
    points = _POINTS[cluster.pg.port]
    lines = ["lon,lat,note"]
    lines += [f"{points[i % len(points)].x:.6f},{points[i % len(points)].y:.6f},{key}-{i}" for i in range(rows)]
    return "\n".join(lines) + "\n"


def push(urls: list[str], key: str, body: str, tally: Tally, deadline: float, timeout: float = 60) -> dict | None:
    """Send one push with ``key`` (to the apps in turn) until it is answered; 503 and a lost connection retry."""
    tally.rows[key] = body.count("\n") - 1
    attempt = 0
    while time.monotonic() < deadline:
        url = urls[attempt % len(urls)]
        attempt += 1
        try:
            r = requests.post(
                f"{url}/api/v1/bulk/visits",
                data=body.encode(),
                headers={**AUTH, "Idempotency-Key": key, "Content-Type": "text/csv"},
                timeout=timeout,
            )
        except requests.RequestException:
            tally.saw("connection")
            time.sleep(0.2)
            continue
        tally.saw(r.status_code)
        if r.status_code == 503:
            assert r.headers.get("Retry-After"), "503 without Retry-After"
            assert r.json()["error"] in ("unavailable", "busy")
            time.sleep(0.3)
            continue
        answer = r.json()
        with tally.lock:
            first = tally.acked.setdefault(key, answer)
            if first != answer:
                tally.mismatches.append(f"{key}: {first} then {answer}")
        return answer
    pytest.fail(f"push {key} never answered; saw {dict(tally.statuses)}")


def stored_notes(cluster: Cluster, keys: list[str]) -> Counter:
    """How many stored visits carry each note of these pushes (each note must be there exactly once)."""
    with cluster.store.read() as s:
        rows = s.execute(
            select(Incident.description, func.count())
            .where(Incident.kind == "visit", Incident.description.like(f"{keys[0].split('.')[0]}.%"))
            .group_by(Incident.description)
        ).all()
    return Counter({d: n for d, n in rows})


def assert_exact(cluster: Cluster, tally: Tally, run: str) -> None:
    """0 lost, 0 duplicated, 0 × 500, every answer and a last retry of each key the original outcome."""
    keys = sorted(tally.rows)
    assert keys and all(k.startswith(run + ".") for k in keys)
    assert tally.statuses[500] == 0, (dict(tally.statuses), cluster.logs_text())
    assert not tally.mismatches
    assert set(tally.acked) == set(keys), "a push was never acknowledged"
    assert all(tally.acked[k]["created"] == tally.rows[k] for k in keys), tally.acked
    notes = stored_notes(cluster, keys)
    expected = {f"{k}-{i}" for k in keys for i in range(tally.rows[k])}
    assert set(notes) == expected, f"lost {len(expected - set(notes))}, unexpected {len(set(notes) - expected)}"
    assert max(notes.values()) == 1, "a visit was stored twice"
    urls = [a.url for a in cluster.apps]
    again = Tally()
    for i, key in enumerate(keys):  # a late retry of every key replays its answer and stores nothing new
        body = visits_csv(cluster, key, tally.rows[key])
        assert (
            push(urls[i % len(urls) :] + urls[: i % len(urls)], key, body, again, time.monotonic() + 60)
            == (tally.acked[key])
        )
    assert stored_notes(cluster, keys) == notes


def steady_load(cluster: Cluster, run: str, pushes: int, rows: int, tally: Tally, every_s: float = 0.1) -> None:
    deadline = time.monotonic() + SCENARIO_S
    for i in range(pushes):
        key = f"{run}.{i:03d}"
        push(
            [a.url for a in cluster.apps[i % 2 :] + cluster.apps[: i % 2]],
            key,
            visits_csv(cluster, key, rows),
            tally,
            deadline,
        )
        time.sleep(every_s)


def run_id() -> str:
    return "f" + uuid.uuid4().hex[:10]


def test_redis_killed_mid_load(cluster: Cluster) -> None:
    run, tally = run_id(), Tally()
    loader = threading.Thread(target=steady_load, args=(cluster, run, 30, 3, tally))
    loader.start()
    time.sleep(1.0)
    cluster.redis.kill()
    time.sleep(3.0)
    for app in cluster.apps:  # the store still answers: health says degraded, still 200
        body = requests.get(f"{app.url}/api/v1/health", timeout=10).json()
        assert body["store_ok"] and not body["bus_ok"]
    cluster.redis.start()
    loader.join(SCENARIO_S)
    assert not loader.is_alive()
    assert_exact(cluster, tally, run)
    deadline = time.monotonic() + 30
    for app in cluster.apps:  # recovered without a restart of the app
        while requests.get(f"{app.url}/api/v1/health", timeout=10).json()["status"] != "ok":
            assert time.monotonic() < deadline, "bus never healthy again"
            time.sleep(0.3)


def test_postgres_restarted_mid_load(cluster: Cluster) -> None:
    run, tally = run_id(), Tally()
    visits_csv(cluster, run, 1)
    for app in cluster.apps:  # a screen that polled before the outage
        assert requests.get(f"{app.url}/api/v1/cursor", headers=AUTH, timeout=10).status_code == 200
    loader = threading.Thread(target=steady_load, args=(cluster, run, 12, 3, tally))  # to both apps in turn
    loader.start()
    time.sleep(1.0)
    cluster.pg.stop()
    try:
        for app in cluster.apps:
            r = requests.get(f"{app.url}/api/v1/cursor", headers=AUTH, timeout=10)
            assert r.status_code == 200 and r.json()["cursor"] > 0, r.text  # from Redis, the store being down
            r = requests.get(f"{app.url}/api/v1/incidents?limit=1", headers=AUTH, timeout=10)
            assert r.status_code == 503 and r.headers["Retry-After"] and r.json()["error"] == "unavailable", r.text
        time.sleep(2.0)
    finally:
        cluster.pg.start()
    loader.join(SCENARIO_S)
    assert not loader.is_alive()
    assert tally.statuses[503] + tally.statuses["connection"] > 0, "the load never met the outage"
    assert_exact(cluster, tally, run)


def _writing_transactions(cluster: Cluster) -> int:
    with cluster.store.read() as s:
        return int(
            s.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
                )
            )
        )


def _answer_of(cluster: Cluster, key: str) -> int | None:
    with cluster.store.read() as s:
        return s.scalar(select(IdempotencyKey.status_code).where(IdempotencyKey.key == key))


def _send_in_thread(app: App, key: str, body: str, out: dict[str, Any]) -> threading.Thread:
    def send() -> None:
        try:
            r = requests.post(
                f"{app.url}/api/v1/bulk/visits",
                data=body.encode(),
                headers={**AUTH, "Idempotency-Key": key, "Content-Type": "text/csv"},
                timeout=120,
            )
            out["status"], out["body"] = r.status_code, r.json()
        except requests.RequestException as exc:
            out["error"] = repr(exc)

    t = threading.Thread(target=send)
    t.start()
    return t


@pytest.mark.parametrize("when", ["mid-batch", "just-after-commit"])
def test_app_killed_then_retry_with_the_same_key(cluster: Cluster, when: str) -> None:
    run, tally = run_id(), Tally()
    if len(cluster.apps) < 2:
        cluster.start(2 - len(cluster.apps))
    victim, survivor = cluster.apps[1], cluster.apps[0]
    key, rows = f"{run}.000", 4000
    body = visits_csv(cluster, key, rows)
    out: dict[str, Any] = {}
    sender = _send_in_thread(victim, key, body, out)
    deadline = time.monotonic() + SCENARIO_S
    if when == "mid-batch":
        while _writing_transactions(cluster) == 0:  # the push is inside its transaction now
            assert time.monotonic() < deadline and not out, f"push never seen writing: {out}"
            time.sleep(0.01)
    else:
        while _answer_of(cluster, key) is None:  # committed: the key has its answer
            assert time.monotonic() < deadline and "error" not in out, f"push never committed: {out}"
            time.sleep(0.005)
    cluster.kill9(victim)
    sender.join(30)
    if when == "mid-batch":
        assert _answer_of(cluster, key) is None and not stored_notes(cluster, [key]), "a killed push left rows"
    if "status" in out:  # the victim answered before it died: that is the original outcome
        tally.acked[key] = out["body"]
    push([survivor.url], key, body, tally, deadline)
    assert_exact(cluster, tally, run)


def test_worker_actions_race_reassign_and_cancel(cluster: Cluster) -> None:
    """Workers accept and resolve while operators reassign and cancel the same items, on both apps."""
    run, tally = run_id(), Tally()
    if len(cluster.apps) < 2:
        cluster.start(2 - len(cluster.apps))
    items = 24
    push([cluster.apps[0].url], f"{run}.000", visits_csv(cluster, f"{run}.000", items), tally, time.monotonic() + 60)
    with cluster.store.read() as s:
        tasks = s.execute(
            select(Task.id, Task.incident_id, Task.worker_id, Incident.grid_id)
            .join(Incident, Incident.id == Task.incident_id)
            .where(Incident.description.like(f"{run}.000-%"))
        ).all()
        others = dict(s.execute(select(Worker.grid_id, Worker.id).order_by(Worker.id)).all())
    assert len(tasks) == items
    statuses: Counter = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(3 * items)

    def call(url: str, path: str, body: dict[str, Any]) -> None:
        barrier.wait(30)
        try:
            r = requests.post(f"{url}/api/v1{path}", json=body, headers=AUTH, timeout=60)
            code: int | str = r.status_code
            if code == 500:
                code = f"500 {r.text[:300]}"
        except requests.RequestException as exc:
            code = f"connection {exc!r}"
        with lock:
            statuses[code] += 1

    a, b = cluster.apps[0].url, cluster.apps[1].url
    threads = []
    for n, (task_id, incident_id, worker_id, grid_id) in enumerate(tasks):
        other = others[grid_id] if others[grid_id] != worker_id else worker_id + 1
        threads.append(threading.Thread(target=call, args=(a, f"/tasks/{task_id}/accept", {})))
        threads.append(threading.Thread(target=call, args=(a if n % 2 else b, f"/tasks/{task_id}/resolve", {})))
        move = ("/incidents/{}/reassign", {"worker_id": other}) if n % 2 else ("/incidents/{}/cancel", {"reason": "x"})
        threads.append(threading.Thread(target=call, args=(b, move[0].format(incident_id), move[1])))
    for t in threads:
        t.start()
    for t in threads:
        t.join(SCENARIO_S)
    assert set(statuses) <= {200, 409}, statuses
    with cluster.store.read() as s:
        for _task_id, incident_id, _worker_id, _grid_id in tasks:
            item = s.get(Incident, incident_id)
            active = s.execute(
                select(Task.worker_id).where(Task.incident_id == incident_id, Task.status.in_(ACTIVE_TASK_STATUSES))
            ).all()
            if item.status in ("assigned", "accepted", "on_site"):
                assert [w for (w,) in active] == [item.assigned_worker_id], (item.status, active)
            else:
                assert not active, (item.status, active)
