"""The grid worker's phone page `/worker`: a short inbox with big buttons, a small map, consent to share position."""

from __future__ import annotations

from typing import Any

import dash_mantine_components as dmc
import shapely
from dash import dcc, html

from geo.layers import BACKGROUND, ITEM_STYLE
from layouts.command import KPI_COLORS
from layouts.i18n import Text, local
from layouts.ids import TASK_ACTION, TASK_NOTE, TASK_PHOTO, WorkerIds

# Which buttons a task shows in each of its states.
NEXT_ACTIONS = {"assigned": ("accept", "decline"), "accepted": ("arrive", "resolve"), "on_site": ("resolve",)}
BUTTON_COLORS = {"accept": "green", "decline": "gray", "arrive": "blue", "resolve": "teal"}


def task_cards(tasks: list[dict[str, Any]], t: Text) -> list[Any]:
    """One card per active task, most urgent first, with the actions its state allows."""
    if not tasks:
        return [dmc.Text(t("worker.empty"), c="dimmed", ta="center", mt="lg")]
    cards = []
    for task in tasks:
        buttons = [
            dmc.Button(
                t(f"worker.{action}"),
                id={"type": TASK_ACTION, "task": task["id"], "action": action},
                color=BUTTON_COLORS[action],
                size="lg",
                fullWidth=True,
            )
            for action in NEXT_ACTIONS.get(task["status"], ())
        ]
        cards.append(
            dmc.Paper(
                [
                    dmc.Group(
                        [
                            dmc.Badge(t(f"kind.{task['kind']}"), color=KPI_COLORS[task["kind"]], variant="filled"),
                            dmc.Badge(t(f"priority.{task['priority']}"), variant="outline"),
                            dmc.Badge(t(f"status.{task['status']}"), variant="light", className="task-status"),
                        ]
                    ),
                    dmc.Title(f"#{task['incident_id']} {task['title']}", order=4, mt=6),
                    dmc.Text(task["description"], size="sm", c="dimmed"),
                    dmc.Text(f"{t('detail.due')} {local(task['due_at']):%m-%d %H:%M}", size="sm"),
                    dmc.Textarea(id={"type": TASK_NOTE, "task": task["id"]}, placeholder=t("worker.note"), mt=6),
                    dcc.Upload(
                        html.Div(t("worker.photo"), className="upload-zone"),
                        id={"type": TASK_PHOTO, "task": task["id"]},
                        accept="image/*",
                    ),
                    dmc.SimpleGrid(buttons, cols=len(buttons) or 1, mt=8),
                ],
                p="sm",
                withBorder=True,
                className="task-card",
                id=f"task-{task['id']}",
            )
        )
    return cards


def outline(shape: shapely.Geometry | None) -> tuple[list[float | None], list[float | None]]:
    """The rings of a (multi)polygon as one line: lon and lat lists, rings apart by None."""
    lon: list[float | None] = []
    lat: list[float | None] = []
    if shape is None:
        return lon, lat
    for ring in shapely.get_rings(shapely.get_parts(shape)):
        xy = shapely.get_coordinates(ring)
        lon += [*xy[:, 0].tolist(), None]
        lat += [*xy[:, 1].tolist(), None]
    return lon, lat


def mini_map(
    worker: dict[str, Any] | None,
    tasks: list[dict[str, Any]],
    style: dict[str, Any],
    grid: shapely.Geometry | None = None,
) -> dict[str, Any]:
    """The worker's own grid (outlined), position and tasks."""
    lon, lat = outline(grid)
    data: list[dict[str, Any]] = [
        {
            "type": "scattermap",
            "mode": "lines",
            "lon": lon,
            "lat": lat,
            "line": {"color": "#7aa2d6", "width": 2},
            "hoverinfo": "skip",
        },
        {
            "type": "scattermap",
            "mode": "markers",
            "lon": [x["lon"] for x in tasks],
            "lat": [x["lat"] for x in tasks],
            "marker": {"size": 14, "color": [ITEM_STYLE.get(x["kind"], ITEM_STYLE["ticket"])["color"] for x in tasks]},
            "text": [x["title"] for x in tasks],
            "hoverinfo": "text",
        },
    ]
    center = {"lon": 106.71, "lat": 26.58}
    if grid is not None:
        c = grid.centroid
        center = {"lon": c.x, "lat": c.y}
    if worker and worker["lon"] is not None:
        data.append(
            {
                "type": "scattermap",
                "mode": "markers",
                "lon": [worker["lon"]],
                "lat": [worker["lat"]],
                "marker": {"size": 12, "color": "#3ee0cf"},
                "hoverinfo": "skip",
            }
        )
        center = {"lon": worker["lon"], "lat": worker["lat"]}
    return {
        "data": data,
        "layout": {
            "map": {"style": style, "center": center, "zoom": 14},
            "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
            "paper_bgcolor": BACKGROUND,
            "showlegend": False,
            "uirevision": "worker",
        },
    }


def layout(
    t: Text,
    worker: dict[str, Any] | None,
    tasks: list[dict[str, Any]],
    style: dict[str, Any],
    cursor: int,
    poll_ms: int,
    grid: shapely.Geometry | None = None,
) -> Any:
    """The phone page; a user who is not a grid worker gets a plain notice."""
    if worker is None:
        return html.Div([dmc.Text(t("worker.not_worker")), html.A(t("nav.logout"), href="/logout")], className="phone")
    return html.Div(
        [
            dmc.Group(
                [
                    dmc.Title(f"{t('worker.title')} · {worker['name']}", order=3),
                    html.A(t("nav.logout"), href="/logout"),
                ],
                justify="space-between",
            ),
            dmc.Checkbox(id=WorkerIds.CONSENT, label=t("worker.consent"), checked=False, mt=6),
            dcc.Graph(
                id=WorkerIds.MAP,
                figure=mini_map(worker, tasks, style, grid),
                config={"displaylogo": False, "displayModeBar": False},
                className="mini-map",
            ),
            html.Div(id=WorkerIds.MESSAGE, className="message", role="status"),
            dmc.Text(id=WorkerIds.LIVE, c="red", size="sm"),
            html.Div(task_cards(tasks, t), id=WorkerIds.INBOX),
            dcc.Interval(id=WorkerIds.POLL, interval=poll_ms),
            dcc.Store(id=WorkerIds.CURSOR, data=cursor),
            dcc.Store(id=WorkerIds.POSITION),
        ],
        className="phone",
    )
