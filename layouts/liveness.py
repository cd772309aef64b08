"""The screen tells the truth: a heartbeat the server poll writes on every answer, and a browser-only
watchdog that turns the live badge to "disconnected" (with the data's age) when answers stop.

The watchdog runs in the browser (assets/liveness.js) because it must work when the server is dead.
"""

from __future__ import annotations

import time
from typing import Any

from dash import Patch, dcc

from layouts.i18n import Text

# The badge says "disconnected" once the last answer is older than this many poll periods.
LIMIT_POLLS = 2


def server_badge(t: Text, healthy: bool) -> tuple[str, str]:
    """The badge text and colour the server poll sends with each answer (live, or degraded to the store)."""
    return (t("live.ok"), "green") if healthy else (t("live.degraded"), "red")


def watch(heartbeat: str, watchdog: str, t: Text, poll_ms: int) -> list[Any]:
    """A page's heartbeat store and the watchdog timer that reads it (twice per poll period)."""
    return [
        dcc.Store(
            id=heartbeat,
            data={
                "at": time.time(),
                "limit_ms": LIMIT_POLLS * poll_ms,
                "seconds": t("live.disconnected"),
                "minutes": t("live.disconnected_min"),
            },
        ),
        dcc.Interval(id=watchdog, interval=max(100, poll_ms // 2)),
    ]


def beat() -> Patch:
    """What the server poll writes to the heartbeat on every answer: only the answer's time changes."""
    patch = Patch()
    patch["at"] = time.time()
    return patch
