"""Requests per token per minute on the ingestion doors: a fixed one-minute window counted in Redis
(shared by every app process) when configured, in this process otherwise."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

log = logging.getLogger(__name__)
WINDOW_S = 60


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int  # seconds until the window ends (0 when allowed)


class RateLimiter:
    """``hit(key)`` counts one request; more than ``per_minute`` in a window are refused. 0 = no limit."""

    def __init__(self, per_minute: int, redis_url: str | None = None, clock: Callable[[], float] = time.time):
        self.per_minute = per_minute
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, int]] = {}  # key → (window, count)
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=1.0) if redis_url and per_minute else None

    def hit(self, key: str) -> Verdict:
        if not self.per_minute:
            return Verdict(True, 0)
        now = self._clock()
        window = int(now // WINDOW_S)
        retry = max(1, int((window + 1) * WINDOW_S - now))
        count = self._shared(key, window)
        if count is None:
            count = self._local(key, window)
        return Verdict(count <= self.per_minute, 0 if count <= self.per_minute else retry)

    def _shared(self, key: str, window: int) -> int | None:
        if self._redis is None:
            return None
        name = f"onemap:rate:{key}:{window}"
        try:
            pipe = self._redis.pipeline()
            pipe.incr(name)
            pipe.expire(name, WINDOW_S * 2)
            return int(pipe.execute()[0])
        except redis.RedisError as exc:  # Redis down: count here rather than refuse or let all through
            log.warning("rate limit: Redis unavailable (%s); counting in this process", exc)
            return None

    def _local(self, key: str, window: int) -> int:
        with self._lock:
            seen, count = self._counts.get(key, (window, 0))
            count = count + 1 if seen == window else 1
            if len(self._counts) > 10_000:  # old windows of tokens gone quiet
                self._counts = {k: v for k, v in self._counts.items() if v[0] == window}
            self._counts[key] = (window, count)
            return count
