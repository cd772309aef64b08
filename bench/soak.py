"""The soak: steady load on two app processes for a while, then latency per door, stored == sent and
each process's memory slope (``python -m bench --soak 10m``).

Two ``python app.py`` processes share one store (and Redis when given); the first runs the simulator.
Ten screens poll (``GET /api/v1/cursor`` every second and, when it moved, the open items), and 15 sensor
gateways send 60 kerbside messages a second in all (each a batch a second) to alternating processes.
Every process runs under tracemalloc (``bench/soak_server.py``) for the last third of the run and
writes the allocation sites that grew most in it, so a growth shows where it comes from; the RSS
slope is taken over the middle third, after the warm-up and before tracing adds its own memory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select

from bench import BENCH_KEY
from data.models import ParkingEvent, ParkingSpace
from data.store import Store

ROOT = Path(__file__).resolve().parent.parent
SCREENS = 10
SENSOR_RATE = 60.0  # messages a second, over both processes
# The sensors reach us through gateways that post a batch a second (one message per POST saturated at
# ~43 a second on 2 cores with everything else of the soak on them: docs/performance.md, Soak).
GATEWAYS, GATEWAY_PERIOD_S = 15, 1.0


def parse_duration(text: str) -> float:
    """ "10m", "90s", "1h" or plain seconds → seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    return float(text[:-1]) * units[text[-1]] if text[-1] in units else float(text)


@dataclass
class Door:
    """Latencies of one kind of request, and how many failed."""

    times: list[float] = field(default_factory=list)
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seconds: float | None) -> None:
        with self.lock:
            if seconds is None:
                self.failed += 1
            else:
                self.times.append(seconds)


def _call(url: str, token: str, body: Any = None, timeout: float = 30) -> tuple[float | None, Any]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    data = None if body is None else json.dumps(body).encode()
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data, headers), timeout=timeout) as r:
            payload = json.loads(r.read())
    except (OSError, urllib.error.HTTPError, ValueError):
        return None, None
    return time.perf_counter() - started, payload


def start_app(log: Path, port: int, snapshot: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    full = {**os.environ, **env, "ONEMAP_PORT": str(port), "ONEMAP_SOAK_SNAPSHOT": str(snapshot)}
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.soak_server"], cwd=ROOT, env=full, stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 180
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"app did not start: see {log}") from None
            time.sleep(0.5)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def slope_mb_per_min(samples: list[tuple[float, float]], start: float, end: float) -> float:
    """Least-squares RSS slope between ``start`` and ``end`` seconds (after the warm-up, before tracing)."""
    half = [s for s in samples if start <= s[0] <= end]
    if len(half) < 3:
        return float("nan")
    t = np.array([s[0] for s in half]) / 60
    return float(np.polyfit(t, np.array([s[1] for s in half]), 1)[0])


def run(url: str, redis_url: str | None, seconds: float) -> int:
    from ops.accounts import create_token, create_user
    from tests.servers import free_port

    store = Store(url)
    uid = create_user(store, f"soak_{int(time.time())}", "operator")
    token = create_token(store, uid, "soak")
    with store.read() as s:
        codes = s.scalars(select(ParkingSpace.code).order_by(ParkingSpace.id)).all()
    work = Path(tempfile.mkdtemp(prefix="onemap-soak-"))
    env = {"ONEMAP_DATABASE_URL": url, "ONEMAP_HISTORY_DAYS": "2", "ONEMAP_ALERTS": "0", "ONEMAP_SECRET_KEY": BENCH_KEY}
    if redis_url:
        env["ONEMAP_REDIS_URL"] = redis_url
    ports = [free_port(), free_port()]
    procs = [
        start_app(work / "a.log", ports[0], work / "a.snapshot.txt", {**env, "ONEMAP_SIMULATE": "1"}),
        start_app(work / "b.log", ports[1], work / "b.snapshot.txt", {**env, "ONEMAP_SIMULATE": "0"}),
    ]
    bases = [f"http://127.0.0.1:{p}/api/v1" for p in ports]
    doors = {"POST /parking/events": Door(), "GET /cursor": Door(), "GET /incidents": Door()}
    stop = threading.Event()
    senders = GATEWAYS
    sent, acked, retries = [0] * senders, [0] * senders, [0] * senders  # one slot per sender thread
    prefix = f"soak-{int(time.time())}"
    print(f"soak: {seconds:.0f} s, 2 processes ({', '.join(bases)}), logs in {work}")

    def screen(k: int) -> None:
        base, cursor = bases[k % 2], None
        while not stop.wait(1.0):
            took, answer = _call(f"{base}/cursor", token)
            doors["GET /cursor"].add(took)
            if answer and answer.get("cursor") != cursor:
                cursor = answer["cursor"]
                took, _ = _call(f"{base}/incidents?status=new&limit=200", token)
                doors["GET /incidents"].add(took)

    def sensors(k: int, rate: float) -> None:
        # A sensor gateway: once a second it posts what its spaces reported since its last post (a
        # slow answer makes the next batch bigger, so the message rate holds while the server keeps up).
        n, tick, started = 0, 0, time.monotonic()
        while not stop.is_set():
            tick += 1
            wait = started + tick * GATEWAY_PERIOD_S - time.monotonic()
            if wait > 0 and stop.wait(wait):
                break
            due = min(int((time.monotonic() - started) * rate) - n, 100)
            if due <= 0:
                continue
            events = []
            for i in range(n, n + due):
                events.append(
                    {
                        "event_id": f"{prefix}-{k}-{i}",
                        "event_type": "park_start" if i % 2 else "park_end",
                        "event_time": datetime.now(UTC).isoformat(),
                        "curb_space_id": codes[(i * 7 + k) % len(codes)],
                        "device_id": f"soak-{k}",
                        "sequence_number": int(time.time() * 1000) * 1000 + k * 100 + i % 100,
                    }
                )
            sent[k] += due
            for attempt in range(5):  # as a gateway does: the same batch again (event ids make it once-only)
                took, answer = _call(f"{bases[(tick + attempt) % 2]}/parking/events", token, {"events": events})
                doors["POST /parking/events"].add(took)
                if answer is not None:
                    acked[k] += due
                    break
                retries[k] += 1
                if stop.wait(0.5 * (attempt + 1)):
                    break
            n += due

    threads = [threading.Thread(target=screen, args=(k,), daemon=True) for k in range(SCREENS)]
    threads += [threading.Thread(target=sensors, args=(k, SENSOR_RATE / senders), daemon=True) for k in range(senders)]
    samples: list[list[tuple[float, float]]] = [[], []]
    started = time.monotonic()
    for t in threads:
        t.start()
    marked = False
    while (elapsed := time.monotonic() - started) < seconds:
        for i, proc in enumerate(procs):
            samples[i].append((elapsed, rss_mb(proc.pid)))
        if not marked and elapsed > 2 * seconds / 3:
            for proc in procs:
                proc.send_signal(signal.SIGUSR1)  # tracing starts: the baseline
            marked = True
        time.sleep(5)
    for proc in procs:
        proc.send_signal(signal.SIGUSR1)  # the diff against the baseline
    stop.set()
    for t in threads:
        t.join(35)
    time.sleep(3)
    for proc in procs:
        proc.terminate()
        proc.wait(30)
    with store.read() as s:
        stored = s.scalar(select(func.count()).where(ParkingEvent.event_id.like(f"{prefix}-%")))
    store.dispose()

    print(f"{'door':<24} {'n':>7} {'failed':>6} {'p50 s':>8} {'p95 s':>8} {'p99 s':>8}")
    worst_p95 = 0.0
    for name, door in doors.items():
        if door.times:
            p50, p95, p99 = (float(np.percentile(door.times, q)) for q in (50, 95, 99))
            worst_p95 = max(worst_p95, p95)
            print(f"{name:<24} {len(door.times):>7} {door.failed:>6} {p50:>8.3f} {p95:>8.3f} {p99:>8.3f}")
        else:
            print(f"{name:<24} {0:>7} {door.failed:>6}")
    total = sum(sent)
    print(f"sensor rate achieved: {total / seconds:.1f} messages/s (asked {SENSOR_RATE:.0f})")
    print(
        f"sensor messages: sent {total}, acknowledged {sum(acked)}, stored {stored} (equal: {stored == total});"
        f" batches posted again after a failed answer: {sum(retries)}"
    )
    for name, proc_samples in zip(("a (simulator)", "b"), samples, strict=True):
        first, last = proc_samples[0][1], proc_samples[-1][1]
        print(
            f"process {name}: RSS {first:.0f} → {last:.0f} MB, slope"
            f" {slope_mb_per_min(proc_samples, seconds / 3, 2 * seconds / 3):+.2f} MB/min (from 1/3 to 2/3 of the run)"
        )
    for snap in sorted(work.glob("*.snapshot.txt")):
        print(f"--- {snap.name}: allocation sites that grew most since the baseline ---")
        print("\n".join(snap.read_text().splitlines()[:12]))
    rate_ok = total / seconds >= 0.95 * SENSOR_RATE
    ok = worst_p95 <= 2.0 and stored == total and rate_ok
    print(f"goal p95 ≤ 2 s, stored == sent, rate ≥ 95 % of {SENSOR_RATE:.0f}/s: {'ok' if ok else 'MISS'}")
    return 0 if ok else 1
