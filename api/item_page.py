"""A page of items (incidents) built from the rows column by column: the shaping of
``ops.privacy.shown_incident`` and ``ops.permissions.shown_to`` and the routing sentence, done once
per column instead of once per item, and one dict per item made last, its keys in sorted order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from data.models import OPEN_STAGES, OPEN_STATUSES
from ops.privacy import mask_phone


def shown_items(
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    reporter_shown: bool,
    sentence: Callable[[str | None], str | None],
    now: datetime,
) -> list[dict[str, Any]]:
    """The rows (``names`` their columns) as ``shown_to(actor, shown_incident(row))`` with the routing
    sentence gives them, one by one; ``reporter_shown``: the actor may read reporters."""
    if not rows:
        return []
    cols: dict[str, Sequence[Any]] = dict(zip(names, zip(*rows, strict=True), strict=True))
    who, phones = cols.pop("reporter_name"), cols.pop("reporter_phone")
    if reporter_shown:
        cols["reporter"] = [{"name": n, "phone": mask_phone(p)} for n, p in zip(who, phones, strict=True)]
    else:
        cols["reporter"] = [None] * len(rows)
    cols["overdue"] = [s in OPEN_STATUSES and d < now for s, d in zip(cols["status"], cols["due_at"], strict=True)]
    cols["stage_overdue"] = [
        bool(d and s in OPEN_STAGES and d < now) for s, d in zip(cols["stage"], cols["stage_due_at"], strict=True)
    ]
    cols["routing"] = [sentence(r) for r in cols["routing"]]
    keys = sorted(cols)
    return [dict(zip(keys, values, strict=True)) for values in zip(*(cols[k] for k in keys), strict=True)]
