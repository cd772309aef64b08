"""Bulk push of visits: one task per good row to the grid's worker, bad rows back with reasons,
and nothing stored when the push fails part-way."""

import base64

import pytest
from sqlalchemy import func, select

from api.request_body import data_url_text
from app import runtime_of
from config import DEFAULT_SLA_MINUTES
from data import queries
from data.models import Incident, Task, Worker
from geo.crs import from_wgs84
from ops import bulk
from ops.accounts import Actor
from ops.errors import Forbidden, Invalid
from tests.conftest import AUTH

OPERATOR = Actor(None, "op", "operator")


def sample_csv(city, good: int = 50) -> tuple[str, list]:
    idx = queries.load_grid_index(city)
    lines = ["lon,lat,note,name,crs"]
    points = []
    for i in range(good):
        p = idx.polygons[i % len(idx.polygons)].representative_point()
        points.append((p.x, p.y, int(idx.ids[i % len(idx.ids)])))
        lines.append(f"{p.x:.7f},{p.y:.7f},入户走访,居民{i},")
    p = idx.polygons[0].representative_point()
    glon, glat = from_wgs84(p.x, p.y, "gcj02")
    lines.append(f"{float(glon):.7f},{float(glat):.7f},GCJ-02 坐标,居民G,gcj02")  # converted, then inside
    lines.append(",,没有位置,居民X,")  # line good + 3
    lines.append("100.0,30.0,城外,居民Y,")  # outside every grid
    lines.append(f"{p.y:.7f},{p.x:.7f},坐标颠倒,居民Z,")  # swapped
    lines.append(f"{p.x:.7f},{p.y:.7f},坐标系,居民W,utm")  # unknown crs
    return "\n".join(lines) + "\n", points


def test_each_good_row_becomes_a_task_for_its_grid_worker(city):
    text, points = sample_csv(city)
    result = bulk.push_visits(city, queries.load_grid_index(city), OPERATOR, text, DEFAULT_SLA_MINUTES)
    assert result.created == len(points) + 1
    reasons = dict(result.reasons())
    n = len(points)
    assert reasons == {
        n + 3: "no location: lon and lat must be numbers",
        n + 4: "outside every grid",
        n + 5: "lon and lat look swapped",
        n + 6: "unknown crs 'utm'",
    }
    assert "reason" in result.error_csv().splitlines()[0] and "居民Z" in result.error_csv()
    with city.read() as s:
        visits = s.execute(
            select(Incident.grid_id, Incident.assigned_worker_id, Incident.status).where(Incident.kind == "visit")
        ).all()
        owner = {g: w for w, g in s.execute(select(Worker.id, Worker.grid_id).order_by(Worker.id.desc()))}
        tasks = s.scalar(select(func.count()).select_from(Task).where(Task.status == "assigned"))
    assert tasks == len(visits) == len(points) + 1
    assert all(v.status == "assigned" and v.assigned_worker_id == owner[v.grid_id] for v in visits)


def test_a_failure_part_way_leaves_nothing(city, monkeypatch):
    text, _ = sample_csv(city, good=60)
    monkeypatch.setattr(bulk, "CHUNK", 20)

    def explode(done: int, total: int) -> None:
        if done >= 40:
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        bulk.push_visits(city, queries.load_grid_index(city), OPERATOR, text, DEFAULT_SLA_MINUTES, explode)
    with city.read() as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == 0
        assert s.scalar(select(func.count()).select_from(Task)) == 0


def test_bad_files_and_roles_are_refused(city):
    idx = queries.load_grid_index(city)
    with pytest.raises(Invalid, match="lacks lat"):
        bulk.push_visits(city, idx, OPERATOR, "lon,note\n1,x\n", DEFAULT_SLA_MINUTES)
    with pytest.raises(Invalid, match="unknown CSV column 'colour'"):
        bulk.push_visits(city, idx, OPERATOR, "lon,lat,note,colour\n", DEFAULT_SLA_MINUTES)
    with pytest.raises(Forbidden):
        bulk.push_visits(city, idx, Actor(1, "w", "worker"), "lon,lat,note\n", DEFAULT_SLA_MINUTES)


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig", "utf-8"])
def test_an_excel_csv_in_gbk_or_utf8_is_read_the_same_through_the_api_and_the_upload(app, client, encoding):
    """Excel on a Chinese desktop saves CSV as GBK: the API reads it as the screen's upload does."""
    store = runtime_of(app).store
    text, points = sample_csv(store, good=5)
    raw = text.encode(encoding)
    assert data_url_text("data:text/csv;base64," + base64.b64encode(raw).decode()) == text  # the upload's way
    r = client.post("/api/v1/bulk/visits", headers=AUTH, data=raw, content_type="text/csv")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["created"] == len(points) + 1 and body["rejected"] == 4, body
    with store.read() as s:
        notes = set(s.scalars(select(Incident.description).where(Incident.kind == "visit")))
    assert "入户走访" in " ".join(n or "" for n in notes), notes  # the Chinese came through, not mojibake


def test_a_csv_in_no_known_encoding_is_refused_by_name(client):
    r = client.post("/api/v1/bulk/visits", headers=AUTH, data=b"lon,lat\n\xff\xfe\xfa,1\n", content_type="text/csv")
    assert r.status_code == 422 and r.get_json()["field"] == "body", r.get_json()
