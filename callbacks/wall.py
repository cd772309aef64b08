"""The command page's screen, in the browser only: frame the map on the whole city for the map's
actual size (at open, on the home control, when the layout changes) and wall mode (large text),
remembered per screen in localStorage."""

from __future__ import annotations

from dash import Dash, Input, Output, State

from layouts.ids import CommandIds, Ids

WALL_MIN_SCREEN_PX = 3000  # a screen at least this wide opens in wall mode until someone chooses
HOME_MARK = "onemap.home"  # in the map's relayout data: the view is the home view (not the operator's)

# The zoom and centre at which the (west, south, east, north) box fills the map's box, in MapLibre's
# Web Mercator (512 px tiles). Computed from the map's element, which exists before the map draws,
# so the first figure the map draws is already framed.
FIT_JS = """
function fitView(bounds, width, height) {
  const [west, south, east, north] = bounds;
  const pad = Math.max(12, 0.03 * Math.min(width, height));
  const x = lon => (lon + 180) / 360;
  const y = lat => {
    const s = Math.sin(lat * Math.PI / 180);
    return 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI);
  };
  const dx = Math.max(x(east) - x(west), 1e-9), dy = Math.max(y(south) - y(north), 1e-9);
  const zoom = Math.log2(Math.min((width - 2 * pad) / (512 * dx), (height - 2 * pad) / (512 * dy)));
  const cy = (y(south) + y(north)) / 2;
  const lat = Math.atan(Math.sinh(Math.PI * (1 - 2 * cy))) * 180 / Math.PI;
  return {center: {lon: (west + east) / 2, lat: lat}, zoom: zoom};
}
"""

FRAME_JS = (
    "async function(clicks, rootClass, bounds, moved) {"
    + FIT_JS
    + """
  const dc = window.dash_clientside;
  const home = (dc.callback_context.triggered || []).some(t => t.prop_id === 'HOME.n_clicks') && clicks > 0;
  if (!bounds) return [dc.no_update, dc.no_update];
  // Once the operator has moved the map (a pan or zoom says so in the relayout data, the home view does
  // not) only the home control takes it back: a framing that lands late at open, or a switch of layout,
  // never throws away the view someone chose.
  if (!home && moved && ('map.zoom' in moved || 'map.center' in moved) && !moved[HOME_MARK]) {
    return [dc.no_update, dc.no_update];
  }
  // ... nor while this call waits for the layout below (the page runs it more than once at open).
  const gd = document.querySelector('#MAP .js-plotly-plot');
  const live = () => {
    const m = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot
      && gd._fullLayout.map._subplot.map;
    return m ? [m.getZoom(), m.getCenter().lng, m.getCenter().lat] : null;
  };
  const before = live();
  // Measure once the page shows the layout this call is about (wall or desk): React may commit it
  // a moment after the callback starts.
  const root = document.getElementById('ROOT');
  for (let i = 0; i < 20 && !(root && root.className === rootClass); i++) {
    await new Promise(r => setTimeout(r, 25));
  }
  await new Promise(r => { requestAnimationFrame(() => r()); setTimeout(r, 100); });
  const box = document.getElementById('MAP_WRAP');
  if (!box || !box.clientWidth || !box.clientHeight) return [dc.no_update, dc.no_update];
  const after = live();
  if (!home && before && after && after.some((v, i) => Math.abs(v - before[i]) > 1e-9)) {
    return [dc.no_update, dc.no_update];
  }
  const view = fitView(bounds, box.clientWidth, box.clientHeight);
  const patch = new dc.Patch().assign(['layout', 'map', 'center'], view.center)
    .assign(['layout', 'map', 'zoom'], view.zoom);
  if (!home) return [patch.build(), dc.no_update];
  // The operator may have moved the map, and uirevision keeps that view against the figure's unchanged
  // centre and zoom: a new map revision lets the home view win (and keeps the operator's next moves).
  // The relayout data tells the server the view changed, as a pan would (items in view, spaces).
  patch.assign(['layout', 'map', 'uirevision'], 'home-' + clicks);
  return [patch.build(), {'map.center': view.center, 'map.zoom': view.zoom, [HOME_MARK]: true}];
}
""".replace("HOME_MARK", repr(HOME_MARK))
    .replace("#MAP ", f"#{Ids.MAP} ")
    .replace("HOME", CommandIds.HOME)
    .replace("ROOT", CommandIds.ROOT)
    .replace("MAP_WRAP", CommandIds.MAP_WRAP)
)

# Toggle -> remembered choice; remembered choice (or, with none, the screen's width) -> toggle. One
# callback for both directions, so neither write starts the other again. The queue's fixed-width
# columns are set in pixels for desk text: in wall mode they take the width their text needs, back
# in desk mode they return to their own widths (once the new text size is in place).
WALL_JS = (
    """
function(checked, stored) {
  const dc = window.dash_clientside;
  const cls = on => on ? 'command wall' : 'command';
  const columns = async on => {
    const api = await window.dash_ag_grid.getApiAsync('QUEUE');
    await new Promise(r => setTimeout(r, 150));
    if (!on) { api.resetColumnState(); return; }
    const fixed = api.getColumns().filter(c => !c.getColDef().flex && c.getColDef().field);
    api.autoSizeColumns(fixed.map(c => c.getColId()));
  };
  if ((dc.callback_context.triggered || []).some(t => t.prop_id === 'TOGGLE.checked')) {
    columns(!!checked);
    return [cls(!!checked), dc.no_update, !!checked];
  }
  const on = (stored === null || stored === undefined) ? window.screen.width >= MIN_PX : !!stored;
  columns(on);
  return [cls(on), on, dc.no_update];
}
""".replace("TOGGLE", CommandIds.WALL_TOGGLE)
    .replace("MIN_PX", str(WALL_MIN_SCREEN_PX))
    .replace("QUEUE", CommandIds.QUEUE)
)


def register(app: Dash) -> None:
    """Attach the command page's screen callbacks (clientside) to ``app``."""
    app.clientside_callback(
        WALL_JS,
        Output(CommandIds.ROOT, "className"),
        Output(CommandIds.WALL_TOGGLE, "checked"),
        Output(CommandIds.WALL, "data"),
        Input(CommandIds.WALL_TOGGLE, "checked"),
        Input(CommandIds.WALL, "data"),
    )
    app.clientside_callback(
        FRAME_JS,
        Output(Ids.MAP, "figure", allow_duplicate=True),
        Output(Ids.MAP, "relayoutData"),
        Input(CommandIds.HOME, "n_clicks"),
        Input(CommandIds.ROOT, "className"),
        State(CommandIds.HOME_BOUNDS, "data"),
        State(Ids.MAP, "relayoutData"),
        prevent_initial_call="initial_duplicate",
    )
