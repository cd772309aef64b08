"""A second process starts on a SQLite file while another process holds the write lock longer than
the busy timeout: start-up (migrations, seeding, bootstrap token) waits it out instead of dying."""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

import data.store
from app import start_store
from config import Config
from data.demo import grid_count
from data.store import Contention, patiently
from tests.conftest import SMALL_CITY

HOLD_S = 2.0


def _hold_write_lock(path: Path, started: threading.Event) -> None:
    """Another process's long write: the file's write lock taken and kept for ``HOLD_S``."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("UPDATE settings SET value = value")
    started.set()
    time.sleep(HOLD_S)
    conn.execute("COMMIT")
    conn.close()


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    cfg = replace(SMALL_CITY, database_url=f"sqlite:///{tmp_path / 'one.db'}", grid_count=10, bootstrap_token="t" * 20)
    start_store(cfg, seed=True).dispose()  # the first process made the city
    monkeypatch.setattr(data.store, "SQLITE_BUSY_S", 0.3)  # a lock held past the busy timeout, quickly
    return cfg


def _locked_while(path: Path) -> threading.Thread:
    started = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(path, started))
    holder.start()
    assert started.wait(10)
    return holder


def test_start_while_another_process_writes_waits_and_serves(config: Config) -> None:
    path = Path(config.database_url.removeprefix("sqlite:///"))
    holder = _locked_while(path)
    began = time.monotonic()
    store = patiently(lambda: start_store(config, seed=True))
    waited = time.monotonic() - began
    holder.join()
    try:
        assert grid_count(store) == 10
        assert waited >= HOLD_S * 0.5  # it did meet the lock and waited for it
    finally:
        store.dispose()


def test_without_patience_the_start_fails_on_the_lock(config: Config) -> None:
    """The failure the retry exists for (reproduced, so the test above proves something)."""
    path = Path(config.database_url.removeprefix("sqlite:///"))
    holder = _locked_while(path)
    try:
        with pytest.raises((OperationalError, Contention), match="locked"):
            start_store(config, seed=True)
    finally:
        holder.join()
