"""The command page `/`: KPI strip, the one map, layer toggles and the live feed (wall-screen dark)."""

from __future__ import annotations

from typing import Any

import dash_mantine_components as dmc
from dash import dcc, html

from geo.layers import LAYER_TRACES
from layouts.i18n import Text
from layouts.ids import KPI_IDS, Ids

DEFAULT_LAYERS = ["grids", "fire", "police", "ticket", "alarm", "parking", "workers"]
KPI_COLORS = {
    "fire": "red",
    "police": "blue",
    "ticket": "yellow",
    "alarm": "grape",
    "unassigned": "orange",
    "overdue": "pink",
    "parking": "teal",
    "on_duty": "cyan",
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
                        f"{r['grid'] or '—'} · {t('status.' + r['status'])} · {r['created_at']:%H:%M:%S}",
                        className="feed-meta",
                    ),
                ],
                className="feed-row",
            )
        )
    return out


def layout(
    t: Text, figure: dict[str, Any], kpis: dict[str, Any], feed: list[dict[str, Any]], cursor: int, poll_ms: int
) -> Any:
    """The whole command page, filled with the first state so the wall shows data at once."""
    values = kpi_values(kpis)
    header = dmc.Group(
        [
            dmc.Group(
                [dmc.Title(t("app.title"), order=2), dmc.Text(t("app.subtitle"), c="dimmed")],
                gap="md",
            ),
            dmc.Group(
                [
                    dmc.Badge(t("live.ok"), id=Ids.LIVE_BADGE, color="green", variant="dot", size="lg"),
                    html.Span(id=Ids.CLOCK, className="clock"),
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
    side = html.Div(
        [
            dmc.Paper(
                [layer_toggle, dmc.Text(t("legend.parking"), size="xs", c="dimmed", mt=8)], p="sm", withBorder=True
            ),
            dmc.Paper(
                [dmc.Title(t("feed.title"), order=4), html.Div(feed_items(feed, t), id=Ids.FEED, className="feed")],
                p="sm",
                withBorder=True,
                className="feed-panel",
            ),
        ],
        className="side",
    )
    body = html.Div(
        [
            html.Div(
                dcc.Graph(id=Ids.MAP, figure=figure, config=GRAPH_CONFIG, className="map-graph"), className="map-wrap"
            ),
            side,
        ],
        className="body",
    )
    return dmc.MantineProvider(
        html.Div(
            [
                header,
                kpi_strip,
                body,
                dcc.Interval(id=Ids.POLL, interval=poll_ms),
                dcc.Store(id=Ids.CURSOR, data=cursor),
            ],
            className="command",
        ),
        forceColorScheme="dark",
    )
