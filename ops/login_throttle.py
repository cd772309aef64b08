"""Login throttling: after too many wrong passwords for one user name, or from one client address,
sign-in is refused until the window ends.

Counts live in Redis when one is configured (every process sees them), in this process otherwise.
A fixed window per key: the first failure starts it, each failure counts, the window's end frees it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import redis

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """Failures allowed per user name and per client address within ``window_seconds``."""

    per_account: int
    per_address: int
    window_seconds: int


class _MemoryCounts:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, float]] = {}  # key -> (failures, window end on the monotonic clock)

    def add(self, key: str, window: int) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._counts) > 10_000:  # many made-up names: forget the windows already over
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
            count, end = self._counts.get(key, (0, 0.0))
            self._counts[key] = (count + 1, end) if end > now else (1, now + window)

    def state(self, key: str) -> tuple[int, float]:
        now = time.monotonic()
        with self._lock:
            count, end = self._counts.get(key, (0, 0.0))
        return (count, end - now) if end > now else (0, 0.0)

    def clear(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)


class _RedisCounts:
    def __init__(self, url: str, prefix: str) -> None:
        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._prefix = prefix

    def add(self, key: str, window: int) -> None:
        k = self._prefix + key
        pipe = self._redis.pipeline()
        pipe.set(k, 0, ex=window, nx=True)  # the first failure opens the window
        pipe.incr(k)
        pipe.execute()

    def state(self, key: str) -> tuple[int, float]:
        k = self._prefix + key
        pipe = self._redis.pipeline()
        pipe.get(k)
        pipe.pttl(k)
        count, ttl = pipe.execute()
        return (int(count), ttl / 1000) if count is not None and ttl > 0 else (0, 0.0)

    def clear(self, key: str) -> None:
        self._redis.delete(self._prefix + key)


class LoginThrottle:
    """Counts failed sign-ins by user name and by address; says how long a new try must wait."""

    def __init__(self, limits: Limits, redis_url: str | None = None, instance: str = "") -> None:
        self.limits = limits
        self._memory = _MemoryCounts()
        self._counts: _MemoryCounts | _RedisCounts = (
            _RedisCounts(redis_url, f"onemap:{instance}:login:") if redis_url else self._memory
        )

    @staticmethod
    def _keys(username: str, address: str) -> tuple[str, str]:
        return "user:" + username.strip().lower()[:64], "addr:" + address[:64]

    def _call(self, name: str, *args: object) -> object:
        try:
            return getattr(self._counts, name)(*args)
        except redis.RedisError as exc:  # Redis away: keep throttling, in this process
            log.warning("login throttle: Redis unavailable (%s); counting in this process", exc)
            return getattr(self._memory, name)(*args)

    def wait_seconds(self, username: str, address: str) -> float:
        """Seconds until this user name may try again from this address (0: now)."""
        user, addr = self._keys(username, address)
        waits = [0.0]
        for key, limit in ((user, self.limits.per_account), (addr, self.limits.per_address)):
            count, left = self._call("state", key)  # type: ignore[misc]
            if count >= limit:
                waits.append(left)
        return max(waits)

    def failed(self, username: str, address: str) -> None:
        """Count a wrong password (for a known user name or not alike)."""
        for key in self._keys(username, address):
            self._call("add", key, self.limits.window_seconds)

    def succeeded(self, username: str) -> None:
        """A right password clears the user name's count (the address keeps its own)."""
        self._call("clear", self._keys(username, "")[0])
