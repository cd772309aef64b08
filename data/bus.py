"""The change bus: after a commit, say "the log has grown to event N"; readers come and read the store.

``MemoryBus`` serves one process. ``RedisBus`` serves many: it keeps the newest announced event id
in a key (only ever raised), publishes it on a channel and appends it to a capped stream. Losing
Redis loses nothing: the store stays the truth, and readers fall back to it when ``latest()`` is None.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

import redis

log = logging.getLogger(__name__)

PREFIX = "onemap"

# Raise the key only: two processes publishing out of order never move the cursor backwards.
_RAISE_SCRIPT = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local new = tonumber(ARGV[1])
if new > cur then redis.call('SET', KEYS[1], ARGV[1]) end
redis.call('PUBLISH', ARGV[2], ARGV[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', '10000', '*', 'event', ARGV[1])
return math.max(cur, new)
"""


class Bus(Protocol):
    kind: str
    shared: bool  # True when other processes hear what this one publishes

    def bind(self, namespace: str) -> None: ...
    def publish(self, event_id: int) -> None: ...
    def latest(self) -> int | None: ...
    def wait(self, after: int, timeout: float) -> int | None: ...
    def healthy(self) -> bool: ...
    def close(self) -> None: ...


class MemoryBus:
    """In-process bus: a condition variable around the newest event id."""

    kind = "memory"
    shared = False

    def __init__(self) -> None:
        self._latest = 0
        self._cond = threading.Condition()

    def bind(self, namespace: str) -> None:
        return None  # one process, one store: nothing to tell apart

    def publish(self, event_id: int) -> None:
        with self._cond:
            if event_id > self._latest:
                self._latest = event_id
            self._cond.notify_all()

    def latest(self) -> int | None:
        return self._latest or None

    def wait(self, after: int, timeout: float) -> int | None:
        """Block until an event newer than ``after`` is announced; None on time-out."""
        with self._cond:
            self._cond.wait_for(lambda: self._latest > after, timeout)
            return self._latest if self._latest > after else None

    def healthy(self) -> bool:
        return True

    def close(self) -> None:
        return None


class RedisBus:
    """Redis pub/sub plus a raise-only key and a capped stream for catch-up."""

    kind = "redis"
    shared = True

    def __init__(self, url: str, timeout: float = 0.5):
        self._redis = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._raise = self._redis.register_script(_RAISE_SCRIPT)
        self._down_since: float | None = None
        self.bind("")

    def bind(self, namespace: str) -> None:
        """Use keys of one database (its instance id), so another database's cursor never leaks in."""
        base = f"{PREFIX}:{namespace}" if namespace else PREFIX
        self.channel, self.latest_key, self.stream = f"{base}:events", f"{base}:latest_event", f"{base}:stream"

    def _failed(self, exc: Exception) -> None:
        if self._down_since is None:
            log.warning("redis bus unavailable, screens fall back to the store: %s", exc)
            self._down_since = time.monotonic()

    def publish(self, event_id: int) -> None:
        try:
            self._raise(keys=[self.latest_key, self.stream], args=[event_id, self.channel])
            self._down_since = None
        except redis.RedisError as exc:
            self._failed(exc)

    def latest(self) -> int | None:
        try:
            raw = self._redis.get(self.latest_key)
            self._down_since = None
        except redis.RedisError as exc:
            self._failed(exc)
            return None
        return int(raw) if raw is not None else None

    def wait(self, after: int, timeout: float) -> int | None:
        """Block on the channel until an id above ``after`` arrives; None on time-out or outage."""
        deadline = time.monotonic() + timeout
        try:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(self.channel)
            try:
                current = self.latest()
                if current is not None and current > after:
                    return current
                while (left := deadline - time.monotonic()) > 0:
                    msg = pubsub.get_message(timeout=min(left, 0.2))
                    if msg and int(msg["data"]) > after:
                        return int(msg["data"])
            finally:
                pubsub.close()
        except redis.RedisError as exc:
            self._failed(exc)
        return None

    def healthy(self) -> bool:
        try:
            self._redis.ping()
            self._down_since = None
            return True
        except redis.RedisError as exc:
            self._failed(exc)
            return False

    def close(self) -> None:
        self._redis.close()


def make_bus(redis_url: str | None) -> Bus:
    """The bus the configuration asks for."""
    return RedisBus(redis_url) if redis_url else MemoryBus()
