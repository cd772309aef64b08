"""The item and task lifecycle, in one place.

new → assigned → accepted → on_site → resolved → closed, plus declined (back to the queue),
cancelled and reopened. Every change is a conditional UPDATE (the database decides who wins a race)
with its event row in the same transaction; an illegal move changes nothing and says why.

Lock order, for every path that touches an item and its tasks (here, ops/cases.py, ops/sla.py,
ops/bulk.py): the incident row first, then its task rows. A path that starts from a task (a worker's
accept, resolve…; the SLA expiry) reads the task without locking it, locks its incident
(``lock_incident``), and only then updates the task. Two paths in this order wait for each other
instead of deadlocking; should PostgreSQL still pick a victim (or fail a serialization), the whole
transaction reruns (``data.store.retried``) and after the last try answers 503, never 500.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from data.models import (
    ACTIVE_ITEM_STATUSES,
    ACTIVE_TASK_STATUSES,
    OPEN_STAGES,
    OPEN_STATUSES,
    UNASSIGNED_STATUSES,
    Incident,
    Photo,
    Task,
    Worker,
    utcnow,
)
from data.store import Store, record_event, retried
from ops.accounts import Actor
from ops.cases import owns
from ops.errors import Conflict, Forbidden, Invalid, NotFound
from ops.media import store_photo
from ops.permissions import roles_with

DISPATCH_ROLES = roles_with("dispatch")
NOTE_LIMIT = 2000

# Worker actions on a task: the task states each may start from, and where it leads.
TASK_ACTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "accept": (("assigned",), "accepted"),
    "decline": (("assigned",), "declined"),
    "arrive": (("accepted",), "on_site"),
    "resolve": (("accepted", "on_site"), "resolved"),
}
# Operator actions on an item: the item states each may start from, and where it leads.
ITEM_ACTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "cancel": (OPEN_STATUSES, "cancelled"),
    "close": (("resolved",), "closed"),
    "reopen": (("resolved", "closed", "cancelled"), "reopened"),
}


def lock_incident(s: Session, incident_id: int) -> None:
    """Take the incident's row lock before any of its tasks' (the lock order above; SQLite locks the file)."""
    s.execute(select(Incident.id).where(Incident.id == incident_id).with_for_update())


def require_dispatcher(actor: Actor, what: str) -> None:
    if actor.role not in DISPATCH_ROLES:
        raise Forbidden("error.role_may_not", {"role": actor.role, "what": what})


def _conflict(s: Session, incident_id: int, action: str) -> Conflict | NotFound:
    current = s.execute(
        select(Incident.status, Incident.assigned_worker_id, Worker.name)
        .outerjoin(Worker, Worker.id == Incident.assigned_worker_id)
        .where(Incident.id == incident_id)
    ).first()
    if current is None:
        return NotFound("error.incident_missing", {"id": incident_id})
    params = {"id": incident_id, "status": current.status, "action": action}
    return Conflict(
        "error.incident_state_worker" if current.assigned_worker_id else "error.incident_state",
        {**params, "name": current.name, "worker": current.assigned_worker_id},
        status=current.status,
        assigned_worker_id=current.assigned_worker_id,
    )


def _may_send_workers(s: Session, actor: Actor, incident_id: int, what: str) -> None:
    """The command centre sends workers to any item; a department's staff to the cases their department owns."""
    if actor.role == "staff":
        owner = s.scalar(select(Incident.department_id).where(Incident.id == incident_id))
        if not owns(s, actor, owner):
            raise Forbidden("error.case_not_yours", {"id": incident_id})
        return
    require_dispatcher(actor, what)


def _check_note(note: str, required: bool, what: str) -> str:
    note = (note or "").strip()
    if required and not note:
        raise Invalid("error.reason_required", {"what": what}, field="reason")
    if len(note) > NOTE_LIMIT:
        raise Invalid("error.note_too_long", {"limit": NOTE_LIMIT}, field="note")
    return note


def _new_task(s: Session, actor: Actor, incident_id: int, worker_id: int, kind: str) -> int:
    now = utcnow()
    task = Task(incident_id=incident_id, worker_id=worker_id, status="assigned", created_at=now, updated_at=now)
    s.add(task)
    s.flush()
    record_event(s, kind, "incident", incident_id, actor.name, {"task": task.id, "worker": worker_id})
    return task.id


def _existing_worker(s: Session, worker_id: int) -> None:
    if s.get(Worker, worker_id) is None:
        raise NotFound("error.worker_missing", {"id": worker_id}, field="worker_id")


@retried
def assign(store: Store, actor: Actor, incident_id: int, worker_id: int) -> int:
    """Assign an unassigned item to a worker; return the new task id or raise ``Conflict``."""
    with store.transaction() as s:
        _may_send_workers(s, actor, incident_id, "assign")
        _existing_worker(s, worker_id)
        won = s.execute(
            update(Incident)
            .where(Incident.id == incident_id, Incident.status.in_(UNASSIGNED_STATUSES))
            .values(status="assigned", assigned_worker_id=worker_id, updated_at=utcnow())
        ).rowcount
        if not won:
            raise _conflict(s, incident_id, "assign")
        return _new_task(s, actor, incident_id, worker_id, "incident.assigned")


@retried
def reassign(store: Store, actor: Actor, incident_id: int, worker_id: int, reason: str = "") -> int:
    """Move an assigned item to another worker: the old task is cancelled, a new one starts."""
    reason = _check_note(reason, required=False, what="reassign")
    with store.transaction() as s:
        _may_send_workers(s, actor, incident_id, "reassign")
        _existing_worker(s, worker_id)
        won = s.execute(
            update(Incident)
            .where(
                Incident.id == incident_id,
                Incident.status.in_(ACTIVE_ITEM_STATUSES),
                Incident.assigned_worker_id != worker_id,
            )
            .values(status="assigned", assigned_worker_id=worker_id, updated_at=utcnow())
        ).rowcount
        if not won:
            raise _conflict(s, incident_id, "reassign")
        s.execute(
            update(Task)
            .where(Task.incident_id == incident_id, Task.status.in_(ACTIVE_TASK_STATUSES))
            .values(status="cancelled", note=reason or "reassigned", updated_at=utcnow())
        )
        return _new_task(s, actor, incident_id, worker_id, "incident.reassigned")


@retried
def act_on_item(store: Store, actor: Actor, incident_id: int, action: str, reason: str = "") -> str:
    """Cancel (with a reason), close or reopen an item; return its new status."""
    if action not in ITEM_ACTIONS:
        raise NotFound("error.item_action_unknown", {"action": action, "actions": ", ".join(ITEM_ACTIONS)})
    require_dispatcher(actor, action)
    reason = _check_note(reason, required=action == "cancel", what=action)
    sources, target = ITEM_ACTIONS[action]
    now = utcnow()
    values: dict[str, object] = {"status": target, "updated_at": now}
    if action == "close":
        values["closed_at"] = now
    if action == "reopen":
        values.update(assigned_worker_id=None, resolved_at=None, closed_at=None)
    with store.transaction() as s:
        won = s.execute(
            update(Incident).where(Incident.id == incident_id, Incident.status.in_(sources)).values(**values)
        ).rowcount
        if not won:
            raise _conflict(s, incident_id, action)
        if action == "cancel":
            s.execute(
                update(Task)
                .where(Task.incident_id == incident_id, Task.status.in_(ACTIVE_TASK_STATUSES))
                .values(status="cancelled", note=reason, updated_at=now)
            )
            # A cancelled item is no case for any body any more: its case ends voided, so no move applies to it.
            s.execute(
                update(Incident)
                .where(Incident.id == incident_id, Incident.stage.in_(OPEN_STAGES))
                .values(stage="voided", stage_at=now, stage_due_at=None, held_stage=None)
            )
        record_event(s, f"incident.{target}", "incident", incident_id, actor.name, {"reason": reason})
        return target


@retried
def set_priority(
    store: Store, actor: Actor, incident_id: int, priority: int, sla_minutes: dict[str, dict[int, int]]
) -> None:
    """Change an item's priority; its due time follows the kind's SLA for the new priority."""
    require_dispatcher(actor, "set_priorities")
    if priority not in (1, 2, 3):
        raise Invalid("error.priority_range", field="priority")
    with store.transaction() as s:
        item = s.get(Incident, incident_id)
        if item is None:
            raise NotFound("error.incident_missing", {"id": incident_id})
        old = item.priority
        item.priority = priority
        item.due_at = item.created_at + timedelta(minutes=sla_minutes[item.kind][priority])
        item.updated_at = utcnow()
        record_event(s, "incident.priority", "incident", incident_id, actor.name, {"from": old, "to": priority})


@retried
def act_on_task(
    store: Store,
    actor: Actor,
    task_id: int,
    action: str,
    note: str = "",
    photo: bytes | None = None,
    media_dir: str = "media",
) -> str:
    """Apply a worker's action to their task and mirror it on the item; return the new status.

    A photo may come with ``resolve``; it is checked and stored before the transaction.
    """
    if action not in TASK_ACTIONS:
        raise NotFound("error.task_action_unknown", {"action": action, "actions": ", ".join(TASK_ACTIONS)})
    note = _check_note(note, required=action == "decline", what="decline")
    if photo is not None and action != "resolve":
        raise Invalid("error.photo_resolve_only", field="photo")
    sources, target = TASK_ACTIONS[action]
    with store.transaction() as s:
        task = s.get(Task, task_id)
        if task is None:
            raise NotFound("error.task_missing", {"id": task_id})
        lock_incident(s, task.incident_id)
        s.refresh(task)  # as it is now that its incident is ours
        worker = s.get(Worker, task.worker_id)
        own = worker is not None and worker.user_id is not None and worker.user_id == actor.user_id
        if actor.role != "admin" and not own:
            raise Forbidden("error.task_not_own")
        now = utcnow()
        won = s.execute(
            update(Task)
            .where(Task.id == task_id, Task.status.in_(sources))
            .values(status=target, updated_at=now, note=note or Task.note)
        ).rowcount
        if not won:
            raise Conflict(
                "error.task_state", {"id": task_id, "status": task.status, "action": action}, status=task.status
            )
        stored = store_photo(media_dir, photo) if photo is not None else None
        if stored:
            s.add(
                Photo(
                    incident_id=task.incident_id,
                    task_id=task_id,
                    name=stored.name,
                    width=stored.width,
                    height=stored.height,
                    uploaded_by=actor.name,
                    created_at=now,
                )
            )
        values: dict[str, object] = {"status": target, "updated_at": now}
        if target == "resolved":
            values["resolved_at"] = now
        if target == "declined":
            values["assigned_worker_id"] = None
        s.execute(update(Incident).where(Incident.id == task.incident_id).values(**values))
        data: dict[str, object] = {"task": task_id, "note": note}
        if stored:
            data["photo"] = stored.name
        record_event(s, f"task.{action}", "incident", task.incident_id, actor.name, data)
        return target
