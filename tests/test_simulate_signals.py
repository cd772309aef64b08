"""`python manage.py simulate --seconds N` ends promptly on Ctrl-C (SIGINT) and on SIGTERM, cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.servers import ROOT


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    db = tmp_path_factory.mktemp("sim") / "sim.db"
    env = {
        **os.environ,
        "ONEMAP_DATABASE_URL": f"sqlite:///{db}",
        "ONEMAP_GRID_COUNT": "10",
        "ONEMAP_HISTORY_DAYS": "0",
    }
    env.pop("ONEMAP_REDIS_URL", None)
    subprocess.run([sys.executable, "manage.py", "seed-demo"], cwd=ROOT, env=env, check=True, capture_output=True)
    return env


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_simulate_stops_promptly_on_signal(seeded: dict[str, str], signum: int, tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "simulate", "--seconds", "600"],
        cwd=ROOT,
        env=seeded,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert "Ctrl-C stops" in (proc.stdout.readline() if proc.stdout else "")
        sent = time.monotonic()
        proc.send_signal(signum)
        code = proc.wait(timeout=20)  # one simulator tick at most, with a loaded machine's margin
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = proc.stdout.read() if proc.stdout else ""
    assert code == 0, output
    assert "Traceback" not in output
    assert took < 20
