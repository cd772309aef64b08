"""Wiring of the worker's phone page: inbox refresh, task actions, and position sharing with consent."""

from __future__ import annotations

import base64
from typing import Any

from dash import ALL, Dash, Input, Output, State, ctx, no_update

from api.session import require_actor
from data import queries
from data.runtime import Runtime
from layouts.i18n import Text
from layouts.ids import TASK_ACTION, TASK_NOTE, TASK_PHOTO, WorkerIds
from layouts.worker import mini_map, task_cards
from ops import field, lifecycle
from ops.errors import OneMapError

# Ask the phone for its position when consent is given, then every 15 polls.
GEOLOCATE_JS = """
function(checked, n) {
    if (!checked || !navigator.geolocation) { return window.dash_clientside.no_update; }
    if (window.dash_clientside.callback_context.triggered_id !== 'worker-consent' && n % 15 !== 1) {
        return window.dash_clientside.no_update;
    }
    navigator.geolocation.getCurrentPosition(function(p) {
        window.dash_clientside.set_props('worker-position', {data: {lon: p.coords.longitude, lat: p.coords.latitude}});
    });
    return window.dash_clientside.no_update;
}
"""


def register(app: Dash, rt: Runtime, t: Text) -> None:
    def inbox() -> tuple[Any, Any]:
        me, tasks = queries.worker_inbox(rt.store, require_actor(rt).user_id or 0)
        grid = rt.index.polygon(me["grid_id"]) if me else None
        return task_cards(tasks, t), mini_map(me, tasks, rt.style, grid)

    @app.callback(
        Output(WorkerIds.INBOX, "children"),
        Output(WorkerIds.MAP, "figure"),
        Output(WorkerIds.CURSOR, "data"),
        Output(WorkerIds.LIVE, "children"),
        Input(WorkerIds.POLL, "n_intervals"),
        State(WorkerIds.CURSOR, "data"),
        prevent_initial_call=True,
    )
    def poll(_n: int, cursor: int | None) -> tuple[Any, ...]:
        latest, healthy = rt.cursor()
        live = "" if healthy else t("live.degraded")
        if cursor is not None and latest <= cursor:
            return no_update, no_update, no_update, live
        cards, figure = inbox()
        return cards, figure, latest, live

    @app.callback(
        Output(WorkerIds.MESSAGE, "children"),
        Output(WorkerIds.INBOX, "children", allow_duplicate=True),
        Input({"type": TASK_ACTION, "task": ALL, "action": ALL}, "n_clicks"),
        State({"type": TASK_NOTE, "task": ALL}, "value"),
        State({"type": TASK_NOTE, "task": ALL}, "id"),
        State({"type": TASK_PHOTO, "task": ALL}, "contents"),
        prevent_initial_call=True,
    )
    def act(
        clicks: list[int | None], notes: list[str | None], note_ids: list[dict[str, Any]], photos: list[str | None]
    ) -> tuple[Any, Any]:
        if not any(clicks) or not isinstance(ctx.triggered_id, dict):
            return no_update, no_update
        task_id, action = int(ctx.triggered_id["task"]), ctx.triggered_id["action"]
        mine = [i["task"] == task_id for i in note_ids]
        note = next((n or "" for n, m in zip(notes, mine, strict=True) if m), "")
        upload = next((p for p, m in zip(photos, mine, strict=True) if m), None)
        photo = base64.b64decode(upload.partition(",")[2]) if upload and action == "resolve" else None
        try:
            status = lifecycle.act_on_task(
                rt.store, require_actor(rt), task_id, action, note, photo, rt.config.media_dir
            )
        except OneMapError as exc:
            return t.error(exc), no_update
        return t(f"status.{status}"), inbox()[0]

    app.clientside_callback(
        GEOLOCATE_JS,
        Output(WorkerIds.POSITION, "data"),
        Input(WorkerIds.CONSENT, "checked"),
        Input(WorkerIds.POLL, "n_intervals"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(WorkerIds.MESSAGE, "children", allow_duplicate=True),
        Input(WorkerIds.POSITION, "data"),
        prevent_initial_call=True,
    )
    def position(pos: dict[str, float] | None) -> Any:
        if not pos:
            return no_update
        try:
            field.report_own_position(
                rt.store, require_actor(rt), float(pos["lon"]), float(pos["lat"]), rt.index.bounds
            )
        except OneMapError as exc:
            return t.error(exc)
        except (KeyError, TypeError, ValueError):
            return t("worker.bad_position")
        return no_update
