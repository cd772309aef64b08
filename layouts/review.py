"""The review page `/review`: a period and filters, the city map (density, hexagons or grids by a
metric) with playback, charts, per-grid and per-worker tables with drill-down, parking statistics,
and exports (CSV, GeoJSON, PNG)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dash_ag_grid as dag
import dash_mantine_components as dmc
import numpy as np
import pandas as pd
from dash import dcc, html

from config import CITY_TIMEZONE
from data.models import STATUSES
from data.review import METRICS, RANGES, Filters
from geo.layers import BACKGROUND, CENTER, ZOOM
from geo.theme import KIND_COLOURS
from layouts import evaluation as evaluation_view
from layouts.command import GRID_THEME
from layouts.i18n import Text, local
from layouts.ids import REVIEW_GRAPHS, ReviewIds

KIND_ORDER = ("fire", "police", "ticket", "alarm", "visit")
KIND_HEX = KIND_COLOURS  # the one palette (geo/theme.py)
HEAT = [[0.0, "#0d1b3a"], [0.25, "#1f4e79"], [0.5, "#2e9e6b"], [0.75, "#f5b700"], [1.0, "#ff3b30"]]
PLAYBACK_COLOR = "#ffffff"
DRILL_COLOR = "#3ee0cf"
UIREVISION = "onemap-review"
GRAPH_CONFIG = {
    "displaylogo": False,
    "scrollZoom": True,
    "responsive": True,
    "toImageButtonOptions": {"format": "png", "scale": 2},
}
CHART_LAYOUT = {
    "paper_bgcolor": BACKGROUND,
    "plot_bgcolor": "#111b2e",
    "font": {"color": "#e6edf7", "size": 13},
    "margin": {"l": 48, "r": 12, "t": 36, "b": 36},
    "legend": {"orientation": "h", "y": -0.2},
    "xaxis": {"gridcolor": "#22314f"},
    "yaxis": {"gridcolor": "#22314f"},
}
FOCUS_COLORS = ["rgba(255, 255, 255, 0.35)", "#ffffff"]  # a halo and a dot on the item picked in the drill-down
# Map trace order: the aggregate layer, the playback points, the drilled-down items, the picked item.
BASE, PLAYBACK, DRILL, FOCUS = 0, 1, 2, 3
FOCUS_ZOOM = 14.5


def _chart(title: str, data: list[dict[str, Any]], **layout: Any) -> dict[str, Any]:
    return {"data": data, "layout": {**CHART_LAYOUT, "title": {"text": title, "font": {"size": 15}}, **layout}}


def by_kind_bars(t: Text, table: pd.DataFrame, title: str, x: list[Any]) -> dict[str, Any]:
    """Stacked bars, one colour per kind."""
    bars = [
        {
            "type": "bar",
            "name": t(f"kind.{kind}"),
            "x": x,
            "y": table[kind].to_numpy(int),
            "marker": {"color": KIND_HEX[kind]},
        }
        for kind in KIND_ORDER
        if kind in table.columns
    ]
    return _chart(title, bars, barmode="stack")


def hour_chart(t: Text, table: pd.DataFrame) -> dict[str, Any]:
    return by_kind_bars(t, table, t("review.chart.hour"), [f"{h:02d}" for h in table.index])


def day_chart(t: Text, table: pd.DataFrame) -> dict[str, Any]:
    """One bar per local day on a date axis (labels like "11-24" alone would be read as other dates)."""
    figure = by_kind_bars(t, table, t("review.chart.day"), [f"{d:%Y-%m-%d}" for d in table.index])
    axis = {**CHART_LAYOUT["xaxis"], "type": "date", "tickformat": "%m-%d", "hoverformat": "%Y-%m-%d"}
    if len(table) <= 31:
        axis["dtick"] = 86_400_000  # a tick under every bar, none between
    figure["layout"]["xaxis"] = axis
    return figure


def response_chart(t: Text, minutes: pd.Series, kinds: pd.Series) -> dict[str, Any]:
    """Share of items per response-time bin, per kind (log-spaced bins from a minute to a week)."""
    edges = np.geomspace(1, 10080, 40)
    data = []
    for kind in KIND_ORDER:
        values = minutes[(kinds == kind).to_numpy()].dropna().to_numpy()
        if not len(values):
            continue
        counts, _ = np.histogram(np.clip(values, 1, 10080), bins=edges)
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": t(f"kind.{kind}"),
                "x": np.sqrt(edges[:-1] * edges[1:]),
                "y": np.round(100.0 * counts / counts.sum(), 2),
                "line": {"color": KIND_HEX[kind], "width": 2, "shape": "spline"},
                "fill": "tozeroy",
                "hovertemplate": "%{x:.0f} min · %{y}%<extra></extra>",
            }
        )
    axis = {**CHART_LAYOUT["xaxis"], "type": "log", "title": {"text": t("review.minutes")}}
    return _chart(t("review.chart.response"), data, xaxis=axis, yaxis={**CHART_LAYOUT["yaxis"], "ticksuffix": "%"})


def backlog_chart(t: Text, table: pd.DataFrame) -> dict[str, Any]:
    x = [f"{v:%Y-%m-%d %H:%M}" for v in table.index.tz_localize("UTC").tz_convert("Asia/Shanghai")]
    lines = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": t(f"kind.{kind}"),
            "x": x,
            "y": table[kind].to_numpy(int),
            "line": {"color": KIND_HEX[kind], "width": 2},
            "stackgroup": "open",
        }
        for kind in KIND_ORDER
        if kind in table.columns
    ]
    return _chart(t("review.chart.backlog"), lines)


def parking_heatmap(t: Text, table: pd.DataFrame) -> dict[str, Any]:
    return _chart(
        t("review.chart.parking"),
        [
            {
                "type": "heatmap",
                "z": np.round(table.to_numpy(float), 1),
                "x": [f"{h:02d}" for h in table.columns],
                "y": list(table.index),
                "colorscale": HEAT,
                "zmin": 0,
                "zmax": 100,
                "hovertemplate": "%{y} %{x}:00 · %{z}%<extra></extra>",
            }
        ],
        height=max(260, 26 * len(table) + 80),
    )


def map_figure(base: dict[str, Any], style: dict[str, Any]) -> dict[str, Any]:
    """The review map: the aggregate layer, then empty playback, drill-down and picked-item layers.

    Playback points are small and translucent so the aggregate under them stays readable: a
    supervisor watches where each step's items fall against the period's picture, and nothing
    flips on and off under the pointer while it plays."""
    points = {"type": "scattermap", "mode": "markers", "lon": [], "lat": [], "showlegend": False}
    playback = {
        **points,
        "name": "playback",
        "marker": {"size": 5, "color": PLAYBACK_COLOR, "opacity": 0.55},
        "hoverinfo": "skip",
    }
    drill = {**points, "name": "drill", "marker": {"size": 9, "color": DRILL_COLOR}, "hovertemplate": "%{text}"}
    focus = {**points, "name": "focus", "marker": {"size": [26, 10], "color": FOCUS_COLORS}, "hoverinfo": "skip"}
    return {
        "data": [base, playback, drill, focus],
        "layout": {
            "map": {"style": style, "center": CENTER, "zoom": ZOOM},
            "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
            "paper_bgcolor": BACKGROUND,
            "uirevision": UIREVISION,
            "showlegend": False,
            "dragmode": "pan",
        },
    }


def density_trace(lon: np.ndarray, lat: np.ndarray, weight: np.ndarray) -> dict[str, Any]:
    return {
        "type": "densitymap",
        "name": "density",
        "lon": lon.astype(np.float32),
        "lat": lat.astype(np.float32),
        "z": weight.astype(np.int32),
        "radius": 12,
        "colorscale": HEAT,
        "showscale": True,
        "hoverinfo": "skip",
        "colorbar": {"tickfont": {"color": "#e6edf7"}, "len": 0.5, "thickness": 10},
    }


def choropleth_trace(
    name: str, geojson: dict[str, Any], ids: Any, z: np.ndarray, labels: list[str], fmt: str
) -> dict[str, Any]:
    finite = z[np.isfinite(z)]
    return {
        "type": "choroplethmap",
        "name": name,
        "geojson": geojson,
        "featureidkey": "id",
        "locations": ids,
        "z": np.where(np.isfinite(z), z, np.nan),
        "zmin": 0,
        "zmax": float(finite.max()) if len(finite) and finite.max() > 0 else 1.0,
        "colorscale": HEAT,
        "marker": {"opacity": 0.7, "line": {"width": 0.3, "color": "#35507a"}},
        "text": labels,
        "hovertemplate": f"%{{text}}<br>%{{z:{fmt}}}<extra></extra>",
        "colorbar": {"tickfont": {"color": "#e6edf7"}, "len": 0.5, "thickness": 10},
    }


def grid_columns(t: Text) -> list[dict[str, Any]]:
    num = {"type": "numericColumn", "width": 110}
    return [
        {"field": "grid", "headerName": t("review.col.grid"), "flex": 1, "minWidth": 180},
        {"field": "district", "headerName": t("review.col.district"), "width": 110},
        {"field": "items", "headerName": t("review.col.items"), **num},
        {"field": "open", "headerName": t("review.col.open"), **num},
        {"field": "median_response", "headerName": t("review.col.median"), **num},
        {"field": "overdue_pct", "headerName": t("review.col.overdue"), **num},
        {"field": "per_1000", "headerName": t("review.col.per_1000"), **num},
    ]


def worker_columns(t: Text) -> list[dict[str, Any]]:
    num = {"type": "numericColumn", "width": 110}
    return [
        {"field": "worker", "headerName": t("review.col.worker"), "width": 120},
        {"field": "role", "headerName": t("review.col.role"), "width": 110},
        {"field": "grid", "headerName": t("review.col.grid"), "flex": 1, "minWidth": 160},
        {"field": "items", "headerName": t("review.col.items"), **num},
        {"field": "open", "headerName": t("review.col.open"), **num},
        {"field": "median_response", "headerName": t("review.col.median"), **num},
        {"field": "overdue_pct", "headerName": t("review.col.overdue"), **num},
    ]


def drill_columns(t: Text) -> list[dict[str, Any]]:
    return [
        {"field": "id", "headerName": "#", "width": 100},
        {"field": "kind", "headerName": t("queue.kind"), "width": 80},
        {"field": "category", "headerName": t("review.col.category"), "flex": 1},
        {"field": "status", "headerName": t("queue.status"), "width": 90},
        {"field": "created", "headerName": t("review.col.created"), "width": 150},
        {"field": "response", "headerName": t("review.col.median"), "width": 110, "type": "numericColumn"},
    ]


def parking_columns(t: Text) -> list[dict[str, Any]]:
    num = {"type": "numericColumn", "width": 120}
    return [
        {"field": "segment", "headerName": t("review.col.segment"), "flex": 1, "minWidth": 160},
        {"field": "spaces", "headerName": t("review.col.spaces"), **num},
        {"field": "occupancy_pct", "headerName": t("review.col.occupancy"), **num},
        {"field": "turnover", "headerName": t("review.col.turnover"), **num},
        {"field": "avg_dwell_min", "headerName": t("review.col.dwell"), **num},
        {"field": "illegal_parking", "headerName": t("review.col.illegal"), **num},
    ]


def warning_columns(t: Text) -> list[dict[str, Any]]:
    num = {"type": "numericColumn", "width": 110}
    return [
        {"field": "raised", "headerName": t("review.col.raised"), "width": 120, "sort": "desc"},
        {"field": "level", "headerName": t("review.col.level"), "width": 70},
        {"field": "rule", "headerName": t("review.col.rule"), "width": 150},
        {"field": "title", "headerName": t("review.col.warning"), "flex": 1, "minWidth": 240},
        {"field": "status", "headerName": t("review.col.status"), "width": 90},
        {"field": "ack_min", "headerName": t("review.col.ack_min"), **num},
        {"field": "resolve_min", "headerName": t("review.col.resolve_min"), **num},
        {"field": "by", "headerName": t("review.col.by"), "width": 120},
        {"field": "task", "headerName": t("review.col.task"), "width": 100},
    ]


def warning_rows(t: Text, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The period's warnings for the table: raised on the city's clock, minutes to acknowledge and resolve."""

    def minutes(a: datetime | None, b: datetime | None) -> float | None:
        return round((b - a).total_seconds() / 60, 1) if a and b else None

    return [
        {
            "id": r["id"],
            "raised": f"{local(r['created_at']):%m-%d %H:%M}",
            "level": t(f"warning.level.{r['level']}"),
            "rule": t.rule_name(r["rule_id"], r["rule_type"], (r.get("detail") or {}).get("rule_name")),
            "title": t.warning_title(r),
            "status": t(f"warning.status.{r['status']}"),
            "ack_min": minutes(r["created_at"], r["acknowledged_at"]),
            "resolve_min": minutes(r["created_at"], r["resolved_at"]),
            "by": r["resolved_by"] or r["acknowledged_by"] or "",
            "task": f"#{r['incident_id']}" if r["incident_id"] else "",
        }
        for r in rows
    ]


def warning_summary(t: Text, rows: list[dict[str, Any]]) -> str:
    """How many warnings, how many resolved, and the median minutes to acknowledge."""
    acks = sorted(r["ack_min"] for r in rows if r["ack_min"] is not None)
    median = f"{acks[len(acks) // 2]:g}" if acks else "—"
    resolved = sum(1 for r in rows if r["resolve_min"] is not None)
    return t("review.warnings.summary").format(n=len(rows), resolved=resolved, ack=median)


def sheet_header(t: Text, f: Filters, mode: str, metric: str) -> dict[str, Any]:
    """What the one-sheet PNG prints above its charts: title, the period on the city's clock, the
    filters and the map's mode, each graph's caption, and the file name."""
    every = t("review.sheet.all")

    def listed(values: list[str], key: str | None = None) -> str:
        return ", ".join(t(f"{key}.{v}") if key else v for v in values) or every

    start, end = local(f.start), local(f.end)
    map_caption = t(f"review.mode.{mode}") + ("" if mode != "grid" else " · " + t(f"review.metric.{metric}"))
    filters = [
        f"{t('review.filter.kind')}: {listed(f.kinds, 'kind')}",
        f"{t('review.filter.category')}: {listed(f.categories)}",
        f"{t('review.filter.district')}: {listed(f.districts)}",
        f"{t('review.filter.status')}: {listed(f.statuses, 'status')}",
    ]
    return {
        "title": f"{t('app.title')} · {t('review.title')}",
        "lines": [
            f"{t('review.sheet.period')}: {start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} ({CITY_TIMEZONE})",
            " · ".join(filters),
            f"{t('review.sheet.map')}: {map_caption}",
        ],
        "graphs": [{"id": str(g), "full": g in (ReviewIds.MAP, ReviewIds.PARKING_HOURS)} for g in REVIEW_GRAPHS],
        "filename": f"onemap-review-{start:%Y%m%d}-{end:%Y%m%d}.png",
    }


def _when(at: datetime | None) -> str:
    return f"{local(at):%Y-%m-%d %H:%M}" if at else "—"


def item_detail(t: Text, detail: dict[str, Any] | None) -> list[Any]:
    """One drilled-down item, read only: kind, status, title, grid, worker, its times and history."""
    if detail is None:
        return [dmc.Text(t("review.item.none"), c="dimmed", size="sm")]
    response = None
    if detail["resolved_at"]:
        response = f"{(detail['resolved_at'] - detail['created_at']).total_seconds() / 60:.0f}"
    facts = [
        (t("review.col.category"), detail["category"]),
        (t("detail.grid"), detail["grid_name"] or "—"),
        (t("review.col.worker"), detail.get("worker_name") or "—"),
        (t("detail.when"), _when(detail["created_at"])),
        (t("detail.due"), _when(detail["due_at"])),
        (t("review.item.resolved"), _when(detail["resolved_at"])),
        (t("review.item.closed"), _when(detail["closed_at"])),
        (t("review.item.response"), response or "—"),
        (t("detail.where"), f"{detail['lon']:.5f}, {detail['lat']:.5f}"),
    ]
    history = [
        dmc.TimelineItem(
            title=f"{t.get('event.' + h['kind'], h['kind'])} · {h['actor']}",
            children=dmc.Text(f"{_when(h['at'])} {h['data'].get('note') or h['data'].get('reason') or ''}", size="xs"),
        )
        for h in detail["history"]
    ]
    return [
        dmc.Group(
            [
                dmc.Badge(t(f"kind.{detail['kind']}"), color=KIND_HEX[detail["kind"]], variant="filled"),
                dmc.Badge(t(f"status.{detail['status']}"), variant="outline", className="item-status"),
            ]
        ),
        dmc.Title(f"#{detail['id']} {detail['title']}", order=5, mt=6, className="item-title"),
        html.Table([html.Tr([html.Th(k), html.Td(v)]) for k, v in facts], className="facts"),
        dmc.Title(t("detail.history"), order=6, mt="xs"),
        dmc.Timeline(history, active=len(history), bulletSize=10, className="item-history"),
    ]


def table(grid_id: str, columns: list[dict[str, Any]], row_id: str, height: int = 320) -> dag.AgGrid:
    return dag.AgGrid(
        id=grid_id,
        rowData=[],
        columnDefs=columns,
        getRowId=f"params.data.{row_id} + ''",
        dashGridOptions={
            "theme": GRID_THEME,
            "rowSelection": {"mode": "singleRow", "checkboxes": False, "enableClickSelection": True},
            "animateRows": False,
        },
        csvExportParams={"fileName": f"{grid_id}.csv"},
        style={"height": f"{height}px"},
    )


def _graph(graph_id: str, height: int = 300) -> dcc.Graph:
    return dcc.Graph(id=graph_id, config=GRAPH_CONFIG, style={"height": f"{height}px"}, className="review-chart")


def layout(
    t: Text, style: dict[str, Any], categories: list[str], districts: list[str], user: str, poll_ms: int = 1000
) -> Any:
    """The whole page; every figure fills in from the first filter callback."""
    select_data = [{"value": k, "label": t(f"kind.{k}")} for k in KIND_ORDER]
    statuses = list(STATUSES)
    header = dmc.Group(
        [
            dmc.Group([dmc.Title(t("review.title"), order=2), dmc.Text(t("app.title"), c="dimmed")], gap="md"),
            dmc.Group(
                [
                    html.A(t("nav.command"), href="/", className="nav-link"),
                    html.Span(user, className="user"),
                    html.A(t("nav.logout"), href="/logout", className="logout"),
                ]
            ),
        ],
        justify="space-between",
        className="header",
    )
    filters = dmc.Group(
        [
            dmc.SegmentedControl(
                id=ReviewIds.RANGE,
                value="7d",
                data=[{"value": r, "label": t(f"review.range.{r}")} for r in RANGES],
            ),
            dmc.DatePickerInput(
                id=ReviewIds.DATES,
                type="range",
                placeholder=t("review.range.pick"),
                valueFormat="YYYY-MM-DD",
                **{"aria-label": t("review.range.pick")},
                w=230,
                clearable=True,
            ),
            dmc.MultiSelect(
                id=ReviewIds.KINDS,
                data=select_data,
                placeholder=t("review.filter.kind"),
                w=200,
                **{"aria-label": t("review.filter.kind")},
            ),
            dmc.MultiSelect(
                id=ReviewIds.CATEGORIES,
                data=categories,
                placeholder=t("review.filter.category"),
                searchable=True,
                w=220,
                **{"aria-label": t("review.filter.category")},
            ),
            dmc.MultiSelect(
                id=ReviewIds.DISTRICTS,
                data=districts,
                placeholder=t("review.filter.district"),
                w=200,
                **{"aria-label": t("review.filter.district")},
            ),
            dmc.MultiSelect(
                id=ReviewIds.STATUSES,
                data=[{"value": s, "label": t(f"status.{s}")} for s in statuses],
                placeholder=t("review.filter.status"),
                w=200,
                **{"aria-label": t("review.filter.status")},
            ),
        ],
        gap="sm",
        className="review-filters",
    )
    map_controls = dmc.Group(
        [
            dmc.SegmentedControl(
                id=ReviewIds.MODE,
                value="grid",
                data=[{"value": m, "label": t(f"review.mode.{m}")} for m in ("density", "hex", "grid")],
            ),
            dmc.Select(
                id=ReviewIds.METRIC,
                value="count",
                data=[{"value": m, "label": t(f"review.metric.{m}")} for m in METRICS],
                allowDeselect=False,
                w=200,
                **{"aria-label": t("review.metric")},
            ),
            dmc.SegmentedControl(
                id=ReviewIds.HEX_RES,
                value="8",
                data=[{"value": "7", "label": t("review.hex.7")}, {"value": "8", "label": t("review.hex.8")}],
            ),
            html.A(t("review.export.csv"), id=ReviewIds.CSV, href="#", download="onemap-review.csv", className="btn"),
            html.A(
                t("review.export.geojson"),
                id=ReviewIds.GEOJSON,
                href="#",
                download="onemap-review.geojson",
                className="btn",
            ),
            html.Button(t("review.export.png"), id=ReviewIds.PNG, className="btn"),
            html.Span(id=ReviewIds.PNG_DONE, className="png-done"),
        ],
        gap="sm",
    )
    playback = dmc.Group(
        [
            dmc.Button(t("review.play"), id=ReviewIds.PLAY, size="xs", w=90),
            dmc.SegmentedControl(
                id=ReviewIds.SPEED,
                value="1",
                size="xs",
                data=[{"value": s, "label": f"{s}×"} for s in ("1", "2", "4", "8")],
            ),
            html.Div(
                dmc.Slider(
                    id=ReviewIds.FRAME,
                    min=0,
                    max=1,
                    step=1,
                    value=0,
                    label=None,
                    updatemode="drag",
                    thumbLabel=t("review.frame.slider"),
                ),
                className="review-slider",
            ),
            html.Span(id=ReviewIds.FRAME_LABEL, className="frame-label"),
        ],
        gap="sm",
        className="review-playback",
    )
    map_panel = dmc.Paper(
        [
            map_controls,
            dcc.Graph(
                id=ReviewIds.MAP,
                figure=map_figure({"type": "scattermap", "lon": [], "lat": []}, style),
                config=GRAPH_CONFIG,
                style={"height": "520px"},
                className="review-map",
            ),
            playback,
            dmc.Text(id=ReviewIds.SUMMARY, size="sm", c="dimmed"),
        ],
        p="xs",
        withBorder=True,
    )
    charts = html.Div(
        [
            _graph(ReviewIds.HOUR_CHART),
            _graph(ReviewIds.DAY_CHART),
            _graph(ReviewIds.RESPONSE_CHART),
            _graph(ReviewIds.BACKLOG_CHART),
        ],
        className="review-charts",
    )
    tables = dmc.Paper(
        [
            dmc.Tabs(
                [
                    dmc.TabsList(
                        [
                            dmc.TabsTab(t("review.tab.grids"), value="grids"),
                            dmc.TabsTab(t("review.tab.workers"), value="workers"),
                        ]
                    ),
                    dmc.TabsPanel(table(ReviewIds.GRID_TABLE, grid_columns(t), "grid_id"), value="grids"),
                    dmc.TabsPanel(table(ReviewIds.WORKER_TABLE, worker_columns(t), "worker_id"), value="workers"),
                ],
                value="grids",
                # A hidden panel's grid has no width, so it draws rows without headers (a broken table
                # to a screen reader): the panel not shown is not in the page at all.
                keepMounted=False,
            ),
            dmc.Title(t("review.drill"), id=ReviewIds.DRILL_TITLE, order=5, mt="sm"),
            table(ReviewIds.DRILL, drill_columns(t), "id", height=260),
            html.Div(item_detail(t, None), id=ReviewIds.ITEM, className="review-item"),
        ],
        p="xs",
        withBorder=True,
    )
    parking = dmc.Paper(
        [
            dmc.Title(t("review.parking"), order=4),
            table(ReviewIds.PARKING_TABLE, parking_columns(t), "segment_id", height=300),
            _graph(ReviewIds.PARKING_HOURS, height=420),
        ],
        p="xs",
        withBorder=True,
    )
    warnings = dmc.Paper(
        [
            dmc.Group(
                [dmc.Title(t("review.warnings"), order=4), dmc.Text(id=ReviewIds.WARNINGS_SUMMARY, c="dimmed")],
                gap="md",
            ),
            table(ReviewIds.WARNINGS_TABLE, warning_columns(t), "id", height=300),
        ],
        p="xs",
        withBorder=True,
    )
    return html.Div(
        [
            header,
            filters,
            html.Div([map_panel, tables], className="review-top"),
            charts,
            evaluation_view.section(t),
            parking,
            warnings,
            dcc.Store(id=ReviewIds.FILTERS),
            dcc.Store(id=ReviewIds.FRAMES, data=[]),
            dcc.Store(id=ReviewIds.FRAME_SHOWN),
            dcc.Store(id=ReviewIds.SHEET, data={}),
            dcc.Interval(id=ReviewIds.TICK, interval=poll_ms, disabled=True),
        ],
        className="review",
    )
