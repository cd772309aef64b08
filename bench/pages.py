"""Reading a whole list through the API, page by page (keyset), beside a raw SELECT of the same rows."""

from __future__ import annotations

import json
import time

from sqlalchemy import func, select

from app import create_app
from bench import BENCH_KEY
from bench.figures import Figure
from config import Config
from data.models import Incident
from data.queries.incidents import _incidents_joined

TOKEN = "bench-pages-token"
ROUNDS = 3


def read_through_api(url: str) -> Figure:
    """Every item via ``GET /api/v1/incidents?order=asc&limit=1000`` following ``next`` (Flask's test
    client: the whole server path but the socket), against one ``SELECT`` of the same joined columns,
    the two alternated ``ROUNDS`` times and the fastest of each kept."""
    app = create_app(Config(database_url=url, bootstrap_token=TOKEN, secret_key=BENCH_KEY), seed=False)
    store = app.server.config["onemap"].store
    client = app.server.test_client()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with store.read() as s:
        total = int(s.scalar(select(func.count(Incident.id))))

    def raw() -> int:
        with store.engine.connect() as conn:
            return len(conn.execute(_incidents_joined().order_by(Incident.id)).all())

    def through_api() -> int:
        seen, link = 0, "/api/v1/incidents?order=asc&limit=1000"
        while link:
            # Decoded as a client does (json.loads), not by the app's bounded request-body parser,
            # whose depth and surrogate walk guards what the server receives, not what it answers.
            body = json.loads(client.get(link, headers=headers).data)
            seen += body["count"]
            link = body["next"]
        return seen

    # Alternated, best of ROUNDS each: on a shared machine one pass of either can land in a busy spell.
    raw_s = api_s = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        assert raw() == total
        raw_s = min(raw_s, time.perf_counter() - started)
        started = time.perf_counter()
        seen = through_api()
        api_s = min(api_s, time.perf_counter() - started)
        if seen != total:
            raise RuntimeError(f"the pages held {seen:,} items, the store {total:,}")
    ours, limit = total / api_s, total / raw_s
    return Figure(
        f"read {total:,} items through the API (keyset pages of 1,000) vs one raw SELECT, best of {ROUNDS}",
        ours,
        limit,
        "items/s",
        ours / limit,
        "≥ 0.25×",
        ours >= 0.25 * limit,
        "API answers JSON with masked phones and routing sentences; the SELECT returns rows",
    )
