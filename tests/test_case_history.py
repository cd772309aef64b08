"""The demo city's past cases between bodies: the evaluation page and the monthly report have a history
from the first start, and every drawn case is one the case loop could have made."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from data.demo_history import seed_history
from data.models import Department, Event, Incident, utcnow
from ops import evaluation
from ops.accounts import Actor
from ops.case_history import seed_demo_cases
from tests.conftest import SMALL_CITY

SUPERVISOR = Actor(user_id=None, name="test", role="supervisor")


def test_past_tickets_go_round_the_loop_and_the_league_has_them(city) -> None:
    now = utcnow()
    seed_history(city, SMALL_CITY, 30, now)
    written = seed_demo_cases(city, SMALL_CITY.seed, now)
    assert written["cases"] > 20 and written["events"] > 4 * written["cases"], written

    with city.read() as s:
        events = s.execute(
            select(Event.entity_id, Event.at, Event.kind, Event.data)
            .where(Event.entity == "incident", Event.kind.like("case.%"))
            .order_by(Event.entity_id, Event.at, Event.id)
        ).all()
        cases = s.execute(
            select(Incident.id, Incident.stage, Incident.status, Incident.department_id, Incident.closed_at).where(
                Incident.id.in_({e.entity_id for e in events})
            )
        ).all()
        departments = set(s.scalars(select(Department.id)))
    assert len(cases) == written["cases"]
    by_case: dict[int, list] = {}
    for e in events:
        by_case.setdefault(e.entity_id, []).append(e)
    for case in cases:
        moves = by_case[case.id]
        # A chain of moves from "reported", each starting where the last one left the case, all in the past.
        assert moves[0].data["from"] == "reported" and moves[0].kind == "case.file", moves[0]
        for before, after in zip(moves, moves[1:], strict=False):
            assert after.data["from"] == before.data["to"], (case.id, before, after)
            assert after.at >= before.at
        assert moves[-1].at < now
        assert case.stage == moves[-1].data["to"] and case.stage in ("closed", "voided"), case
        assert case.status == ("closed" if case.stage == "closed" else "cancelled")
        assert (case.closed_at is not None) == (case.stage == "closed")
        assert case.department_id == moves[-1].data["to_department"]  # a case voided after a return has none
        assert case.department_id in departments or case.stage == "voided"

    table = evaluation.league(city, SUPERVISOR, now - timedelta(days=30), now)
    due = {r["id"]: r["counts"]["due"] for r in table["rows"]}
    assert sum(due.values()) > 0 and sum(1 for v in due.values() if v) >= 2, due  # more than one body judged


def test_a_store_with_no_history_gets_no_cases(city) -> None:
    assert seed_demo_cases(city, SMALL_CITY.seed) == {"cases": 0, "events": 0}
