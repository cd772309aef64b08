"""The monthly evaluation report's figures (no Dash, no PDF): the month on the city's clock, the
department league with the trend against the previous calendar month, the city summary, and the
worst-performing cases. ``layouts.report`` turns them into the document.

**Worst cases** are the longest overdue: cases due to close by the month's end (``ops.evaluation``'s
``not_closed`` count: due, not closed) ordered by their deadline, the earliest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from data import review
from data.history import History, grid_table, period_frame
from data.store import Store
from ops import evaluation, permissions
from ops.accounts import Actor

WORST = 10
# The counts the city summary adds up over every department (each case has exactly one owner).
SUMMARY_COUNTS = ("dispatched", "due", "closed", "pending", "returns", "backlog")


class ReportError(RuntimeError):
    """The report could not be produced on this machine (no font, no browser to draw the charts)."""


@dataclass
class ReportData:
    """One month's report: ``league`` as ``ops.evaluation.league`` gives it (the trend against the
    previous calendar month), ``summary`` the city's counts and rates, ``worst`` the longest overdue
    cases (``ops.evaluation.cases`` items with ``department`` and ``overdue_days``), ``volume`` the items
    reported per local day and kind (``data.review.volume_by_day``, as the review page's day chart)."""

    month: str
    start: datetime
    end: datetime
    previous_month: str
    league: dict[str, Any]
    summary: dict[str, Any]
    worst: list[dict[str, Any]] = field(default_factory=list)
    volume: pd.DataFrame | None = None


def previous_month(text: str) -> str:
    """The calendar month before "YYYY-MM" (checked as ``ops.evaluation.month`` checks it)."""
    evaluation.month(text)
    first = datetime.strptime(text, "%Y-%m")
    return f"{first.year - 1}-12" if first.month == 1 else f"{first.year}-{first.month - 1:02d}"


def city_summary(league: dict[str, Any]) -> dict[str, Any]:
    """The city's counts (summed over the departments' own figures) and its rates, as the
    department rates are defined: closed / due, on time / due, reworked / due (None without due)."""
    rows = league["rows"]
    totals = {k: sum(int(r["counts"].get(k, 0)) for r in rows) for k in (*SUMMARY_COUNTS, "on_time", "reworked")}
    due = totals["due"]
    rates = {
        "closing_rate": totals["closed"] / due if due else None,
        "on_time_rate": totals["on_time"] / due if due else None,
        "rework_rate": totals["reworked"] / due if due else None,
    }
    return {"counts": totals, "rates": rates}


def worst_cases(store: Store, actor: Actor, start: datetime, end: datetime, league: dict[str, Any], n: int) -> list:
    """The ``n`` longest overdue cases city-wide: each root department's subtree's ``not_closed``
    cases by deadline, merged."""
    names = {r["id"]: r["name"] for r in league["rows"]}
    roots = [r["id"] for r in league["rows"] if r["parent_id"] is None or r["parent_id"] not in names]
    found: list[dict[str, Any]] = []
    for root in roots:
        page = evaluation.cases(store, actor, start, end, "department", root, "not_closed", True, 1, n, "deadline")
        found += page["items"]
    found.sort(key=lambda c: (c["deadline"] or end, c["id"]))
    out = []
    for c in found[:n]:
        overdue = (end - c["deadline"]).total_seconds() / 86400.0 if c["deadline"] else None
        out.append({**c, "department": names.get(c["department_id"], ""), "overdue_days": overdue})
    return out


def gather(
    store: Store, actor: Actor, month: str, frame: pd.DataFrame | History | None = None, worst: int = WORST
) -> ReportData:
    """Everything the month's report shows; ``Forbidden`` unless the actor may have the report,
    ``Invalid`` (field ``month``) for a month that is not "YYYY-MM". ``frame``: the review columns
    of every item, or a process's ``History`` (its window, or the month read from the store when the
    month is older); the month's items are read here when not given."""
    permissions.require(actor, "evaluation_report")
    start, end = evaluation.month(month)
    before = previous_month(month)
    league = evaluation.league(store, actor, start, end, "department", before=evaluation.month(before))
    return ReportData(
        month=month,
        start=start,
        end=end,
        previous_month=before,
        league=league,
        summary=city_summary(league),
        worst=worst_cases(store, actor, start, end, league, worst),
        volume=month_volume(store, _month_frame(store, frame, start, end), start, end),
    )


def _month_frame(store: Store, frame: pd.DataFrame | History | None, start: datetime, end: datetime) -> pd.DataFrame:
    if frame is None:
        return period_frame(store, start, end)
    return frame.covering(start, end) if isinstance(frame, History) else frame


def month_volume(store: Store, frame: pd.DataFrame, start: datetime, end: datetime) -> pd.DataFrame:
    """Items reported per local day of [start, end) and kind, as the review page counts them."""
    items = review.select_items(frame, grid_table(store), review.Filters(start, end))
    return review.volume_by_day(items, start, end)
