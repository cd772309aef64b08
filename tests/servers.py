"""Start a real `python app.py` for tests that go over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class AppProcess:
    """A running `python app.py`: its base URL, port and process (tests that kill it use ``proc``)."""

    url: str
    port: int
    proc: subprocess.Popen


@contextmanager
def app_process(log_path: Path, port: int | None = None, **env: str) -> Iterator[AppProcess]:
    """`python app.py` with ONEMAP_* overrides (on ``port``, else a free one), once health answers."""
    port = port or free_port()
    # The demo city (a test database is not the embedded default, so it must be asked for), with two days
    # of demo history unless a test asks for more: enough to look real, quick to seed.
    # No alert banner unless a test asks for it: it would cover what other tests click.
    # A signing key, as a deployment on a shared database must have (SQLite alone may keep its own).
    defaults = {
        "ONEMAP_DEMO": "1",
        "ONEMAP_HISTORY_DAYS": "2",
        "ONEMAP_ALERTS": "0",
        "ONEMAP_ALERT_SOUND": "0",
        "ONEMAP_SECRET_KEY": "test-signing-key-not-for-production",
    }
    full_env = {**os.environ, "ONEMAP_PORT": str(port), **defaults, **env}
    if "ONEMAP_REDIS_URL" not in env:
        full_env.pop("ONEMAP_REDIS_URL", None)
    with open(log_path, "a") as log:
        proc = subprocess.Popen(
            [sys.executable, "app.py"], cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    urllib.request.urlopen(f"{url}/api/v1/health", timeout=1)
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        pytest.fail("app did not start:\n" + log_path.read_text())
                    time.sleep(0.3)
            yield AppProcess(url, port, proc)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def running_app(log_path: Path, **env: str) -> Iterator[str]:
    """`python app.py` with ONEMAP_* overrides; yields its base URL once health answers."""
    with app_process(log_path, **env) as app:
        yield app.url
