"""Two app processes starting at once on one empty PostgreSQL database both start: the schema is
migrated once and exactly one admin and one bootstrap token are created."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.conftest import ROOT, need_server, reset_postgres

TOKEN = "race-bootstrap-token-0123456789"

# Each process waits for the other at two gates: before start-up (so both migrate an empty database at
# once) and on entering the bootstrap token step (so both look the token up at once); after that lookup
# it pauses, so without a lock both have looked before either creates.
CHILD = """
import sys, time
from pathlib import Path
from sqlalchemy import event
from sqlalchemy.engine import Engine
import app
from config import Config

url, token, gates, name = sys.argv[1:]


def gate(step):
    Path(gates, f"{step}.{name}").touch()
    deadline = time.monotonic() + 30
    while len(list(Path(gates).glob(f"{step}.*"))) < 2:
        if time.monotonic() > deadline:
            sys.exit(f"{name}: the other process never reached {step}")
        time.sleep(0.01)


@event.listens_for(Engine, "after_cursor_execute")
def _widen(conn, cursor, statement, *rest):
    if "FROM api_tokens" in statement and "token_hash" in statement:
        time.sleep(0.5)


ensure = app.ensure_bootstrap_token


def gated(store, value):
    gate("bootstrap")
    ensure(store, value)


app.ensure_bootstrap_token = gated
gate("start")
app.start_store(Config(database_url=url, demo=False, bootstrap_token=token), seed=False).dispose()
print(name, "started")
"""


def test_two_processes_starting_on_one_empty_database_create_one_bootstrap_token(tmp_path: Path) -> None:
    url = need_server("PostgreSQL", "ONEMAP_TEST_DATABASE_URL")
    reset_postgres(url)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, url, TOKEN, str(tmp_path), name],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name in ("first", "second")
    ]
    deadline = time.monotonic() + 150
    outputs = [p.communicate(timeout=max(1.0, deadline - time.monotonic()))[0] for p in procs]
    tails = ["\n".join(out.splitlines()[-15:]) for out in outputs]
    assert [p.returncode for p in procs] == [0, 0], "\n---\n".join(tails)
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            assert c.scalar(text("SELECT count(*) FROM users WHERE username = 'admin'")) == 1
            assert c.scalar(text("SELECT count(*) FROM api_tokens WHERE label = 'bootstrap'")) == 1
            assert c.scalar(text("SELECT count(*) FROM alembic_version")) == 1
    finally:
        engine.dispose()
