"""The app shell: the URL and the slot (the main landmark) each page is rendered into, inside the dark
Mantine theme."""

from __future__ import annotations

from typing import Any

import dash_mantine_components as dmc
from dash import dcc, html

from layouts.ids import ShellIds


def layout() -> Any:
    return dmc.MantineProvider(
        html.Div(
            [
                dcc.Location(id=ShellIds.URL),
                dmc.NotificationContainer(id=ShellIds.NOTICES, position="top-center"),
                html.Main(id=ShellIds.PAGE),
            ]
        ),
        forceColorScheme="dark",
        # Filled buttons and badges take black or white text, whichever reads better on their colour:
        # 0.179 is the luminance where both give the same WCAG contrast, so each gets at least 4.5:1.
        # One primary shade (the dark scheme's 8): Mantine judges a colour's lightness on the light
        # scheme's shade otherwise, and picks black text for a dark blue.
        theme={"autoContrast": True, "luminanceThreshold": 0.179, "primaryShade": 8},
    )
