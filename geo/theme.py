"""The colours of the screens, named once: each kind of item keeps its colour on the live map, the
phone's mini map, the review page's charts and its badges (``geo/layers.py`` and ``layouts/`` read
them from here; ``geo/`` is the lowest layer that draws, so the palette lives beside the map's builders)."""

from __future__ import annotations

KIND_COLOURS = {
    "fire": "#ff3b30",
    "police": "#3d8bfd",
    "ticket": "#f5b700",
    "alarm": "#c77dff",
    "visit": "#94d82d",
}
