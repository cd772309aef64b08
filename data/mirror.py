"""A table's rows held in memory per process and caught up from the rows whose change stamp moved.

The open items (``data/live.py``), the workers and parking spaces (``data/live_field.py``) and the
review history (``data/history.py``) are all read this way: once in full, then only the rows
stamped since the newest stamp seen, minus an overlap, so a transaction that commits a little after
its timestamp is still picked up. A full re-read in the background every ``resync_s`` seconds heals
what an incremental read cannot see (a writer's clock far behind, a long PostgreSQL transaction
committing after newer ones).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from types import EllipsisType
from typing import Generic, TypeVar

import numpy as np
from sqlalchemy import Column, func, select

from data.store import Store

State = TypeVar("State")
Columns = dict[str, np.ndarray]


def upsert_by_id(held: Columns, changed: Columns, keep: np.ndarray | None = None) -> Columns:
    """``held`` (numpy columns sorted by ``id``) with each ``changed`` row replacing its older copy,
    or dropping it where ``keep`` is False (a closed item leaves the open set). A new object: readers
    keep the arrays they were given. O(changed · log held) to find the rows, a copy to rebuild."""
    if not len(changed["id"]):
        return held
    ids, cid = held["id"], changed["id"]
    keep = np.ones(len(cid), dtype=bool) if keep is None else keep
    pos = np.minimum(np.searchsorted(ids, cid), max(len(ids) - 1, 0))
    match = ids[pos] == cid if len(ids) else np.zeros(len(cid), dtype=bool)
    out = {k: v.copy() for k, v in held.items()}
    replace = match & keep
    for k in out:
        out[k][pos[replace]] = changed[k][replace]
    dropped = pos[match & ~keep]
    if len(dropped):
        stay = np.ones(len(ids), dtype=bool)
        stay[dropped] = False
        out = {k: v[stay] for k, v in out.items()}
    added = ~match & keep
    if added.any():
        new = {k: v[added] for k, v in changed.items()}
        last = out["id"][-1] if len(out["id"]) else None
        out = {k: np.concatenate([out[k], new[k]]) for k in out}
        if last is not None and new["id"].min() <= last or not _sorted(new["id"]):
            order = np.argsort(out["id"], kind="stable")
            out = {k: v[order] for k, v in out.items()}
    return out


def _sorted(a: np.ndarray) -> bool:
    return bool((a[1:] >= a[:-1]).all())


class Mirror(Generic[State]):
    """Subclasses say which column stamps a change (``stamp``, a table column: a mapped attribute would
    act as a descriptor on the mirror) and how to read and merge rows."""

    stamp: Column[datetime]
    overlap = timedelta(seconds=10)

    def __init__(self, store: Store, resync_s: float, max_age_s: float = 0.0):
        self.store = store
        self.resync_s = resync_s
        self.max_age_s = max_age_s
        self._state: State | None = None
        self._mark: datetime | None = None
        self._checked = 0.0
        self._synced = 0.0
        self._resyncing = False
        self._lock = threading.Lock()

    # --- what a subclass provides ------------------------------------------------------------------------

    def read(self, since: datetime | None) -> State:
        """Every row (``since`` None) or the rows stamped at or after ``since``."""
        raise NotImplementedError

    def merge(self, held: State, changed: State) -> State:
        """``held`` with ``changed`` rows taking the place of their older copies (a new object)."""
        raise NotImplementedError

    # --- keeping current ---------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Whether the first full read is done."""
        return self._state is not None

    def current(self, newest: datetime | None | EllipsisType = ...) -> State:
        """The rows, caught up with the store unless the last look was under ``max_age_s`` ago.

        ``newest`` is the table's newest stamp when the caller has just read it (saves a query)."""
        with self._lock:
            now = time.monotonic()
            if self._state is None:
                self._full(now)
            elif now - self._checked >= self.max_age_s:
                self._catch_up(self.newest() if newest is ... else newest)
                self._checked = now
            state = self._state
            due = now - self._synced > self.resync_s and not self._resyncing
            if due:
                self._resyncing = True
        if due:
            threading.Thread(target=self._resync, name=f"onemap-{type(self).__name__}-resync", daemon=True).start()
        assert state is not None
        return state

    def refresh(self, newest: datetime | None | EllipsisType = ...) -> None:
        """Catch up with the store now (then read with ``held()`` or the subclass's methods)."""
        self.current(newest)

    def held(self) -> State:
        """The rows as last caught up (a full read the first time)."""
        with self._lock:
            if self._state is None:
                self._full(time.monotonic())
            assert self._state is not None
            return self._state

    def newest(self) -> datetime | None:
        with self.store.read() as s:
            return s.scalar(select(func.max(self.stamp)))

    def _full(self, now: float) -> None:
        mark = self.newest()  # before the read: what changes during it is read again next time
        self._state = self.read(None)
        self._mark, self._checked, self._synced = mark, now, now

    def _catch_up(self, newest: datetime | None) -> None:
        if newest is None or (self._mark is not None and newest <= self._mark):
            return
        since = self._mark - self.overlap if self._mark is not None else None
        changed = self.read(since)
        assert self._state is not None
        self._state = self.merge(self._state, changed) if since is not None else changed
        self._mark = newest

    def _resync(self) -> None:
        try:
            mark = self.newest()
            fresh = self.read(None)
            with self._lock:
                # Whatever changed while the full read ran is read again by the next catch-up.
                self._state = fresh
                self._mark = min(self._mark, mark) if self._mark and mark else mark
                self._synced = time.monotonic()
        finally:
            self._resyncing = False
