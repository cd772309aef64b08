"""The item and task lifecycle, in one place.

new → assigned → accepted → on_site → resolved → closed, plus declined (back to the queue),
cancelled and reopened. Every change is a conditional UPDATE (the database decides who wins a race)
with its event row in the same transaction; an illegal move changes nothing and says why.
"""

from __future__ import annotations

from sqlalchemy import select, update

from data.models import UNASSIGNED_STATUSES, Incident, Task, Worker, utcnow
from data.store import Store, record_event
from ops.accounts import Actor
from ops.errors import Conflict, Forbidden, NotFound

ASSIGNING_ROLES = ("operator", "supervisor", "admin")

# For each task action: the task states it may start from, and the state it leads to.
TASK_ACTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "accept": (("assigned",), "accepted"),
    "decline": (("assigned",), "declined"),
    "arrive": (("accepted",), "on_site"),
    "resolve": (("accepted", "on_site"), "resolved"),
}


def assign(store: Store, actor: Actor, incident_id: int, worker_id: int) -> int:
    """Assign an unassigned item to a worker; return the new task id or raise ``Conflict``."""
    if actor.role not in ASSIGNING_ROLES:
        raise Forbidden(f"role {actor.role!r} may not assign")
    with store.transaction() as s:
        if s.get(Worker, worker_id) is None:
            raise NotFound(f"worker {worker_id} does not exist", field="worker_id")
        now = utcnow()
        won = s.execute(
            update(Incident)
            .where(Incident.id == incident_id, Incident.status.in_(UNASSIGNED_STATUSES))
            .values(status="assigned", assigned_worker_id=worker_id, updated_at=now)
        ).rowcount
        if not won:
            current = s.execute(
                select(Incident.status, Incident.assigned_worker_id).where(Incident.id == incident_id)
            ).first()
            if current is None:
                raise NotFound(f"incident {incident_id} does not exist")
            raise Conflict(
                f"incident {incident_id} is {current.status}",
                status=current.status,
                assigned_worker_id=current.assigned_worker_id,
            )
        task = Task(incident_id=incident_id, worker_id=worker_id, status="assigned", created_at=now, updated_at=now)
        s.add(task)
        s.flush()
        record_event(
            s, "incident.assigned", "incident", incident_id, actor.name, {"task": task.id, "worker": worker_id}
        )
        return task.id


def act_on_task(store: Store, actor: Actor, task_id: int, action: str, note: str = "") -> str:
    """Apply a worker's action to a task and mirror it on the item; return the new status."""
    if action not in TASK_ACTIONS:
        raise NotFound(f"unknown task action {action!r}; use one of {', '.join(TASK_ACTIONS)}")
    sources, target = TASK_ACTIONS[action]
    with store.transaction() as s:
        task = s.get(Task, task_id)
        if task is None:
            raise NotFound(f"task {task_id} does not exist")
        worker = s.get(Worker, task.worker_id)
        own = worker is not None and worker.user_id is not None and worker.user_id == actor.user_id
        if actor.role != "admin" and not own:
            raise Forbidden("a worker acts only on their own tasks")
        now = utcnow()
        won = s.execute(
            update(Task)
            .where(Task.id == task_id, Task.status.in_(sources))
            .values(status=target, updated_at=now, note=note or Task.note)
        ).rowcount
        if not won:
            raise Conflict(f"task {task_id} is {task.status}; cannot {action}", status=task.status)
        values: dict[str, object] = {"status": target, "updated_at": now}
        if target == "resolved":
            values["resolved_at"] = now
        if target == "declined":
            values["assigned_worker_id"] = None
        s.execute(update(Incident).where(Incident.id == task.incident_id).values(**values))
        record_event(s, f"task.{action}", "incident", task.incident_id, actor.name, {"task": task_id, "note": note})
        return target


def close(store: Store, actor: Actor, incident_id: int) -> None:
    """Close a resolved item (operators and supervisors)."""
    if actor.role not in ASSIGNING_ROLES:
        raise Forbidden(f"role {actor.role!r} may not close items")
    with store.transaction() as s:
        won = s.execute(
            update(Incident)
            .where(Incident.id == incident_id, Incident.status == "resolved")
            .values(status="closed", closed_at=utcnow(), updated_at=utcnow())
        ).rowcount
        if not won:
            raise Conflict(f"incident {incident_id} is not resolved")
        record_event(s, "incident.closed", "incident", incident_id, actor.name)
