"""Early-warning rules on both store backends, with a controlled clock (``now`` is a parameter)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from config import DEFAULT_SLA_MINUTES, RULES_FILE
from data import queries
from data.models import EarlyWarning, Event, Grid, Incident, ParkingSpace, RuleWatch, Task, Worker, utcnow
from data.queries import load_grid_index
from ops import early_warning as ew
from ops import lifecycle
from ops.accounts import SYSTEM, Actor
from ops.early_warning import engine
from ops.errors import Conflict, Forbidden, Invalid
from ops.incidents import NewIncident, report
from ops.places import ingest_access, upsert_places

NOW = datetime(2026, 11, 23, 10, 0, 0)
OPERATOR = Actor(user_id=None, name="op", role="operator")


def rule(rtype: str, **params: object) -> ew.Rule:
    doc = {"id": f"r-{rtype}", "type": rtype, **params}
    return ew.parse_rules([doc])[0]


def grid_of(store, gid: int) -> Grid:
    with store.read() as s:
        return s.get(Grid, gid)


def add(store, kind: str, category: str, gid: int, at: datetime) -> int:
    g = grid_of(store, gid)
    item = NewIncident(kind, category, category, g.center_lon, g.center_lat, created_at=at)
    return report(store, load_grid_index(store), SYSTEM, [item], DEFAULT_SLA_MINUTES)[0]


def warnings(store) -> list[EarlyWarning]:
    with store.read() as s:
        return list(s.scalars(select(EarlyWarning).order_by(EarlyWarning.id)))


def test_shipped_rules_file_parses_and_names_every_type():
    rules = ew.load_file(RULES_FILE)
    assert {r.type for r in rules} == set(ew.PARAMS)
    fire = next(r for r in rules if r.id == "fire-unassigned")
    assert fire.params == {"kinds": ["fire"], "minutes": 2.0} and fire.level == "high"


@pytest.mark.parametrize(
    ("doc", "says"),
    [
        ({"rule": "x"}, "expected a list"),
        ([{"type": "unassigned", "minutes": 2}], "id must be"),
        ([{"id": "a", "type": "nope"}], "type must be one of"),
        ([{"id": "a", "type": "ticket_cluster", "hours": 2}], "count is required"),
        ([{"id": "a", "type": "ticket_cluster", "count": 1, "hours": 2}], "count must be at least 2"),
        ([{"id": "a", "type": "ticket_cluster", "count": 2.5, "hours": 2}], "count must be a whole number"),
        ([{"id": "a", "type": "parking_occupancy", "percent": 190, "minutes": 5}], "percent must be at most 100"),
        ([{"id": "a", "type": "unassigned", "minutes": "2"}], "minutes must be a number"),
        ([{"id": "a", "type": "unassigned", "minutes": 2, "colour": "red"}], "unknown keys colour"),
        ([{"id": "a", "type": "unassigned", "minutes": 2, "level": "urgent"}], "level must be one of"),
        ([{"id": "a", "type": "unassigned", "minutes": 2, "create_task": "yes"}], "create_task must be true"),
        ([{"id": "a", "type": "unassigned", "minutes": 2}, {"id": "a", "type": "unassigned", "minutes": 3}], "twice"),
    ],
)
def test_bad_rules_are_refused_by_name(doc, says):
    with pytest.raises(Invalid) as exc:
        ew.parse_rules(doc)
    assert says in exc.value.message


def test_ticket_cluster_fires_once_per_grid_and_category_within_the_window(city):
    r = rule("ticket_cluster", count=5, hours=24, create_task=True)
    add(city, "ticket", "噪音扰民", 7, NOW - timedelta(hours=30))  # outside the window
    for k in range(4):
        add(city, "ticket", "噪音扰民", 7, NOW - timedelta(hours=k + 1))
    add(city, "ticket", "环境卫生", 7, NOW - timedelta(hours=1))  # another category
    assert ew.evaluate(city, [r], NOW) == []
    add(city, "ticket", "噪音扰民", 7, NOW - timedelta(minutes=5))
    raised = ew.evaluate(city, [r], NOW)
    assert len(raised) == 1
    assert ew.evaluate(city, [r], NOW + timedelta(minutes=1)) == []  # one open warning per rule and place
    (w,) = warnings(city)
    assert (w.place_key, w.grid_id, w.detail["count"], w.status) == ("grid:7:噪音扰民", 7, 5, "open")
    # The verification visit went to a worker of that grid.
    with city.read() as s:
        visit = s.get(Incident, w.incident_id)
        worker = s.get(Worker, visit.assigned_worker_id)
    assert (visit.kind, visit.status, worker.grid_id) == ("visit", "assigned", 7)
    # Resolved: the same tickets do not fire again; five new ones do.
    ew.resolve(city, OPERATOR, w.id, "noise source found", now=NOW + timedelta(minutes=1))
    assert ew.evaluate(city, [r], NOW + timedelta(minutes=2)) == []
    later = NOW + timedelta(hours=1)
    for k in range(5):
        add(city, "ticket", "噪音扰民", 7, later - timedelta(minutes=k))
    assert len(ew.evaluate(city, [r], later)) == 1


def test_parking_segment_must_stay_above_the_threshold_for_the_whole_duration(city):
    r = rule("parking_occupancy", percent=90, minutes=30)
    with city.transaction() as s:
        s.execute(update(ParkingSpace).where(ParkingSpace.segment_id == 1).values(occupied=True))
        s.execute(update(ParkingSpace).where(ParkingSpace.segment_id != 1).values(occupied=False))
    assert ew.evaluate(city, [r], NOW) == []
    assert ew.evaluate(city, [r], NOW + timedelta(minutes=29)) == []
    assert len(ew.evaluate(city, [r], NOW + timedelta(minutes=31))) == 1
    (w,) = warnings(city)
    assert w.place_key == "segment:1" and w.detail["percent"] == 100.0 and w.lon is not None
    # The segment empties: the watch ends, and filling up again restarts the clock.
    with city.transaction() as s:
        s.execute(update(ParkingSpace).where(ParkingSpace.segment_id == 1).values(occupied=False))
    ew.evaluate(city, [r], NOW + timedelta(minutes=40))
    with city.read() as s:
        assert s.scalars(select(RuleWatch)).all() == []


def test_fire_unassigned_after_two_minutes_only_while_unassigned(city):
    r = rule("unassigned", kinds=["fire"], minutes=2)
    start = utcnow()
    waiting = add(city, "fire", "住宅火灾", 3, start)
    handled = add(city, "fire", "住宅火灾", 4, start)
    with city.read() as s:
        worker = s.scalar(select(Worker.id).where(Worker.grid_id == 4))
    lifecycle.assign(city, OPERATOR, handled, worker)
    assert ew.evaluate(city, [r], start + timedelta(seconds=100)) == []
    assert len(ew.evaluate(city, [r], start + timedelta(seconds=121))) == 1
    (w,) = warnings(city)
    assert w.place_key == f"incident:{waiting}" and w.level == "medium"


def test_worker_on_a_task_without_positions_for_ten_minutes(city):
    r = rule("worker_silent", minutes=10)
    item = add(city, "ticket", "路灯故障", 2, utcnow())
    with city.read() as s:
        worker = s.scalar(select(Worker.id).where(Worker.grid_id == 2).order_by(Worker.id))
    lifecycle.assign(city, OPERATOR, item, worker)
    with city.read() as s:
        task = s.scalar(select(Task.id).where(Task.incident_id == item))
    lifecycle.act_on_task(city, SYSTEM, task, "accept", "", None, "")
    with city.transaction() as s:
        s.execute(update(Worker).where(Worker.id == worker).values(position_at=utcnow()))
    start = utcnow()
    assert ew.evaluate(city, [r], start + timedelta(minutes=9)) == []
    assert len(ew.evaluate(city, [r], start + timedelta(minutes=11))) == 1
    (w,) = warnings(city)
    assert w.place_key == f"worker:{worker}"


def test_device_alarm_raises_a_warning_and_history_follows_each_step(city):
    r = rule("device_alarm", minutes=60, level="high")
    alarm = add(city, "alarm", "一键报警柱", 9, NOW - timedelta(minutes=3))
    (wid,) = ew.evaluate(city, [r], NOW)
    with pytest.raises(Forbidden):
        ew.acknowledge(city, Actor(user_id=None, name="w", role="worker"), wid)
    ew.acknowledge(city, OPERATOR, wid, "on it")
    with pytest.raises(Conflict):
        ew.acknowledge(city, OPERATOR, wid)
    ew.resolve(city, OPERATOR, wid, "false alarm")
    with pytest.raises(Conflict):
        ew.resolve(city, OPERATOR, wid)
    detail = queries.warning_detail(city, wid)
    assert detail["place_key"] == f"incident:{alarm}" and detail["status"] == "resolved"
    assert [h["kind"] for h in detail["history"]] == ["warning.raised", "warning.acknowledged", "warning.resolved"]
    assert detail["acknowledged_by"] == "op" and detail["note"] == "false alarm"
    assert ew.evaluate(city, [r], NOW + timedelta(minutes=1)) == []  # this alarm is answered


def test_place_activity_counts_distinct_entries_against_registered_occupants(city):
    r = rule("place_activity", minutes=60, excess=3, place_kinds=["rental"], create_task=True)
    g = grid_of(city, 11)
    body = {
        "places": [
            {
                "id": "flat-1",
                "kind": "rental",
                "address": "观山湖区 1 栋 101",
                "lon": g.center_lon,
                "lat": g.center_lat,
                "registered_occupants": 1,
            }
        ]
    }
    (saved,) = upsert_places(city, load_grid_index(city), SYSTEM, body)
    assert saved["status"] == "created" and saved["grid_id"] == 11

    def enter(people: list[str], at: datetime, tag: str) -> None:
        events = [
            {"event_id": f"{tag}-{k}", "place_id": "flat-1", "credential": p, "at": at.isoformat()}
            for k, p in enumerate(people)
        ]
        assert all(x["status"] == "stored" for x in ingest_access(city, SYSTEM, {"events": events}, "k"))

    enter(["a", "b", "c"], NOW - timedelta(hours=3), "old")  # long ago: not in the window
    enter(["a", "a", "b", "c"], NOW - timedelta(minutes=20), "now")  # three people, one of them twice
    assert ew.evaluate(city, [r], NOW) == []
    enter(["d"], NOW - timedelta(minutes=5), "more")
    (wid,) = ew.evaluate(city, [r], NOW)
    detail = queries.warning_detail(city, wid)
    assert detail["detail"]["distinct_entries"] == 4 and detail["grid_id"] == 11
    assert detail["incident_id"] is not None


def test_two_engines_raise_one_warning(city):
    r = rule("device_alarm", minutes=60)
    add(city, "alarm", "老人血压异常", 5, NOW - timedelta(minutes=1))
    finding = ew.DETECTORS["device_alarm"](city, r, NOW, {})[0]
    first = engine._raise(city, r, finding, NOW, "zh-CN", None)
    second = engine._raise(city, r, finding, NOW, "zh-CN", None)
    assert first is not None and second is None
    with city.read() as s:
        raised = s.scalars(select(Event.entity_id).where(Event.kind == "warning.raised")).all()
    assert raised == [first]


def test_access_events_refuse_bad_items_and_unknown_places(city):
    results = ingest_access(
        city,
        SYSTEM,
        {
            "events": [
                {"event_id": "x1", "place_id": "nowhere", "credential": "a", "at": NOW.isoformat()},
                {"event_id": "x2", "place_id": "nowhere", "credential": "a", "at": "yesterday"},
                {"event_id": "x3", "place_id": "nowhere", "credential": "a", "at": NOW.isoformat(), "direction": "up"},
                {"event_id": "x4", "place_id": "nowhere", "at": NOW.isoformat()},
            ]
        },
        "k",
    )
    assert [r["status"] for r in results] == ["rejected"] * 4
    assert [r["field"] for r in results] == [
        "events[0].place_id",
        "events[1].at",
        "events[2].direction",
        "events[3].credential",
    ]


def test_rules_page_rows_round_trip_and_name_bad_parameter_cells():
    from callbacks.rules import rows_to_doc
    from layouts.rules import rule_rows
    from ops.errors import Invalid

    rules = ew.load_file(RULES_FILE)
    rows = rule_rows(rules)
    assert [r.to_dict() for r in ew.parse_rules(rows_to_doc(rows))] == [r.to_dict() for r in rules]
    bad = [
        {**rows[0], "params": "{count: 5"},
        {**rows[1], "params": "[90, 30]"},
        {**rows[2], "params": '{"level": "high", "minutes": 2}'},
    ]
    with pytest.raises(Invalid) as caught:
        rows_to_doc(bad)
    problems = caught.value.to_dict()["problems"]
    assert len(problems) == 3
    assert rows[0]["id"] in problems[0] and "not valid JSON" in problems[0]
    assert rows[1]["id"] in problems[1] and "JSON object" in problems[1]
    assert rows[2]["id"] in problems[2] and "level" in problems[2]


def test_the_review_page_lists_a_periods_warnings_with_minutes_to_acknowledge_and_resolve(city):
    from layouts.i18n import Text, local
    from layouts.review import warning_rows, warning_summary

    r = rule("ticket_cluster", count=5, hours=24)
    for k in range(5):
        add(city, "ticket", "噪音扰民", 7, NOW - timedelta(hours=k + 1))
    assert len(ew.evaluate(city, [r], NOW)) == 1
    (w,) = warnings(city)
    ew.acknowledge(city, OPERATOR, w.id, now=NOW + timedelta(minutes=3))
    ew.resolve(city, OPERATOR, w.id, "done", now=NOW + timedelta(minutes=10))
    assert queries.warnings_between(city, NOW + timedelta(hours=1), NOW + timedelta(hours=2)) == []
    found = queries.warnings_between(city, NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    t = Text("zh-CN")
    (row,) = warning_rows(t, found)
    assert (row["ack_min"], row["resolve_min"], row["by"]) == (3.0, 10.0, OPERATOR.name)
    assert row["raised"] == f"{local(NOW):%m-%d %H:%M}" and row["status"] == t("warning.status.resolved")
    assert warning_summary(t, [row]) == t("review.warnings.summary").format(n=1, resolved=1, ack="3")
