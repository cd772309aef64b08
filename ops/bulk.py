"""Bulk push: a CSV of visits (think 380,000 people to door-knock overnight) becomes one task per
row, each assigned to the responsible grid's worker, in one transaction. Rows that cannot become
tasks come back with their reason; a failure part-way leaves nothing behind."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import insert, select

from data.models import Incident, Task, Worker, utcnow
from data.store import Store, insert_returning_ids, record_event, retried
from geo.crs import SYSTEMS, to_wgs84
from geo.grid_index import OUTSIDE, GridIndex
from locales import API_LANG, Message, msg, render
from ops.accounts import Actor
from ops.errors import Invalid
from ops.incidents import due_at
from ops.lifecycle import require_dispatcher

REQUIRED = ("lon", "lat", "note")
OPTIONAL = ("crs", "name", "address", "priority")
CHUNK = 20_000
NOTE_LIMIT = 500
Progress = Callable[[int, int], None]


@dataclass
class PushResult:
    created: int = 0
    errors: list[tuple[int, Message, dict[str, str]]] = field(default_factory=list)  # (line, reason, row)

    def reasons(self, lang: str = API_LANG) -> list[tuple[int, str]]:
        """(line, reason) of every rejected row, the reason in ``lang``."""
        return [(line, render(lang, reason["key"], reason["params"])) for line, reason, _ in self.errors]

    def error_csv(self, lang: str = API_LANG) -> str:
        """The rejected rows with a reason column (in ``lang``), ready to fix and push again."""
        out = io.StringIO()
        if not self.errors:
            return ""
        columns = ["line", "reason", *self.errors[0][2].keys()]
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for (line, reason), (_, _, row) in zip(self.reasons(lang), self.errors, strict=True):
            writer.writerow({"line": line, "reason": reason, **row})
        return out.getvalue()


def _read(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise Invalid("error.csv_header", {"missing": ", ".join(missing)}, field=missing[0])
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    if unknown:
        raise Invalid("error.csv_column", {"name": unknown[0]}, field=unknown[0])
    return [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in reader]


@retried
def push_visits(
    store: Store,
    index: GridIndex,
    actor: Actor,
    text: str,
    sla_minutes: dict[str, dict[int, int]],
    progress: Progress | None = None,
) -> PushResult:
    """Validate every row, then store all good rows as assigned visit tasks in one transaction."""
    require_dispatcher(actor, "push_tasks")
    rows = _read(text)
    result = PushResult()
    n = len(rows)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    good = np.zeros(n, dtype=bool)
    crs = np.array([r.get("crs") or "wgs84" for r in rows], dtype=object)
    priority = np.full(n, 3, dtype=np.int64)
    for i, r in enumerate(rows):
        try:
            lon[i], lat[i] = float(r["lon"]), float(r["lat"])
        except ValueError:
            result.errors.append((i + 2, msg("error.push.no_location"), r))
            continue
        if crs[i].lower() not in SYSTEMS:
            result.errors.append((i + 2, msg("error.push.crs", crs=crs[i]), r))
            continue
        if len(r["note"]) > NOTE_LIMIT:
            result.errors.append((i + 2, msg("error.push.note_long", limit=NOTE_LIMIT), r))
            continue
        if r.get("priority"):
            if r["priority"] not in ("1", "2", "3"):
                result.errors.append((i + 2, msg("error.priority_range"), r))
                continue
            priority[i] = int(r["priority"])
        good[i] = True
    for system in set(crs[good]):
        m = good & (crs == system)
        lon[m], lat[m] = to_wgs84(lon[m], lat[m], system.lower())
    grids = np.full(n, OUTSIDE, dtype=np.int64)
    grids[good] = index.locate(lon[good], lat[good])
    swapped = np.zeros(n, dtype=bool)
    swapped[good] = index.looks_swapped(lon[good], lat[good])
    with store.read() as s:
        # The grid's first worker (its grid manager) is responsible for door-knocking in it.
        owner = dict(s.execute(select(Worker.grid_id, Worker.id).order_by(Worker.id.desc())).all())
    for i in np.nonzero(good & (grids == OUTSIDE))[0]:
        reason = msg("error.push.swapped") if swapped[i] else msg("error.push.outside")
        result.errors.append((int(i) + 2, reason, rows[i]))
        good[i] = False
    for i in np.nonzero(good)[0]:
        if int(grids[i]) not in owner:
            result.errors.append((int(i) + 2, msg("error.push.no_worker"), rows[i]))
            good[i] = False
    result.errors.sort(key=lambda e: e[0])

    keep = np.nonzero(good)[0]
    now = utcnow()
    with store.transaction() as s:
        for start in range(0, len(keep), CHUNK):
            part = keep[start : start + CHUNK]
            items = [
                {
                    "kind": "visit",
                    "category": "走访",
                    "priority": int(priority[i]),
                    "status": "assigned",
                    "title": rows[i].get("name") or rows[i]["note"][:40] or "走访",
                    "description": " ".join(filter(None, (rows[i].get("address"), rows[i]["note"]))),
                    "lon": float(lon[i]),
                    "lat": float(lat[i]),
                    "grid_id": int(grids[i]),
                    "source": "bulk",
                    "assigned_worker_id": owner[int(grids[i])],
                    "created_at": now,
                    "updated_at": now,
                    "due_at": due_at(now, "visit", int(priority[i]), sla_minutes),
                }
                for i in part
            ]
            ids = insert_returning_ids(s, Incident.__table__, items)
            tasks = [
                {
                    "incident_id": iid,
                    "worker_id": item["assigned_worker_id"],
                    "status": "assigned",
                    "created_at": now,
                    "updated_at": now,
                }
                for iid, item in zip(ids, items, strict=True)
            ]
            s.connection().execute(insert(Task.__table__), tasks)
            if progress:
                progress(start + len(part), len(keep))
        record_event(
            s, "bulk.pushed", "incident", None, actor.name, {"created": len(keep), "rejected": len(result.errors)}
        )
    result.created = len(keep)
    return result
