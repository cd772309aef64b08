"""The command page `/`: KPI strip, the one map, the queue, layer toggles, the live feed and the
detail drawer with one-click assignment (wall-screen dark)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dash_ag_grid as dag
import dash_mantine_components as dmc
from dash import dcc, html

from geo.layers import LAYER_TRACES
from layouts.i18n import Text, local
from layouts.ids import ASSIGN, KPI_IDS, WARNING_ACTION, CommandIds, Ids

DEFAULT_LAYERS = ["grids", "alerts", "fire", "police", "ticket", "alarm", "overdue", "parking", "workers", "warnings"]
KPI_COLORS = {
    "fire": "red",
    "police": "blue",
    "ticket": "yellow",
    "alarm": "grape",
    "unassigned": "orange",
    "overdue": "pink",
    "parking": "teal",
    "on_duty": "cyan",
    "visit": "lime",
}
GRID_THEME = {
    "function": "themeQuartz.withParams({backgroundColor: '#111b2e', foregroundColor: '#e6edf7',"
    " accentColor: '#3d8bfd', headerBackgroundColor: '#16223a', fontSize: 14})"
}
GRAPH_CONFIG = {"displaylogo": False, "scrollZoom": True, "displayModeBar": "hover", "responsive": True}


def kpi_values(kpis: dict[str, Any]) -> dict[str, str]:
    """KPI strip texts by KPI name, from ``queries.kpis``."""
    values = {k: f"{v:,}" for k, v in kpis["open"].items()}
    values["unassigned"] = f"{kpis['unassigned']:,}"
    values["overdue"] = f"{kpis['overdue']:,}"
    values["parking"] = f"{kpis['parking_pct']:.1f}%"
    values["on_duty"] = f"{kpis['on_duty']:,}"
    return values


def _kpi_card(name: str, t: Text, value: str) -> dmc.Paper:
    return dmc.Paper(
        [
            dmc.Text(t(f"kpi.{name}"), size="sm", c="dimmed", className="kpi-label"),
            dmc.Text(value, id=KPI_IDS[name], fw=700, c=KPI_COLORS[name], className="kpi-value"),
        ],
        p="xs",
        withBorder=True,
        className="kpi-card",
    )


LEVEL_COLORS = {"high": "red", "medium": "orange", "low": "yellow"}


def warning_badge(t: Text, rows: list[dict[str, Any]]) -> tuple[str, str]:
    """Header badge text and class: it flashes while any warning is still unacknowledged."""
    waiting = sum(1 for r in rows if r["status"] == "open")
    return t("warning.badge").format(n=len(rows)), "warning-badge flash" if waiting else "warning-badge"


def warning_items(rows: list[dict[str, Any]], t: Text) -> list[Any]:
    """Open and acknowledged warnings, newest first, each with acknowledge and resolve buttons."""
    if not rows:
        return [dmc.Text(t("warning.empty"), c="dimmed", size="sm")]
    out = []
    for r in rows:
        buttons = []
        if r["status"] == "open":
            buttons.append(
                dmc.Button(
                    t("warning.ack"),
                    id={"type": WARNING_ACTION, "warning": r["id"], "action": "acknowledge"},
                    size="compact-xs",
                    variant="outline",
                    color="yellow",
                )
            )
        buttons.append(
            dmc.Button(
                t("warning.resolve"),
                id={"type": WARNING_ACTION, "warning": r["id"], "action": "resolve"},
                size="compact-xs",
                variant="outline",
                color="green",
            )
        )
        meta = f"{t('warning.status.' + r['status'])} · {local(r['created_at']):%m-%d %H:%M}"
        if r.get("incident_id"):
            meta += " · " + t("warning.task").format(id=r["incident_id"])
        out.append(
            html.Div(
                [
                    dmc.Group(
                        [
                            dmc.Badge(
                                t(f"warning.level.{r['level']}"),
                                color=LEVEL_COLORS.get(r["level"], "gray"),
                                variant="filled" if r["status"] == "open" else "outline",
                                size="sm",
                            ),
                            dmc.Group(buttons, gap=4),
                        ],
                        justify="space-between",
                    ),
                    html.Div(r["title"], className="warning-title"),
                    html.Div(meta, className="feed-meta"),
                ],
                className=f"warning-row warning-{r['status']}",
            )
        )
    return out


def feed_items(rows: list[dict[str, Any]], t: Text) -> list[Any]:
    """The live feed's rows: newest item first, kind, title, grid, status and time."""
    if not rows:
        return [dmc.Text(t("feed.empty"), c="dimmed")]
    out = []
    for r in rows:
        out.append(
            html.Div(
                [
                    dmc.Badge(t(f"kind.{r['kind']}"), color=KPI_COLORS[r["kind"]], variant="filled", size="sm"),
                    html.Span(f" #{r['id']} {r['title']}", className="feed-title"),
                    html.Div(
                        f"{r['grid'] or '—'} · {t('status.' + r['status'])} · {local(r['created_at']):%H:%M:%S}",
                        className="feed-meta",
                    ),
                ],
                className="feed-row",
            )
        )
    return out


def queue_rows(rows: list[dict[str, Any]], t: Text) -> list[dict[str, Any]]:
    """AG Grid rows for the queue, with translated kind, status and priority."""
    return [
        {
            "id": r["id"],
            "kind": t(f"kind.{r['kind']}"),
            "title": r["title"],
            "grid": r["grid"] or "—",
            "status": t(f"status.{r['status']}"),
            "priority": t(f"priority.{r['priority']}"),
            "due": f"{local(r['due_at']):%H:%M}",
            "overdue": r["overdue"],
        }
        for r in rows
    ]


def queue(rows: list[dict[str, Any]], t: Text) -> dag.AgGrid:
    """The operators' queue: multi-row selection for bulk assignment, overdue rows highlighted."""
    columns = [
        {"field": "id", "headerName": t("queue.id"), "width": 110},
        {"field": "kind", "headerName": t("queue.kind"), "width": 80},
        {"field": "title", "headerName": t("queue.title_col"), "flex": 1},
        {"field": "grid", "headerName": t("queue.grid"), "flex": 1},
        {"field": "status", "headerName": t("queue.status"), "width": 90},
        {"field": "priority", "headerName": t("queue.priority"), "width": 80},
        {"field": "due", "headerName": t("queue.due"), "width": 80},
    ]
    return dag.AgGrid(
        id=CommandIds.QUEUE,
        rowData=queue_rows(rows, t),
        columnDefs=columns,
        getRowId="params.data.id + ''",
        dashGridOptions={
            "theme": GRID_THEME,
            "rowSelection": {
                "mode": "multiRow",
                "checkboxes": True,
                "headerCheckbox": True,
                "enableClickSelection": False,
            },
            "rowClassRules": {"row-overdue": "params.data.overdue"},
            "animateRows": False,
        },
        className="queue-grid",
        style={"height": "100%"},
    )


def _fmt(when: datetime | None) -> str:
    return f"{local(when):%m-%d %H:%M:%S}" if when else "—"


def priority_select(t: Text, value: int) -> dmc.Select:
    return dmc.Select(
        id=CommandIds.PRIORITY,
        label=t("detail.priority"),
        value=str(value),
        data=[{"value": str(p), "label": t(f"priority.{p}")} for p in (1, 2, 3)],
        allowDeselect=False,
        w=160,
    )


def cancel_controls(t: Text) -> dmc.Group:
    return dmc.Group(
        [
            dmc.TextInput(id=CommandIds.CANCEL_REASON, placeholder=t("detail.cancel_reason"), size="xs"),
            dmc.Button(t("detail.cancel"), id=CommandIds.CANCEL, color="red", variant="outline", size="xs"),
        ],
        mt="sm",
    )


def detail_panel(detail: dict[str, Any] | None, suggestions: list[Any], t: Text, now: datetime) -> list[Any]:
    """What, where, when, grid, reporter (masked), photo, history, and one-click assignment."""
    if detail is None:
        return [dmc.Text(t("detail.none"), c="dimmed")]
    open_now = detail["status"] in ("new", "assigned", "accepted", "on_site", "declined", "reopened")
    overdue = open_now and detail["due_at"] < now
    verb = "detail.reassign" if detail["status"] in ("assigned", "accepted", "on_site") else "detail.assign"
    facts = [
        (t("detail.where"), f"{detail['lon']:.5f}, {detail['lat']:.5f}"),
        (t("detail.grid"), detail["grid_name"] or "—"),
        (t("detail.when"), _fmt(detail["created_at"])),
        (t("detail.due"), _fmt(detail["due_at"])),
        (t("detail.reporter"), f"{detail['reporter']['name'] or '—'} {detail['reporter']['phone'] or ''}"),
    ]
    photos = [html.Img(src=f"/media/{name}", className="photo", alt=t("detail.photo")) for name in detail["photos"]]
    badges = [
        dmc.Badge(t(f"kind.{detail['kind']}"), color=KPI_COLORS[detail["kind"]], variant="filled"),
        dmc.Badge(t(f"status.{detail['status']}"), variant="outline", id="detail-status"),
    ]
    if overdue:
        badges.append(dmc.Badge(t("detail.overdue"), color="red"))
    rows: list[Any] = [
        dmc.Group(badges),
        dmc.Title(f"#{detail['id']} {detail['title']}", order=4, mt=6),
        dmc.Text(detail["description"], size="sm", c="dimmed"),
        html.Table([html.Tr([html.Th(k), html.Td(v)]) for k, v in facts], className="facts"),
        html.Div(photos or t("detail.no_photo"), className="photos"),
        priority_select(t, detail["priority"]),
    ]
    if open_now:
        rows.append(dmc.Title(t("detail.suggest"), order=5, mt="sm"))
        for sug in suggestions:
            label = f"{sug.name} · {sug.role} · {sug.distance_m:,.0f} m · {sug.open_tasks} {t('detail.tasks')}"
            if sug.own_grid:
                label += f" · {t('detail.own_grid')}"
            button = dmc.Button(
                t(verb),
                id={"type": ASSIGN, "worker": sug.worker_id},
                size="xs",
                disabled=sug.worker_id == detail["assigned_worker_id"],
            )
            rows.append(dmc.Group([html.Span(label, className="suggestion"), button], justify="space-between"))
        rows.append(cancel_controls(t))
    history = [
        dmc.TimelineItem(
            title=f"{t.get('event.' + h['kind'], h['kind'])} · {h['actor']}",
            children=dmc.Text(f"{_fmt(h['at'])} {h['data'].get('note') or h['data'].get('reason') or ''}", size="xs"),
        )
        for h in detail["history"]
    ]
    rows += [
        dmc.Title(t("detail.history"), order=5, mt="sm"),
        dmc.Timeline(history, active=len(history), bulletSize=12),
    ]
    return rows


def layout(
    t: Text,
    figure: dict[str, Any],
    kpis: dict[str, Any],
    feed: list[dict[str, Any]],
    queue_data: list[dict[str, Any]],
    cursor: int,
    poll_ms: int,
    user: str,
    warnings: list[dict[str, Any]] | None = None,
    admin: bool = False,
    home: list[float] | None = None,
) -> Any:
    """The whole command page, filled with the first state so the wall shows data at once.

    ``home`` is the city's box (west, south, east, north): the map opens framed on it, and the home
    control frames it again. Wall mode (large text for a wall screen) is remembered per screen."""
    values = kpi_values(kpis)
    warnings = warnings or []
    badge_text, badge_class = warning_badge(t, warnings)
    header = dmc.Group(
        [
            dmc.Group([dmc.Title(t("app.title"), order=2), dmc.Text(t("app.subtitle"), c="dimmed")], gap="md"),
            dmc.Group(
                [
                    html.Span(badge_text, id=CommandIds.WARNING_BADGE, className=badge_class),
                    dmc.Switch(id=CommandIds.WALL_TOGGLE, label=t("wall.toggle"), className="wall-toggle"),
                    html.A(t("nav.review"), href="/review", className="nav-link"),
                    *([html.A(t("nav.rules"), href="/rules", className="nav-link")] if admin else []),
                    dmc.Badge(t("live.ok"), id=Ids.LIVE_BADGE, color="green", variant="dot", size="lg"),
                    html.Span(id=Ids.CLOCK, className="clock"),
                    html.Span(user, className="user"),
                    html.A(t("nav.logout"), href="/logout", className="logout"),
                ]
            ),
        ],
        justify="space-between",
        className="header",
    )
    kpi_strip = html.Div([_kpi_card(name, t, values[name]) for name in KPI_IDS], className="kpi-strip")
    layer_toggle = dmc.CheckboxGroup(
        id=Ids.LAYERS,
        label=t("layers.title"),
        value=DEFAULT_LAYERS,
        children=dmc.Stack([dmc.Checkbox(label=t(f"layer.{name}"), value=name) for name in LAYER_TRACES], gap=6),
    )
    push = dmc.Paper(
        [
            dmc.Title(t("push.title"), order=5),
            dcc.Upload(
                html.Div(t("push.upload"), className="upload-zone"), id=CommandIds.PUSH_UPLOAD, accept=".csv,text/csv"
            ),
            dmc.Progress(id=CommandIds.PUSH_PROGRESS, value=0, size="lg", mt=6),
            dmc.Text(id=CommandIds.PUSH_RESULT, size="sm", mt=4),
            dmc.Button(
                t("push.download"), id=CommandIds.PUSH_DOWNLOAD_BUTTON, size="xs", variant="outline", disabled=True
            ),
            dcc.Download(id=CommandIds.PUSH_DOWNLOAD),
            dcc.Store(id=CommandIds.PUSH_JOB),
        ],
        p="sm",
        withBorder=True,
        className="push-panel",
    )
    side = html.Div(
        [
            dmc.Paper(
                [
                    dmc.Title(t("warning.title"), order=4),
                    html.Div(warning_items(warnings, t), id=CommandIds.WARNINGS, className="warnings"),
                ],
                p="sm",
                withBorder=True,
                className="warning-panel",
            ),
            dmc.Paper(
                [layer_toggle, dmc.Text(t("legend.parking"), size="xs", c="dimmed", mt=8)],
                p="sm",
                withBorder=True,
                className="layers-panel",
            ),
            push,
            dmc.Paper(
                [dmc.Title(t("feed.title"), order=4), html.Div(feed_items(feed, t), id=Ids.FEED, className="feed")],
                p="sm",
                withBorder=True,
                className="feed-panel",
            ),
        ],
        className="side",
    )
    queue_panel = dmc.Paper(
        [
            dmc.Group(
                [
                    dmc.Title(t("queue.title"), order=4),
                    dmc.Group(
                        [
                            dmc.Text(t("bulk.selected").format(n=0), id=CommandIds.BULK_INFO, size="sm"),
                            dmc.Button(t("bulk.assign"), id=CommandIds.BULK, size="xs", disabled=True),
                        ]
                    ),
                ],
                justify="space-between",
            ),
            html.Div(queue(queue_data, t), className="queue-wrap"),
        ],
        p="xs",
        withBorder=True,
        className="queue-panel",
    )
    graph = dcc.Graph(id=Ids.MAP, figure=figure, config=GRAPH_CONFIG, className="map-graph")
    home_button = html.Button(
        "⌂ " + t("map.home"), id=CommandIds.HOME, title=t("map.home_title"), className="map-home", n_clicks=0
    )
    map_wrap = html.Div([graph, home_button], id=CommandIds.MAP_WRAP, className="map-wrap")
    main = html.Div([map_wrap, queue_panel], className="main-col")
    detail = html.Aside(
        [
            dmc.Group(
                [
                    dmc.Title(t("detail.title"), order=4),
                    dmc.Button(t("detail.close"), id=CommandIds.DETAIL_CLOSE, variant="subtle", size="xs"),
                ],
                justify="space-between",
            ),
            html.Div(detail_panel(None, [], t, datetime.now()), id=CommandIds.DETAIL_BODY),
        ],
        id=CommandIds.DETAIL,
        hidden=True,
        className="detail-panel",
    )
    return html.Div(
        [
            header,
            kpi_strip,
            html.Div([main, side], className="body"),
            detail,
            html.Div(id=CommandIds.MESSAGE, className="message", role="status"),
            dcc.Interval(id=Ids.POLL, interval=poll_ms),
            dcc.Store(id=Ids.CURSOR, data=cursor),
            dcc.Store(id=CommandIds.SELECTED),
            dcc.Store(id=CommandIds.SELECTION, data=[]),
            dcc.Store(id=CommandIds.VIEW),
            dcc.Store(id=CommandIds.DIGESTS, data={}),
            dcc.Store(id=CommandIds.HOME_BOUNDS, data=home),
            dcc.Store(id=CommandIds.WALL, storage_type="local"),
        ],
        id=CommandIds.ROOT,
        className="command",
    )
