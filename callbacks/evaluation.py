"""Wiring of the review page's evaluation section: the page's period → league table and map; a cell
→ the cases behind it on a timeline; urge (督办) a department or a case; the urged cases' outcomes.
Every callback reads the actor and ``ops.evaluation`` decides what the actor may see and do."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from dash import Dash, Input, Output, State, ctx, no_update

from api.session import require_actor
from data.models import utcnow
from data.runtime import Runtime
from layouts import evaluation as view
from layouts.i18n import Text
from layouts.ids import EvaluationIds, ReviewIds
from ops import departments, evaluation, permissions
from ops.cases import SUPERVISE
from ops.errors import OneMapError

DRILL_SIZE = 100


def _period(data: dict[str, Any]) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(data["start"]), datetime.fromisoformat(data["end"])


def register(app: Dash, rt: Runtime, t: Text) -> None:
    # The monthly report's link follows the chosen month in the browser (the route checks who asks).
    app.clientside_callback(
        "function(m) { return m ? '"
        + view.report_href("")
        + "' + encodeURIComponent(m) : window.dash_clientside.no_update; }",
        Output(EvaluationIds.REPORT_LINK, "href"),
        Input(EvaluationIds.REPORT_MONTH, "value"),
        prevent_initial_call=True,
    )
    """Attach the evaluation section's callbacks to ``app``."""

    @app.callback(
        Output(EvaluationIds.LEAGUE, "rowData"),
        Output(EvaluationIds.DATA, "data"),
        Output(EvaluationIds.SUMMARY, "children"),
        Input(ReviewIds.FILTERS, "data"),
        Input(EvaluationIds.URGE_RESULT, "children"),
    )
    def league(data: dict[str, Any] | None, _urged: Any) -> tuple[Any, Any, Any]:
        if not data:
            return no_update, no_update, no_update
        try:
            found = evaluation.league(rt.store, require_actor(rt), *_period(data), "department")
        except OneMapError as exc:
            return [], [], t.error(exc)
        rows = view.league_rows(found)
        due = sum(r["due"] for r in rows)
        closed = sum(r["closed"] for r in rows)
        summary = t("eval.summary").format(due=due, closed=closed, rate=f"{100 * closed / due:.1f}" if due else "–")
        return rows, rows, summary

    @app.callback(
        Output(EvaluationIds.MAP, "figure"),
        Input(EvaluationIds.DATA, "data"),
        Input(EvaluationIds.INDICATOR, "value"),
    )
    def choropleth(rows: list[dict[str, Any]] | None, indicator: str) -> Any:
        permissions.require(require_actor(rt), "read_departments")  # the jurisdictions are the departments'
        if rows is None or indicator not in view.MAP_INDICATORS:
            return no_update
        geojson = view.jurisdiction_geojson(departments.list_all(rt.store))
        return view.choropleth(t, rt.style, geojson, rows, indicator)

    @app.callback(
        Output(EvaluationIds.CASES, "rowData"),
        Output(EvaluationIds.TIMELINE, "figure"),
        Output(EvaluationIds.DRILL_TITLE, "children"),
        Output(EvaluationIds.PICKED, "data"),
        Output(EvaluationIds.URGE_DEPARTMENT, "disabled"),
        Input(EvaluationIds.LEAGUE, "cellClicked"),
        State(ReviewIds.FILTERS, "data"),
    )
    def drill(cell: dict[str, Any] | None, data: dict[str, Any] | None) -> tuple[Any, ...]:
        if not cell or not data or cell.get("colId") not in view.DRILLABLE:
            return (no_update,) * 5
        actor = require_actor(rt)
        department_id = int(cell["rowId"])
        count = view.DRILLABLE[cell["colId"]]
        try:
            found = evaluation.cases(
                rt.store, actor, *_period(data), "department", department_id, count, size=DRILL_SIZE
            )
        except OneMapError as exc:
            return [], view.timeline(t, []), t.error(exc), None, True
        title = t("eval.drill.title").format(
            count=t(f"eval.count.{count}"), total=found["total"], shown=len(found["items"])
        )
        picked = {"department_id": department_id}
        return (
            view.case_rows(t, found["items"]),
            view.timeline(t, found["items"]),
            title,
            picked,
            actor.role not in SUPERVISE,
        )

    @app.callback(
        Output(EvaluationIds.URGE_CASE, "disabled"),
        Input(EvaluationIds.CASES, "selectedRows"),
    )
    def pick(rows: list[dict[str, Any]] | None) -> bool:
        return not rows or require_actor(rt).role not in SUPERVISE

    @app.callback(
        Output(EvaluationIds.URGE_RESULT, "children"),
        Input(EvaluationIds.URGE_DEPARTMENT, "n_clicks"),
        Input(EvaluationIds.URGE_CASE, "n_clicks"),
        State(EvaluationIds.URGE_NOTE, "value"),
        State(EvaluationIds.PICKED, "data"),
        State(EvaluationIds.CASES, "selectedRows"),
        prevent_initial_call=True,
    )
    def urge(_d: int | None, _c: int | None, note: str | None, picked: Any, rows: Any) -> str:
        actor = require_actor(rt)
        try:
            if ctx.triggered_id == EvaluationIds.URGE_DEPARTMENT:
                if not picked:
                    return no_update
                ids = evaluation.urge_department(rt.cases, rt.store, actor, picked["department_id"], note or "")
                return t("eval.urge.done_department").format(n=len(ids))
            if not rows:
                return no_update
            rt.cases.act(actor, int(rows[0]["id"]), "urge", {"note": note or ""})
            return t("eval.urge.done_case").format(id=rows[0]["id"])
        except OneMapError as exc:
            return t.error(exc)

    @app.callback(
        Output(EvaluationIds.URGED, "rowData"),
        Input(ReviewIds.FILTERS, "data"),
        Input(EvaluationIds.URGE_RESULT, "children"),
    )
    def urged(data: dict[str, Any] | None, _result: Any) -> Any:
        if not data:
            return no_update
        try:
            # Urged since the period's start, up to now: an urge made a moment ago is listed at once.
            start, end = _period(data)
            found = evaluation.urged(rt.store, require_actor(rt), start, max(end, utcnow() + timedelta(seconds=1)))
            return view.urged_rows(t, found)
        except OneMapError:
            return []
