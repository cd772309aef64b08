"""Engine, sessions and transactions: one transaction per change, its event rows inside it,
and after the commit one bus announcement of the newest event id.

A transaction opened while another is open on the same thread joins it as a savepoint, so a caller
(an idempotent request) can make its key, the work and the stored answer one commit. A deadlock,
a serialization failure or SQLite's "database is locked" is ``Contention``: ``retried`` runs the
whole transaction again a bounded number of times. A lost or refused connection is ``Unavailable``.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event, func, insert, inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from data.bus import Bus, MemoryBus
from data.models import Event, Setting, utcnow

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_S = 30.0  # how long a SQLite connection waits for another process's write lock
RETRIES = 5  # runs of a transaction that lost to a deadlock or serialization failure
P = ParamSpec("P")
R = TypeVar("R")
# SQLSTATEs a rerun of the same transaction can succeed after: serialization failure, deadlock.
CONTENTION_CODES = {"40001", "40P01"}


class StoreError(Exception):
    """The store could not do the work now; nothing of it was committed."""

    retry_after = 1


class Contention(StoreError):
    """Lost to concurrent transactions (deadlock, serialization failure, SQLite lock) every time tried.

    ``rerun`` is False for SQLite's lock: the driver already waited its busy timeout for it.
    """

    def __init__(self, message: str, rerun: bool = True):
        super().__init__(message)
        self.rerun = rerun


class Unavailable(StoreError):
    """The database does not answer (restarting, unreachable)."""

    retry_after = 2


def classify(exc: BaseException) -> StoreError | None:
    """The ``StoreError`` a driver error means, or None when it is a real bug or a rule of the data."""
    if isinstance(exc, StoreError):
        return exc
    if not isinstance(exc, DBAPIError) or isinstance(exc, IntegrityError):
        return None
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    text_ = str(exc.orig).lower()
    if code in CONTENTION_CODES:
        return Contention(str(exc.orig))
    if "database is locked" in text_ or "database table is locked" in text_:
        return Contention(str(exc.orig), rerun=False)
    if exc.connection_invalidated or (code or "").startswith(("08", "57P")) or "connection" in text_:
        return Unavailable(str(exc.orig))
    return None


def retried(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` (one whole transaction) again after contention, a bounded number of times.

    Inside an outer transaction the error goes up untouched: only the outermost boundary can rerun.
    """

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        for attempt in range(RETRIES):
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                found = classify(exc)
                if found is None:
                    raise
                last = attempt == RETRIES - 1 or _open.depth
                if not isinstance(found, Contention) or not found.rerun or last:
                    if found is exc:
                        raise
                    raise found from exc
                time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))  # let the winner finish first
        raise AssertionError("unreachable")

    return wrapper


def patiently(fn: Callable[[], R], within_s: float = 600.0) -> R:
    """Run ``fn`` again while SQLite stays locked by another process (its long write), up to ``within_s``.

    For start-up (migrations, seeding): a second process must not die because the first one is busy.
    """
    deadline = time.monotonic() + within_s
    while True:
        try:
            return fn()
        except Exception as exc:
            found = classify(exc)
            if not isinstance(found, Contention) or found.rerun or time.monotonic() > deadline:
                raise
        time.sleep(0.5)


class _Open(threading.local):
    depth = 0  # write transactions open on this thread, whatever the store


_open = _Open()


def _sqlite_engine(url: str, write: bool) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_S})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN itself (the driver's own is deferred).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_S * 1000)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # A writer takes the write lock up front, so two writers queue instead of deadlocking.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


class Store:
    """The database behind OneMap: SQLite (one host) or PostgreSQL + PostGIS (many)."""

    def __init__(self, url: str, bus: Bus | None = None):
        self.url = url
        self.kind = "postgresql" if url.startswith("postgresql") else "sqlite"
        self.bus: Bus = bus or MemoryBus()
        if self.kind == "sqlite":
            self.engine = _sqlite_engine(url, write=True)
            self._read_engine = _sqlite_engine(url, write=False)
        else:
            self.engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
            self._read_engine = self.engine
        self._writer = sessionmaker(self.engine, expire_on_commit=False)
        self._reader = sessionmaker(self._read_engine, expire_on_commit=False)
        self._reading = threading.local()  # the read session open on each thread, if any
        self._writing = threading.local()  # the write session open on each thread, if any
        if inspect(self.engine).has_table("settings"):
            self._bind_bus()

    def _bind_bus(self) -> None:
        # Redis keys carry this database's identity: a database rebuilt from scratch (ids restart at 1)
        # must not inherit the old cursor, and two deployments may share one Redis.
        self.bus.bind(self.setting("instance", lambda: uuid.uuid4().hex))

    def setting(self, name: str, make: Callable[[], str]) -> str:
        """A value stored once for the whole deployment; the first process to ask creates it."""
        with self.read() as s:
            value = s.scalar(select(Setting.value).where(Setting.key == name))
        if value is not None:
            return value
        try:
            with self.transaction() as s:
                s.add(Setting(key=name, value=make()))
        except IntegrityError:
            pass  # another process stored it first: use theirs
        with self.read() as s:
            return s.scalar(select(Setting.value).where(Setting.key == name))

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["engine"] = self.engine
        command.upgrade(cfg, "head")
        self._bind_bus()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write transaction; events recorded in it are announced on the bus after commit.

        Inside another transaction on this thread it is a savepoint of that one: an error rolls back
        only its own writes (and forgets their events); the outer commit publishes them all.
        """
        outer = getattr(self._writing, "session", None)
        if outer is not None:
            events = outer.info.setdefault("event_ids", [])
            seen = len(events)
            try:
                with outer.begin_nested():
                    yield outer
            except BaseException:
                del events[seen:]
                raise
            return
        session = self._writer()
        self._writing.session = session
        _open.depth += 1
        try:
            with session.begin():
                yield session
                commit_order_events(session)
            event_ids = session.info.get("event_ids")
        finally:
            _open.depth -= 1
            self._writing.session = None
            session.close()
        if event_ids:
            self.bus.publish(max(event_ids))

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session.

        A read inside another read on the same thread shares the outer session: one connection and
        one transaction for, say, every query of a live tick (on PostgreSQL each session costs a
        pool ping, BEGIN and ROLLBACK round trips; on SQLite the reads also see one snapshot). So do
        not write inside a read and expect a nested read to see it.
        """
        outer = getattr(self._writing, "session", None) or getattr(self._reading, "session", None)
        if outer is not None:  # inside a write transaction a read sees what it wrote so far
            yield outer
            return
        session = self._reader()
        self._reading.session = session
        try:
            yield session
        finally:
            self._reading.session = None
            session.close()  # ends the transaction; loaded objects stay readable (detached, not expired)

    def latest_event_id(self) -> int:
        """The cursor of the newest committed change (0 for an empty log)."""
        with self.read() as s:
            return int(s.scalar(select(func.max(Event.id))) or 0)

    def dispose(self) -> None:
        self.engine.dispose()
        self._read_engine.dispose()
        self.bus.close()


def record_event(
    session: Session,
    kind: str,
    entity: str,
    entity_id: int | None,
    actor: str,
    data: dict[str, Any] | None = None,
) -> Event:
    """Append one row to the event log inside the caller's transaction."""
    ev = Event(at=utcnow(), kind=kind, entity=entity, entity_id=entity_id, actor=actor, data=data or {})
    session.add(ev)
    session.flush()
    session.info.setdefault("event_ids", []).append(ev.id)
    return ev


def commit_order_events(session: Session) -> None:
    """Give this transaction's events their final ids, in commit order (PostgreSQL; a no-op on SQLite).

    A sequence hands out ids when rows are inserted: a transaction that took id 100 and commits after
    one that took 101 would be invisible to a screen whose cursor already moved to 101. So just before
    commit, under one lock that the commit releases, the events get fresh ids from the sequence
    (``onemap_order_events``, migration 0009, one round trip): a newer committed event always has a
    larger id, and ``id > cursor`` never skips one. The lock is the last one the transaction takes
    (only its own new rows are touched under it), so it cannot deadlock. On SQLite the one writer's
    ids are ``max + 1`` under its write lock: already commit order.
    """
    old = session.info.get("event_ids")
    if not old or session.connection().dialect.name != "postgresql":
        return
    session.flush()  # every row lock the transaction takes is taken before the order lock
    new = session.connection().execute(text("SELECT onemap_order_events(:ids)"), {"ids": old}).scalar_one()
    session.info["event_ids"] = [int(i) for i in new]


def record_events(session: Session, actor: str, rows: list[dict[str, Any]]) -> None:
    """Append many event rows (``kind``, ``entity``, ``entity_id``, ``data``) in one executemany."""
    if not rows:
        return
    at = utcnow()
    ids = insert_returning_ids(session, Event.__table__, [{"at": at, "actor": actor, **r} for r in rows])
    session.info.setdefault("event_ids", []).extend(ids)


def insert_returning_ids(session: Session, table: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert many rows with Core executemany and return their new ids in input order.

    SQLite runs an INSERT … RETURNING row by row; but a write transaction here holds SQLite's only
    write lock (BEGIN IMMEDIATE), so new integer keys are exactly max(id)+1 … max(id)+n. On
    PostgreSQL the ids are drawn from the table's sequence first, then the rows go in by plain
    executemany (psycopg pipelines it; a batched INSERT … RETURNING was ten times slower).
    """
    if not rows:
        return []
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        start = int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one())
        conn.execute(insert(table), rows)
        return list(range(start + 1, start + 1 + len(rows)))
    ids = [
        int(i)
        for i in conn.execute(
            text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
            {"t": table.name, "n": len(rows)},
        ).scalars()
    ]
    conn.execute(insert(table), [{**row, "id": i} for row, i in zip(rows, ids, strict=True)])
    return ids
