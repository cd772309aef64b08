"""The app as outsiders and the command page's callbacks see it (SQLite; Redis where available)."""

import pytest
from dash import Patch, no_update

from app import create_app, runtime_of
from callbacks.command import (
    clicked_item,
    queue_view,
    refresh,
    selected_items,
    view_from_relayout,
    viewport_bbox,
    visibility_patch,
)
from config import DEFAULT_SLA_MINUTES, Config, ConfigError
from data.live import QueueFilter
from geo.layers import TRACE_INDEX
from layouts.i18n import Text, catalog
from ops import early_warning
from ops.accounts import Actor
from ops.incidents import NewIncident, report
from tests.conftest import TOKEN


@pytest.fixture
def app(make_app):
    return make_app(parking_spaces=120)


def test_health_reports_store_and_bus(app):
    body = app.server.test_client().get("/api/v1/health").get_json()
    assert body["status"] == "ok" and body["store"] == "sqlite" and body["bus"] == "memory"


def test_health_on_redis(make_app, redis_url):
    body = make_app(parking_spaces=120, redis_url=redis_url).server.test_client().get("/api/v1/health").get_json()
    assert body["bus"] == "redis" and body["bus_ok"] is True


def test_app_on_postgresql_reports_it(tmp_path):
    from tests.conftest import need_server, reset_postgres

    url = need_server("PostgreSQL", "ONEMAP_TEST_DATABASE_URL")
    reset_postgres(url)
    key = "test-signing-key-not-for-production"
    app = create_app(Config(database_url=url, grid_count=60, parking_spaces=120, bootstrap_token=TOKEN, secret_key=key))
    client = app.server.test_client()
    assert client.get("/api/v1/health").get_json()["store"] == "postgresql"
    fc = client.get("/api/v1/grids", headers={"Authorization": f"Bearer {TOKEN}"}).get_json()
    assert len(fc["features"]) == 60


def test_grids_need_a_valid_bearer_token(app):
    client = app.server.test_client()
    assert client.get("/api/v1/grids").status_code == 401
    bad = client.get("/api/v1/grids", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.get_json()["error"] == "unauthorized"
    ok = client.get("/api/v1/grids", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200
    fc = ok.get_json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 60
    props = fc["features"][0]["properties"]
    assert {"id", "name", "worker_ids"} <= set(props) and props["worker_ids"]


def test_unknown_api_route_is_a_json_404(app):
    r = app.server.test_client().get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.get_json()["error"] == "not_found"


def test_page_and_glyphs_are_served_locally(app):
    client = app.server.test_client()
    assert client.get("/").headers["Location"] == "/login?next=/"
    assert client.get("/login").status_code == 200
    glyph = client.get("/map/glyphs/Open%20Sans%20Regular/0-255.pbf")
    assert glyph.status_code == 200 and glyph.mimetype == "application/x-protobuf"
    assert client.get("/map/glyphs/x/0-10.pbf").status_code == 404


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_page_declares_the_ui_language(make_app, lang):
    from data.demo import DEMO_PASSWORD

    client = make_app(parking_spaces=120, lang=lang).server.test_client()
    assert f'<html lang="{lang}">' in client.get("/login").get_data(as_text=True)
    client.post("/login", data={"username": "operator", "password": DEMO_PASSWORD})
    for path in ("/", "/review", "/rules"):  # Dash's one index page, whichever route the router then draws
        page = client.get(path)
        assert page.status_code == 200 and f'<html lang="{lang}">' in page.get_data(as_text=True), path


def test_poll_sends_nothing_when_nothing_changed_and_a_patch_when_something_did(app):
    rt = runtime_of(app)
    t = Text("zh-CN")
    cursor, _ = rt.cursor()
    idle = refresh(rt, t, cursor)
    assert idle.figure is no_update and idle.cursor is no_update and idle.badge == t("live.ok")
    p = rt.index.polygons[0].representative_point()
    ids = report(
        rt.store,
        rt.index,
        Actor(None, "op", "operator"),
        [NewIncident("fire", "商铺火灾", "商铺火灾", p.x, p.y, priority=1)],
        DEFAULT_SLA_MINUTES,
    )
    tick = refresh(rt, t, cursor)
    fig, new_cursor = tick.figure, tick.cursor
    assert new_cursor == cursor + 1
    assert isinstance(fig, Patch)
    ops = fig.to_plotly_json()["operations"]
    touched = {(o["location"][1], o["location"][2]) for o in ops}
    assert (TRACE_INDEX["fire"], "lon") in touched and (TRACE_INDEX["grids"], "z") in touched
    assert (TRACE_INDEX["workers"], "lon") not in touched  # only what changed goes out
    view = queue_view(rt, t, new_cursor, QueueFilter(), 0)
    assert [row["id"] for row in view.rows] == [ids[0]]  # the queue now lists the new item
    assert tick.kpi["fire"] == "1" and tick.kpi["unassigned"] == "1"


def test_a_raised_warning_reaches_the_wall_map_panel_and_flashing_badge(app):
    rt = runtime_of(app)
    t = Text("zh-CN")
    cursor, _ = rt.cursor()
    p = rt.index.polygons[3].representative_point()
    op = Actor(None, "op", "operator")
    report(rt.store, rt.index, op, [NewIncident("alarm", "一键报警柱", "一键报警柱", p.x, p.y)], DEFAULT_SLA_MINUTES)
    (wid,) = early_warning.evaluate(rt.store, [early_warning.parse_rules([{"id": "a", "type": "device_alarm"}])[0]])
    tick = refresh(rt, t, cursor)
    ops = tick.figure.to_plotly_json()["operations"]
    lons = [o["params"]["value"] for o in ops if o["location"][1:3] == [TRACE_INDEX["warnings"], "lon"]]
    assert len(lons) == 1 and abs(float(lons[0][0]) - p.x) < 1e-4
    assert "一键报警柱" in str(tick.warnings) and tick.warning_badge == t("warning.badge").format(n=1)
    assert "flash" in tick.warning_class
    early_warning.acknowledge(rt.store, op, wid)
    assert "flash" not in refresh(rt, t, tick.cursor).warning_class  # acknowledged: still listed, not flashing


def test_redis_outage_degrades_to_the_store(make_app):
    app = make_app(parking_spaces=120, redis_url="redis://127.0.0.1:1/0")
    rt = runtime_of(app)
    latest, healthy = rt.cursor()
    assert healthy is False and latest == rt.store.latest_event_id()
    assert refresh(rt, Text("en"), None).badge == Text("en")("live.degraded")


def test_layer_toggle_patches_visibility_only():
    ops = visibility_patch(["fire"]).to_plotly_json()["operations"]
    vis = {o["location"][1]: o["params"]["value"] for o in ops}
    assert vis[TRACE_INDEX["fire"]] is True and vis[TRACE_INDEX["workers"]] is False
    assert TRACE_INDEX["roads"] not in vis and TRACE_INDEX["districts"] not in vis  # base layers stay


def test_parking_spaces_only_when_zoomed_in():
    far = view_from_relayout({"map.zoom": 12, "map.center": {"lon": 106.7, "lat": 26.6}}, None)
    assert viewport_bbox(far) is None
    near = view_from_relayout({"map.zoom": 16, "map.center": {"lon": 106.7, "lat": 26.6}}, None)
    box = viewport_bbox(near)
    assert box[0] < 106.7 < box[2] and box[1] < 26.6 < box[3]


def test_catalogs_have_the_same_keys():
    assert set(catalog("zh-CN")) == set(catalog("en"))


def test_config_names_the_bad_variable():
    with pytest.raises(ConfigError, match="ONEMAP_PORT"):
        Config.from_env({"ONEMAP_PORT": "eighty"})
    with pytest.raises(ConfigError, match="ONEMAP_LANG"):
        Config.from_env({"ONEMAP_LANG": "fr"})
    for bad in ("many", "0"):
        with pytest.raises(ConfigError, match="ONEMAP_MAP_GRID_OUTLINES"):
            Config.from_env({"ONEMAP_MAP_GRID_OUTLINES": bad})
    cfg = Config.from_env({"ONEMAP_PORT": "9000", "ONEMAP_DATABASE_URL": "postgresql+psycopg://x/y"})
    assert cfg.port == 9000 and cfg.store_kind == "postgresql"


def test_every_callback_id_exists_on_some_page(app):
    """Pages are rendered by the router, so Dash cannot check ids at start; this test does."""
    ids: set[str] = set()

    def walk(node):
        if isinstance(node, list | tuple):
            for child in node:
                walk(child)
            return
        if hasattr(node, "to_plotly_json"):
            if isinstance(getattr(node, "id", None), str):
                ids.add(node.id)
            walk(getattr(node, "children", None))

    walk(app.validation_layout)
    used = set()
    for key, spec in app.callback_map.items():
        for dep in spec["inputs"] + spec["state"]:
            used.add(dep["id"])
        for part in key.strip(".").split("..."):
            used.add(part.split(".")[0])
    plain = {i for i in used if not i.startswith("{")}
    assert plain - ids == set()


def test_due_times_are_configurable():
    cfg = Config.from_env({"ONEMAP_SLA_MINUTES": '{"fire": {"1": 3}, "ticket": {"3": 600}}'})
    assert cfg.sla_minutes["fire"][1] == 3 and cfg.sla_minutes["ticket"][3] == 600
    assert cfg.sla_minutes["fire"][2] == DEFAULT_SLA_MINUTES["fire"][2]
    for bad in ('{"dragon": {"1": 3}}', '{"fire": {"7": 3}}', "not json", '{"fire": {"1": -1}}'):
        with pytest.raises(ConfigError, match="ONEMAP_SLA_MINUTES"):
            Config.from_env({"ONEMAP_SLA_MINUTES": bad})


def test_map_clicks_and_selections_pick_items_only():
    fire, workers = TRACE_INDEX["fire"], TRACE_INDEX["workers"]
    assert clicked_item({"points": [{"curveNumber": fire, "customdata": 42}]}) == 42
    assert clicked_item({"points": [{"curveNumber": workers, "customdata": 7}]}) is None  # a worker, not an item
    assert clicked_item(None) is None
    lasso = {"points": [{"curveNumber": fire, "customdata": 3}, {"curveNumber": workers, "customdata": 9}]}
    assert selected_items([{"id": 5}, {"id": 3}], lasso) == [5, 3]


def test_zoomed_in_the_map_shows_every_item_in_view_and_zoomed_out_the_most_urgent(app):
    rt = runtime_of(app)
    inside = rt.index.polygons[0].representative_point()
    elsewhere = rt.index.polygons[-1].representative_point()
    report(
        rt.store,
        rt.index,
        Actor(None, "op", "operator"),
        [NewIncident("ticket", "噪音", "噪音", p.x, p.y) for p in (inside, elsewhere)],
        DEFAULT_SLA_MINUTES,
    )
    from data import map_view

    box = [inside.x - 0.001, inside.y - 0.001, inside.x + 0.001, inside.y + 0.001]
    near = map_view.live_traces(rt.store, rt.static, rt.crs, {"items"}, {"zoom": 15, "bbox": box})
    far = map_view.live_traces(rt.store, rt.static, rt.crs, {"items"}, {"zoom": 10, "bbox": box})
    assert len(near["ticket"]["lon"]) == 1 and len(far["ticket"]["lon"]) == 2


def report_fire(rt) -> None:
    """An operator reports a fire in the first grid."""
    p = rt.index.polygons[0].representative_point()
    report(
        rt.store,
        rt.index,
        Actor(None, "op", "operator"),
        [NewIncident("fire", "火", "火", p.x, p.y)],
        DEFAULT_SLA_MINUTES,
    )


def test_a_poll_resends_only_what_the_screen_does_not_hold(app):
    rt = runtime_of(app)
    t = Text("zh-CN")
    p = rt.index.polygons[0].representative_point()
    report_fire(rt)
    first = refresh(rt, t, 0)
    digests, cursor = first.digests, first.cursor
    from ops import field

    field.move_workers(rt.store, Actor(None, "op", "operator"), [(1, p.x, p.y)])
    patch = refresh(rt, t, cursor, None, digests).figure
    touched = {o["location"][1] for o in patch.to_plotly_json()["operations"]}
    assert touched == {TRACE_INDEX["workers"]}  # items, grids and parking are already on the screen


def test_while_the_queue_is_held_the_map_waits_then_catches_up_on_everything_it_missed(app, monkeypatch):
    from callbacks import command
    from ops import field

    rt = runtime_of(app)
    t = Text("zh-CN")
    p = rt.index.polygons[0].representative_point()
    first = refresh(rt, t, 0)
    assert command.map_mark(first.digests)[0] == first.cursor
    field.move_workers(rt.store, Actor(None, "op", "operator"), [(1, p.x, p.y)])
    held = refresh(rt, t, first.cursor, None, first.digests, hold=True)
    # The pointer is on the queue and the map was patched just now: the rest moves on, the map waits.
    assert held.cursor > first.cursor and held.figure is no_update and held.digests is no_update
    report_fire(rt)
    held2 = refresh(rt, t, held.cursor, None, first.digests, hold=True)
    assert held2.cursor > held.cursor and held2.figure is no_update
    # Held past MAP_HOLD_S (or let go), with no new change since: the map gets what it missed, both changes.
    later = command.map_mark(first.digests)[1] + command.MAP_HOLD_S + 0.1
    monkeypatch.setattr(command.time, "time", lambda: later)
    caught = refresh(rt, t, held2.cursor, None, first.digests, hold=True)
    touched = {o["location"][1] for o in caught.figure.to_plotly_json()["operations"]}
    assert {TRACE_INDEX["workers"], TRACE_INDEX["fire"]} <= touched
    assert command.map_mark(caught.digests) == (caught.cursor, later)
    # Nothing new and the map up to date: the poll sends nothing.
    assert refresh(rt, t, caught.cursor, None, caught.digests).figure is no_update
    # What a browser sends back as the mark is read for its shape only (a forged one changes nothing unsafe).
    for forged in ([-(10**30), 1e300], ["x", 0], [float("nan"), 0], {"a": 1}, [1, 2, 3]):
        assert refresh(rt, t, caught.cursor, None, {command.MAP_MARK: forged}).badge


def test_screens_polling_after_one_change_share_one_computation(app, monkeypatch):
    rt = runtime_of(app)
    t = Text("zh-CN")
    calls = []
    real = rt.live.kpis
    monkeypatch.setattr(rt.live, "kpis", lambda now=None, **kw: calls.append(1) or real(now, **kw))
    report_fire(rt)
    screens = [refresh(rt, t, 0) for _ in range(5)]
    assert len(calls) == 1
    assert len({tuple(s.kpi.values()) for s in screens}) == 1  # every screen got the same KPI texts
    report_fire(rt)
    refresh(rt, t, screens[0].cursor)
    assert len(calls) == 2  # a new change is counted again


def test_a_poll_runs_all_its_queries_on_one_connection(app):
    from sqlalchemy import event

    rt = runtime_of(app)
    t = Text("zh-CN")
    cursor = refresh(rt, t, 0).cursor
    report_fire(rt)
    checkouts, statements = [], []

    def on_checkout(*_):
        checkouts.append(1)

    def on_execute(*_):
        statements.append(1)

    engine = rt.store._read_engine
    event.listen(engine, "checkout", on_checkout)
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        out = refresh(rt, t, cursor)
    finally:
        event.remove(engine, "checkout", on_checkout)
        event.remove(engine, "before_cursor_execute", on_execute)
    assert out.cursor > cursor  # the poll saw the change and updated the screen
    assert len(statements) > 3  # cursor, changed layers, the mirrors' catch-up, the feed …
    assert len(checkouts) == 1  # … all on one connection and one transaction


def test_clicking_a_warning_opens_the_item_behind_it(app):
    from callbacks.command import warned_item

    rt = runtime_of(app)
    p = rt.index.polygons[5].representative_point()
    op = Actor(None, "op", "operator")
    item = NewIncident("alarm", "一键报警柱", "报警", p.x, p.y)
    (alarm,) = report(rt.store, rt.index, op, [item], DEFAULT_SLA_MINUTES)
    (wid,) = early_warning.evaluate(rt.store, early_warning.parse_rules([{"id": "a", "type": "device_alarm"}]))
    click = {"points": [{"curveNumber": TRACE_INDEX["warnings"], "customdata": wid}]}
    assert warned_item(rt, click) == alarm
    assert warned_item(rt, {"points": [{"curveNumber": TRACE_INDEX["fire"], "customdata": 1}]}) is None


def test_a_second_app_on_a_taken_port_says_so_and_exits(tmp_path):
    import os
    import socket
    import subprocess
    import sys
    from pathlib import Path

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **os.environ,
            "ONEMAP_PORT": str(port),
            "ONEMAP_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
            "ONEMAP_GRID_COUNT": "60",
            "ONEMAP_HISTORY_DAYS": "0",
            "ONEMAP_SIMULATE": "0",
        }
        env.pop("ONEMAP_REDIS_URL", None)
        root = Path(__file__).resolve().parents[1]
        cmd = [sys.executable, "app.py"]
        done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


def test_screens_show_times_on_the_city_clock_not_utc():
    from datetime import datetime

    from layouts.command import feed_items, queue_rows
    from layouts.i18n import local

    t = Text("zh-CN")
    stored = datetime(2026, 11, 23, 5, 1, 30)  # naive UTC, as the store keeps it; 13:01:30 in Guiyang
    assert f"{local(stored):%H:%M}" == "13:01"
    row = {"id": 1, "kind": "fire", "title": "x", "grid": "g", "status": "new", "priority": 1, "overdue": False}
    assert queue_rows([{**row, "due_at": stored}], t)[0]["due"] == "13:01"
    feed = feed_items([{**row, "created_at": stored}], t)
    assert "13:01:30" in str(feed[0].children[2].children)
