"""The app shell: the URL and the slot each page is rendered into, inside the dark Mantine theme."""

from __future__ import annotations

from typing import Any

import dash_mantine_components as dmc
from dash import dcc, html

from layouts.ids import ShellIds


def layout() -> Any:
    return dmc.MantineProvider(
        html.Div([dcc.Location(id=ShellIds.URL), html.Div(id=ShellIds.PAGE)]),
        forceColorScheme="dark",
    )
