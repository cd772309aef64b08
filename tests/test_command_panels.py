"""The command page's queue and detail panel as plain functions: every open item reachable through
pages, search and filters; a held queue keeps its order; a live update leaves the operator's inputs
and the ranked workers alone unless the item itself changed hands."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from dash import no_update
from sqlalchemy import select, update

from app import runtime_of
from callbacks.command import QUEUE_PAGE_SIZE, detail_update, queue_view
from config import DEFAULT_SLA_MINUTES
from data import queries
from data.live import QueueFilter
from data.models import Incident, Worker, utcnow
from geo.layers import TRACE_INDEX
from layouts.i18n import Text
from ops import lifecycle
from ops.accounts import Actor
from ops.incidents import NewIncident, report

OPERATOR = Actor(None, "op", "operator")
T = Text("zh-CN")


@pytest.fixture
def rt(make_app):
    return runtime_of(make_app(parking_spaces=120))


def add_items(rt, n: int, seed: int = 1) -> list[int]:
    rng = np.random.default_rng(seed)
    kinds = ["fire", "police", "ticket", "alarm"]
    items = []
    for k in range(n):
        p = rt.index.polygons[int(rng.integers(len(rt.index.polygons)))].representative_point()
        kind = kinds[k % 4]
        items.append(NewIncident(kind, f"事项{k}", f"事项{k}", p.x, p.y, priority=int(rng.integers(1, 4))))
    return report(rt.store, rt.index, OPERATOR, items, DEFAULT_SLA_MINUTES)


def test_every_open_item_is_reachable_page_by_page(rt):
    add_items(rt, 450)
    version = rt.store.latest_event_id()
    seen: list[int] = []
    offset = 0
    while True:
        view = queue_view(rt, T, version, QueueFilter(), offset)
        seen += [r["id"] for r in view.rows]
        assert view.total.endswith(f"共 {450} 项")
        if len(view.rows) < QUEUE_PAGE_SIZE:
            break
        offset += QUEUE_PAGE_SIZE
    reference = [r["id"] for r in queries.queue_items(rt.store, limit=10_000)]
    assert seen == reference  # the same order as the SQL reference, nothing capped, nothing twice
    # A page past the end (the filter shrank the set) falls back to the last page that has rows.
    assert queue_view(rt, T, version, QueueFilter(), 2000).offset == 400


@pytest.mark.parametrize(
    "raw",
    [
        {"kinds": ["fire", "police"]},
        {"priorities": ["1"]},
        {"flags": ["overdue"]},
        {"flags": ["waiting"], "kinds": ["ticket"]},
        {"search": "事项1"},
        {"search": "#7"},
    ],
)
def test_filters_and_search_match_a_plain_filter_over_the_queue(rt, raw):
    ids = add_items(rt, 120, seed=2)
    with rt.store.transaction() as s:  # some overdue, some taken
        s.execute(update(Incident).where(Incident.id.in_(ids[:15])).values(due_at=utcnow() - timedelta(hours=1)))
        s.execute(update(Incident).where(Incident.id.in_(ids[15:30])).values(status="assigned", updated_at=utcnow()))
    flt = QueueFilter.parse(raw)
    everything = queries.queue_items(rt.store, limit=10_000)
    names = rt.static.names_by_id

    def keep(r) -> bool:
        needle = flt.search.lstrip("#").casefold()
        grid_name = r["grid"] or ""
        return (
            (not flt.kinds or r["kind"] in flt.kinds)
            and (not flt.priorities or r["priority"] in flt.priorities)
            and (not flt.overdue_only or r["overdue"])
            and (not flt.waiting_only or r["status"] == "new")
            and (not needle or needle in r["title"].casefold() or needle == str(r["id"]) or needle in grid_name)
        )

    expected = [r["id"] for r in everything if keep(r)]
    got = queue_view(rt, T, rt.store.latest_event_id(), flt, 0)
    assert [r["id"] for r in got.rows] == expected[:QUEUE_PAGE_SIZE] and expected
    assert names  # grid names are searched too (a grid's name finds its items)
    some_grid = everything[0]["grid"]
    by_grid = queue_view(rt, T, rt.store.latest_event_id(), QueueFilter(search=some_grid), 0)
    assert {r["grid"] for r in by_grid.rows} == {some_grid}


def test_malformed_filters_from_the_browser_are_dropped():
    flt = QueueFilter.parse({"search": 5, "kinds": ["fire", "'; drop"], "priorities": ["9", 1], "flags": "x"})
    assert flt == QueueFilter(kinds=("fire",), priorities=(1,))
    assert QueueFilter.parse("nonsense") == QueueFilter()


def test_a_held_queue_keeps_its_rows_in_place_and_counts_what_is_new(rt):
    ids = add_items(rt, 30, seed=3)
    version = rt.store.latest_event_id()
    first = queue_view(rt, T, version, QueueFilter(), 0)
    on_screen = first.rows
    # While the operator points at the queue: one row is assigned, one is cancelled, an urgent item arrives.
    top, second = on_screen[0]["id"], on_screen[1]["id"]
    with rt.store.read() as s:
        worker = s.scalar(select(Worker.id).limit(1))
    lifecycle.assign(rt.store, OPERATOR, top, worker)
    lifecycle.act_on_item(rt.store, OPERATOR, second, "cancel", "重复上报")
    p = rt.index.polygons[0].representative_point()
    report(
        rt.store,
        rt.index,
        OPERATOR,
        [NewIncident("fire", "新火情", "新火情", p.x, p.y, priority=1)],
        DEFAULT_SLA_MINUTES,
    )
    version = rt.store.latest_event_id()
    held = queue_view(rt, T, version, QueueFilter(), 0, on_screen)
    assert [r["id"] for r in held.rows] == [r["id"] for r in on_screen]  # nothing moved under the pointer
    assert held.rows[0]["status"] == T("status.assigned")  # values brought up to date in place
    assert held.rows[1]["gone"] and held.rows[1]["status"] == T("queue.gone")
    assert held.new == 1 and held.total.endswith(f"共 {len(ids)} 项")  # 30 + 1 new − 1 cancelled
    merged = queue_view(rt, T, version, QueueFilter(), 0)
    assert "新火情" in [r["title"] for r in merged.rows] and second not in [r["id"] for r in merged.rows]


def test_a_live_update_redraws_the_panel_only_when_the_item_changed(rt):
    (iid,) = add_items(rt, 1, seed=4)
    opened = detail_update(rt, T, iid, None, "own_grid", "select")
    assert opened.hidden is False and opened.reason == "" and opened.suggest  # drawn whole, reason cleared
    rings = [o for o in opened.map.to_plotly_json()["operations"] if o["location"][1] == TRACE_INDEX["suggested"]]
    assert {o["location"][2] for o in rings} == {"lon", "lat"}  # the suggested workers are ringed on the map
    assert all(len(o["params"]["value"]) == len(opened.suggest) for o in rings)
    held = opened.state
    # Other items change: nothing of this panel is sent again.
    add_items(rt, 5, seed=5)
    quiet = detail_update(rt, T, iid, held, "own_grid", "live")
    assert all(v is no_update for k, v in quiet.outputs().items() if k not in ("state", "rule"))
    # The item is assigned elsewhere: head and history follow, workers are ranked again, inputs untouched.
    with rt.store.read() as s:
        worker = s.scalar(select(Worker.id).limit(1))
    lifecycle.assign(rt.store, OPERATOR, iid, worker)
    moved = detail_update(rt, T, iid, held, "own_grid", "live")
    assert moved.head is not no_update and moved.history is not no_update and moved.suggest is not no_update
    assert moved.reason is no_update and moved.hidden is no_update  # the typed reason and the panel stay
    assert T("status.assigned") in str(moved.head)
    # A live answer meant for another selection never overwrites the one on screen.
    assert detail_update(rt, T, iid, {**moved.state, "id": iid + 1}, "own_grid", "live").head is no_update


def test_the_ranking_rule_can_be_switched_and_is_stated(rt):
    (iid,) = add_items(rt, 1, seed=6)
    own = detail_update(rt, T, iid, None, "own_grid", "select")
    near = detail_update(rt, T, iid, own.state, "nearest", "rank")
    assert own.rule == T("ranking.rule.own_grid") and near.rule == T("ranking.rule.nearest")
    # Nobody has a task yet, so "nearest" is plain distance order.
    distances = [float(f.split(" m")[0].replace(",", "")) for f in _facts(near.suggest)]
    assert len(distances) > 2 and distances == sorted(distances)
    assert detail_update(rt, T, iid, None, "nonsense", "select").rule == T("ranking.rule.own_grid")


def _facts(rows) -> list[str]:
    return [str(r.children[0].children[-1].children) for r in rows]
