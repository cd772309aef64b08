"""The grid worker's phone page `/worker`: a short inbox with big buttons, a small map, consent to share position.

Taps go into an outbox kept on the phone (assets/outbox.js) and are sent, and resent, until the
server answers; the inbox is redrawn only when the worker's own tasks change.
"""

from __future__ import annotations

import hashlib
from typing import Any

import dash_mantine_components as dmc
import shapely
from dash import dcc, html

from geo.layers import BACKGROUND, ITEM_STYLE
from layouts.command import KPI_COLORS
from layouts.i18n import Text, local
from layouts.ids import TASK_ACTION, TASK_NOTE, TASK_PENDING, TASK_PHOTO, WorkerIds
from layouts.liveness import watch

# Which buttons a task shows in each of its states.
NEXT_ACTIONS = {"assigned": ("accept", "decline"), "accepted": ("arrive", "resolve"), "on_site": ("resolve",)}
BUTTON_COLORS = {"accept": "green", "decline": "gray", "arrive": "blue", "resolve": "teal"}
# Task states a worker's task reaches without them: reassigned or cancelled by an operator, or expired.
TAKEN_AWAY = ("cancelled", "expired")


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
                    # Persisted by task id: a note being typed survives any redraw of the inbox (and a reload).
                    dmc.Textarea(
                        id={"type": TASK_NOTE, "task": task["id"]},
                        placeholder=t("worker.note"),
                        mt=6,
                        persistence=True,
                        persistence_type="local",
                        # Sent (and so persisted) 0.4 s after typing pauses, not per key: a per-key round
                        # trip lets a late echo overwrite newer keys under load; never only on blur, or a
                        # redraw of the inbox while the worker types would lose the note.
                        debounce=400,
                    ),
                    dcc.Upload(
                        html.Div(t("worker.photo"), className="upload-zone"),
                        id={"type": TASK_PHOTO, "task": task["id"]},
                        accept="image/*",
                    ),
                    dmc.SimpleGrid(buttons, cols=len(buttons) or 1, mt=8),
                    html.Div(id={"type": TASK_PENDING, "task": task["id"]}, className="task-pending"),
                ],
                p="sm",
                withBorder=True,
                className="task-card",
                id=f"task-{task['id']}",
            )
        )
    return cards


def digest(value: Any) -> str:
    """A short fingerprint of what a screen shows, to tell whether it must be redrawn."""
    return hashlib.blake2b(repr(value).encode(), digest_size=8).hexdigest()


def screen_digests(worker: dict[str, Any] | None, tasks: list[dict[str, Any]]) -> dict[str, str]:
    """Fingerprints of the inbox (the worker's task rows) and of the mini map (tasks and position)."""
    dots = [(x["lon"], x["lat"], x["kind"], x["title"]) for x in tasks]
    where = (worker or {}).get("lon"), (worker or {}).get("lat")
    return {"inbox": digest([sorted(x.items()) for x in tasks]), "map": digest((dots, where))}


def outcome_text(t: Text, action: str, task: str, body: dict[str, Any], ok: bool) -> str:
    """What the worker reads about one sent action: the new status, or why it was not done, by name."""
    if ok:
        return t(f"status.{body['status']}")
    error = body.get("error")
    if error in ("forbidden", "not_found") or (error == "conflict" and body.get("status") in TAKEN_AWAY):
        reason = t("worker.outbox.not_yours")
    elif error == "conflict" and body.get("status"):
        reason = t("worker.outbox.state").format(status=t.get(f"status.{body['status']}", str(body["status"])))
    else:
        reason = str(body.get("message", ""))
    return t("worker.outbox.failed").format(action=t.get(f"worker.{action}", action), task=task, reason=reason)


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


def outbox_texts(t: Text, poll_ms: int) -> dict[str, Any]:
    """The words and limits the phone's outbox script needs (it runs in the browser)."""
    return {
        "pending": t("worker.pending"),
        "offline": t("worker.outbox.offline"),
        "actions": {a: t(f"worker.{a}") for a in BUTTON_COLORS},
        "limit_ms": 2 * poll_ms,
        "retry_ms": max(2 * poll_ms, 2000),
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
            dmc.Badge(t("live.ok"), id=WorkerIds.LIVE, color="green", variant="dot", size="lg"),
            html.Div(id=WorkerIds.BANNER, className="banner", role="alert"),
            html.Div(task_cards(tasks, t), id=WorkerIds.INBOX),
            dcc.Interval(id=WorkerIds.POLL, interval=poll_ms),
            *watch(WorkerIds.HEARTBEAT, WorkerIds.WATCHDOG, t, poll_ms),
            dcc.Store(id=WorkerIds.CURSOR, data=cursor),
            dcc.Store(id=WorkerIds.DIGEST, data=screen_digests(worker, tasks)),
            dcc.Store(id=WorkerIds.POSITION),
            # The outbox lives in the phone's local storage: taps survive going offline and a reload.
            dcc.Store(id=WorkerIds.OUTBOX, storage_type="local"),
            dcc.Store(id=WorkerIds.ME, data=worker["id"]),
            dcc.Store(id=WorkerIds.OUTBOX_TEXTS, data=outbox_texts(t, poll_ms)),
            dcc.Store(id=WorkerIds.FLUSH),
            dcc.Store(id=WorkerIds.SENT),
            dcc.Store(id=WorkerIds.NOTICES),
            dcc.Store(id=WorkerIds.ONLINE),
        ],
        className="phone",
    )
