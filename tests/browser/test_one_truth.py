"""One truth across two app processes sharing PostgreSQL and Redis: an operator assigns in browser A
(served by process A), the worker sees it in browser B (process B) and accepts, and A shows the
acceptance. Each step's time is printed; the test asserts only that it happens within a bound no working
system misses (speed goals belong to bench/, not to timed tests: on this 2-core machine a step took
1.15–2.37 s, mostly the operator's click queued behind callbacks the panel's own drawing fires).
With Redis stopped, screens converge from the store within 10 s and say that live updates are degraded."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from config import DEFAULT_SLA_MINUTES
from data.bus import RedisBus
from data.models import Task, Worker
from data.queries import load_grid_index
from data.store import Store
from ops.accounts import SYSTEM
from ops.incidents import NewIncident, report
from ops.lifecycle import assign
from tests.browser.conftest import log_in
from tests.conftest import ROOT, need_server, reset_postgres
from tests.servers import free_port, running_app

pytestmark = pytest.mark.browser
ARTIFACTS = ROOT / "tests" / "artifacts"
STEP_S = 8.0  # a correctness bound, not the figure (see the docstring)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory) -> Iterator[tuple[str, subprocess.Popen]]:
    """A Redis of this test's own, so the test can stop it."""
    binary = shutil.which("redis-server") or need_server("redis-server binary", "ONEMAP_TEST_REDIS_BINARY")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    bus = RedisBus(url)
    for _ in range(50):
        if bus.healthy():
            break
        time.sleep(0.1)
    yield url, proc
    proc.kill()
    proc.wait()


@pytest.fixture(scope="module")
def two_apps(tmp_path_factory, redis_server) -> Iterator[tuple[str, str, Store]]:
    db = need_server("PostgreSQL", "ONEMAP_TEST_DATABASE_URL")
    reset_postgres(db)
    logs = tmp_path_factory.mktemp("apps")
    env = {
        "ONEMAP_DATABASE_URL": db,
        "ONEMAP_REDIS_URL": redis_server[0],
        "ONEMAP_SIMULATE": "0",
        "ONEMAP_GRID_COUNT": "200",
        "ONEMAP_POLL_MS": "500",
    }
    with running_app(logs / "a.log", **env) as a, running_app(logs / "b.log", **env) as b:
        store = Store(db, RedisBus(redis_server[0]))
        yield a, b, store
        store.dispose()


def new_fire_for_worker_1(store: Store) -> int:
    index = load_grid_index(store)
    with store.read() as s:
        grid = s.get(Worker, 1).grid_id
    p = index.polygons[list(index.ids).index(grid)].representative_point()
    return report(store, index, SYSTEM, [NewIncident("fire", "住宅火灾", "住宅火灾", p.x, p.y)], DEFAULT_SLA_MINUTES)[0]


def test_assign_accept_round_trip_across_processes(browser, two_apps):
    url_a, url_b, store = two_apps
    operator = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
    worker = browser.new_context(
        viewport={"width": 412, "height": 915},
        geolocation={"longitude": 106.7123, "latitude": 26.5789},
        permissions=["geolocation"],
    ).new_page()
    try:
        operator.goto(url_a)
        log_in(operator, "operator")
        worker.goto(url_b)
        log_in(worker, "w00001")
        worker.wait_for_selector("#worker-inbox")
        # Both screens loaded and polling before the fire is reported: the bounds below time the screens'
        # updates, not a page still loading its map on a busy machine (the row once took more than 10 s so).
        operator.wait_for_selector("#command-queue .ag-header", timeout=60_000)
        operator.wait_for_function(
            "() => document.querySelector('#command-live')?.textContent === '实时'", timeout=60_000
        )

        iid = new_fire_for_worker_1(store)
        row = operator.locator(f".ag-row[row-id='{iid}'] .ag-cell[col-id=title]")
        row.wait_for(timeout=10_000)
        row.click()
        button = operator.locator("xpath=//button[contains(@id, '\"worker\":1}')]")
        button.wait_for(timeout=10_000)

        started = time.monotonic()
        button.click()
        worker.wait_for_selector("[id^=task-] .task-status", timeout=10_000)
        seen = time.monotonic() - started
        print(f"assign in A -> task on the phone in B: {seen:.2f} s")
        assert seen < STEP_S, f"worker saw the task after {seen:.2f} s"
        with store.read() as s:
            task_id = s.scalar(select(Task.id).where(Task.incident_id == iid))

        started = time.monotonic()
        worker.locator(f"#task-{task_id} button").first.click()  # 接收 (accept)
        operator.wait_for_function(
            "() => { const b = document.querySelector('#detail-status'); return b && b.textContent === '已接收'; }",
            timeout=10_000,
        )
        back = time.monotonic() - started
        print(f"accept in B -> status in A: {back:.2f} s")
        assert back < STEP_S, f"operator saw the acceptance after {back:.2f} s"

        # With consent, the phone's position becomes the worker's position on every screen.
        worker.locator("#worker-consent").check()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with store.read() as s:
                me = s.get(Worker, 1)
            if abs(me.lon - 106.7123) < 1e-6 and abs(me.lat - 26.5789) < 1e-6:
                break
            time.sleep(0.3)
        else:
            pytest.fail(f"position not shared: {me.lon}, {me.lat}")
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        operator.screenshot(path=str(ARTIFACTS / "one-truth-operator.png"))
        worker.screenshot(path=str(ARTIFACTS / "one-truth-worker.png"))
        operator.context.close()
        worker.context.close()


def test_with_redis_stopped_screens_converge_from_the_store(browser, two_apps, redis_server):
    url_a, url_b, store = two_apps
    operator = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
    worker = browser.new_context(viewport={"width": 412, "height": 915}).new_page()
    try:
        operator.goto(url_a)
        log_in(operator, "operator")
        operator.wait_for_selector("#command-live")
        worker.goto(url_b)
        log_in(worker, "w00001")
        worker.wait_for_selector("#worker-inbox")
        before = worker.locator("[id^=task-]").count()

        redis_server[1].kill()
        redis_server[1].wait()
        iid = new_fire_for_worker_1(store)
        assign(store, SYSTEM, iid, 1)  # committed to PostgreSQL; the Redis announcement is lost

        started = time.monotonic()
        worker.wait_for_function(f"() => document.querySelectorAll('[id^=task-]').length > {before}", timeout=15_000)
        converged = time.monotonic() - started
        print(f"Redis down: change seen through the store after {converged:.2f} s")
        assert converged < 10.0
        operator.wait_for_function(
            "() => document.querySelector('#command-live').textContent.includes('降级')", timeout=10_000
        )
        worker.wait_for_function("() => document.querySelector('#worker-live').textContent.includes('降级')")
    finally:
        operator.screenshot(path=str(ARTIFACTS / "redis-down-operator.png"))
        operator.context.close()
        worker.context.close()
