"""Wiring of the command page: poll the cursor and patch what changed; select items on the map or in
the queue; assign from the detail drawer in one click; bulk assign; cancel; priority; layers; zoom."""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Hashable
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from dash import ALL, Dash, Input, Output, Patch, State, ctx, html, no_update

from api.outbox import photo_bytes
from api.request_body import data_url_text
from api.session import current_actor, require_actor
from callbacks import liveness
from config import CITY_TIMEZONE
from data import map_view, queries
from data.live import QueueFilter
from data.models import utcnow
from data.runtime import Runtime
from geo.layers import ITEM_STYLE, LAYER_TRACES, SPACES_MIN_ZOOM, TRACE_INDEX, to_display
from layouts.command import (
    CASE_BUTTONS,
    case_badge,
    case_buttons,
    detail_head,
    detail_history,
    feed_items,
    is_open,
    kpi_values,
    queue_rows,
    queue_total,
    suggestion_rows,
    warning_badge,
    warning_items,
)
from layouts.i18n import Text
from layouts.ids import ASSIGN, CASE_ACTION, KPI_IDS, WARNING_ACTION, CommandIds, Ids
from layouts.liveness import beat, server_badge
from ops import bulk, cases, dispatch, early_warning, lifecycle, permissions, routing
from ops.accounts import Actor
from ops.errors import Invalid, OneMapError
from ops.jobs import JobBoard
from ops.privacy import shown_incident
from ops.suggestions import RANKINGS, suggest

KPI_ORDER = list(KPI_IDS)
ITEM_TRACES = {TRACE_INDEX[k] for k in ITEM_STYLE}


# What a live update sends of each layer: the rest of a trace (shapes, styles) stays in the browser.
POINT_KEYS = (("lon",), ("lat",), ("customdata",), ("text",))
ITEM_KEYS = (*POINT_KEYS, ("marker", "opacity"))
PATCHED = {
    **{kind: ITEM_KEYS for kind in ITEM_STYLE},
    "grids": (
        ("meta",),
        ("geojson",),
        ("locations",),
        ("text",),
        ("hovertemplate",),
        ("customdata",),
        ("z",),
        ("zmax",),
    ),
    "parking": (("marker", "color"),),
    "warnings": (*POINT_KEYS, ("marker", "color")),
}
# Keys that follow from a trace's ``meta`` (what its shapes are: map_view.grid_level's key): their digest
# is the key's, so a screen holding the same shapes is never sent (nor hashed) a whole GeoJSON again.
SHAPED = {"grids": (("meta",), ("geojson",), ("locations",), ("text",), ("hovertemplate",))}


def _digest(value: Any) -> str:
    data = value.tobytes() if isinstance(value, np.ndarray) and value.dtype != object else repr(value).encode()
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def patch_traces(patch: Patch, traces: dict[str, dict[str, Any]], sent: dict[str, str] | None = None) -> dict[str, str]:
    """Write the changing arrays of each trace into ``patch``; skip any the browser already holds.

    ``sent`` maps "trace.key" to a digest of what this screen last received; the new map is returned.
    """
    known = dict(sent or {})
    for name, trace in traces.items():
        target = patch["data"][TRACE_INDEX[name]]
        shaped = SHAPED.get(name, ())
        for path in PATCHED.get(name, POINT_KEYS):
            value: Any = trace
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            if value is None:
                continue
            slot_name = ".".join((name, *path))
            digest = _digest(trace.get("meta")) if path in shaped else _digest(value)
            if known.get(slot_name) == digest:
                continue
            known[slot_name] = digest
            slot = target
            for key in path[:-1]:
                slot = slot[key]
            slot[path[-1]] = value
    return known


@dataclass
class Tick:
    """What one poll sends to a screen; ``no_update`` wherever nothing changed."""

    badge: str
    badge_color: str
    figure: Any = no_update
    cursor: Any = no_update
    feed: Any = no_update
    digests: Any = no_update
    warnings: Any = no_update
    warning_badge: Any = no_update
    warning_class: Any = no_update
    kpi: dict[str, Any] = field(default_factory=lambda: dict.fromkeys(KPI_ORDER, no_update))
    case_badge: Any = no_update  # "阶段超时 N · 无人认领 M": the case loop's own alarm in the header

    def outputs(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


TICK_OUTPUTS = {
    "badge": Output(Ids.LIVE_BADGE, "children"),
    "badge_color": Output(Ids.LIVE_BADGE, "color"),
    "figure": Output(Ids.MAP, "figure"),
    "cursor": Output(Ids.CURSOR, "data"),
    "feed": Output(Ids.FEED, "children"),
    "digests": Output(CommandIds.DIGESTS, "data"),
    "warnings": Output(CommandIds.WARNINGS, "children"),
    "warning_badge": Output(CommandIds.WARNING_BADGE, "children"),
    "warning_class": Output(CommandIds.WARNING_BADGE, "className"),
    "kpi": {k: Output(KPI_IDS[k], "children") for k in KPI_ORDER},
    "case_badge": Output(CommandIds.CASE_BADGE, "children"),
}


# While the pointer is on the queue, or moving over the map (aiming at a point), the map is patched at most
# this often: redrawing hundreds of moving points on every poll keeps the browser's main thread busy
# exactly when the operator is about to click. A pointer resting on the map for ``MAP_AIM_MS`` (or gone
# from it) lets the map run live again.
MAP_HOLD_S = 4.0
MAP_AIM_MS = 1500
MAP_MARK = "_map"  # in a screen's digests: [the cursor its map was last patched at, when (epoch s)]


def refresh(
    rt: Runtime,
    t: Text,
    cursor: int | None,
    view: map_view.View | None = None,
    sent: dict[str, Any] | None = None,
    scope: Scope = None,
    hold: bool = False,
) -> Tick:
    """One poll: the map patch, cursor, badge, feed, digests, warnings panel and badge, KPI texts.

    ``scope``: a department console's departments; its map, feed and KPIs hold only their cases.
    ``hold``: the pointer is on the queue or aiming on the map; the map's patch waits up to ``MAP_HOLD_S``
    (the rest does not).
    """
    with rt.store.read():  # every query of the tick on one connection and transaction
        return _refresh(rt, t, cursor, view, sent, scope, hold)


def map_mark(sent: dict[str, Any] | None) -> tuple[int | None, float]:
    """The cursor a screen's map was last patched at and when; (None, 0) if the screen never said."""
    mark = (sent or {}).get(MAP_MARK)
    if not (isinstance(mark, list) and len(mark) == 2):
        return None, 0.0
    at, when = mark
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in mark):
        return None, 0.0  # what the browser sends back is never trusted further than its shape
    return max(0, min(int(at), 2**62)), float(when)


def _refresh(
    rt: Runtime,
    t: Text,
    cursor: int | None,
    view: map_view.View | None,
    sent: dict[str, Any] | None,
    scope: Scope,
    hold: bool = False,
) -> Tick:
    latest, healthy = rt.cursor()
    tick = Tick(*server_badge(t, healthy))
    # A background full re-read (data/mirror.py) replaced rows: every screen redraws what comes from them
    # for a few polls, even with no new event (it exists to heal what a catch-up could have missed).
    healed = rt.live.resynced_within(3 * rt.config.poll_ms / 1000)
    map_cursor, map_at = map_mark(sent)
    map_waits = hold and time.time() - map_at < MAP_HOLD_S
    map_behind = map_cursor is not None and cursor is not None and map_cursor < cursor
    if cursor is not None and latest <= cursor and not healed and (map_waits or not map_behind):
        return tick
    newest, layers = queries.layers_changed_since(rt.store, cursor or 0)
    version = max(newest, latest)
    if healed:
        layers |= set(MIRRORS)
    stamp = (version, rt.live.generation)

    def shared(key: str, compute: Any) -> Any:
        return rt.shared(key, stamp, compute)

    tick.cursor = version
    if not map_waits:
        # The map catches up on everything since its own last patch (held back polls included).
        map_layers = layers | queries.layers_changed_since(rt.store, map_cursor)[1] if map_behind else layers
        tick.figure, digests = map_update(rt, map_layers, stamp, view, sent, scope)
        tick.digests = {**digests, MAP_MARK: [version, time.time()]}
    if "feed" in layers:
        tick.feed = feed_items(shared(f"feed:{scope}", lambda: queries.latest_items(rt.store, departments=scope)), t)
    if "kpi" in layers:
        catch_up(rt, {"kpi"}, stamp)
        tick.kpi = kpi_values(shared(f"kpi:{scope}", lambda: rt.live.kpis(departments=scope)))
        tick.case_badge = case_badge(t, shared(f"cases:{scope}", lambda: rt.live.items.case_counts(departments=scope)))
    if "warnings" in layers and scope is None:  # warnings are the command centre's
        found = shared("warnings", lambda: queries.find_warnings(rt.store))
        tick.warnings = warning_items(found, t)
        tick.warning_badge, tick.warning_class = warning_badge(t, found)
    return tick


QUEUE_PAGE_SIZE = 200


@dataclass
class QueueView:
    """The queue as one screen shows it: rows in order, the page, the total line and new items held back."""

    rows: list[dict[str, Any]]
    offset: int
    total: str
    new: int


def queue_view(
    rt: Runtime,
    t: Text,
    version: int,
    flt: QueueFilter,
    offset: int,
    held: list[dict[str, Any]] | None = None,
) -> QueueView:
    """A page of the queue; while ``held`` (the rows on screen, the pointer over them) keep their order.

    Held, every row stays where it is with its values brought up to date (rows that left the queue stay
    greyed), and the open items that would now be on the page are only counted as new until merged.
    """
    catch_up(rt, {"items"}, version)
    names = rt.static.names_by_id
    rows, total = rt.shared(
        f"queue:{flt!r}:{offset}", version, lambda: rt.live.items.queue_page(names, flt, offset, QUEUE_PAGE_SIZE)
    )
    if offset and offset >= total:  # the page emptied under the filter: back to the last one that has rows
        offset = max(0, (total - 1) // QUEUE_PAGE_SIZE * QUEUE_PAGE_SIZE)
        rows, total = rt.live.items.queue_page(names, flt, offset, QUEUE_PAGE_SIZE)
    if held is None:
        return QueueView(queue_rows(rows, t), offset, queue_total(t, offset, len(rows), total), 0)
    ids = [int(r["id"]) for r in held]
    fresh = rt.live.items.queue_rows_for(ids, names)
    shown = [queue_rows([fresh[i]], t)[0] if i in fresh else gone_row(r, t) for i, r in zip(ids, held, strict=True)]
    new = len({r["id"] for r in rows} - set(ids))
    return QueueView(shown, offset, queue_total(t, offset, len(rows), total), new)


def gone_row(row: dict[str, Any], t: Text) -> dict[str, Any]:
    """A row that left the queue while it was held: kept in place, greyed, until the queue is merged."""
    return {**row, "status": t("queue.gone"), "overdue": False, "stage_overdue": False, "gone": True}


# The same choice as ``clicked_item`` for the map (items only) and the queue's row (not its checkbox column).
SELECT_JS = """
function(click, cell) {
    const trig = window.dash_clientside.callback_context.triggered.map(t => t.prop_id);
    if (trig.includes('command-queue.cellClicked')) {
        if (cell && cell.rowId && cell.colId !== 'ag-Grid-SelectionColumn') { return parseInt(cell.rowId, 10); }
        return window.dash_clientside.no_update;
    }
    const items = ITEM_TRACES;
    for (const p of ((click || {}).points || [])) {
        if (items.includes(p.curveNumber) && p.customdata !== undefined && p.customdata !== null) {
            return parseInt(p.customdata, 10);
        }
    }
    return window.dash_clientside.no_update;
}
"""

# A button drawn by the server (a suggested worker, a case move, a warning's acknowledge) fires its pattern
# callback as it appears, with no click; the browser relays only a real press (the button's id and a time), so a
# redraw costs no request.
PRESSED_JS = """
function(_clicks) {
    const hit = window.dash_clientside.callback_context.triggered.filter(t => t.value);
    if (hit.length !== 1) { return window.dash_clientside.no_update; }
    const id = JSON.parse(hit[0].prop_id.slice(0, hit[0].prop_id.lastIndexOf('.')));
    return Object.assign({}, id, {at: Date.now()});
}
"""

# The priority field: a choice is relayed when it differs from what the server last put there (or was last sent).
PRIORITY_JS = """
function(value, shown) {
    if (value === null || value === undefined || value === shown) {
        return [window.dash_clientside.no_update, window.dash_clientside.no_update];
    }
    return [{value: value, at: Date.now()}, value];
}
"""


# What the handled report's upload holds, by file name (text: Dash escapes it).
PHOTOS_INFO_JS = """
function(contents, names) {
    if (!contents || !contents.length) { return ''; }
    return CHOSEN.replace('{n}', contents.length).replace('{names}', (names || []).join('、'));
}
"""


def pressed(data: Any, key: str) -> str | None:
    """The pressed button's key from a relay store's value, None for anything else."""
    value = data.get(key) if isinstance(data, dict) else None
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None


# While the pointer or the keyboard focus is on the queue, live updates keep its rows where they are.
QUEUE_HOLD_JS = """
function(_id) {
    const wrap = document.querySelector('.queue-wrap');
    if (wrap && !wrap.dataset.holdWired) {
        wrap.dataset.holdWired = '1';
        let held = false;
        const set = function(value) {
            if (value !== held) {
                held = value;
                wrap.dataset.held = value ? '1' : '';  // the queue shows it is holding still (CSS)
                window.dash_clientside.set_props('command-queue-hold', {data: value});
            }
        };
        wrap.addEventListener('mouseenter', function() { set(true); });
        wrap.addEventListener('mouseleave', function() { set(wrap.contains(document.activeElement)); });
        wrap.addEventListener('focusin', function() { set(true); });
        wrap.addEventListener('focusout', function(e) {
            set(wrap.matches(':hover') || wrap.contains(e.relatedTarget));
        });
    }
    return false;
}
"""

# While the pointer moves over the map (and for MAP_AIM_MS after its last move) the operator is aiming.
# Wired on the document: the map's own element is replaced once plotly.js has loaded.
MAP_AIM_JS = f"""
function(_id) {{
    if (!window.__onemapAimWired) {{
        window.__onemapAimWired = true;
        let aiming = false, timer = null;
        const set = function(value) {{
            if (value !== aiming) {{
                aiming = value;
                window.dash_clientside.set_props('{CommandIds.MAP_AIM}', {{data: value}});
            }}
        }};
        document.addEventListener('pointermove', function(e) {{
            clearTimeout(timer);
            const onMap = e.target instanceof Element && !!e.target.closest('#{Ids.MAP}');
            set(onMap);
            if (onMap) {{
                timer = setTimeout(function() {{ set(false); }}, {MAP_AIM_MS});
            }}
        }}, {{passive: true}});
    }}
    return false;
}}
"""

# A confirmation names its item and clears after a while (a newer one restarts the wait).
MESSAGE_CLEAR_JS = """
function(text) {
    window.onemapMessageTimer && clearTimeout(window.onemapMessageTimer);
    if (text) {
        window.onemapMessageTimer = setTimeout(function() {
            window.dash_clientside.set_props('command-message', {children: ''});
        }, 8000);
    }
    return window.dash_clientside.no_update;
}
"""

# The wall clock shows the city's time, whatever the browser's own time zone (like every time on the page).
CLOCK_JS = "function(n) { return new Date().toLocaleTimeString('zh-CN', {hour12: false, timeZone: 'CITY_TIMEZONE'}); }"

# Which in-memory copies (``rt.live``) a changed layer needs caught up.
MIRRORS = {
    "items": ("items",),
    "grids": ("items",),
    "workers": ("workers",),
    "parking": ("parking",),
    "kpi": ("items", "workers", "parking"),
}


def catch_up(rt: Runtime, layers: set[str], version: Hashable) -> None:
    """Bring the in-memory copies behind ``layers`` up to date, once per change for every screen."""
    names = sorted({m for layer in layers for m in MIRRORS.get(layer, ())})
    if not names:
        return
    newest = rt.shared("live:newest", version, rt.live.newest)  # the three tables' stamps in one query
    for name in names:
        rt.shared(f"live:{name}", version, lambda n=name: getattr(rt.live, n).refresh(newest[n]))


def map_update(
    rt: Runtime,
    layers: set[str],
    version: Hashable,
    view: map_view.View | None,
    sent: dict[str, str] | None,
    scope: Scope = None,
) -> tuple[Patch, dict[str, str]]:
    """The figure patch for the changed ``layers`` (only what differs from what the screen holds)."""
    catch_up(rt, layers & {"items", "grids", "workers", "parking"}, version)
    traces: dict[str, dict[str, Any]] = {}
    for name in sorted(layers & set(map_view.LIVE_LAYERS)):
        # The items depend on where this screen is looking and whose it is, the grids on how much of the
        # city is in view (map_view.grid_level); every other layer is the same for every screen.
        view_part = {"items": lambda: view_key(view) + str(scope), "grids": lambda: grid_key(rt, view)}
        key = f"layer:{name}:{view_part[name]() if name in view_part else ''}"
        traces.update(rt.shared(key, version, lambda n=name: layer_traces(rt, {n}, view, scope)))
    patch = Patch()
    return patch, patch_traces(patch, traces, held_shapes(rt, sent))


def grid_key(rt: Runtime, view: map_view.View | None) -> str:
    return map_view.grid_level(rt.static, view).key


def held_shapes(rt: Runtime, sent: dict[str, str] | None) -> dict[str, str]:
    """``sent``, plus what a screen holds without having been told: its first figure's grid shapes (the
    page draws ``full_figure`` with no view), so a screen's first grid update sends colours only."""
    first = _digest(grid_key(rt, None))
    return {**{".".join(("grids", *path)): first for path in SHAPED["grids"]}, **(sent or {})}


def layer_traces(
    rt: Runtime, which: set[str], view: map_view.View | None, scope: Scope = None
) -> dict[str, dict[str, Any]]:
    return map_view.live_traces(rt.store, rt.static, rt.crs, which, view, rt.live, scope)


Scope = tuple[int, ...] | None  # a department console's departments (None: the command centre, everything)
COMMAND_VIEW = Actor(None, "operator", "operator")  # whom a panel is drawn for when a test does not say


def scope_of(rt: Runtime, actor: Actor) -> Scope:
    """What a screen may see: a department's staff their department and those below it; others everything."""
    return permissions.scope(rt.store, actor)


def city_reader(rt: Runtime) -> Actor:
    """The signed-in actor of a command-page read, refused (403) unless their role reads the city."""
    actor = require_actor(rt)
    permissions.require(actor, "read_city")
    return actor


def view_key(view: map_view.View | None) -> str:
    """Screens zoomed out share one item set; zoomed in, the box (rounded to ~100 m) tells them apart."""
    if not map_view.detailed(view):
        return "overview"
    return ",".join(f"{v:.3f}" for v in view["bbox"])  # type: ignore[index]


def view_patch(
    rt: Runtime,
    view: map_view.View,
    previous: map_view.View | None,
    sent: dict[str, str] | None,
    scope: Scope = None,
) -> tuple[Patch, Any]:
    """What a pan or zoom changes on a screen: the items in view (zoomed in), the grid layer when the view
    needs other shapes than the screen holds (district areas / grid outlines / other grids; the screen's
    digests come back updated, so its next poll sends only colours), the single parking spaces."""
    patch = Patch()
    digests: Any = no_update
    if map_view.detailed(view) or map_view.detailed(previous):
        rt.live.items.refresh()
        digests = patch_traces(patch, layer_traces(rt, {"items"}, view, scope))
    held = {**held_shapes(rt, sent), **(digests if digests is not no_update else {})}
    if held["grids.meta"] != _digest(grid_key(rt, view)):  # other shapes than the screen holds
        rt.live.items.refresh()
        digests = patch_traces(patch, layer_traces(rt, {"grids"}, view, scope), held)
    elif digests is not no_update:
        digests = held
    spaces = map_view.spaces_trace(rt.store, rt.static, rt.crs, viewport_bbox(view))
    target = patch["data"][TRACE_INDEX["parking_spaces"]]
    for key in ("lon", "lat", "text", "marker"):
        target[key] = spaces[key]
    return patch, digests


def visibility_patch(visible: list[str]) -> Patch:
    """Show the traces of the toggled-on layers and hide the rest."""
    patch = Patch()
    on = set(visible or [])
    for layer, traces in LAYER_TRACES.items():
        for name in traces:
            patch["data"][TRACE_INDEX[name]]["visible"] = layer in on
    return patch


def view_from_relayout(relayout: dict[str, Any] | None, previous: map_view.View | None) -> map_view.View | None:
    """The operator's zoom and visible WGS-84 box after a pan or zoom (None when the event says neither)."""
    if not relayout or "map.zoom" not in relayout:
        return None
    zoom = float(relayout["map.zoom"])
    corners = relayout.get("map._derived", {}).get("coordinates")
    if corners:
        lons, lats = [c[0] for c in corners], [c[1] for c in corners]
        return {"zoom": zoom, "bbox": [min(lons), min(lats), max(lons), max(lats)]}
    center = relayout.get("map.center") or (previous or {}).get("center")
    if not center:
        return {"zoom": zoom, "bbox": None}
    span = 360.0 / 2**zoom
    bbox = [center["lon"] - span, center["lat"] - span / 2, center["lon"] + span, center["lat"] + span / 2]
    return {"zoom": zoom, "bbox": bbox}


def viewport_bbox(view: map_view.View | None) -> tuple[float, float, float, float] | None:
    """The visible box when zoomed in far enough for single parking spaces, else None."""
    if not view or not view.get("bbox") or view["zoom"] < SPACES_MIN_ZOOM:
        return None
    return tuple(view["bbox"])  # type: ignore[return-value]


def clicked_item(click: dict[str, Any] | None) -> int | None:
    """The item id under a map click, if the click hit an item (not a grid, worker or road)."""
    for point in (click or {}).get("points", []):
        if point.get("curveNumber") in ITEM_TRACES and point.get("customdata") is not None:
            return int(point["customdata"])
    return None


def warned_item(rt: Runtime, click: dict[str, Any] | None) -> int | None:
    """A click on a warning opens the item behind it: the alarm or fire it is about, else its visit."""
    for point in (click or {}).get("points", []):
        if point.get("curveNumber") == TRACE_INDEX["warnings"] and point.get("customdata") is not None:
            warning = queries.warning_detail(rt.store, int(point["customdata"]))
            if warning:
                return warning["detail"].get("incident") or warning["incident_id"]
    return None


def selected_items(rows: list[dict[str, Any]] | None, selected: dict[str, Any] | None) -> list[int]:
    """Ids chosen in the queue (checkboxes) and on the map (box or lasso), without repeats."""
    ids = [int(r["id"]) for r in rows or []]
    ids += [p["customdata"] for p in (selected or {}).get("points", []) if p.get("curveNumber") in ITEM_TRACES]
    return list(dict.fromkeys(int(i) for i in ids))


@dataclass
class Detail:
    """What the detail panel shows of one item; ``no_update`` for the parts a live update leaves alone."""

    hidden: Any = no_update
    head: Any = no_update
    history: Any = no_update
    suggest: Any = no_update
    state: Any = no_update
    priority: Any = no_update
    priority_shown: Any = no_update  # the value the server put in the field (a choice is only a change from it)
    form_hidden: Any = no_update
    controls_hidden: Any = no_update
    reason: Any = no_update
    rule: Any = no_update
    case_actions: Any = no_update
    case_note: Any = no_update
    case_photos: Any = no_update  # the photos chosen for a handled report: cleared when another item is opened
    map: Any = no_update  # a patch of the "suggested" trace: rings around the workers the panel suggests

    def outputs(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


DETAIL_OUTPUTS = {
    "map": Output(Ids.MAP, "figure", allow_duplicate=True),
    "case_actions": Output(CommandIds.CASE_ACTIONS, "children"),
    "case_note": Output(CommandIds.CASE_NOTE, "value"),
    "case_photos": Output(CommandIds.CASE_PHOTOS, "contents"),
    "hidden": Output(CommandIds.DETAIL, "hidden"),
    "head": Output(CommandIds.DETAIL_HEAD, "children"),
    "history": Output(CommandIds.DETAIL_HISTORY, "children"),
    "suggest": Output(CommandIds.DETAIL_SUGGEST, "children"),
    "state": Output(CommandIds.DETAIL_STATE, "data"),
    "priority": Output(CommandIds.PRIORITY, "value"),
    "priority_shown": Output(CommandIds.PRIORITY_SHOWN, "data"),
    "form_hidden": Output(CommandIds.DETAIL_FORM, "hidden"),
    "controls_hidden": Output(CommandIds.DETAIL_CANCEL_WRAP, "hidden"),
    "reason": Output(CommandIds.CANCEL_REASON, "value"),
    "rule": Output(CommandIds.RANKING_RULE, "children"),
}


def suggested_patch(rt: Runtime, ranked: list[Any], patch: Patch | None = None) -> Patch:
    """Ring the suggested workers on the map (an empty list clears the rings), into ``patch`` if given."""
    lon, lat = to_display(np.array([s.lon for s in ranked]), np.array([s.lat for s in ranked]), rt.crs)
    patch = Patch() if patch is None else patch
    patch["data"][TRACE_INDEX["suggested"]]["lon"] = np.asarray(lon, dtype=np.float32)
    patch["data"][TRACE_INDEX["suggested"]]["lat"] = np.asarray(lat, dtype=np.float32)
    return patch


def _fingerprint(detail: dict[str, Any]) -> dict[str, Any]:
    """What decides whether a live update must redraw the panel: the item's own state and history."""
    seen = (
        detail["status"],
        detail["priority"],
        str(detail["due_at"]),
        detail["assigned_worker_id"],
        detail["stage"],
        detail["department_id"],
        str(detail["stage_due_at"]),
        str(detail["extension_until"]),
        str(detail["urged_at"]),
    )
    return {
        "id": detail["id"],
        "state": _digest(repr(seen)),
        "history": len(detail["history"]),
        "assignee": detail["assigned_worker_id"],
        "status": detail["status"],
    }


def detail_update(
    rt: Runtime,
    t: Text,
    incident_id: int | None,
    held: dict[str, Any] | None,
    ranking: str | None,
    reason: str,
    scope: Scope = None,
    actor: Actor = COMMAND_VIEW,
    figure: Patch | None = None,
) -> Detail:
    """The panel after ``reason``: "select" draws it whole, "rank" ranks again, "live" follows the item.

    A live update redraws only the head and history, and only when the item itself changed; the inputs
    (priority, cancel reason) and the ranked workers stay as they are, so nothing moves under the operator.
    ``figure``: the map patch the suggested workers' rings are written into (the poll's own patch).
    """
    if incident_id is None:
        return Detail(hidden=True, state=None, map=suggested_patch(rt, []))
    ranking = ranking if ranking in RANKINGS else "own_grid"
    if reason == "live" and (not held or held.get("id") != incident_id):
        return Detail()
    detail = queries.incident_detail(rt.store, incident_id)
    now = utcnow()
    if detail is not None and scope is not None and detail["department_id"] not in scope:
        detail = None  # another department's case: a console shows nothing of it
    if detail is None:
        return Detail(hidden=False, head=detail_head(None, t, now), history=[], form_hidden=True, state=None)
    shown = shown_incident(detail)
    mark = _fingerprint(detail)
    out = Detail(state=mark, rule=t(f"ranking.rule.{ranking}"))
    if reason == "select":
        out.hidden, out.form_hidden, out.reason, out.case_note, out.case_photos = False, False, "", "", None
    moved = reason != "live" or held.get("state") != mark["state"] or held.get("history") != mark["history"]
    if moved:
        words = routing.sentence(detail["routing"], t)
        also = rt.cases.router.others(detail["category"], detail["lon"], detail["lat"], detail["department_id"])
        if words and also and detail["stage"] in routing.SHOW_OTHERS_IN:
            words = f"{words}；{t('routing.also').format(names='、'.join(also))}"
        out.head, out.history = detail_head(shown, t, now, words), detail_history(shown, t)
        owned = scope is None or detail["department_id"] in scope
        moves = cases.available(actor, detail["stage"], owned, detail["extension_until"] is not None)
        out.case_actions = case_buttons(moves, t)
        out.priority = out.priority_shown = str(detail["priority"])
        out.controls_hidden = not is_open(detail)
    changed_hands = reason == "live" and (held.get("assignee"), held.get("status")) != (
        mark["assignee"],
        mark["status"],
    )
    if reason != "live" or changed_hands:
        ranked = suggest(rt.store, incident_id, snapshot=rt.workers(), ranking=ranking) if is_open(detail) else []
        out.suggest = suggestion_rows(shown, ranked, t, now, rt.static.names_by_id)
        out.map = suggested_patch(rt, ranked, figure)
    return out


# The panel's parts a poll may update (the rings on the map travel in the poll's own figure patch).
FOLLOW_OUTPUTS = {
    k: Output(o.component_id, o.component_property, allow_duplicate=True)
    for k, o in DETAIL_OUTPUTS.items()
    if k != "map"
}


def follow(
    rt: Runtime,
    t: Text,
    tick: Tick,
    incident_id: int | None,
    held: dict[str, Any] | None,
    ranking: str | None,
    scope: Scope,
    actor: Actor,
) -> dict[str, Any]:
    """The open item's news for a poll's answer: only when the city changed and only for the item the
    panel already shows (drawing a newly selected item is the click's own request, never doubled here)."""
    quiet = {k: no_update for k in FOLLOW_OUTPUTS}
    if tick.cursor is no_update or incident_id is None or not held or held.get("id") != incident_id:
        return quiet
    figure = tick.figure if isinstance(tick.figure, Patch) else None
    out = detail_update(rt, t, incident_id, held, ranking, "live", scope, actor, figure).outputs()
    return {k: out[k] for k in FOLLOW_OUTPUTS}


def register(app: Dash, rt: Runtime, t: Text) -> None:
    """Attach the command page's callbacks to ``app``."""

    # The poll also follows the open item: one request per change carries the map, the KPIs and the panel's
    # news (a second callback chained on the cursor cost a round trip more before the operator saw it).
    @app.callback(
        output={**TICK_OUTPUTS, "heartbeat": Output(Ids.HEARTBEAT, "data"), "detail": FOLLOW_OUTPUTS},
        inputs={"_n": Input(Ids.POLL, "n_intervals")},
        state={
            "cursor": State(Ids.CURSOR, "data"),
            "view": State(CommandIds.VIEW, "data"),
            "sent": State(CommandIds.DIGESTS, "data"),
            "incident_id": State(CommandIds.SELECTED, "data"),
            "ranking": State(CommandIds.RANKING, "value"),
            "held": State(CommandIds.DETAIL_STATE, "data"),
            "queue_hold": State(CommandIds.QUEUE_HOLD, "data"),
            "map_aim": State(CommandIds.MAP_AIM, "data"),
        },
        prevent_initial_call=True,
    )
    def poll(
        _n: int,
        cursor: int | None,
        view: map_view.View | None,
        sent: dict[str, Any] | None,
        incident_id: int | None,
        ranking: str | None,
        held: dict[str, Any] | None,
        queue_hold: Any = None,
        map_aim: Any = None,
    ) -> dict[str, Any]:
        actor = city_reader(rt)
        scope = scope_of(rt, actor)
        hold = queue_hold is True or map_aim is True
        tick = refresh(rt, t, cursor, view, sent if isinstance(sent, dict) else None, scope, hold)
        return {
            **tick.outputs(),
            "heartbeat": beat(),
            "detail": follow(rt, t, tick, incident_id, held, ranking, scope, actor),
        }

    @app.callback(
        Output(Ids.MAP, "figure", allow_duplicate=True), Input(Ids.LAYERS, "value"), prevent_initial_call=True
    )
    def toggle_layers(visible: list[str]) -> Patch:
        return visibility_patch(visible)

    @app.callback(
        Output(Ids.MAP, "figure", allow_duplicate=True),
        Output(CommandIds.VIEW, "data"),
        Output(CommandIds.DIGESTS, "data", allow_duplicate=True),
        Input(Ids.MAP, "relayoutData"),
        State(CommandIds.VIEW, "data"),
        State(CommandIds.DIGESTS, "data"),
        prevent_initial_call=True,
    )
    def follow_view(
        relayout: dict[str, Any] | None, previous: map_view.View | None, sent: dict[str, str] | None
    ) -> tuple[Any, Any, Any]:
        view = view_from_relayout(relayout, previous)
        if view is None:
            return no_update, no_update, no_update
        scope = scope_of(rt, city_reader(rt))
        patch, digests = view_patch(rt, view, previous, sent, scope)
        return patch, view, digests

    # A click on a queue row or an item selects it in the browser at once (no round trip before the panel's
    # request); what the panel then shows is still decided, and checked against the actor, by the server.
    app.clientside_callback(
        SELECT_JS.replace("ITEM_TRACES", json.dumps(sorted(ITEM_TRACES))),
        Output(CommandIds.SELECTED, "data"),
        Input(Ids.MAP, "clickData"),
        Input(CommandIds.QUEUE, "cellClicked"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(CommandIds.SELECTED, "data", allow_duplicate=True),
        Input(Ids.MAP, "clickData"),
        prevent_initial_call=True,
    )
    def select_warning(click: dict[str, Any] | None) -> Any:
        city_reader(rt)
        if clicked_item(click) is not None:
            return no_update  # an item: the browser selected it already
        item = warned_item(rt, click)
        return item if item is not None else no_update

    @app.callback(
        output=DETAIL_OUTPUTS,
        inputs={
            "incident_id": Input(CommandIds.SELECTED, "data"),
            "ranking": Input(CommandIds.RANKING, "value"),
            "_rerank": Input(CommandIds.RERANK, "n_clicks"),
        },
        state={"held": State(CommandIds.DETAIL_STATE, "data")},
        prevent_initial_call=True,
    )
    def show_detail(
        incident_id: int | None, ranking: str | None, _rerank: int | None, held: dict[str, Any] | None
    ) -> dict[str, Any]:
        actor = city_reader(rt)
        reason = "select" if f"{CommandIds.SELECTED}.data" in ctx.triggered_prop_ids else "rank"
        return detail_update(rt, t, incident_id, held, ranking, reason, scope_of(rt, actor), actor).outputs()

    @app.callback(
        output={
            "rows": Output(CommandIds.QUEUE, "rowData"),
            "total": Output(CommandIds.QUEUE_TOTAL, "children"),
            "page": Output(CommandIds.QUEUE_PAGE, "data"),
            "new": Output(CommandIds.QUEUE_NEW, "children"),
            "new_style": Output(CommandIds.QUEUE_NEW, "style"),
        },
        inputs={
            "cursor": Input(Ids.CURSOR, "data"),
            "search": Input(CommandIds.QUEUE_SEARCH, "value"),
            "kinds": Input(CommandIds.QUEUE_KINDS, "value"),
            "priorities": Input(CommandIds.QUEUE_PRIORITIES, "value"),
            "flags": Input(CommandIds.QUEUE_FLAGS, "value"),
            "_prev": Input(CommandIds.QUEUE_PREV, "n_clicks"),
            "_next": Input(CommandIds.QUEUE_NEXT, "n_clicks"),
            "hold": Input(CommandIds.QUEUE_HOLD, "data"),
            "_merge": Input(CommandIds.QUEUE_NEW, "n_clicks"),
        },
        state={"page": State(CommandIds.QUEUE_PAGE, "data"), "rows": State(CommandIds.QUEUE, "rowData")},
    )
    def show_queue(
        cursor: int | None,
        search: str | None,
        kinds: list[str] | None,
        priorities: list[str] | None,
        flags: list[str] | None,
        _prev: int | None,
        _next: int | None,
        hold: bool | None,
        _merge: int | None,
        page: int | None,
        rows: list[dict[str, Any]] | None,
    ) -> dict[str, Any]:
        scope = scope_of(rt, city_reader(rt))
        flt = QueueFilter.parse({"search": search, "kinds": kinds, "priorities": priorities, "flags": flags})
        flt = replace(flt, departments=scope)
        fired = {p.split(".")[0] for p in ctx.triggered_prop_ids}
        offset = page if isinstance(page, int) and page >= 0 else 0
        if fired & {
            CommandIds.QUEUE_SEARCH,
            CommandIds.QUEUE_KINDS,
            CommandIds.QUEUE_PRIORITIES,
            CommandIds.QUEUE_FLAGS,
        }:
            offset = 0
        elif CommandIds.QUEUE_NEXT in fired:
            offset += QUEUE_PAGE_SIZE
        elif CommandIds.QUEUE_PREV in fired:
            offset = max(0, offset - QUEUE_PAGE_SIZE)
        # Only a live update is held back while the pointer is on the queue; what the operator asks for is shown.
        keep = bool(hold) and rows and fired <= {Ids.CURSOR, CommandIds.QUEUE_HOLD}
        view = queue_view(rt, t, int(cursor or 0), flt, offset, rows if keep else None)
        return {
            "rows": view.rows if view.rows != rows else no_update,
            "total": view.total,
            "page": view.offset,
            "new": t("queue.new").format(n=view.new),
            "new_style": {} if view.new else {"display": "none"},
        }

    app.clientside_callback(
        QUEUE_HOLD_JS,
        Output(CommandIds.QUEUE_HOLD, "data"),
        Input(CommandIds.QUEUE, "id"),
    )
    app.clientside_callback(MAP_AIM_JS, Output(CommandIds.MAP_AIM, "data"), Input(Ids.MAP, "id"))

    app.clientside_callback(
        PRESSED_JS,
        Output(CommandIds.ASSIGN_PRESSED, "data"),
        Input({"type": ASSIGN, "worker": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        PRESSED_JS,
        Output(CommandIds.CASE_PRESSED, "data"),
        Input({"type": CASE_ACTION, "action": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        PHOTOS_INFO_JS.replace("CHOSEN", json.dumps(t("case.photos_chosen"))),
        Output(CommandIds.CASE_PHOTOS_INFO, "children"),
        Input(CommandIds.CASE_PHOTOS, "contents"),
        State(CommandIds.CASE_PHOTOS, "filename"),
    )
    app.clientside_callback(
        PRIORITY_JS,
        Output(CommandIds.PRIORITY_CHOSEN, "data"),
        Output(CommandIds.PRIORITY_SHOWN, "data", allow_duplicate=True),
        Input(CommandIds.PRIORITY, "value"),
        State(CommandIds.PRIORITY_SHOWN, "data"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(CommandIds.MESSAGE, "children"),
        Input(CommandIds.ASSIGN_PRESSED, "data"),
        State(CommandIds.SELECTED, "data"),
        prevent_initial_call=True,
    )
    def assign(press: Any, incident_id: int | None) -> str:
        actor = require_actor(rt)
        worker = pressed(press, "worker")
        if worker is None or not worker.isdigit() or incident_id is None:
            return no_update
        worker_id = int(worker)
        try:
            detail = queries.incident_detail(rt.store, incident_id) or {}
            if detail.get("status") in lifecycle.ACTIVE_ITEM_STATUSES:
                lifecycle.reassign(rt.store, actor, incident_id, worker_id)
            else:
                lifecycle.assign(rt.store, actor, incident_id, worker_id)
            if actor.role in ("staff", "admin") and detail.get("stage") in cases.FROM["start"]:
                rt.cases.act(actor, incident_id, "start")  # the department's own people are on it
        except OneMapError as exc:
            return t.error(exc)
        name = queries.worker_name(rt.store, worker_id) or str(worker_id)
        return t("msg.assigned").format(name=name, id=incident_id)

    @app.callback(
        Output(CommandIds.MESSAGE, "children", allow_duplicate=True),
        Input(CommandIds.CANCEL, "n_clicks"),
        State(CommandIds.CANCEL_REASON, "value"),
        State(CommandIds.SELECTED, "data"),
        prevent_initial_call=True,
    )
    def cancel(clicks: int | None, reason: str | None, incident_id: int | None) -> str:
        if not clicks or incident_id is None:
            return no_update
        try:
            lifecycle.act_on_item(rt.store, require_actor(rt), incident_id, "cancel", reason or "")
        except OneMapError as exc:
            return t.error(exc)
        return t("msg.cancelled").format(id=incident_id)

    @app.callback(
        Output(CommandIds.MESSAGE, "children", allow_duplicate=True),
        Input(CommandIds.PRIORITY_CHOSEN, "data"),
        State(CommandIds.SELECTED, "data"),
        prevent_initial_call=True,
    )
    def priority(chosen: Any, incident_id: int | None) -> str:
        actor = require_actor(rt)
        value = pressed(chosen, "value")
        if value not in ("1", "2", "3") or not isinstance(incident_id, int):
            return no_update
        detail = queries.incident_detail(rt.store, incident_id)
        if detail is None or int(value) == detail["priority"]:
            return no_update
        try:
            lifecycle.set_priority(rt.store, actor, incident_id, int(value), rt.config.sla_minutes)
        except OneMapError as exc:
            return t.error(exc)
        return t("msg.priority").format(id=incident_id)

    @app.callback(
        Output(CommandIds.SELECTION, "data"),
        Output(CommandIds.BULK_INFO, "children"),
        Output(CommandIds.BULK, "disabled"),
        Input(CommandIds.QUEUE, "selectedRows"),
        Input(Ids.MAP, "selectedData"),
        prevent_initial_call=True,
    )
    def selection(rows: list[dict[str, Any]] | None, selected: dict[str, Any] | None) -> tuple[Any, ...]:
        ids = selected_items(rows, selected)
        return ids, t("bulk.selected").format(n=len(ids)), not ids

    @app.callback(
        Output(CommandIds.MESSAGE, "children", allow_duplicate=True),
        Input(CommandIds.BULK, "n_clicks"),
        State(CommandIds.SELECTION, "data"),
        prevent_initial_call=True,
    )
    def bulk(clicks: int | None, ids: list[int]) -> str:
        if not clicks or not ids:
            return no_update
        try:
            result = dispatch.auto_assign(rt.store, require_actor(rt), ids, rt.workers(max_age_s=0))
        except OneMapError as exc:
            return t.error(exc)
        return t("msg.bulk").format(ok=len(result.assigned), bad=len(result.failed))

    @app.callback(
        Output(CommandIds.MESSAGE, "children", allow_duplicate=True),
        Input(CommandIds.CASE_PRESSED, "data"),
        State(CommandIds.SELECTED, "data"),
        State(CommandIds.CASE_NOTE, "value"),
        State(CommandIds.CASE_DEPARTMENT, "value"),
        State(CommandIds.CASE_UNTIL, "value"),
        State(CommandIds.CASE_PHOTOS, "contents"),
        prevent_initial_call=True,
    )
    def case_move(
        press: Any,
        incident_id: int | None,
        note: str | None,
        department: str | None,
        until: str | None,
        chosen: list[str] | None,
    ) -> Any:
        actor = require_actor(rt)
        button = pressed(press, "action")
        if button is None or not isinstance(incident_id, int):
            return no_update
        try:
            action, body = case_body(button, note, department, until)
            photos = case_photos(chosen) if action == "handled" else []
            rt.cases.act(actor, int(incident_id), action, body, photos)
        except OneMapError as exc:
            return html.Span(t.error(exc), className="message-error")
        return t("msg.case_done").format(id=incident_id, action=t(f"case.button.{button}"))

    app.clientside_callback(
        PRESSED_JS,
        Output(CommandIds.WARNING_PRESSED, "data"),
        Input({"type": WARNING_ACTION, "warning": ALL, "action": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(CommandIds.MESSAGE, "children", allow_duplicate=True),
        Input(CommandIds.WARNING_PRESSED, "data"),
        prevent_initial_call=True,
    )
    def warning_action(press: Any) -> str:
        actor = require_actor(rt)
        warning, action = pressed(press, "warning"), pressed(press, "action")
        if warning is None or not warning.isdigit() or action not in ("acknowledge", "resolve"):
            return no_update
        wid = int(warning)
        step = early_warning.acknowledge if action == "acknowledge" else early_warning.resolve
        try:
            step(rt.store, actor, wid)
        except OneMapError as exc:
            return t.error(exc)
        return t("msg.warning.acknowledged" if action == "acknowledge" else "msg.warning.resolved")

    app.clientside_callback(
        MESSAGE_CLEAR_JS, Output(CommandIds.MESSAGE, "title"), Input(CommandIds.MESSAGE, "children")
    )

    app.clientside_callback(
        CLOCK_JS.replace("CITY_TIMEZONE", CITY_TIMEZONE),
        Output(Ids.CLOCK, "children"),
        Input(Ids.POLL, "n_intervals"),
    )
    liveness.register(app, Ids.HEARTBEAT, Ids.WATCHDOG, Ids.LIVE_BADGE)


def case_photos(chosen: Any) -> list[bytes]:
    """The bytes of the photos chosen in the panel's upload (data URLs); 422 for anything that is not one."""
    if chosen is None:
        return []
    if not isinstance(chosen, list) or not all(isinstance(c, str) for c in chosen):
        raise Invalid("error.outbox_photo", field="photo")
    return [photo_bytes(c) for c in chosen[: cases.MAX_HANDLED_PHOTOS + 1]]  # one more: ops says "too many"


def case_body(button: str, note: str | None, department: str | None, until: str | None) -> tuple[str, dict[str, Any]]:
    """The case move behind a button and its body from the panel's fields (the city's clock for ``until``)."""
    action, decided = CASE_BUTTONS.get(button, (button, {}))
    if action not in cases.FROM:
        raise Invalid("error.case_action_unknown", {"action": button}, field="action")
    text = (note or "").strip()
    body: dict[str, Any] = dict(decided)
    if action in ("return", "escalate", "hold", "resume", "void", "dispatch", "extend"):
        body["reason"] = text
    elif action in ("handled", "check", "extension", "callback", "urge", "file", "verify"):
        body["note"] = text
    if action == "dispatch":
        if not department or not str(department).isdigit():
            raise Invalid("error.case_department_id", field="department_id")
        body["department_id"] = int(department)
    if action == "extend":
        body["until"] = city_time_to_utc(until or "")
    return action, body


def city_time_to_utc(text: str) -> str:
    """'2026-12-03 17:30' on the city's clock → ISO 8601 UTC ('…Z'); a bad value says which field."""
    try:
        local = datetime.fromisoformat(text.strip())
    except ValueError:
        raise Invalid("error.case_time", {"field": "until"}, field="until") from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=ZoneInfo(CITY_TIMEZONE))
    return local.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def register_push(app: Dash, rt: Runtime, t: Text, jobs: JobBoard) -> None:
    """The bulk push panel: upload starts a job; the poll shows its progress; rejected rows download."""

    @app.callback(
        Output(CommandIds.PUSH_JOB, "data"),
        Output(CommandIds.PUSH_RESULT, "children"),
        Output(CommandIds.PUSH_PROGRESS, "value"),
        Output(CommandIds.PUSH_POLL, "disabled"),
        Input(CommandIds.PUSH_UPLOAD, "contents"),
        prevent_initial_call=True,
    )
    def start(contents: str | None) -> tuple[Any, ...]:
        who = current_actor(rt)
        if not contents or who is None:
            return no_update, no_update, no_update, no_update
        text = data_url_text(contents)
        if text is None:
            return None, t("push.bad_file"), 0, True
        try:
            lifecycle.require_dispatcher(who, "push_tasks")
        except OneMapError as exc:
            return None, t.error(exc), 0, True
        job = jobs.start(
            lambda progress: bulk.push_visits(rt.store, rt.index, who, text, rt.config.sla_minutes, progress)
        )
        return job, t("push.running").format(done=0, total="…"), 0, False

    @app.callback(
        Output(CommandIds.PUSH_RESULT, "children", allow_duplicate=True),
        Output(CommandIds.PUSH_PROGRESS, "value", allow_duplicate=True),
        Output(CommandIds.PUSH_DOWNLOAD_BUTTON, "disabled"),
        Output(CommandIds.PUSH_POLL, "disabled", allow_duplicate=True),
        Input(CommandIds.PUSH_POLL, "n_intervals"),
        State(CommandIds.PUSH_JOB, "data"),
        prevent_initial_call=True,
    )
    def watch(_n: int, job_id: str | None) -> tuple[Any, ...]:
        permissions.require(require_actor(rt), "push_tasks")
        job = jobs.get(job_id) if job_id else None
        if job is None:
            return no_update, no_update, no_update, True
        if job.state == "running":
            pct = 100 * job.done / job.total if job.total else 0
            return t("push.running").format(done=job.done, total=job.total or "…"), pct, True, no_update
        if job.state == "failed":
            error = t.error(job.refusal) if job.refusal else job.error
            return t("push.failed").format(error=error), 0, True, True
        result = job.result
        text = t("push.result").format(created=result.created, rejected=len(result.errors))
        return text, 100, not result.errors, True

    @app.callback(
        Output(CommandIds.PUSH_DOWNLOAD, "data"),
        Input(CommandIds.PUSH_DOWNLOAD_BUTTON, "n_clicks"),
        State(CommandIds.PUSH_JOB, "data"),
        prevent_initial_call=True,
    )
    def download(clicks: int | None, job_id: str | None) -> Any:
        permissions.require(require_actor(rt), "push_tasks")
        job = jobs.get(job_id) if job_id else None
        if not clicks or job is None or job.state != "done":
            return no_update
        return {"content": job.result.error_csv(t.lang), "filename": "bulk-push-rejected.csv", "type": "text/csv"}
