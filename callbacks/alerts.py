"""Wiring of the wall's alert: each time the poll moves the screen's cursor, ask the server what is
urgent since then; show the banner, ring the tone (``assets/alert_tone.js``) when sound is on; dismiss;
open."""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, no_update

from api.session import require_actor
from data.runtime import Runtime
from layouts.alerts import banner_update
from layouts.i18n import Text
from layouts.ids import AlertIds, CommandIds, Ids
from ops.alerts import urgent_since
from ops.errors import OneMapError


def selection(incident_id: int) -> int:
    """What the command page's selection store holds for an item (one place to change it)."""
    return incident_id


def register(app: Dash, rt: Runtime, t: Text) -> None:
    """Attach the alert callbacks; with ``ONEMAP_ALERTS=0`` there are none and the banner stays hidden."""
    if not rt.config.alerts:
        return

    @app.callback(
        Output(AlertIds.BANNER, "hidden"),
        Output(AlertIds.OPEN, "children"),
        Output(AlertIds.ITEM, "data"),
        Output(AlertIds.CURSOR, "data"),
        Output(AlertIds.TONE, "data"),
        Input(Ids.CURSOR, "data"),  # only when the city changed: a quiet poll costs no request here
        State(AlertIds.CURSOR, "data"),
        State(AlertIds.TONE, "data"),
        prevent_initial_call=True,
    )
    def check(_n: int, cursor: int | None, tones: int | None) -> tuple[Any, ...]:
        latest, _healthy = rt.cursor()
        if cursor is not None and latest <= cursor:
            return (no_update,) * 5
        try:
            found = urgent_since(rt.store, require_actor(rt), latest if cursor is None else cursor, latest)
        except OneMapError:  # signed out or not a dispatcher: nothing to show, and no cursor moves
            return (no_update,) * 5
        if not found:
            return no_update, no_update, no_update, latest, no_update
        text, item = banner_update(t, found, rt.static.names_by_id)
        tone = (tones or 0) + 1 if rt.config.alert_sound else no_update
        return False, text, item, latest, tone

    app.clientside_callback(
        "function(n) { if (n && window.onemapAlertTone) { window.onemapAlertTone(); } return n; }",
        Output(AlertIds.TONE_PLAYED, "data"),
        Input(AlertIds.TONE, "data"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(AlertIds.BANNER, "hidden", allow_duplicate=True),
        Input(AlertIds.DISMISS, "n_clicks"),
        prevent_initial_call=True,
    )
    def dismiss(_clicks: int | None) -> bool:
        return True

    @app.callback(
        Output(CommandIds.SELECTED, "data", allow_duplicate=True),
        Output(AlertIds.BANNER, "hidden", allow_duplicate=True),
        Input(AlertIds.OPEN, "n_clicks"),
        State(AlertIds.ITEM, "data"),
        prevent_initial_call=True,
    )
    def open_item(clicks: int | None, incident_id: int | None) -> tuple[Any, Any]:
        if not clicks or incident_id is None:
            return no_update, no_update
        return selection(int(incident_id)), True
