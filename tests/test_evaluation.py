"""Evaluation (综合评价) on a hand-built case log, on both backends: every figure below is worked out by
hand from the log in ``build`` (times in naive UTC, November 2026 unless said)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import shapely
from sqlalchemy import insert

from data.models import Department, Event, Grid, Incident, Task, User, Worker
from ops import evaluation
from ops.accounts import Actor
from ops.errors import Forbidden, Invalid

NOV = (datetime(2026, 11, 1), datetime(2026, 12, 1))
OCT = (datetime(2026, 10, 1), datetime(2026, 11, 1))
SUPERVISOR = Actor(None, "boss", "supervisor")


def t(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute)


def iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds") + "Z"


class Log:
    """Writes incidents and their case events with chosen times (all moved by ``shift``)."""

    def __init__(self, store, shift: timedelta):
        self.store = store
        self.shift = shift
        self.events: list[dict] = []

    def event(self, case: int, action: str, at: datetime, actor: str = "system", **data) -> None:
        at = at + self.shift
        if "due" in data:
            data["due"] = iso(data["due"] + self.shift)
        self.events.append(
            {
                "at": at,
                "kind": f"case.{action}",
                "entity": "incident",
                "entity_id": case,
                "actor": actor,
                "data": {"action": action, **data},
            }
        )

    def created(self, case: int, at: datetime, actor: str) -> None:
        at = at + self.shift
        self.events.append(
            {
                "at": at,
                "kind": "incident.created",
                "entity": "incident",
                "entity_id": case,
                "actor": actor,
                "data": {"ids": [case]},
            }
        )


def build(store, shift: timedelta = timedelta(0)) -> dict[str, int]:
    """The log below, every time moved by ``shift`` (a browser test moves it next to today)."""
    square = shapely.MultiPolygon([shapely.box(106.6, 26.5, 106.7, 26.6)])
    with store.transaction() as s:
        conn = s.connection()
        conn.execute(
            insert(Grid),
            [
                {
                    "id": g,
                    "code": f"G{g}",
                    "name": f"grid {g}",
                    "district": "d",
                    "community": "c",
                    "area_m2": 1.0,
                    "center_lon": 106.65,
                    "center_lat": 26.55,
                    "geom": square,
                }
                for g in (1, 2)
            ],
        )
        conn.execute(
            insert(Department),
            [
                {"id": 1, "code": "A", "name": "城管局", "parent_id": None, "level": 1, "categories": []},
                {"id": 2, "code": "A1", "name": "城管一中队", "parent_id": 1, "level": 2, "categories": []},
                {"id": 3, "code": "B", "name": "市场监管局", "parent_id": None, "level": 1, "categories": []},
            ],
        )
        conn.execute(
            insert(User),
            [
                {"id": 1, "username": "w1", "display_name": "网格员一", "role": "worker"},
                {"id": 2, "username": "op1", "display_name": "派遣员一", "role": "operator"},
            ],
        )
        conn.execute(
            insert(Worker), [{"id": 1, "name": "网格员一", "phone": "1", "role": "信息员", "grid_id": 1, "user_id": 1}]
        )
        created = {8: t(11, 10, 7) + shift, 9: t(11, 11, 7) + shift}
        conn.execute(
            insert(Incident),
            [
                {
                    "id": c,
                    "kind": "ticket",
                    "category": "道路破损",
                    "title": f"case {c}",
                    "lon": 106.65,
                    "lat": 26.55,
                    "grid_id": 2 if c in (2, 9) else 1,
                    "due_at": t(12, 31, 0) + shift,
                    "created_at": created.get(c, t(10, 1, 0) + shift),
                    "stage": "closed",
                }
                for c in range(1, 10)
            ],
        )
        conn.execute(
            insert(Task),
            [
                {
                    "incident_id": 1,
                    "worker_id": 1,
                    "status": "resolved",
                    "created_at": t(11, 2, 10) + shift,
                    "updated_at": t(11, 2, 10, 30) + shift,
                },  # 30 minutes
                {
                    "incident_id": 3,
                    "worker_id": 1,
                    "status": "closed",
                    "created_at": t(11, 3, 10) + shift,
                    "updated_at": t(11, 3, 11, 30) + shift,
                },  # 90 minutes
            ],
        )
    A, A1, B = 1, 2, 3
    log = Log(store, shift)
    # 1: A1 signs, handles and is checked on time (sign 1 h, handle 3 h, check 2 h).
    log.event(1, "dispatch", t(11, 2, 8), to_department=A1, auto=True, due=t(11, 3, 8))
    log.event(1, "sign", t(11, 2, 9), from_department=A1, to_department=A1, due=t(11, 2, 17))
    log.event(1, "handled", t(11, 2, 12), from_department=A1, to_department=A1, due=t(11, 3, 12))
    log.event(1, "check_passed", t(11, 2, 14), "w1", from_department=A1, to_department=A1)  # on time
    # 2: returned twice by A1 (back to A1 once: not justified; then on to B: justified); B is late.
    log.event(2, "dispatch", t(11, 3, 8), "op1", to_department=A1, due=t(11, 4, 8))
    log.event(2, "return", t(11, 3, 10), from_department=A1, to_department=None, returned_by=A1)
    log.event(2, "redispatch", t(11, 3, 11), "op1", to_department=A1, same_department=True, due=t(11, 4, 11))
    log.event(2, "return", t(11, 3, 12), from_department=A1, to_department=None, returned_by=A1)
    log.event(2, "redispatch", t(11, 3, 13), "op1", to_department=B, same_department=False, due=t(11, 4, 13))
    log.event(2, "sign", t(11, 3, 14), from_department=B, to_department=B, due=t(11, 4, 14))
    log.event(2, "handled", t(11, 5, 10), from_department=B, to_department=B, due=t(11, 5, 11))  # late
    log.event(2, "check_passed", t(11, 5, 12), "w1", from_department=B, to_department=B)  # after 11:00: late
    # 3: A1, reworked once (handle 2 h to the first "handled"; check 1 h from the last one).
    log.event(3, "dispatch", t(11, 4, 8), to_department=A1, auto=True, due=t(11, 5, 8))
    log.event(3, "sign", t(11, 4, 9), from_department=A1, to_department=A1, due=t(11, 4, 17))
    log.event(3, "handled", t(11, 4, 11), from_department=A1, to_department=A1, due=t(11, 5, 11))
    log.event(3, "check_failed", t(11, 4, 13), from_department=A1, to_department=A1, due=t(11, 5, 13))
    log.event(3, "handled", t(11, 4, 15), from_department=A1, to_department=A1, due=t(11, 5, 15))
    log.event(3, "check_passed", t(11, 4, 16), from_department=A1, to_department=A1)
    # 4: A1, extended (asked and granted), handled inside the extension (handle 51 h, check 1 h).
    log.event(4, "dispatch", t(11, 5, 8), to_department=A1, auto=True, due=t(11, 6, 8))
    log.event(4, "sign", t(11, 5, 9), from_department=A1, to_department=A1, due=t(11, 5, 17))
    log.event(4, "extend", t(11, 5, 10), from_department=A1, to_department=A1, due=t(11, 5, 17))
    log.event(4, "extension_granted", t(11, 5, 11), from_department=A1, to_department=A1, due=t(11, 7, 17))
    log.event(4, "handled", t(11, 7, 12), from_department=A1, to_department=A1, due=t(11, 8, 12))
    log.event(4, "check_passed", t(11, 7, 13), from_department=A1, to_department=A1)
    # 5: A, dispatched in October, on hold across the boundary, resumed and closed in November.
    log.event(5, "dispatch", t(10, 20, 8), to_department=A, auto=True, due=t(10, 21, 8))
    log.event(5, "sign", t(10, 20, 9), from_department=A, to_department=A, due=t(10, 20, 17))
    log.event(5, "hold", t(10, 25, 10), from_department=A, to_department=A)
    log.event(5, "resume", t(11, 10, 10), from_department=A, to_department=A, due=t(11, 11, 10))
    log.event(5, "handled", t(11, 12, 10), from_department=A, to_department=A, due=t(11, 13, 10))
    log.event(5, "check_passed", t(11, 12, 12), from_department=A, to_department=A)
    # 6: A, on hold since August, never resumed: backlog (积存) at the end of October and of November.
    log.event(6, "dispatch", t(8, 1, 8), to_department=A, auto=True, due=t(8, 2, 8))
    log.event(6, "sign", t(8, 1, 9), from_department=A, to_department=A, due=t(8, 1, 17))
    log.event(6, "hold", t(8, 20, 10), from_department=A, to_department=A)
    # 7: A, dispatched on the last evening; its deadline is after the period: pending, not due.
    log.event(7, "dispatch", t(11, 30, 20), to_department=A, auto=True, due=t(12, 1, 20))
    # 8: A1, reported by the grid worker, filed and verified in time, signed, never handled: due, late.
    log.created(8, t(11, 10, 7), "w1")
    log.event(8, "verify", t(11, 10, 7, 30), "w1", valid=True)
    log.event(8, "file", t(11, 10, 7, 30), "op1")
    log.event(8, "dispatch", t(11, 10, 8), to_department=A1, auto=True, due=t(11, 11, 8))
    log.event(8, "sign", t(11, 10, 9), from_department=A1, to_department=A1, due=t(11, 10, 17))
    # 9: B, reported by the worker, verified and filed late, returned by B and voided: not due.
    log.created(9, t(11, 11, 7), "w1")
    log.event(9, "verify", t(11, 11, 8, 30), "w1", valid=True)
    log.event(9, "file", t(11, 11, 9), "op1")
    log.event(9, "dispatch", t(11, 11, 9, 30), "op1", to_department=B, due=t(11, 12, 9))
    log.event(9, "return", t(11, 11, 10), from_department=B, to_department=None, returned_by=B)
    log.event(9, "void", t(11, 11, 11), from_department=None, to_department=None)
    with store.transaction() as s:
        s.connection().execute(insert(Event), sorted(log.events, key=lambda e: e["at"]))
    return {"A": A, "A1": A1, "B": B}


@pytest.fixture
def log(store):
    build(store)
    return store


def test_department_indicators_by_hand(log):
    result = evaluation.evaluate(log, *NOV, "department")
    rows = result.by_id()
    a, a1, b = rows[1], rows[2], rows[3]
    # A1 owns 1, 3, 4, 8: all due; 1, 3, 4 closed and handled on time; 3 reworked; 8 open and late.
    assert {k: a1.counts[k] for k in ("dispatched", "due", "closed", "on_time", "late", "reworked", "pending")} == {
        "dispatched": 4,
        "due": 4,
        "closed": 3,
        "on_time": 3,
        "late": 1,
        "reworked": 1,
        "pending": 0,
    }
    assert a1.rates["closing_rate"] == pytest.approx(3 / 4)
    assert a1.rates["on_time_rate"] == pytest.approx(3 / 4)
    assert a1.rates["rework_rate"] == pytest.approx(1 / 4)
    # Case 2 was returned twice by A1: once back to A1 (not justified), once on to B (justified).
    assert (a1.counts["returns"], a1.counts["returns_justified"]) == (2, 1)
    assert (a1.counts["extensions_asked"], a1.counts["extensions_granted"]) == (1, 1)
    # Stage hours: sign 1,1,1,1; handle 3, 2, 51 (8 never handled); check 2, 1, 1.
    assert a1.hours["sign"] == {"mean": pytest.approx(1.0), "p90": pytest.approx(1.0), "n": 4}
    assert a1.hours["handle"]["mean"] == pytest.approx(56 / 3)
    assert a1.hours["handle"]["p90"] == pytest.approx(51.0)  # nearest rank: ceil(0.9 · 3) = the 3rd
    assert a1.hours["check"]["mean"] == pytest.approx(4 / 3)
    assert a1.hours["check"]["p90"] == pytest.approx(2.0)
    # B owns 2 (due, closed, late) and 9 (voided: not due); it returned 9 with no re-dispatch.
    assert (b.counts["dispatched"], b.counts["due"], b.counts["closed"], b.counts["on_time"]) == (2, 1, 1, 0)
    assert (b.rates["closing_rate"], b.rates["on_time_rate"], b.rates["rework_rate"]) == (1.0, 0.0, 0.0)
    assert (b.counts["returns"], b.counts["returns_justified"]) == (1, 0)
    assert b.hours["sign"]["mean"] == pytest.approx(6.0)  # first dispatch 08:00 → B signs 14:00
    assert b.hours["handle"]["mean"] == pytest.approx(44.0)
    # A: case 7 pending; 5 was dispatched in October (not November's); 6 on hold since August: 积存.
    assert (a.counts["dispatched"], a.counts["due"], a.counts["pending"]) == (1, 0, 1)
    assert (a.counts["on_hold"], a.counts["backlog"]) == (1, 1)
    assert a.rates["closing_rate"] is None
    # A's tree adds A1.
    tree = a.tree["counts"]
    assert (tree["dispatched"], tree["due"], tree["closed"], tree["on_time"], tree["reworked"]) == (5, 4, 3, 3, 1)
    assert (tree["backlog"], tree["returns"], tree["extensions_granted"]) == (1, 2, 1)
    assert a.tree["rates"]["closing_rate"] == pytest.approx(3 / 4)
    assert a.tree["hours"]["handle"]["p90"] == pytest.approx(51.0)
    assert a1.tree["counts"] == a1.counts
    # Composite: A1 = 30·.75 + 30·.75 + 30·(1 − .25) + 10·(4/4) = 77.5 (B); B = 30 + 0 + 30 + 10·(1/4) = 62.5 (C).
    assert (a1.score, a1.grade) == (77.5, "B")
    assert (b.score, b.grade) == (62.5, "C")
    assert (a.score, a.grade) == (None, None)


def test_the_case_on_hold_across_the_boundary_counts_in_its_own_period(log):
    rows = evaluation.evaluate(log, *OCT, "department").by_id()
    a = rows[1]
    # October: case 5 was dispatched then, and is on hold at the end: not due; 6 is backlog (73 days), 5 not yet.
    assert (a.counts["dispatched"], a.counts["due"], a.counts["on_hold"], a.counts["backlog"]) == (1, 0, 2, 1)


def test_grid_worker_and_dispatcher_indicators_by_hand(log):
    grids = evaluation.evaluate(log, *NOV, "grid").by_id()
    assert (grids[1].counts["due"], grids[1].counts["closed"], grids[1].counts["reworked"]) == (4, 3, 1)
    assert (grids[2].counts["due"], grids[2].counts["returns"], grids[2].counts["returns_justified"]) == (1, 3, 1)
    worker = evaluation.evaluate(log, *NOV, "worker").by_id()[1]
    # Reports 8 and 9, 9 voided; verified 8 in 30 min (on time), 9 in 90 (late); checked 1 on time, 2 late.
    assert worker.rates == {"valid_report_rate": 0.5, "on_time_verify_rate": 0.5, "on_time_check_rate": 0.5}
    assert worker.counts["tasks_handled"] == 2
    assert worker.hours["response"]["median_minutes"] == pytest.approx(30.0)  # nearest rank of 30, 90
    assert (worker.score, worker.grade) == (50.0, "D")
    dispatcher = evaluation.evaluate(log, *NOV, "dispatcher").by_id()
    # op1 filed 8 in 30 min and 9 in 2 h; dispatched 2 (to A1, returned, then sent on to B), re-dispatched
    # it to A1 (returned again, sent on) and to B, and dispatched 9 (returned, voided: not re-routed).
    op1 = dispatcher["op1"]
    assert (op1.counts["filed"], op1.counts["filed_on_time"]) == (2, 1)
    assert (op1.counts["dispatched"], op1.counts["wrongly_routed"]) == (4, 2)
    assert op1.rates["accurate_dispatch_rate"] == pytest.approx(0.5)
    assert (op1.score, op1.grade) == (60.0, "C")  # 20·.5 + 60·.5 + 20·1
    assert "system" not in dispatcher  # automatic dispatches are nobody's work


def test_drill_down_lists_the_cases_behind_each_number(log):
    due = evaluation.cases(log, SUPERVISOR, *NOV, "department", 2, "due")
    assert due["total"] == 4 and [c["id"] for c in due["items"]] == [1, 3, 4, 8]
    late = evaluation.cases(log, SUPERVISOR, *NOV, "department", 2, "late")
    assert [c["id"] for c in late["items"]] == [8]
    first = due["items"][0]
    assert (first["dispatched_at"], first["signed_at"], first["closed_at"]) == (t(11, 2, 8), t(11, 2, 9), t(11, 2, 14))
    page = evaluation.cases(log, SUPERVISOR, *NOV, "department", 1, "due", tree=True, page=2, size=3)
    assert page["total"] == 4 and [c["id"] for c in page["items"]] == [8]
    assert [c["id"] for c in evaluation.cases(log, SUPERVISOR, *NOV, "department", 1, "backlog")["items"]] == [6]


def test_who_may_see_the_figures(log):
    staff = Actor(None, "a1", "staff", department_id=2)
    rows = evaluation.for_actor(log, staff, *NOV, "department").rows
    assert [r.id for r in rows] == [2]
    with pytest.raises(Forbidden):
        evaluation.cases(log, staff, *NOV, "department", 1, "due", tree=True)
    with pytest.raises(Forbidden):
        evaluation.for_actor(log, staff, *NOV, "worker")
    with pytest.raises(Forbidden):
        evaluation.for_actor(log, Actor(None, "w1", "worker"), *NOV, "department")
    with pytest.raises(Invalid):
        evaluation.evaluate(log, *NOV, "planet")


def test_weights_come_from_the_configuration(tmp_path, log):
    path = tmp_path / "evaluation.toml"
    path.write_text("[weights.department]\nclosing_rate = 100\n", encoding="utf-8")
    settings = evaluation.load_settings(path)
    a1 = evaluation.evaluate(log, *NOV, "department", settings).by_id()[2]
    assert (a1.score, a1.grade) == (75.0, "B")
    assert evaluation.grade(90) == "A" and evaluation.grade(39.99) == "E" and evaluation.grade(40) == "D"
