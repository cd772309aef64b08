"""Time rules: an assignment not accepted in time goes back to the operators' queue."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy import select, update

from data.models import Incident, Task, utcnow
from data.store import Store, record_events

log = logging.getLogger(__name__)
ACTOR = "sla"
CHUNK = 500


def escalate_unaccepted(
    store: Store, accept_minutes: int, now: datetime | None = None, chunk: int = CHUNK
) -> list[int]:
    """Expire tasks still 'assigned' after ``accept_minutes``; their items return to the queue.

    Each expiry is a conditional update, so several processes running this at once expire a task once.
    Expiries go ``chunk`` at a time, one transaction each (task rows, then their items: the lock order
    of every path in ops/), stamped when that transaction runs: a pass over thousands of tasks takes a
    while, and ``now`` (when the pass began) only decides which tasks are late.
    """
    now = now or utcnow()
    cutoff = now - timedelta(minutes=accept_minutes)
    with store.read() as s:
        stale = s.scalars(
            select(Task.id).where(Task.status == "assigned", Task.updated_at < cutoff).order_by(Task.id)
        ).all()
    escalated: list[int] = []
    reason = f"not accepted within {accept_minutes} min"
    for start in range(0, len(stale), chunk):
        with store.transaction() as s:
            # Incident before task: the lock order of ops/lifecycle.py, in id order (two passes wait, never cross).
            s.execute(
                select(Incident.id)
                .where(Incident.id.in_(select(Task.incident_id).where(Task.id.in_(stale[start : start + chunk]))))
                .order_by(Incident.id)
                .with_for_update()
            )
            at = utcnow()
            won = s.execute(
                update(Task)
                .where(Task.id.in_(stale[start : start + chunk]), Task.status == "assigned")
                .values(status="expired", note="not accepted in time", updated_at=at)
                .returning(Task.id, Task.incident_id, Task.worker_id)
            ).all()
            if not won:
                continue
            won = sorted(won, key=lambda t: t.incident_id)
            s.execute(
                update(Incident)
                .where(Incident.id.in_([t.incident_id for t in won]), Incident.status == "assigned")
                .values(status="new", assigned_worker_id=None, updated_at=at)
                .execution_options(synchronize_session=False)
            )
            events = [
                {
                    "kind": "task.expired",
                    "entity": "incident",
                    "entity_id": t.incident_id,
                    "data": {"task": t.id, "worker": t.worker_id, "reason": reason},
                }
                for t in won
            ]
            record_events(s, ACTOR, events)
            escalated.extend(t.incident_id for t in won)
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
