"""The live badge's browser-side watchdog, registered once per page (see layouts/liveness.py)."""

from __future__ import annotations

from dash import ClientsideFunction, Dash, Input, Output


def register(app: Dash, heartbeat: str, watchdog: str, badge: str) -> None:
    """Let ``watchdog`` turn ``badge`` (its children and colour) to "disconnected" when ``heartbeat`` goes quiet."""
    app.clientside_callback(
        ClientsideFunction(namespace="liveness", function_name="watch"),
        Output(badge, "children", allow_duplicate=True),
        Output(badge, "color", allow_duplicate=True),
        Input(watchdog, "n_intervals"),
        Input(heartbeat, "data"),
        prevent_initial_call=True,
    )
