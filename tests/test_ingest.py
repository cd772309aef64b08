"""The doors: every class of bad input gets a 4xx naming the field and stores nothing; retries are
safe; one event reported by many joins one incident; sensors resolve by sequence."""

import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app import runtime_of
from config import Config
from data import queries
from data.models import Department, Event, Grid, Incident, ParkingSpace, Photo, Report, Task, Worker
from geo.crs import distance_m, from_metres, to_metres, wgs84_to_gcj02
from tests.conftest import AUTH

H = AUTH


@pytest.fixture
def door(app, client):
    rt = runtime_of(app)

    class Door:
        store = rt.store
        index = rt.index

        def post(self, path, headers=None, **kw):
            return client.post(f"/api/v1{path}", headers={**H, **(headers or {})}, **kw)

        def counts(self):
            with rt.store.read() as s:
                return tuple(s.scalar(select(func.count()).select_from(t)) for t in (Incident, Report, Photo, Event))

    return Door()


def fire(**over):
    body = {
        "kind": "fire",
        "category": "住宅火灾",
        "lon": 106.71,
        "lat": 26.58,
        "description": "三楼冒烟",
        "reporter": {"name": "张三", "phone": "13812345678"},
    }
    body.update(over)
    return body


def png(size=(40, 30)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, "orange").save(out, "PNG")
    return out.getvalue()


BAD = [
    ("malformed json", {"data": "{kind: fire", "content_type": "application/json"}, "body"),
    ("not an object", {"json": [1, 2]}, "body"),
    ("missing field", {"json": {k: v for k, v in fire().items() if k != "category"}}, "category"),
    ("extra field", {"json": fire(colour="red")}, "colour"),
    ("extra reporter field", {"json": fire(reporter={"name": "a", "age": 3})}, "reporter.age"),
    ("wrong kind", {"json": fire(kind="flood")}, "kind"),
    ("swapped lon/lat", {"json": fire(lon=26.58, lat=106.71)}, "lon"),
    ("outside the city", {"json": fire(lon=116.40, lat=39.90)}, "lat"),
    ("unknown crs", {"json": fire(crs="utm48")}, "crs"),
    ("lon not a number", {"json": fire(lon="106.7")}, "lon"),
    ("text over its limit", {"json": fire(description="火" * 2001)}, "description"),
    ("bad phone", {"json": fire(reporter={"phone": "call me"})}, "reporter.phone"),
    ("bad priority", {"json": fire(priority=9)}, "priority"),
]


@pytest.mark.parametrize(("case", "request_kw", "field"), BAD, ids=[b[0] for b in BAD])
def test_bad_reports_are_422_naming_the_field_and_store_nothing(door, case, request_kw, field):
    before = door.counts()
    r = door.post("/incidents", **request_kw)
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["field"] == field, case
    assert door.counts() == before


@pytest.mark.parametrize(
    ("photo", "why"),
    [(b"GIF89a not really", "not a readable image"), (b"\xff\xd8" + b"0" * (8 * 1024 * 1024), "larger than 8 MB")],
    ids=["fake", "oversized"],
)
def test_bad_photos_are_refused(door, photo, why):
    import json

    before = door.counts()
    data = {"report": json.dumps(fire()), "photo": (io.BytesIO(photo), "fire.jpg")}
    r = door.post("/incidents", data=data, content_type="multipart/form-data")
    assert r.status_code == 422 and r.get_json()["field"] == "photo" and why in r.get_json()["message"]
    assert door.counts() == before


def test_a_report_with_a_photo_keeps_the_photo(door):
    import json

    data = {"report": json.dumps(fire()), "photo": (io.BytesIO(png()), "fire.png")}
    r = door.post("/incidents", data=data, content_type="multipart/form-data")
    assert r.status_code == 201
    assert len(r.get_json()["photos"]) == 1 and r.get_json()["reporter"]["phone"] == "138****5678"


def test_the_same_request_five_times_stores_one_item(door):
    answers = [door.post("/incidents", json=fire(), headers={"Idempotency-Key": "abc-1"}) for _ in range(5)]
    assert {a.status_code for a in answers} == {201}
    assert len({a.get_json()["id"] for a in answers}) == 1
    assert door.counts()[:2] == (1, 1)
    other = door.post("/incidents", json=fire(lon=106.8), headers={"Idempotency-Key": "abc-1"})
    assert other.status_code == 422 and other.get_json()["field"] == "Idempotency-Key"
    assert door.counts()[:2] == (1, 1)


def test_one_fire_reported_by_many_is_one_incident(door):
    first = door.post("/incidents", json=fire()).get_json()
    for dx in (0.0001, 0.0002, -0.0002, 0.0003):  # 10 to 30 m away
        r = door.post("/incidents", json=fire(lon=106.71 + dx, reporter={"name": "李四"}))
        assert r.status_code == 200 and r.get_json()["joined"] and r.get_json()["id"] == first["id"]
    far = door.post("/incidents", json=fire(lon=106.7110)).get_json()  # ~100 m: another fire
    police = door.post("/incidents", json=fire(kind="police", category="治安")).get_json()  # another kind
    assert far["id"] != first["id"] and police["id"] != first["id"]
    items = queries.open_items(door.store)
    assert items.title[list(items.id).index(first["id"])] == "住宅火灾 ×5"  # one dot on the map, five reports
    with door.store.read() as s:
        assert s.get(Incident, first["id"]).report_count == 5
        assert s.scalar(select(func.count()).select_from(Report).where(Report.incident_id == first["id"])) == 5
    with door.store.transaction() as s:  # eleven minutes later the same spot is a new event
        s.execute(update(Incident).values(created_at=Incident.created_at - timedelta(minutes=11)))
    late = door.post("/incidents", json=fire()).get_json()
    assert late["id"] not in (first["id"], far["id"])


def test_gcj02_input_is_stored_as_wgs84_and_skipping_the_conversion_would_show(door):
    lon, lat = 106.7123, 26.5811
    glon, glat = (float(v) for v in wgs84_to_gcj02(lon, lat))
    got = door.post("/incidents", json=fire(lon=glon, lat=glat, crs="gcj02")).get_json()
    assert distance_m(got["lon"], got["lat"], lon, lat) < 0.5
    assert distance_m(glon, glat, lon, lat) > 300  # what a missing conversion would have stored


def test_parking_events_resolve_by_sequence_and_event_id(door):
    def ev(eid, kind, seq):
        return {
            "event_id": eid,
            "event_type": kind,
            "event_time": "2026-11-23T08:00:00+08:00",
            "curb_space_id": "P01-001",
            "device_id": "pile-1",
            "sequence_number": seq,
        }

    r = door.post("/parking/events", json={"events": [ev("a", "park_start", 10), ev("b", "park_end", 12)]})
    assert r.get_json()["counts"] == {"applied": 2}
    late = door.post("/parking/events", json={"events": [ev("c", "park_start", 11), ev("b", "park_end", 12)]})
    assert [x["status"] for x in late.get_json()["results"]] == ["stale", "duplicate"]
    lost = door.post("/parking/events", json={"events": [ev("d", "comms_lost", 13)]})
    assert lost.get_json()["counts"] == {"applied": 1}
    with door.store.read() as s:
        space = s.scalar(select(ParkingSpace).where(ParkingSpace.code == "P01-001"))
    assert space.occupied is False and space.seq == 13 and space.comms_ok is False
    bad = door.post(
        "/parking/events",
        json={"events": [ev("e", "park_start", -1), {**ev("f", "park_end", 14), "curb_space_id": "NOPE"}]},
    )
    fields = [x.get("field") for x in bad.get_json()["results"]]
    assert fields == ["events[0].sequence_number", "events[1].curb_space_id"]
    assert door.post("/parking/events", json={"wrong": []}).status_code == 422


def test_device_alarm_becomes_a_task_for_the_grids_worker(door):
    with door.store.read() as s:
        worker = s.get(Worker, 1)
    grid = door.index.polygons[list(door.index.ids).index(worker.grid_id)].representative_point()
    alarm = {"event_id": "band-7-0001", "device_id": "band-7", "type": "blood_pressure", "lon": grid.x, "lat": grid.y}
    r = door.post("/alarms", json={"alarms": [alarm, alarm | {"type": "volcano", "event_id": "x"}]})
    created, rejected = r.get_json()["results"]
    assert created["status"] == "created" and rejected["field"] == "alarms[1].type"
    with door.store.read() as s:
        task = s.scalar(select(Task).where(Task.incident_id == created["incident_id"]))
        worker_grid = s.get(Worker, task.worker_id).grid_id
    assert worker_grid == worker.grid_id
    again = door.post("/alarms", json={"alarms": [alarm]}).get_json()["results"][0]
    assert again == {"index": 0, "status": "duplicate", "incident_id": created["incident_id"]}


def test_positions_batch_answers_item_by_item(door):
    r = door.post(
        "/workers/positions",
        json={
            "positions": [
                {"worker_id": 1, "lon": 106.71, "lat": 26.58},
                {"worker_id": 2, "lon": 26.58, "lat": 106.71},
                {"worker_id": 3, "lon": 106.71, "lat": 26.58, "speed": 4},
            ]
        },
    )
    assert [x["status"] for x in r.get_json()["results"]] == ["applied", "rejected", "rejected"]
    with door.store.read() as s:
        assert (s.get(Worker, 1).lon, s.get(Worker, 1).lat) == (106.71, 26.58)


def test_a_batch_of_reports_is_placed_and_joined_together(door):
    existing = door.post("/incidents", json=fire(lon=106.70, lat=26.57)).get_json()["id"]
    reports = [
        fire(lon=106.7200, lat=26.59),  # new
        fire(lon=106.7201, lat=26.59),  # ~10 m from the first: joins it
        fire(lon=106.7001, lat=26.57),  # ~10 m from the open incident: joins it
        fire(lon=116.40, lat=39.90),  # outside the city
        fire(category=""),  # missing category
        fire(kind="police", category="治安", lon=106.7200, lat=26.59),  # same place, other kind: new
    ]
    r = door.post("/incidents/batch", json={"reports": reports})
    results = r.get_json()["results"]
    assert [x["status"] for x in results] == ["created", "joined", "joined", "rejected", "rejected", "created"]
    assert results[1]["incident_id"] == results[0]["incident_id"] and results[2]["incident_id"] == existing
    assert [results[3]["field"], results[4]["field"]] == ["lat", "category"]
    with door.store.read() as s:
        assert s.get(Incident, existing).report_count == 2
        assert s.get(Incident, results[0]["incident_id"]).report_count == 2
        assert s.scalar(select(func.count()).select_from(Report)) == 5


def test_every_door_enters_the_case_loop_emergencies_dispatched_reports_waiting_for_the_desk(door):
    """A citizen's ticket waits at "reported" for the desk; a fire, a batch's police case and a device
    alarm are filed and dispatched to the body that owns them there, with the case events, at once."""
    with door.store.read() as s:
        grid = s.execute(select(Grid.id, Grid.district)).first()
        names = dict(s.execute(select(Department.id, Department.name)).all())
    spot = door.index.polygon(grid.id).representative_point()
    at = {"lon": spot.x, "lat": spot.y}
    ticket = door.post("/incidents", json=fire(kind="ticket", category="占道经营", **at)).get_json()["id"]
    blaze = door.post("/incidents", json=fire(**at)).get_json()["id"]
    batch = door.post("/incidents/batch", json={"reports": [fire(kind="police", category="盗窃", **at)]})
    theft = batch.get_json()["results"][0]["incident_id"]
    alarm = {"event_id": "band-9-0001", "device_id": "band-9", "type": "blood_pressure", **at}
    elder = door.post("/alarms", json={"alarms": [alarm]}).get_json()["results"][0]["incident_id"]
    with door.store.read() as s:
        rows = {i.id: i for i in s.scalars(select(Incident).where(Incident.id.in_([ticket, blaze, theft, elder])))}
        codes = {
            iid: [
                e.data["code"]
                for e in s.scalars(select(Event).where(Event.entity_id == iid, Event.kind.like("case.%")))
            ]
            for iid in rows
        }
    assert (rows[ticket].stage, rows[ticket].department_id, codes[ticket]) == ("reported", None, [])
    owners = {iid: names[rows[iid].department_id] for iid in (blaze, theft, elder)}
    assert owners[blaze] == f"{grid.district}消防救援大队"
    assert owners[theft].startswith(grid.district) and owners[theft].endswith("派出所")
    assert owners[elder].startswith(grid.district) and owners[elder].endswith("街道办事处")
    for iid in (blaze, theft, elder):
        assert rows[iid].stage == "dispatched" and codes[iid] == [100, 600]
        assert owners[iid] in rows[iid].routing


@pytest.mark.parametrize("offset_m, joins", [(50.0, True), (50.01, False)])
@pytest.mark.parametrize("door_kind", ["single", "batch"])
def test_both_doors_merge_at_exactly_the_merge_distance_and_not_beyond(door, door_kind, offset_m, joins):
    """One merge rule: a report exactly 50 m (the default) from an open fire joins it on the single
    POST and in a batch alike; 1 cm further it is a new fire on both."""
    assert Config().dedup_metres == 50.0
    first = door.post("/incidents", json=fire()).get_json()["id"]
    x, y = to_metres([106.71], [26.58])
    for dx, dy in ((offset_m, 0.0), (0.0, -offset_m)):  # east and south: the degree box must not cut it
        (lon,), (lat,) = from_metres(x + dx, y + dy)
        assert abs(float(distance_m(106.71, 26.58, lon, lat)) - offset_m) < 1e-6
        body = fire(lon=float(lon), lat=float(lat))
        if door_kind == "single":
            answer = door.post("/incidents", json=body).get_json()
            got = answer["id"] if answer["joined"] else None
        else:
            answer = door.post("/incidents/batch", json={"reports": [body]}).get_json()["results"][0]
            got = answer["incident_id"] if answer["status"] == "joined" else None
        assert got == (first if joins else None), (door_kind, offset_m, dx, dy, answer)
        if not joins:
            with door.store.transaction() as s:  # the new fire must not catch the next probe
                s.execute(update(Incident).where(Incident.id != first).values(status="closed"))


def test_within_a_batch_reports_exactly_the_merge_distance_apart_join(door):
    x, y = to_metres([106.72], [26.59])
    (lon,), (lat,) = from_metres(x, y + 50.0)
    results = door.post(
        "/incidents/batch", json={"reports": [fire(lon=106.72, lat=26.59), fire(lon=float(lon), lat=float(lat))]}
    ).get_json()["results"]
    assert [r["status"] for r in results] == ["created", "joined"], results
    assert results[1]["incident_id"] == results[0]["incident_id"]
