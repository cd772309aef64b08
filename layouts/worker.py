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
from layouts.ids import SITE_MOVE, SITE_NOTE, SITE_PENDING, TASK_ACTION, TASK_NOTE, TASK_PENDING, TASK_PHOTO, WorkerIds
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
            big_button(
                t(f"worker.{action}"),
                {"type": TASK_ACTION, "task": task["id"], "action": action},
                BUTTON_COLORS[action],
            )
            for action in NEXT_ACTIONS.get(task["status"], ())
        ]
        cards.append(
            card(
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
                    note_field({"type": TASK_NOTE, "task": task["id"]}, t("worker.note")),
                    dcc.Upload(
                        html.Div(t("worker.photo"), className="upload-zone"),
                        id={"type": TASK_PHOTO, "task": task["id"]},
                        accept="image/*",
                    ),
                    dmc.SimpleGrid(buttons, cols=len(buttons) or 1, mt=8),
                    html.Div(id={"type": TASK_PENDING, "task": task["id"]}, className="task-pending"),
                ],
                "task-card",
                f"task-{task['id']}",
            )
        )
    return cards


def big_button(label: str, id_: dict[str, Any], color: str) -> Any:
    """A full-width phone button, big enough for a thumb in gloves."""
    return dmc.Button(label, id=id_, color=color, size="lg", fullWidth=True)


def note_field(id_: dict[str, Any], placeholder: str) -> Any:
    """A card's note, persisted by its pattern id: what is being typed survives any redraw of the inbox
    (and a reload). Sent (and so persisted) 0.4 s after typing pauses, not per key: a per-key round trip
    lets a late echo overwrite newer keys under load; never only on blur, or a redraw while the worker
    types would lose the note."""
    return dmc.Textarea(id=id_, placeholder=placeholder, mt=6, persistence=True, persistence_type="local", debounce=400)


def card(children: list[Any], class_name: str, id_: str) -> Any:
    return dmc.Paper(children, p="sm", withBorder=True, className=class_name, id=id_)


# The two answers of each on-site move (the first is the positive one: 属实 / 通过) and their colours.
SITE_ANSWERS = {"verify": ("valid", "invalid"), "check": ("passed", "failed")}
SITE_COLORS = {"valid": "green", "invalid": "red", "passed": "green", "failed": "red"}


def site_cards(checks: list[dict[str, Any]], t: Text) -> list[Any]:
    """待核实 / 待核查: one card per case of the worker's grid waiting for their check on site (from
    ``ops.cases.site_checks``), with what the department reported and the two answers; nothing when none."""
    if not checks:
        return []
    cards: list[Any] = [dmc.Title(t("worker.site.title"), order=4, mt="md")]
    for case in checks:
        action = case["action"]
        lines = [
            dmc.Group(
                [
                    dmc.Badge(t(f"worker.site.{action}"), color="orange", variant="filled"),
                    dmc.Badge(t(f"stage.{case['stage']}"), variant="light"),
                ]
            ),
            dmc.Title(f"#{case['id']} {case['title']}", order=5, mt=6),
            dmc.Text(case["place"], size="sm", c="dimmed", className="site-place"),
        ]
        if case["department"]:
            lines.append(dmc.Text(t("worker.site.department").format(name=case["department"]), size="sm"))
        if case["handled_note"]:
            lines.append(
                dmc.Text(
                    t("worker.site.reported").format(note=case["handled_note"]), size="sm", className="site-handled"
                )
            )
        if case["handled_photos"]:
            lines.append(
                html.Div(
                    [
                        html.Img(src=f"/media/{name}", className="photo", alt=t("detail.photo"))
                        for name in case["handled_photos"]
                    ],
                    className="photos site-photos",
                )
            )
        if case["stage_due_at"] is not None:
            lines.append(dmc.Text(f"{t('detail.due')} {local(case['stage_due_at']):%m-%d %H:%M}", size="sm"))
        buttons = [
            big_button(
                t(f"worker.site.{answer}"),
                {"type": SITE_MOVE, "case": case["id"], "action": action, "answer": answer},
                SITE_COLORS[answer],
            )
            for answer in SITE_ANSWERS[action]
        ]
        cards.append(
            card(
                [
                    *lines,
                    note_field({"type": SITE_NOTE, "case": case["id"]}, t("worker.site.note")),
                    dmc.SimpleGrid(buttons, cols=2, mt=8),
                    html.Div(id={"type": SITE_PENDING, "case": case["id"]}, className="task-pending"),
                ],
                "site-card",
                f"site-{case['id']}",
            )
        )
    return cards


def site_button(action: str, answer: Any) -> str:
    """The button behind a queued case move: the first answer of the move for true, the second otherwise."""
    yes, no = SITE_ANSWERS.get(action, (action, action))
    return yes if answer is True else no


def site_outcome_text(t: Text, button: str, case: str, body: dict[str, Any], ok: bool) -> str:
    """What the worker reads about one sent case move: the case's new stage, or why it was not made."""
    if ok:
        return t("worker.site.done").format(case=case, stage=t(f"stage.{body['stage']}"))
    if body.get("error") == "conflict" and body.get("stage"):
        reason = t("worker.site.state").format(stage=t.get(f"stage.{body['stage']}", str(body["stage"])))
    elif body.get("error") in ("forbidden", "not_found"):
        reason = t("worker.site.not_yours")
    else:
        reason = str(body.get("message", ""))
    return t("worker.outbox.failed").format(action=t.get(f"worker.site.{button}", button), task=case, reason=reason)


def digest(value: Any) -> str:
    """A short fingerprint of what a screen shows, to tell whether it must be redrawn."""
    return hashlib.blake2b(repr(value).encode(), digest_size=8).hexdigest()


def screen_digests(
    worker: dict[str, Any] | None, tasks: list[dict[str, Any]], checks: list[dict[str, Any]] | None = None
) -> dict[str, str]:
    """Fingerprints of the inbox (the worker's task rows), the mini map (tasks and position) and the
    cases waiting for the worker's check."""
    dots = [(x["lon"], x["lat"], x["kind"], x["title"]) for x in tasks]
    where = (worker or {}).get("lon"), (worker or {}).get("lat")
    return {
        "inbox": digest([sorted(x.items()) for x in tasks]),
        "map": digest((dots, where)),
        "checks": digest([sorted(x.items()) for x in checks or []]),
    }


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
        "site": {
            "answers": {a: t(f"worker.site.{a}") for a in SITE_COLORS},
            "yes": [answers[0] for answers in SITE_ANSWERS.values()],
            "note_required": t("worker.site.note_required"),
        },
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
    checks: list[dict[str, Any]] | None = None,
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
            html.Div(site_cards(checks or [], t), id=WorkerIds.CHECKS),
            dcc.Interval(id=WorkerIds.POLL, interval=poll_ms),
            *watch(WorkerIds.HEARTBEAT, WorkerIds.WATCHDOG, t, poll_ms),
            dcc.Store(id=WorkerIds.CURSOR, data=cursor),
            dcc.Store(id=WorkerIds.DIGEST, data=screen_digests(worker, tasks, checks)),
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
