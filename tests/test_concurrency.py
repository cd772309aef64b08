"""Exactly once: 100 concurrent assign attempts on one item through a real server give one 200
and 99 × 409 naming the assignee, on SQLite and on PostgreSQL (enforced by the database)."""

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from config import DEFAULT_SLA_MINUTES
from data.bus import MemoryBus
from data.models import Task, Worker
from data.queries import load_grid_index
from data.store import Store
from ops.accounts import SYSTEM
from ops.incidents import NewIncident, report
from tests.conftest import need_server, reset_postgres
from tests.servers import running_app

TOKEN = "concurrency-token-0123456789"


def post(url: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(
        url, json.dumps(body).encode(), {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def hundred_assigns(db_url: str, tmp_path) -> None:
    with running_app(
        tmp_path / "app.log",
        ONEMAP_DATABASE_URL=db_url,
        ONEMAP_GRID_COUNT="60",
        ONEMAP_SIMULATE="0",
        ONEMAP_BOOTSTRAP_TOKEN=TOKEN,
    ) as url:
        store = Store(db_url, MemoryBus())
        idx = load_grid_index(store)
        p = idx.polygons[0].representative_point()
        (iid,) = report(store, idx, SYSTEM, [NewIncident("fire", "火", "火", p.x, p.y)], DEFAULT_SLA_MINUTES)
        with store.read() as s:
            workers = s.scalars(select(Worker.id).order_by(Worker.id).limit(100)).all()
        with ThreadPoolExecutor(max_workers=100) as pool:
            results = list(pool.map(lambda w: post(f"{url}/api/v1/incidents/{iid}/assign", {"worker_id": w}), workers))
        codes = sorted(code for code, _ in results)
        assert codes == [200] + [409] * 99, codes
        winner = next(body for code, body in results if code == 200)["task"]["worker_id"]
        assert all(body["assigned_worker_id"] == winner for code, body in results if code == 409)
        with store.read() as s:
            assert s.scalar(select(func.count()).select_from(Task).where(Task.incident_id == iid)) == 1
        store.dispose()


def test_exactly_once_on_sqlite(tmp_path):
    hundred_assigns(f"sqlite:///{tmp_path / 'c.db'}", tmp_path)


def test_exactly_once_on_postgresql(tmp_path):
    url = need_server("PostgreSQL", "ONEMAP_TEST_DATABASE_URL")
    reset_postgres(url)
    hundred_assigns(url, tmp_path)
