"""Servers of the fault suite's own, so it may kill and restart them: a PostgreSQL cluster (initdb into
a temporary directory on a free port; never the shared one), a Redis, and two `python app.py`."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from data.bus import MemoryBus, RedisBus
from data.demo import seed_demo
from data.store import Store
from ops.accounts import ensure_bootstrap_token
from tests.conftest import IN_CI, ROOT, SMALL_CITY
from tests.servers import free_port

TOKEN = "faults-suite-admin-token"


def _missing(what: str) -> None:
    message = f"NO {what}: the fault suite did not run"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Postgres:
    """A private PostgreSQL cluster the suite may stop and start."""

    bindir: Path
    datadir: Path
    port: int
    log: Path
    as_postgres: list[str]

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://onemap@127.0.0.1:{self.port}/onemap"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.as_postgres, str(self.bindir / "pg_ctl"), "-D", str(self.datadir), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
        )

    def start(self) -> None:
        opts = f"-p {self.port} -h 127.0.0.1 -k {self.datadir} -c fsync=off -c full_page_writes=off"
        self._ctl("-l", str(self.log), "-w", "-o", opts, "start")

    def stop(self) -> None:
        self._ctl("-m", "fast", "-w", "stop")


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        _missing("PostgreSQL binaries under /usr/lib/postgresql/*/bin")
    bindir = Path(found[-1]).parent
    datadir = Path(tempfile.mkdtemp(prefix="onemap-faults-pg-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(datadir, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    pg = Postgres(bindir, datadir / "data", free_port(), datadir / "pg.log", as_postgres)
    subprocess.run(
        [
            *as_postgres,
            str(bindir / "initdb"),
            "-D",
            str(pg.datadir),
            "-U",
            "onemap",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=180,
    )
    pg.start()
    try:
        admin = create_engine(f"postgresql+psycopg://onemap@127.0.0.1:{pg.port}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE onemap"))
        admin.dispose()
        engine = create_engine(pg.url)
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
        engine.dispose()
        yield pg
    finally:
        try:
            pg.stop()
        finally:
            shutil.rmtree(datadir, ignore_errors=True)


@dataclass
class Redis:
    port: int
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        self.proc = subprocess.Popen(
            [str(binary), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        bus = RedisBus(self.url)
        deadline = time.monotonic() + 20
        while not bus.healthy():
            assert time.monotonic() < deadline, "private redis-server did not start"
            time.sleep(0.1)
        bus.close()

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.proc = None


@pytest.fixture(scope="session")
def redis() -> Iterator[Redis]:
    if not shutil.which("redis-server"):
        _missing("redis-server binary")
    r = Redis(free_port())
    r.start()
    yield r
    r.kill()


@dataclass
class App:
    url: str
    proc: subprocess.Popen
    log: Path


@dataclass
class Cluster:
    """Two app processes on the private PostgreSQL and Redis; ``store`` reads what was stored."""

    pg: Postgres
    redis: Redis
    store: Store
    logs: Path
    apps: list[App] = field(default_factory=list)

    def env(self, port: int) -> dict[str, str]:
        return {
            **os.environ,
            "ONEMAP_PORT": str(port),
            "ONEMAP_DATABASE_URL": self.pg.url,
            "ONEMAP_REDIS_URL": self.redis.url,
            "ONEMAP_BOOTSTRAP_TOKEN": TOKEN,
            "ONEMAP_SIMULATE": "0",
            "ONEMAP_HISTORY_DAYS": "0",
            "ONEMAP_ALERTS": "0",
            "ONEMAP_RULES_SECONDS": "3600",
            # A shared database needs a configured signing key (both processes sign with it).
            "ONEMAP_SECRET_KEY": "fault-suite-signing-key-not-for-production",
        }

    def start(self, count: int) -> list[App]:
        """Start ``count`` app processes at once; return them when each one's health answers."""
        new = []
        for _ in range(count):
            port = free_port()
            log = self.logs / f"app-{port}.log"
            with open(log, "w") as out:
                proc = subprocess.Popen(
                    [sys.executable, "app.py"], cwd=ROOT, env=self.env(port), stdout=out, stderr=subprocess.STDOUT
                )
            new.append(App(f"http://127.0.0.1:{port}", proc, log))
        deadline = time.monotonic() + 120
        for app in new:
            while True:
                try:
                    if requests.get(f"{app.url}/api/v1/health", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if app.proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("app did not start:\n" + app.log.read_text())
                time.sleep(0.3)
        self.apps.extend(new)
        return new

    def kill9(self, app: App) -> None:
        app.proc.kill()
        app.proc.wait()
        self.apps.remove(app)

    def stop_all(self) -> None:
        for app in self.apps:
            app.proc.terminate()
        for app in self.apps:
            try:
                app.proc.wait(10)
            except subprocess.TimeoutExpired:
                app.proc.kill()
                app.proc.wait()
        self.apps.clear()

    def logs_text(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-4000:]}" for p in sorted(self.logs.glob("app-*.log")))


@pytest.fixture(scope="module")
def cluster(postgres: Postgres, redis: Redis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    store = Store(postgres.url, MemoryBus())
    store.migrate()
    seed_demo(store, SMALL_CITY)
    ensure_bootstrap_token(store, TOKEN)  # before the apps, which would race to create it
    c = Cluster(postgres, redis, store, tmp_path_factory.mktemp("fault-apps"))
    c.start(2)
    yield c
    c.stop_all()
    store.dispose()
