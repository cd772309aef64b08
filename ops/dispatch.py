"""Dispatch helpers built on the lifecycle: assign many items at once to their best worker."""

from __future__ import annotations

from dataclasses import dataclass, field

from data.queries import WorkerSnapshot, worker_snapshot
from data.store import Store
from ops import lifecycle
from ops.accounts import Actor
from ops.errors import OneMapError
from ops.suggestions import suggest


@dataclass
class BulkResult:
    assigned: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)


def auto_assign(
    store: Store, actor: Actor, incident_ids: list[int], snapshot: WorkerSnapshot | None = None
) -> BulkResult:
    """Give each item to its top suggestion (its own grid's nearest worker); report each failure."""
    lifecycle.require_dispatcher(actor, "assign")
    result = BulkResult()
    snapshot = snapshot or worker_snapshot(store)
    for iid in incident_ids:
        try:
            best = suggest(store, iid, limit=1, snapshot=snapshot)
            if not best:
                result.failed[iid] = "no worker on duty"
                continue
            lifecycle.assign(store, actor, iid, best[0].worker_id)
            result.assigned.append(iid)
        except OneMapError as exc:
            result.failed[iid] = exc.message
    return result
