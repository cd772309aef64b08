"""A table's rows held in memory per process and caught up from the rows whose change stamp moved.

The open items (``data/live.py``), the workers and parking spaces (``data/live_field.py``) and the
review history (``data/history.py``) are all read this way: once in full, then only the rows whose
``change_seq`` is at or above the mark taken before the last read. The database sets ``change_seq``
in commit order (``data.models.change_horizon``, migration 0009), so a row a long transaction
wrote early and committed late is still read: nothing depends on a clock. A full re-read in the
background every ``resync_s`` seconds (``Reconciler`` runs it on time, whether or not anything
polls) checks that, and heals what a writer outside the database's triggers could have done.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from types import EllipsisType
from typing import Any, Generic, TypeVar

import numpy as np
from sqlalchemy import Column, func, select

from data.models import change_horizon
from data.store import Store

log = logging.getLogger(__name__)

State = TypeVar("State")
Columns = dict[str, np.ndarray]
Newest = tuple[int | None, int]  # (the newest change_seq committed, the horizon: see ``change_horizon``)


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
    """Subclasses say which column stamps a change (``stamp``, a table's ``change_seq`` column: a mapped
    attribute would act as a descriptor on the mirror) and how to read and merge rows."""

    stamp: Column[int]

    def __init__(self, store: Store, resync_s: float, max_age_s: float = 0.0):
        self.store = store
        self.resync_s = resync_s
        self.max_age_s = max_age_s
        self._state: State | None = None
        self._mark: int | None = None  # rows with change_seq at or above it may not be read yet
        self._checked = 0.0
        self._synced = 0.0
        self._resyncing = False
        self._lock = threading.Lock()
        self.resynced_at = 0.0  # monotonic time the last background full re-read replaced the rows
        self.resyncs = 0

    # --- what a subclass provides ------------------------------------------------------------------------

    def read(self, since: int | None) -> State:
        """Every row (``since`` None) or the rows whose ``change_seq`` is at or above ``since``."""
        raise NotImplementedError

    def merge(self, held: State, changed: State) -> State:
        """``held`` with ``changed`` rows taking the place of their older copies (a new object)."""
        raise NotImplementedError

    # --- keeping current ---------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Whether the first full read is done."""
        return self._state is not None

    def current(self, newest: Newest | EllipsisType = ...) -> State:
        """The rows, caught up with the store unless the last look was under ``max_age_s`` ago.

        ``newest`` is the table's ``newest()`` when the caller has just read it (saves a query)."""
        with self._lock:
            now = time.monotonic()
            if self._state is None:
                self._full(now)
            elif now - self._checked >= self.max_age_s:
                self._catch_up(self.newest() if newest is ... else newest)
                self._checked = now
            state = self._state
        self.resync_if_due()
        assert state is not None
        return state

    def refresh(self, newest: Newest | EllipsisType = ...) -> None:
        """Catch up with the store now (then read with ``held()`` or the subclass's methods)."""
        self.current(newest)

    def held(self) -> State:
        """The rows as last caught up (a full read the first time)."""
        with self._lock:
            if self._state is None:
                self._full(time.monotonic())
            assert self._state is not None
            return self._state

    def newest(self) -> Newest:
        with self.store.read() as s:
            row = s.execute(select(*newest_columns(self.store, self.stamp))).one()
        return row[0], int(row[1])

    def _horizon(self) -> int:
        return self.newest()[1]

    def _full(self, now: float) -> None:
        mark = self._horizon()  # before the read: what commits during it is read again next time
        self._state = self.read(None)
        self._mark, self._checked, self._synced = mark, now, now

    def _catch_up(self, newest: Newest) -> None:
        top, horizon = newest
        if top is None or (self._mark is not None and top < self._mark):
            return  # nothing committed at or above the mark
        changed = self.read(self._mark)
        assert self._state is not None
        self._state = self.merge(self._state, changed) if self._mark is not None else changed
        self._mark = horizon  # taken before this read (by the caller's newest()), so never past a row

    def resync_if_due(self) -> None:
        """Start the full re-read in the background when ``resync_s`` has passed since the last one."""
        with self._lock:
            due = self._state is not None and time.monotonic() - self._synced > self.resync_s and not self._resyncing
            if due:
                self._resyncing = True
        if due:
            threading.Thread(target=self._resync, name=f"onemap-{type(self).__name__}-resync", daemon=True).start()

    def _resync(self) -> None:
        try:
            mark = self._horizon()
            fresh = self.read(None)
            with self._lock:
                # Whatever committed while the full read ran is read again by the next catch-up.
                self._state = fresh
                self._mark = min(self._mark, mark) if self._mark is not None else mark
                self._synced = self.resynced_at = time.monotonic()
                self.resyncs += 1
        except Exception:  # a store outage: try again at the next period
            log.exception("%s: full re-read failed", type(self).__name__)
        finally:
            self._resyncing = False


def newest_columns(store: Store, stamp: Column[int]) -> tuple[Any, Any]:
    """(newest ``change_seq`` of ``stamp``'s table, the horizon) as two select columns."""
    return select(func.max(stamp)).scalar_subquery(), change_horizon(store.kind, stamp)


class Reconciler:
    """Runs each mirror's full re-read on time, whether or not a screen polls or anything changes.

    One daemon thread per set of mirrors; it holds them weakly and ends when they are gone or on ``stop()``.
    """

    def __init__(self, mirrors: Callable[[], list[Mirror[Any]]], every_s: float = 5.0):
        self._stop = threading.Event()
        ref = weakref.WeakMethod(mirrors) if hasattr(mirrors, "__self__") else lambda: mirrors
        self._thread = threading.Thread(target=self._loop, args=(ref, every_s), name="onemap-reconcile", daemon=True)
        self._thread.start()

    def _loop(self, ref: Callable[[], Callable[[], list[Mirror[Any]]] | None], every_s: float) -> None:
        while not self._stop.wait(every_s):
            mirrors = ref()
            if mirrors is None:
                return
            for mirror in mirrors():
                mirror.resync_if_due()
            del mirrors

    def stop(self) -> None:
        self._stop.set()
