"""The evaluation (综合评价) section of the review page: the league table of departments with each
indicator's formula as its header tooltip, a choropleth of one indicator by jurisdiction, the cases
behind a number on a timeline, and supervision (督办). Pure builders: data in, components out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dash_mantine_components as dmc
import numpy as np
from dash import dcc, html

# layouts.review shows this section and lends it its chart pieces: read them from the module at call time.
import layouts.review as review_view
from geo.layers import BACKGROUND, CENTER, ZOOM
from layouts.i18n import Text, local
from layouts.ids import EvaluationIds

# The indicators a map can show (rates in percent, the score in points).
MAP_INDICATORS = ("score", "closing_rate", "on_time_rate", "rework_rate")
# Which columns open a drill-down, and which count of ops.evaluation.DRILL each one lists.
DRILLABLE = {
    "dispatched": "dispatched",
    "due": "due",
    "closed": "closed",
    "closing_rate": "not_closed",
    "on_time_rate": "late",
    "rework_rate": "reworked",
    "pending": "pending",
    "backlog": "backlog",
}
STAGE_COLORS = {"sign": "#3d8bfd", "handle": "#f5b700", "check": "#2e9e6b"}


def _pct(value: float | None) -> float | None:
    return None if value is None else round(100.0 * value, 1)


def _h(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def league_columns(t: Text) -> list[dict[str, Any]]:
    """The league table's columns; each indicator's header tooltip states its formula."""
    num = {"type": "numericColumn", "width": 104, "sortable": True}

    def col(field: str, key: str, **extra: Any) -> dict[str, Any]:
        tip = t(f"eval.formula.{key}")
        return {"field": field, "headerName": t(f"eval.col.{key}"), "headerTooltip": tip, **num, **extra}

    return [
        {"field": "name", "headerName": t("eval.col.department"), "flex": 1, "minWidth": 150, "sortable": True},
        col("grade", "grade", type=None, width=80),
        col("score", "score", sort="desc"),
        col("trend", "trend"),
        col("dispatched", "dispatched"),
        col("due", "due"),
        col("closed", "closed"),
        col("closing_rate", "closing_rate"),
        col("on_time_rate", "on_time_rate"),
        col("rework_rate", "rework_rate"),
        col("tree_closing_rate", "tree_closing_rate"),
        col("returns", "returns"),
        col("returns_justified", "returns_justified"),
        col("extensions", "extensions", type=None),
        col("pending", "pending"),
        col("backlog", "backlog"),
        col("sign_h", "sign_h"),
        col("handle_h", "handle_h"),
        col("handle_p90", "handle_p90"),
        col("check_h", "check_h"),
    ]


def league_rows(league: dict[str, Any]) -> list[dict[str, Any]]:
    """One table row per department from ``ops.evaluation.league`` (rates as percent, times in hours)."""
    out = []
    for r in league["rows"]:
        c, rates, hours = r["counts"], r["rates"], r["hours"]
        out.append(
            {
                "id": r["id"],
                "name": r["name"],
                "grade": r["grade"] or "–",
                "score": r["score"],
                "trend": r["trend"],
                "dispatched": c["dispatched"],
                "due": c["due"],
                "closed": c["closed"],
                "closing_rate": _pct(rates["closing_rate"]),
                "on_time_rate": _pct(rates["on_time_rate"]),
                "rework_rate": _pct(rates["rework_rate"]),
                "tree_closing_rate": _pct((r["tree"] or {}).get("rates", {}).get("closing_rate")),
                "returns": c["returns"],
                "returns_justified": c["returns_justified"],
                "extensions": f"{c['extensions_granted']}/{c['extensions_asked']}",
                "pending": c["pending"],
                "backlog": c["backlog"],
                "sign_h": _h(hours["sign"]["mean"]),
                "handle_h": _h(hours["handle"]["mean"]),
                "handle_p90": _h(hours["handle"]["p90"]),
                "check_h": _h(hours["check"]["mean"]),
            }
        )
    return out


def jurisdiction_geojson(departments: list[dict[str, Any]]) -> dict[str, Any]:
    """The departments that have a jurisdiction as GeoJSON features keyed by id (city-wide ones have none)."""
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "id": str(d["id"]), "geometry": d["jurisdiction"], "properties": {}}
            for d in departments
            if d.get("jurisdiction")
        ],
    }


def choropleth(
    t: Text, style: dict[str, Any], geojson: dict[str, Any], rows: list[dict[str, Any]], indicator: str
) -> dict[str, Any]:
    """The chosen indicator by department jurisdiction (a department with no value is left empty)."""
    drawn = {f["id"] for f in geojson["features"]}
    shown = [r for r in rows if str(r["id"]) in drawn]
    z = np.array([np.nan if r.get(indicator) is None else float(r[indicator]) for r in shown], dtype=float)
    trace = review_view.choropleth_trace(
        indicator, geojson, [str(r["id"]) for r in shown], z, [r["name"] for r in shown], ".1f"
    )
    if indicator in ("score", "closing_rate", "on_time_rate", "rework_rate"):
        trace["zmax"] = 100.0
    return {
        "data": [trace],
        "layout": {
            "map": {"style": style, "center": CENTER, "zoom": ZOOM - 1},
            "margin": {"l": 0, "r": 0, "t": 28, "b": 0},
            "paper_bgcolor": BACKGROUND,
            "font": {"color": "#e6edf7"},
            "title": {"text": t(f"eval.col.{indicator}"), "font": {"size": 14}},
            "uirevision": "onemap-evaluation",
        },
    }


def case_columns(t: Text) -> list[dict[str, Any]]:
    return [
        {"field": "id", "headerName": "#", "width": 90},
        {"field": "title", "headerName": t("eval.case.title"), "flex": 1, "minWidth": 160},
        {"field": "category", "headerName": t("review.col.category"), "width": 110},
        {"field": "stage", "headerName": t("eval.case.stage"), "width": 100},
        {"field": "dispatched", "headerName": t("eval.case.dispatched"), "width": 140},
        {"field": "deadline", "headerName": t("eval.case.deadline"), "width": 140},
        {"field": "closed", "headerName": t("eval.case.closed"), "width": 140},
        {"field": "urged", "headerName": t("eval.case.urged"), "width": 90},
    ]


def _when(at: datetime | None) -> str:
    return local(at).strftime("%m-%d %H:%M") if at else ""


def case_rows(t: Text, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "id": c["id"],
            "title": c["title"],
            "category": c["category"],
            "stage": t(f"stage.{c['stage']}"),
            "dispatched": _when(c["dispatched_at"]),
            "deadline": _when(c["deadline"]),
            "closed": _when(c["closed_at"]),
            "urged": t("eval.urged.mark") if c.get("urged_at") else "",
        }
        for c in items
    ]


def timeline(t: Text, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Each case's stages as bars on one time axis: dispatch → sign → handled → closed, and its deadline."""
    data = []
    names = [f"#{c['id']}" for c in items]
    spans = {
        "sign": ("dispatched_at", "signed_at"),
        "handle": ("signed_at", "handled_at"),
        "check": ("handled_at", "closed_at"),
    }
    for stage, (a, b) in spans.items():
        base, width, ys = [], [], []
        for name, c in zip(names, items, strict=True):
            if c.get(a) and c.get(b):
                base.append(local(c[a]).isoformat())
                width.append((c[b] - c[a]).total_seconds() * 1000.0)
                ys.append(name)
        data.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": t(f"eval.stage.{stage}"),
                "y": ys,
                "x": width,
                "base": base,
                "marker": {"color": STAGE_COLORS[stage]},
            }
        )
    deadlines = [(n, c["deadline"]) for n, c in zip(names, items, strict=True) if c.get("deadline")]
    data.append(
        {
            "type": "scatter",
            "mode": "markers",
            "name": t("eval.case.deadline"),
            "y": [n for n, _ in deadlines],
            "x": [local(d).isoformat() for _, d in deadlines],
            "marker": {"symbol": "line-ns-open", "size": 14, "color": "#ff3b30"},
        }
    )
    layout = {
        **review_view.CHART_LAYOUT,
        "title": {"text": t("eval.timeline"), "font": {"size": 15}},
        "barmode": "overlay",
        "xaxis": {**review_view.CHART_LAYOUT["xaxis"], "type": "date"},
        "yaxis": {**review_view.CHART_LAYOUT["yaxis"], "autorange": "reversed", "type": "category"},
    }
    return {"data": data, "layout": layout}


def urged_columns(t: Text) -> list[dict[str, Any]]:
    return [
        {"field": "id", "headerName": "#", "width": 90},
        {"field": "title", "headerName": t("eval.case.title"), "flex": 1, "minWidth": 160},
        {"field": "urged", "headerName": t("eval.urged.at"), "width": 130},
        {"field": "by", "headerName": t("eval.urged.by"), "width": 100},
        {"field": "note", "headerName": t("eval.urged.note"), "flex": 1, "minWidth": 140},
        {"field": "outcome", "headerName": t("eval.urged.outcome"), "width": 130},
    ]


def urged_rows(t: Text, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def outcome(r: dict[str, Any]) -> str:
        if r["outcome"] == "closed":
            return t("eval.outcome.closed_on_time" if r["on_time"] else "eval.outcome.closed_late")
        return t(f"eval.outcome.{r['outcome']}")

    return [
        {
            "event_id": r["event_id"],
            "id": r["id"],
            "title": r["title"],
            "urged": _when(r["urged_at"]),
            "by": r["urged_by"],
            "note": r["note"] or "",
            "outcome": outcome(r),
        }
        for r in items
    ]


def report_months(now: datetime, count: int = 12) -> list[str]:
    """The last ``count`` months (YYYY-MM) on the city's clock, this one first."""
    today = local(now)
    n = today.year * 12 + today.month - 1
    return [f"{(n - k) // 12:04d}-{(n - k) % 12 + 1:02d}" for k in range(count)]


def report_href(month: str) -> str:
    return f"/review/report.pdf?month={month}"


def section(t: Text, now: datetime | None = None) -> Any:
    """The evaluation section (filled by callbacks/evaluation.py from the page's period)."""
    months = report_months(now or datetime.now(UTC).replace(tzinfo=None))
    report = dmc.Group(
        [
            dmc.Select(
                id=EvaluationIds.REPORT_MONTH,
                label=t("eval.report_month"),
                data=months,
                value=months[1],  # the last whole month: what a monthly report is about
                allowDeselect=False,
                w=130,
                size="xs",
            ),
            html.A(t("eval.report"), id=EvaluationIds.REPORT_LINK, href=report_href(months[1]), className="nav-link"),
        ],
        gap="xs",
        align="flex-end",
    )
    indicator = dmc.Select(
        id=EvaluationIds.INDICATOR,
        label=t("eval.map_indicator"),
        value="score",
        data=[{"value": k, "label": t(f"eval.col.{k}")} for k in MAP_INDICATORS],
        w=200,
        allowDeselect=False,
    )
    urge = dmc.Group(
        [
            dmc.TextInput(id=EvaluationIds.URGE_NOTE, placeholder=t("eval.urge.note"), w=260),
            dmc.Button(t("eval.urge.department"), id=EvaluationIds.URGE_DEPARTMENT, color="orange", disabled=True),
            dmc.Button(t("eval.urge.case"), id=EvaluationIds.URGE_CASE, color="orange", disabled=True),
            dmc.Text(id=EvaluationIds.URGE_RESULT, c="dimmed", size="sm"),
        ],
        gap="sm",
    )
    return dmc.Paper(
        [
            dmc.Group(
                [
                    dmc.Title(t("eval.title"), order=4),
                    dmc.Text(id=EvaluationIds.SUMMARY, c="dimmed", size="sm"),
                    report,
                ],
                gap="md",
            ),
            dmc.Text(t("eval.hint"), c="dimmed", size="xs"),
            review_view.table(EvaluationIds.LEAGUE, league_columns(t), "id", height=420),
            html.Div(
                [
                    html.Div(
                        [
                            indicator,
                            dcc.Graph(id=EvaluationIds.MAP, config=review_view.GRAPH_CONFIG, style={"height": "360px"}),
                        ]
                    ),
                    html.Div(
                        [
                            dmc.Title(t("eval.drill"), id=EvaluationIds.DRILL_TITLE, order=5),
                            review_view.table(EvaluationIds.CASES, case_columns(t), "id", height=300),
                            dcc.Graph(
                                id=EvaluationIds.TIMELINE, config=review_view.GRAPH_CONFIG, style={"height": "260px"}
                            ),
                        ]
                    ),
                ],
                className="evaluation-panels",
            ),
            urge,
            dmc.Title(t("eval.urged"), order=5, mt="sm"),
            review_view.table(EvaluationIds.URGED, urged_columns(t), "event_id", height=240),
            dcc.Store(id=EvaluationIds.DATA),
            dcc.Store(id=EvaluationIds.PICKED),
        ],
        p="xs",
        withBorder=True,
        id=EvaluationIds.SECTION,
    )
