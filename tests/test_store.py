"""Store queries and rules on both backends (SQLite and PostgreSQL + PostGIS), for real."""

from datetime import timedelta

import pytest
import shapely
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from config import DEFAULT_SLA_MINUTES
from data import queries
from data.models import (
    LATER_SPATIAL_INDEXES,
    SPATIAL_INDEXES,
    Base,
    Event,
    Grid,
    Incident,
    ParkingSpace,
    Task,
    User,
    Worker,
    utcnow,
)
from ops import field, lifecycle, sla
from ops.accounts import Actor, create_user
from ops.errors import Conflict, Forbidden
from ops.incidents import NewIncident, report

OPERATOR = Actor(user_id=None, name="op1", role="operator")


def test_migrations_build_exactly_the_models(store):
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    # GIST indexes exist on PostgreSQL only, made by the migration rather than declared in the models.
    gist = [d for d in diff if d[0] == "remove_index" and d[1].name.endswith("_gist")]
    postgis_own = [d for d in diff if d[0] == "remove_table" and d[1].name == "spatial_ref_sys"]
    assert [d for d in diff if d not in gist and d not in postgis_own] == []
    expected = len(SPATIAL_INDEXES) + len(LATER_SPATIAL_INDEXES)
    assert len(gist) == (expected if store.kind == "postgresql" else 0)


def test_geometry_round_trips(store):
    shape = shapely.MultiPolygon([shapely.box(106.7, 26.5, 106.71, 26.51)])
    with store.transaction() as s:
        s.add(
            Grid(code="x", name="x", district="d", community="c", area_m2=1.0, center_lon=0, center_lat=0, geom=shape)
        )
    with store.read() as s:
        assert s.scalar(select(Grid.geom)).equals(shape)


def test_report_locates_items_and_appends_one_event(city):
    idx = queries.load_grid_index(city)
    before = city.latest_event_id()
    inside = idx.polygons[5].representative_point()
    ids = report(
        city,
        idx,
        OPERATOR,
        [
            NewIncident("fire", "住宅火灾", "火情", inside.x, inside.y, priority=1),
            NewIncident("ticket", "噪音", "噪音", 100.0, 30.0),
        ],
        DEFAULT_SLA_MINUTES,
    )
    with city.read() as s:
        rows = {r.id: r for r in s.scalars(select(Incident))}
        (ev,) = s.scalars(select(Event).where(Event.id > before)).all()  # ids may skip (renumbered at commit)
    assert city.latest_event_id() == ev.id
    assert rows[ids[0]].grid_id == int(idx.ids[5])
    assert rows[ids[1]].grid_id is None  # outside every grid: stored, and visibly gridless
    assert (rows[ids[0]].due_at - rows[ids[0]].created_at).total_seconds() == 5 * 60
    assert ev.kind == "incident.created" and ev.data["ids"] == ids and ev.actor == "op1"
    k = queries.kpis(city)
    assert k["open"]["fire"] == 1 and k["open"]["ticket"] == 1 and k["unassigned"] == 2
    gids, load = queries.open_load_by_grid(city)
    assert load[list(gids).index(int(idx.ids[5]))] == 1 and load.sum() == 1


def test_a_worker_may_not_report(city):
    with pytest.raises(Forbidden):
        report(city, queries.load_grid_index(city), Actor(1, "w", "worker"), [], DEFAULT_SLA_MINUTES)


def test_assign_is_exactly_once_and_the_database_forbids_two_active_tasks(city):
    idx = queries.load_grid_index(city)
    p = idx.polygons[0].representative_point()
    (iid,) = report(city, idx, OPERATOR, [NewIncident("police", "盗窃", "盗窃", p.x, p.y)], DEFAULT_SLA_MINUTES)
    with city.read() as s:
        w1, w2 = s.scalars(select(Worker.id).limit(2)).all()
    lifecycle.assign(city, OPERATOR, iid, w1)
    with pytest.raises(Conflict) as err:
        lifecycle.assign(city, OPERATOR, iid, w2)
    assert err.value.detail["assigned_worker_id"] == w1 and err.value.status == 409
    with pytest.raises(IntegrityError), city.transaction() as s:
        s.execute(insert(Task).values(incident_id=iid, worker_id=w2, status="accepted"))
    with city.read() as s:
        assert s.scalar(select(func.count()).select_from(Task)) == 1


def test_parking_events_resolve_by_sequence_not_arrival(city):
    with city.read() as s:
        sid = s.scalar(select(ParkingSpace.id).order_by(ParkingSpace.id))
    field.update_parking(city, OPERATOR, [field.SpaceChange(sid, True, seq=10)])
    field.update_parking(city, OPERATOR, [field.SpaceChange(sid, False, seq=9)])  # late and stale
    with city.read() as s:
        space = s.get(ParkingSpace, sid)
    assert space.occupied is True and space.seq == 10
    segs = queries.parking_segments(city)
    assert sum(s.capacity for s in segs) == 120
    assert 0.0 <= segs[0].occupancy <= 1.0


def test_grid_geojson_lists_worker_ids(city):
    fc = queries.grid_geojson(city)
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 60
    first = fc["features"][0]
    assert first["properties"]["name"] and len(first["properties"]["worker_ids"]) == 2
    assert first["geometry"]["type"] == "MultiPolygon"


def test_layers_changed_since_names_only_what_changed(city):
    cursor = city.latest_event_id()
    assert queries.layers_changed_since(city, cursor) == (cursor, set())
    with city.read() as s:
        wid = s.scalar(select(Worker.id))
    field.move_workers(city, OPERATOR, [(wid, 106.7, 26.6)])
    newest, layers = queries.layers_changed_since(city, cursor)
    assert newest == city.latest_event_id() > cursor and layers == {"workers", "kpi"}


def test_ids_keep_counting_after_the_seed(city):
    uid = create_user(city, "late-operator", "operator", password="pw-0123456789")
    with city.read() as s:
        assert uid > s.scalar(select(func.max(Worker.user_id)))
        assert s.get(User, uid).password_hash.startswith(("scrypt:", "pbkdf2:"))


def test_unaccepted_assignment_goes_back_to_the_queue_once(city):
    idx = queries.load_grid_index(city)
    p = idx.polygons[0].representative_point()
    (iid,) = report(city, idx, OPERATOR, [NewIncident("fire", "火", "火", p.x, p.y)], DEFAULT_SLA_MINUTES)
    with city.read() as s:
        wid = s.scalar(select(Worker.id))
    lifecycle.assign(city, OPERATOR, iid, wid)
    now = utcnow()
    assert sla.escalate_unaccepted(city, accept_minutes=5, now=now + timedelta(minutes=4)) == []
    assert sla.escalate_unaccepted(city, accept_minutes=5, now=now + timedelta(minutes=6)) == [iid]
    assert sla.escalate_unaccepted(city, accept_minutes=5, now=now + timedelta(minutes=7)) == []
    with city.read() as s:
        item = s.get(Incident, iid)
        task = s.scalar(select(Task).where(Task.incident_id == iid))
    assert item.status == "new" and item.assigned_worker_id is None and task.status == "expired"
    assert queries.queue_items(city)[0]["id"] == iid  # unassigned again: top of the queue
    lifecycle.assign(city, OPERATOR, iid, wid)  # and can be dispatched again
