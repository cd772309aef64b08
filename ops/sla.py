"""Time rules: an assignment not accepted in time goes back to the operators' queue."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy import select, update

from data.models import Incident, Task, utcnow
from data.store import Store, record_event
from ops.lifecycle import lock_incident

log = logging.getLogger(__name__)
ACTOR = "sla"


def escalate_unaccepted(store: Store, accept_minutes: int, now: datetime | None = None) -> list[int]:
    """Expire tasks still 'assigned' after ``accept_minutes``; their items return to the queue.

    Each expiry is a conditional update, so several processes running this at once expire a task once.
    """
    now = now or utcnow()
    cutoff = now - timedelta(minutes=accept_minutes)
    with store.read() as s:
        stale = s.execute(
            select(Task.id, Task.incident_id, Task.worker_id).where(Task.status == "assigned", Task.updated_at < cutoff)
        ).all()
    escalated = []
    for task in stale:
        with store.transaction() as s:
            lock_incident(s, task.incident_id)  # incident before task: the lock order of ops/lifecycle.py
            won = s.execute(
                update(Task)
                .where(Task.id == task.id, Task.status == "assigned")
                .values(status="expired", note="not accepted in time", updated_at=now)
            ).rowcount
            if not won:
                continue
            s.execute(
                update(Incident)
                .where(Incident.id == task.incident_id, Incident.status == "assigned")
                .values(status="new", assigned_worker_id=None, updated_at=now)
            )
            record_event(
                s,
                "task.expired",
                "incident",
                task.incident_id,
                ACTOR,
                {"task": task.id, "worker": task.worker_id, "reason": f"not accepted within {accept_minutes} min"},
            )
            escalated.append(task.incident_id)
    return escalated


def start_in_thread(store: Store, accept_minutes: int, every_s: float = 15.0) -> threading.Event:
    """Run the time rules every ``every_s`` seconds in a daemon thread; set the event to stop."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every_s):
            try:
                escalate_unaccepted(store, accept_minutes)
            except Exception:  # a transient store error must not end the rules for good
                log.exception("SLA rules failed")

    threading.Thread(target=loop, name="onemap-sla", daemon=True).start()
    return stop
