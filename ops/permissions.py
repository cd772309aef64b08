"""Who may do what: the one table of role × capability, checked by ops/ and through it by every
API route and every Dash callback, reads as much as writes.

A capability is granted to whole roles; what a granted actor then sees may still be narrowed by
``scope`` (a department's staff: their department and those below it) and by ``incident_visible``
(a grid worker: the items of their own tasks and of their own grid, without the reporter).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import exists, select

from data.models import Task, Worker
from data.store import Store
from ops.accounts import Actor
from ops.errors import Forbidden

COMMAND = frozenset({"operator", "supervisor", "admin"})  # the command centre: the whole city
STAFF = frozenset({"staff"})  # a department's people: their department's cases
WORKER = frozenset({"worker"})  # a grid worker: their own tasks and their grid

# capability → the roles that have it. A route or callback names one of these; nothing else decides.
TABLE: Mapping[str, frozenset[str]] = {
    # the city's grid shapes and the change cursor: every signed-in role's screen needs them
    "read_map": COMMAND | STAFF | WORKER,
    # a worker's own inbox, tasks and position
    "read_own_tasks": WORKER,
    # the city's queue, map items, feed and KPIs (staff: scoped to their department)
    "read_city": COMMAND | STAFF,
    # one item's detail (staff: their department's; worker: their tasks' and their grid's)
    "read_incident": COMMAND | STAFF | WORKER,
    # reporters' names and phones (masked) on an item
    "read_reporter": COMMAND | STAFF,
    # where the grid workers are, and the ranking of them for an item
    "read_workers": COMMAND | STAFF,
    # the review page: history, charts, exports
    "review_items": COMMAND,
    "export_review": COMMAND,
    # the monthly evaluation report (PDF): those who judge the departments
    "evaluation_report": frozenset({"supervisor", "admin"}),
    # early warnings and the places (registered occupants) behind them
    "read_warnings": COMMAND,
    "handle_warnings": COMMAND,
    "read_places": COMMAND,
    # the warning rules (admins change them)
    "read_rules": COMMAND,
    # CAP alerts and the department tree
    "read_alerts": COMMAND | STAFF,
    "read_departments": COMMAND | STAFF,
    # writes of the command centre
    "dispatch": COMMAND,
    "feed_data": COMMAND,
    "report_items": COMMAND,
    "push_tasks": COMMAND,
    # the administrator's pages
    "manage_rules": frozenset({"admin"}),
    "manage_departments": frozenset({"admin"}),
}


def roles_with(capability: str) -> tuple[str, ...]:
    """The roles granted ``capability``, sorted (for the ops/ modules' role lists)."""
    return tuple(sorted(TABLE[capability]))


def may(actor: Actor | None, capability: str) -> bool:
    """Whether the actor's role has the capability (nobody has none)."""
    return actor is not None and actor.role in TABLE[capability]


def require(actor: Actor, capability: str) -> None:
    """``Forbidden`` (403, naming the role and what it may not do) unless the role has the capability."""
    if not may(actor, capability):
        raise Forbidden("error.role_may_not", {"role": actor.role, "what": capability})


def scope(store: Store, actor: Actor) -> tuple[int, ...] | None:
    """The departments whose cases the actor sees: None for the whole city, else a department subtree."""
    if actor.role != "staff":
        return None
    from ops.departments import subtree  # departments imports this module's table

    return tuple(sorted(subtree(store, actor.department_id or 0)))


def incident_visible(store: Store, actor: Actor, detail: Mapping[str, Any]) -> bool:
    """Whether one item (its ``id``, ``grid_id`` and ``department_id``) is within what the actor may see."""
    if not may(actor, "read_incident"):
        return False
    if actor.role == "staff":
        return detail.get("department_id") in (scope(store, actor) or ())
    if actor.role == "worker":
        with store.read() as s:
            me = s.execute(select(Worker.id, Worker.grid_id).where(Worker.user_id == actor.user_id)).first()
            if me is None:
                return False
            if me.grid_id == detail.get("grid_id"):
                return True
            mine = exists().where(Task.incident_id == detail["id"], Task.worker_id == me.id)
            return bool(s.scalar(select(mine)))
    return True


def shown_worker(row: dict[str, Any]) -> dict[str, Any]:
    """A worker as listed: an off-duty worker's whereabouts are nobody's business (no position)."""
    if row.get("on_duty"):
        return row
    return {**row, "lon": None, "lat": None, "position_at": None}


def shown_to(actor: Actor, shown: dict[str, Any]) -> dict[str, Any]:
    """An item as ``ops.privacy.shown_incident`` gives it, without the reporter for a role that may not see them."""
    if may(actor, "read_reporter"):
        return shown
    return {**shown, "reporter": None}
