"""GET /api/v1/evaluation and its drill-down, urged list and department urge, as every role, on the
hand-built case log of tests/test_evaluation.py (its figures are worked out there by hand)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from app import create_app, runtime_of
from config import Config
from data.bus import MemoryBus
from data.models import Incident, utcnow
from data.store import Store
from ops import evaluation
from ops.accounts import create_token, create_user
from tests.test_evaluation import NOV, build

PERIOD = "start=2026-11-01T00:00:00Z&end=2026-12-01T00:00:00Z"


@pytest.fixture
def api(tmp_path):
    url = f"sqlite:///{tmp_path / 'e.db'}"
    store = Store(url, MemoryBus())
    store.migrate()
    build(store)
    store.dispose()
    app = create_app(Config(database_url=url, simulate=False, media_dir=str(tmp_path / "media")), seed=False)
    rt = runtime_of(app)
    tokens = {"w1": create_token(rt.store, 1), "op1": create_token(rt.store, 2)}
    for name, role, department in (("boss", "supervisor", None), ("a1", "staff", 2), ("root", "admin", None)):
        tokens[name] = create_token(rt.store, create_user(rt.store, name, role, department_id=department))

    class Api:
        store = rt.store

        def get(self, path, who=None):
            headers = {"Authorization": f"Bearer {tokens[who]}"} if who else {}
            return app.server.test_client().get(f"/api/v1{path}", headers=headers)

        def post(self, path, who=None, **kw):
            headers = {"Authorization": f"Bearer {tokens[who]}"} if who else {}
            return app.server.test_client().post(f"/api/v1{path}", headers=headers, **kw)

    return Api()


def test_the_table_matches_the_computation_and_carries_the_trend(api):
    r = api.get(f"/evaluation?{PERIOD}&level=department", "op1")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    rows = {row["id"]: row for row in body["rows"]}
    direct = evaluation.evaluate(api.store, *NOV, "department").by_id()
    assert set(rows) == set(direct) == {1, 2, 3}
    for i, row in rows.items():
        assert row["counts"] == direct[i].counts and row["score"] == direct[i].score
    assert rows[2]["rates"]["closing_rate"] == 0.75 and rows[2]["grade"] == "B"
    # The 30 days before gave A1 and B nothing due: no previous score, no trend.
    assert rows[2]["previous_score"] is None and rows[2]["trend"] is None
    assert body["previous"] == {"start": "2026-10-02T00:00:00Z", "end": "2026-11-01T00:00:00Z"}
    month = api.get("/evaluation?month=2026-11", "boss").get_json()
    assert (month["start"], month["end"]) == ("2026-10-31T16:00:00Z", "2026-11-30T16:00:00Z")  # the city's clock
    workers = api.get(f"/evaluation?{PERIOD}&level=worker", "boss").get_json()["rows"]
    assert workers[0]["rates"]["valid_report_rate"] == 0.5


def test_who_is_refused(api):
    assert api.get(f"/evaluation?{PERIOD}").status_code == 401
    assert api.get(f"/evaluation?{PERIOD}", "w1").status_code == 403
    staff = api.get(f"/evaluation?{PERIOD}", "a1")
    assert staff.status_code == 200 and [r["id"] for r in staff.get_json()["rows"]] == [2]
    assert api.get(f"/evaluation?{PERIOD}&level=dispatcher", "a1").status_code == 403
    assert api.get(f"/evaluation/cases?{PERIOD}&id=1&count=due&tree=true", "a1").status_code == 403
    assert api.get(f"/evaluation/cases?{PERIOD}&id=2&count=due", "a1").status_code == 200
    assert api.get(f"/evaluation?{PERIOD}&level=planet", "op1").status_code == 422
    assert api.get("/evaluation?month=2026-13", "op1").status_code == 422
    assert api.get("/evaluation", "op1").status_code == 422
    assert api.get(f"/evaluation/cases?{PERIOD}&id=2&count=everything", "op1").status_code == 422
    assert api.get(f"/evaluation/cases?{PERIOD}&id=999&count=due", "op1").status_code == 404


def test_drill_down_pages_through_the_cases(api):
    first = api.get(f"/evaluation/cases?{PERIOD}&id=2&count=due&size=2", "op1").get_json()
    second = api.get(f"/evaluation/cases?{PERIOD}&id=2&count=due&size=2&page=2", "op1").get_json()
    assert first["total"] == second["total"] == 4
    assert [c["id"] for c in first["items"]] + [c["id"] for c in second["items"]] == [1, 3, 4, 8]
    case1 = first["items"][0]
    assert (case1["dispatched_at"], case1["signed_at"], case1["closed_at"]) == (
        "2026-11-02T08:00:00Z",
        "2026-11-02T09:00:00Z",
        "2026-11-02T14:00:00Z",
    )


def test_a_supervisor_urges_a_department_and_sees_the_outcome(api):
    with api.store.transaction() as s:  # case 8 is still with A1, signed
        s.execute(update(Incident).where(Incident.id == 8).values(stage="signed", department_id=2, status="new"))
    assert api.post("/departments/2/urge", "op1", json={"note": "请加快"}).status_code == 403
    assert api.post("/departments/2/urge", "boss", json={"note": "  "}).status_code == 422
    r = api.post("/departments/2/urge", "boss", json={"note": "请加快处置"})
    assert r.status_code == 200 and r.get_json() == {"count": 1, "ids": [8]}
    end = (utcnow() + timedelta(hours=1)).isoformat(timespec="seconds") + "Z"
    urged = api.get(f"/evaluation/urged?start=2026-11-01T00:00:00Z&end={end}", "op1").get_json()
    assert [(u["id"], u["outcome"], u["note"], u["urged_by"]) for u in urged["items"]] == [
        (8, "open", "请加快处置", "boss")
    ]
    staff = api.get(f"/evaluation/urged?start=2026-11-01T00:00:00Z&end={end}", "a1").get_json()
    assert [u["id"] for u in staff["items"]] == [8]  # A1's own case
