"""Routing: category + place → the department that owns the case, and the sentence that says why.

The rule table is the departments' own categories and jurisdictions (``ops/departments.py``): among
the departments that take the category and whose jurisdiction covers the place (none: the whole
city), the most specific wins (smallest jurisdiction, deeper level, lower id; see
``geo/jurisdictions.py``). A case that nobody owns goes to the dispatchers' "no owner" queue.

The reason is stored as a message key with its parameters (``Decision.reason``) and turned into a
sentence in the reader's language where it is shown.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, select

from data.models import Department
from data.store import Store
from geo.jurisdictions import Body, JurisdictionIndex

# The stages in which a dispatcher may still choose another body: there the panel names the others.
SHOW_OTHERS_IN = frozenset({"filed", "dispatched", "returned"})


@dataclass(frozen=True)
class Decision:
    department_id: int | None
    reason: dict[str, Any]  # {"key": "routing.…", …parameters}

    def stored(self) -> str:
        """The reason as the incident's ``routing`` column keeps it (JSON: a key and its parameters)."""
        return json.dumps(self.reason, ensure_ascii=False, sort_keys=True)


class Router:
    """The jurisdiction index of the active departments, rebuilt when a department changes."""

    def __init__(self, store: Store):
        self.store = store
        self._lock = threading.Lock()
        self._built: tuple[Any, JurisdictionIndex, dict[int, dict[str, Any]]] | None = None

    def _version(self) -> Any:
        with self.store.read() as s:
            return tuple(s.execute(select(func.count(Department.id), func.max(Department.changed_at))).one())

    def index(self) -> tuple[JurisdictionIndex, dict[int, dict[str, Any]]]:
        version = self._version()
        with self._lock:
            if self._built is None or self._built[0] != version:
                with self.store.read() as s:
                    active = select(Department).where(Department.active.is_(True)).order_by(Department.id)
                    rows = s.scalars(active).all()
                    bodies = [
                        Body(r.id, frozenset(r.categories or []), r.level, r.jurisdiction, r.jurisdiction_m2)
                        for r in rows
                    ]
                    info = {r.id: {"name": r.name, "city_wide": r.jurisdiction is None} for r in rows}
                self._built = (version, JurisdictionIndex(bodies), info)
            return self._built[1], self._built[2]

    def route_many(self, categories: Sequence[str], lon: np.ndarray, lat: np.ndarray) -> list[Decision]:
        """One decision per case; cases with the same category and owner share one (read-only) decision."""
        index, info = self.index()
        owners = index.owners(lon, lat, categories)
        made: dict[tuple[str, int], Decision] = {}
        out = []
        for key in zip(categories, owners.tolist(), strict=True):
            decision = made.get(key)
            if decision is None:
                decision = made[key] = _decision(index, info, *key)
            out.append(decision)
        return out

    def route(self, category: str, lon: float, lat: float) -> Decision:
        return self.route_many([category], np.array([lon]), np.array([lat]))[0]

    def explain(self, category: str, lon: float, lat: float) -> list[dict[str, Any]]:
        """Every department that could take the case, most specific first: what a dispatcher sees on a tie."""
        index, info = self.index()
        return [
            {"id": int(index.ids[j]), "name": info[int(index.ids[j])]["name"]}
            for j in index.candidates(lon, lat, category)
        ]

    def others(self, category: str, lon: float, lat: float, owner: int | None, limit: int = 3) -> list[str]:
        """The other departments that take the case's category at its place, most specific first: what
        the routing passed over (on a tie, the ones that lost it), shown beside the decision."""
        return [c["name"] for c in self.explain(category, lon, lat) if c["id"] != owner][:limit]


def _decision(index: JurisdictionIndex, info: dict[int, dict[str, Any]], category: str, at: int) -> Decision:
    if at < 0:
        taken = category in index.categories
        key = "routing.no_owner_here" if taken else "routing.no_owner"
        return Decision(None, {"key": key, "category": category})
    did = int(index.ids[at])
    where = "routing.city_wide" if info[did]["city_wide"] else "routing.inside"
    return Decision(did, {"key": where, "department": info[did]["name"], "category": category})


def sentence(stored: str | None, text: Any) -> str | None:
    """The routing reason in the reader's language (``text``: a ``layouts.i18n.Text``-like callable)."""
    if not stored:
        return None
    try:
        reason = json.loads(stored)
        template = text(reason["key"])
    except (ValueError, KeyError, TypeError):
        return stored  # written by hand or by an older version: shown as it is
    return template.format(**{k: v for k, v in reason.items() if k != "key"})
