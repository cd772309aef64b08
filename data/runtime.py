"""What one app process holds while it runs: config, store, grid index and the static map layers."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from config import Config
from data import queries
from data.bus import make_bus
from data.history import History
from data.live import Live
from data.map_view import StaticLayers, WarningTitle, static_layers, stored_title
from data.store import Store
from geo.grid_index import GridIndex
from geo.layers import map_style


@dataclass
class Runtime:
    config: Config
    store: Store
    index: GridIndex
    static: StaticLayers
    style: dict[str, Any] = field(default_factory=dict)
    history: History = field(init=False)
    live: Live = field(init=False)
    # The case rules (ops.cases.Cases), set by the app factory: data/ does not import ops/.
    cases: Any = None
    _workers: tuple[float, queries.WorkerSnapshot] | None = None
    _shared: dict[str, tuple[Hashable, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Read on first use by the review page, never at start; holds the configured window of days.
        self.history = History(self.store, window_days=self.config.review_window_days)
        self.live = Live.of(self.store)  # open items, workers, parking: what every screen shows, in memory

    def shared(self, key: str, version: Hashable, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per change for every screen this process serves.

        Fifty wall screens polling after one change would otherwise recount the same aggregates
        fifty times; the result is kept under ``key`` until the cursor moves past ``version`` (or, for
        a version that carries ``live.generation``, until a background full re-read replaced rows).
        """
        hit = self._shared.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
        value = compute()
        if len(self._shared) > 256:  # viewport keys come and go; never let them pile up
            self._shared.clear()
        self._shared[key] = (version, value)
        return value

    def workers(self, max_age_s: float = 2.0) -> queries.WorkerSnapshot:
        """Where the on-duty workers are and how busy: rebuilt when older than ``max_age_s``."""
        now = time.monotonic()
        if self._workers is None or now - self._workers[0] > max_age_s:
            self._workers = (now, queries.worker_snapshot(self.store))
        return self._workers[1]

    @property
    def crs(self) -> str:
        return self.config.tile_crs

    def cursor(self) -> tuple[int, bool]:
        """(newest event id, live push healthy): from the shared bus when it answers, else the store."""
        if self.store.bus.shared:
            latest = self.store.bus.latest()
            if latest is not None:
                return latest, True
            return self.store.latest_event_id(), False
        return self.store.latest_event_id(), True


def open_store(config: Config) -> Store:
    """The store with the configured bus, migrated to the newest schema."""
    store = Store(config.database_url, make_bus(config.redis_url))
    store.migrate()
    return store


def build_runtime(
    config: Config, store: Store, labels: dict[str, str], warning_title: WarningTitle = stored_title
) -> Runtime:
    """Everything a process serves from, built once at start; ``labels`` and ``warning_title`` give the
    map its words in the UI language."""
    return Runtime(
        config=config,
        store=store,
        index=queries.load_grid_index(store),
        static=static_layers(store, config.tile_crs, labels, warning_title),
        style=map_style(config.tile_url),
    )
