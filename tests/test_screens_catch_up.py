"""Screens tell the truth after long transactions: two Runtimes on one store (two processes), each with a
screen polling the command page's tick, equal the store within 3 poll periods after a long SLA pass
(thousands of tasks expired in one pass) and after a 20,000-visit push, though the screens took their
cursor while the writer was still running and nothing else happens afterwards.

Both writers are made long the way they are on a loaded store: the SLA pass's clock started a minute
before (every row it stamps is a minute old by the time it commits), the push holds its transaction
open longer than the old 10 s re-read overlap while other items come in and the screens catch up."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from dash import no_update
from sqlalchemy import select, update

from callbacks.command import refresh
from config import DEFAULT_SLA_MINUTES, Config
from data import queries
from data.bus import MemoryBus
from data.models import Incident, Task, open_item, utcnow
from data.runtime import Runtime, build_runtime
from data.store import Store
from layouts.i18n import Text
from ops import bulk, sla
from ops.accounts import Actor
from ops.incidents import NewIncident, report
from tests.conftest import SMALL_CITY

T = Text("zh-CN")
OPERATOR = Actor(None, "op", "operator")
POLL_S = 1.0
LABELS = {k: k for k in ("open", "worker", "space")}


class Screen(threading.Thread):
    """One command page polling its process every ``POLL_S``: it keeps the cursor and KPI texts it was sent."""

    def __init__(self, rt: Runtime):
        super().__init__(daemon=True)
        self.rt, self.cursor, self.kpi = rt, None, {}
        self.polls, self.error = 0, None
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                tick = refresh(self.rt, T, self.cursor)
                if tick.cursor is not no_update:
                    self.cursor = tick.cursor
                self.kpi.update({k: v for k, v in tick.kpi.items() if v is not no_update})
                self.polls += 1
                self.stop.wait(POLL_S)
        except Exception as exc:  # seen by the test, which fails on it
            self.error = exc


def truth(store: Store) -> tuple[set[int], dict[str, Any]]:
    with store.read() as s:
        ids = set(s.scalars(select(Incident.id).where(open_item())).all())
    return ids, queries.kpis(store)


def differences(screens: list[Screen], ids: set[int], kpis: dict[str, Any]) -> list[str]:
    """What each process (its memory and its screen's KPI strip) shows unlike the store; empty when equal."""
    out = []
    for n, screen in enumerate(screens):
        assert screen.error is None, screen.error
        held = set(screen.rt.live.items.held()["id"].tolist())  # no refresh here: what the screen's polls left
        if held != ids:
            out.append(f"process {n}: {len(ids - held)} open items missing, {len(held - ids)} extra")
        for name in ("unassigned", "fire", "police"):
            want = f"{kpis[name] if name == 'unassigned' else kpis['open'][name]:,}"
            if screen.kpi.get(name) != want:
                out.append(f"process {n}: KPI {name} shows {screen.kpi.get(name)}, store has {want}")
    return out


def settle(screens: list[Screen], store: Store, within_s: float) -> float:
    """Seconds until every process equals the store; fails if no check begun within ``within_s`` finds it.

    Nothing writes meanwhile, so the store's answer is read once and each check only looks at memory."""
    ids, kpis = truth(store)
    start = time.monotonic()
    while True:
        began = time.monotonic() - start
        problems = differences(screens, ids, kpis)
        assert began < within_s, f"after {began:.1f} s: {problems}"
        if not problems:
            return began
        time.sleep(0.05)


@pytest.fixture
def processes(city: Store) -> Iterator[list[Screen]]:
    """Two Runtimes on the one store (each its own engine: two processes), each with a polling screen."""
    config = Config(database_url=city.url, poll_ms=int(POLL_S * 1000), simulate=False, grid_count=SMALL_CITY.grid_count)
    other = Store(city.url, MemoryBus())
    runtimes = [build_runtime(config, city, LABELS), build_runtime(config, other, LABELS)]
    screens = [Screen(rt) for rt in runtimes]
    for screen in screens:
        screen.start()
    yield screens
    for screen in screens:
        screen.stop.set()
        screen.join(10)
    for rt in runtimes:
        rt.live.close()
    other.dispose()


def traffic(rt: Runtime, stop: threading.Event) -> Callable[[], int]:
    """New incidents every ~50 ms until ``stop``: changes stamped later than the long writer's, which
    move every screen's cursor while it runs. Returns how many it filed (once stopped)."""
    points = [p.representative_point() for p in rt.index.polygons[:20]]
    filed: list[int] = []

    def loop() -> None:
        k = 0
        while not stop.wait(0.05):
            p = points[k % len(points)]
            filed.extend(
                report(rt.store, rt.index, OPERATOR, [NewIncident("fire", "火", "火", p.x, p.y)], DEFAULT_SLA_MINUTES)
            )
            k += 1

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()

    def done() -> int:
        thread.join(30)
        return len(filed)

    return done


def visits_csv(rt: Runtime, n: int, seed: int = 3) -> str:
    rng = np.random.default_rng(seed)
    polygons = rt.index.polygons
    lines = ["lon,lat,note"]
    for k in range(n):
        p = polygons[int(rng.integers(len(polygons)))].representative_point()
        lines.append(f"{p.x:.6f},{p.y:.6f},走访{k}")
    return "\n".join(lines) + "\n"


def wait_for(condition: Callable[[], bool], within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_long_sla_pass_reaches_every_process(processes, monkeypatch):
    rt = processes[0].rt
    n = 2_000
    assert bulk.push_visits(rt.store, rt.index, OPERATOR, visits_csv(rt, n), DEFAULT_SLA_MINUTES).created == n
    with rt.store.transaction() as s:  # assigned two hours ago, never accepted
        s.execute(update(Task).values(updated_at=utcnow() - timedelta(hours=2)))
    settle(processes, rt.store, 30)

    in_pass = []
    record_events = sla.record_events

    def slow_chunk(*args: Any) -> None:
        # Each chunk's rows are written and not yet committed while every screen polls twice (on
        # PostgreSQL the traffic commits meanwhile, so the screens' cursors move past the pass).
        record_events(*args)
        polled = [s.polls for s in processes]
        wait_for(lambda: all(s.polls >= p + 2 for s, p in zip(processes, polled, strict=True)), 30, "screens poll")
        in_pass.append([s.cursor for s in processes])

    monkeypatch.setattr(sla, "record_events", slow_chunk)
    stop = threading.Event()
    filed = traffic(rt, stop)
    # The pass's clock started a minute ago: old code stamped every row with it, older than the traffic's.
    expired = sla.escalate_unaccepted(rt.store, 10, now=utcnow() - timedelta(minutes=1), chunk=400)
    stop.set()
    assert filed() > 0
    assert len(expired) == n and len(in_pass) == 5
    took = settle(processes, rt.store, 3 * POLL_S)
    print(f"equal {took:.2f} s after the pass")


def test_a_20000_visit_push_reaches_every_process(processes):
    rt = processes[0].rt
    settle(processes, rt.store, 30)
    text = visits_csv(rt, 20_000, seed=4)
    stop = threading.Event()
    filed: Callable[[], int] | None = None
    moved = [0, 0]

    def long_transaction(done: int, total: int) -> None:
        # Inside the push's transaction, its rows written: other items come in and every screen catches up
        # past the push's start, for longer than the old re-read overlap. (SQLite has one writer at a
        # time: nothing else commits while the push holds the lock, so there it is just the push.)
        nonlocal filed
        if rt.store.kind == "sqlite":
            filed = lambda: 1  # noqa: E731
            return
        filed = traffic(rt, stop)
        cursors = [s.cursor for s in processes]
        held_open = time.monotonic() + 11
        wait_for(lambda: all(s.cursor != c for s, c in zip(processes, cursors, strict=True)), 30, "screens moved")
        moved[:] = [s.polls for s in processes]
        while time.monotonic() < held_open:
            time.sleep(0.1)
        stop.set()
        filed()

    result = bulk.push_visits(rt.store, rt.index, OPERATOR, text, DEFAULT_SLA_MINUTES, progress=long_transaction)
    assert result.created == 20_000
    assert filed is not None and filed() > 0
    took = settle(processes, rt.store, 3 * POLL_S)
    print(f"equal {took:.2f} s after the push")
