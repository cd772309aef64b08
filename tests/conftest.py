"""Shared fixtures: real SQLite and PostgreSQL stores, a real Redis, a small demo city.

A test that needs a server skips only when the server cannot be had, and says so; under CI=true it
fails instead. ``scripts/services.sh`` installs and starts the servers and exports their URLs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from config import Config  # noqa: E402
from data.bus import MemoryBus, RedisBus  # noqa: E402
from data.demo import DEMO_PASSWORD, seed_demo  # noqa: E402
from data.store import Store  # noqa: E402

IN_CI = os.environ.get("CI", "").lower() == "true"


def need_server(name: str, variable: str) -> str:
    """The URL of a test server from the environment; skip loudly (fail under CI) without one."""
    url = os.environ.get(variable)
    if url:
        return url
    message = f"NO {name}: set {variable} (scripts/services.sh starts one) — tests needing it did not run"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty, migrated store on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'onemap.db'}"
    else:
        url = need_server("PostgreSQL", "ONEMAP_TEST_DATABASE_URL")
        reset_postgres(url)
    s = Store(url, MemoryBus())
    s.migrate()
    yield s
    s.dispose()


SMALL_CITY = Config(grid_count=60, workers_per_grid=2, parking_spaces=120, simulate=False)


@pytest.fixture
def city(store: Store) -> Store:
    """A small demo city (60 grids) on each backend."""
    seed_demo(store, SMALL_CITY)
    return store


@pytest.fixture
def redis_url() -> str:
    url = need_server("Redis", "ONEMAP_TEST_REDIS_URL")
    bus = RedisBus(url)
    bus._redis.flushdb()
    bus.close()
    return url


# The app as production builds it (``create_app``), in the style of the Flask tutorial's tests.
TOKEN = "test-bootstrap-token-0123456789"  # the bootstrap admin token of every ``make_app`` app
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROLE_USERS = {"admin": "admin", "operator": "operator", "supervisor": "supervisor", "worker": "w00001"}


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., Any]:
    """``make_app(**overrides)``: a new app on its own SQLite file with a small demo city; any
    ``Config`` field may be overridden (``redis_url=…``, ``lang="en"``, ``parking_spaces=120``)."""
    n = count()

    def build(**overrides: Any) -> Any:
        cfg = {
            "database_url": f"sqlite:///{tmp_path / f'app{next(n)}.db'}",
            "grid_count": 60,
            "parking_spaces": 60,
            "bootstrap_token": TOKEN,
            "media_dir": str(tmp_path / "media"),
            "simulate": False,
            **overrides,
        }
        return create_app(Config(**cfg))

    return build


@pytest.fixture
def app(make_app: Callable[..., Any]) -> Any:
    """The default test app (a Dash app; its Flask server is ``app.server``)."""
    return make_app()


@pytest.fixture
def client(app: Any) -> Any:
    """An anonymous HTTP client of ``app``; add ``headers=AUTH`` for the bootstrap admin token."""
    return app.server.test_client()


@pytest.fixture
def as_role(app: Any) -> Callable[[str], Any]:
    """``as_role("operator")``: an HTTP client of ``app`` signed in through /login as the demo user
    of that role (admin, operator, supervisor, worker) or as a named demo user."""

    def signed_in(role: str) -> Any:
        http = app.server.test_client()
        username = ROLE_USERS.get(role, role)
        r = http.post("/login", data={"username": username, "password": DEMO_PASSWORD, "next": "/"})
        assert r.status_code == 302, f"could not sign in as {username}: {r.status_code}"
        return http

    return signed_in
