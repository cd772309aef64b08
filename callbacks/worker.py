"""Wiring of the worker's phone page: inbox refresh (only when the worker's own tasks change), the
outbox of task actions and on-site case moves (核实 / 核查: queued on the phone, sent until answered,
applied once per key), the live badge, and position sharing with consent."""

from __future__ import annotations

import time
from typing import Any

from dash import ALL, ClientsideFunction, Dash, Input, Output, State, no_update

from api import outbox
from api.session import require_actor
from callbacks import liveness
from data import queries
from data.runtime import Runtime
from layouts.i18n import Text
from layouts.ids import SITE_MOVE, SITE_NOTE, SITE_PENDING, TASK_ACTION, TASK_NOTE, TASK_PENDING, TASK_PHOTO, WorkerIds
from layouts.liveness import beat, server_badge
from layouts.worker import (
    mini_map,
    outcome_text,
    screen_digests,
    site_button,
    site_cards,
    site_outcome_text,
    task_cards,
)
from ops import cases, field
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
    def inbox(shown: dict[str, str] | None) -> tuple[Any, Any, Any, dict[str, str]]:
        """(task cards, map figure, case cards, digests): each is ``no_update`` when the screen shows it."""
        actor = require_actor(rt)
        me, tasks = queries.worker_inbox(rt.store, actor.user_id or 0)
        checks = cases.site_checks(rt.store, actor)
        now = screen_digests(me, tasks, checks)
        shown = shown or {}
        cards = task_cards(tasks, t) if now["inbox"] != shown.get("inbox") else no_update
        grid = rt.index.polygon(me["grid_id"]) if me else None
        figure = mini_map(me, tasks, rt.style, grid) if now["map"] != shown.get("map") else no_update
        site = site_cards(checks, t) if now["checks"] != shown.get("checks") else no_update
        return cards, figure, site, now

    @app.callback(
        Output(WorkerIds.INBOX, "children"),
        Output(WorkerIds.MAP, "figure"),
        Output(WorkerIds.CHECKS, "children"),
        Output(WorkerIds.CURSOR, "data"),
        Output(WorkerIds.DIGEST, "data"),
        Output(WorkerIds.LIVE, "children"),
        Output(WorkerIds.LIVE, "color"),
        Output(WorkerIds.HEARTBEAT, "data"),
        Input(WorkerIds.POLL, "n_intervals"),
        State(WorkerIds.CURSOR, "data"),
        State(WorkerIds.DIGEST, "data"),
        prevent_initial_call=True,
    )
    def poll(_n: int, cursor: int | None, shown: dict[str, str] | None) -> tuple[Any, ...]:
        latest, healthy = rt.cursor()
        badge = server_badge(t, healthy)
        if cursor is not None and latest <= cursor:
            return no_update, no_update, no_update, no_update, no_update, *badge, beat()
        # Something changed somewhere in the city; redraw only what differs for this worker.
        cards, figure, site, now = inbox(shown)
        return cards, figure, site, latest, now if now != shown else no_update, *badge, beat()

    # A tap goes into the phone's outbox first (with a fresh key), whether or not the server answers.
    app.clientside_callback(
        ClientsideFunction(namespace="outbox", function_name="enqueue"),
        Output(WorkerIds.OUTBOX, "data"),
        Input({"type": TASK_ACTION, "task": ALL, "action": ALL}, "n_clicks"),
        State({"type": TASK_NOTE, "task": ALL}, "value"),
        State({"type": TASK_NOTE, "task": ALL}, "id"),
        State({"type": TASK_PHOTO, "task": ALL}, "contents"),
        State({"type": TASK_PHOTO, "task": ALL}, "id"),
        State(WorkerIds.OUTBOX, "data"),
        State(WorkerIds.ME, "data"),
        prevent_initial_call=True,
    )
    # A case move (核实 / 核查 answer) is queued the same way, keyed by case and move.
    app.clientside_callback(
        ClientsideFunction(namespace="outbox", function_name="enqueueCase"),
        Output(WorkerIds.OUTBOX, "data", allow_duplicate=True),
        Input({"type": SITE_MOVE, "case": ALL, "action": ALL, "answer": ALL}, "n_clicks"),
        State({"type": SITE_NOTE, "case": ALL}, "value"),
        State({"type": SITE_NOTE, "case": ALL}, "id"),
        State(WorkerIds.OUTBOX, "data"),
        State(WorkerIds.ME, "data"),
        State(WorkerIds.OUTBOX_TEXTS, "data"),
        prevent_initial_call=True,
    )
    # What is queued is sent at once, again every few seconds, and when the browser is back online.
    app.clientside_callback(
        ClientsideFunction(namespace="outbox", function_name="flush"),
        Output(WorkerIds.FLUSH, "data"),
        Input(WorkerIds.OUTBOX, "data"),
        Input(WorkerIds.POLL, "n_intervals"),
        Input(WorkerIds.ONLINE, "data"),
        State(WorkerIds.ME, "data"),
        State(WorkerIds.OUTBOX_TEXTS, "data"),
    )

    @app.callback(
        Output(WorkerIds.SENT, "data"),
        Output(WorkerIds.INBOX, "children", allow_duplicate=True),
        Output(WorkerIds.MAP, "figure", allow_duplicate=True),
        Output(WorkerIds.CHECKS, "children", allow_duplicate=True),
        Output(WorkerIds.DIGEST, "data", allow_duplicate=True),
        Output(WorkerIds.MESSAGE, "children"),
        Input(WorkerIds.FLUSH, "data"),
        State(WorkerIds.DIGEST, "data"),
        prevent_initial_call=True,
    )
    def send(flush: dict[str, Any] | None, shown: dict[str, str] | None) -> tuple[Any, ...]:
        entries = (flush or {}).get("entries")
        if not isinstance(entries, list) or not entries:
            return (no_update,) * 6
        done = outbox.deliver(rt.store, require_actor(rt), entries, rt.config.media_dir, rt.cases)
        answers = {e.get("key"): e.get("answer") for e in entries if isinstance(e, dict)}
        results = []
        for d in done:
            if d.case is not None:
                text = site_outcome_text(t, site_button(d.action, answers.get(d.key)), f"#{d.case}", d.body, d.ok)
            else:
                label = (queries.task_label(rt.store, d.task) if d.task is not None else None) or f"#{d.task}"
                text = outcome_text(t, d.action, label, d.body, d.ok)
            results.append({"key": d.key, "final": d.final, "ok": d.ok, "text": text})
        cards, figure, site, now = inbox(shown)
        said = [r["text"] for r in results if r["ok"]]
        return {"at": time.time(), "results": results}, cards, figure, site, now, said[-1] if said else no_update

    # Answered actions leave the outbox; the ones refused are named in the banner.
    app.clientside_callback(
        ClientsideFunction(namespace="outbox", function_name="settle"),
        Output(WorkerIds.OUTBOX, "data", allow_duplicate=True),
        Output(WorkerIds.NOTICES, "data"),
        Input(WorkerIds.SENT, "data"),
        State(WorkerIds.OUTBOX, "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction(namespace="outbox", function_name="show"),
        Output({"type": TASK_PENDING, "task": ALL}, "children"),
        Output(WorkerIds.BANNER, "children"),
        Input(WorkerIds.OUTBOX, "data"),
        Input(WorkerIds.NOTICES, "data"),
        Input(WorkerIds.INBOX, "children"),
        Input(WorkerIds.POLL, "n_intervals"),
        State({"type": TASK_PENDING, "task": ALL}, "id"),
        State(WorkerIds.ME, "data"),
        State(WorkerIds.OUTBOX_TEXTS, "data"),
    )
    app.clientside_callback(
        ClientsideFunction(namespace="outbox", function_name="showCases"),
        Output({"type": SITE_PENDING, "case": ALL}, "children"),
        Input(WorkerIds.OUTBOX, "data"),
        Input(WorkerIds.CHECKS, "children"),
        State({"type": SITE_PENDING, "case": ALL}, "id"),
        State(WorkerIds.ME, "data"),
        State(WorkerIds.OUTBOX_TEXTS, "data"),
    )
    liveness.register(app, WorkerIds.HEARTBEAT, WorkerIds.WATCHDOG, WorkerIds.LIVE)

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
