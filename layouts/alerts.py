"""The wall's alert banner: a new fire or priority-1 item, named, flashing, one click to open it."""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from layouts.i18n import Text
from layouts.ids import AlertIds

BANNER_CLASS = "alert-banner flash"


def alert_banner(t: Text, cursor: int) -> html.Div:
    """The banner (hidden until an alert) and its stores; ``cursor`` is the page's first event cursor."""
    return html.Div(
        [
            html.Div(
                [
                    html.Button(id=AlertIds.OPEN, className="alert-open", title=t("alert.open")),
                    html.Button(t("alert.dismiss"), id=AlertIds.DISMISS, className="alert-dismiss"),
                ],
                id=AlertIds.BANNER,
                className=BANNER_CLASS,
                role="alert",
                hidden=True,
            ),
            dcc.Store(id=AlertIds.ITEM),
            dcc.Store(id=AlertIds.CURSOR, data=cursor),
            dcc.Store(id=AlertIds.TONE, data=0),
            dcc.Store(id=AlertIds.TONE_PLAYED),
        ]
    )


def alert_text(t: Text, kind: str, incident_id: int, title: str, grid: str, more: int) -> str:
    """The banner text ("Urgent: Fire #12 House fire · grid") and how many more arrived with it."""
    text = t("alert.text").format(kind=t.get(f"kind.{kind}", kind), id=incident_id, title=title, grid=grid or "—")
    return f"{text} {t('alert.more').format(n=more)}" if more else text


def banner_update(t: Text, alerts: list[Any], grid_names: dict[int, str]) -> tuple[str, int]:
    """(banner text, item id) for the newest of ``alerts`` (``ops.alerts.Alert``, newest first)."""
    top = alerts[0]
    grid = grid_names.get(top.grid_id, "") if top.grid_id is not None else ""
    return alert_text(t, top.kind, top.incident_id, top.title, grid, len(alerts) - 1), top.incident_id
