"""The province bench's COPY builder (bench/province.py) at a tiny size, on the real PostgreSQL test db."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import func, insert, select, text

from bench.city import Scale
from bench.province import Lattice, ProvinceError, build
from data.models import Incident, Worker, utcnow
from data.queries import load_grid_index
from tests.conftest import need_server, reset_postgres

TINY = Scale("province", 60, 40, 75, 500, 3000, 1000)


def test_province_refuses_sqlite(tmp_path):
    with pytest.raises(ProvinceError, match="PostgreSQL"):
        build(f"sqlite:///{tmp_path / 'x.db'}", TINY, log=lambda _: None)


def test_copy_builder_fills_the_tables_the_app_reads():
    url = need_server("PostgreSQL", "ONEMAP_TEST_DATABASE_URL")
    reset_postgres(url)
    lines: list[str] = []
    store = build(url, TINY, log=lines.append, history=2000)
    try:
        with store.read() as s:
            count = {t: s.scalar(text(f"SELECT count(*) FROM {t}")) for t in ("grids", "workers", "parking_spaces")}
            assert count == {"grids": 60, "workers": 60, "parking_spaces": 75}
            assert s.scalar(select(func.count()).select_from(Worker).where(Worker.on_duty)) == 40
            by_status = dict(s.execute(select(Incident.status, func.count()).group_by(Incident.status)).all())
            assert by_status.pop("closed") == 2000
            assert sum(by_status.values()) == 500 and set(by_status) == {"new", "assigned", "accepted", "on_site"}
            # Every item lies in the grid it names (PostGIS on the copied EWKB), and closed ones carry their times.
            inside = s.scalar(
                text(
                    "SELECT count(*) FROM incidents i JOIN grids g ON g.id = i.grid_id "
                    "WHERE ST_Contains(g.geom, ST_SetSRID(ST_MakePoint(i.lon, i.lat), 4326))"
                )
            )
            assert inside == 2500
            bad_times = s.scalar(
                select(func.count()).where(
                    Incident.status == "closed", (Incident.resolved_at.is_(None)) | (Incident.closed_at.is_(None))
                )
            )
            assert bad_times == 0
            newest = s.scalar(select(func.max(Incident.created_at)))
            assert abs((utcnow() - newest).total_seconds()) < 86400
            # The load stamped change_seq itself (the trigger was off) and the secondary indexes came back.
            assert s.scalar(select(func.min(Incident.change_seq))) > 0
            indexes = set(s.scalars(text("SELECT indexname FROM pg_indexes WHERE tablename = 'incidents'")))
            assert {"ix_incidents_status_kind", "ix_incidents_created_at", "ix_incidents_source_external"} <= indexes
            assert s.scalar(text("SELECT count(*) FROM departments WHERE parent_id IS NOT NULL")) > 0
        # The app's own grid index agrees with the lattice, and later inserts get fresh ids (sequences moved).
        index = load_grid_index(store)
        with store.read() as s:
            rows = s.execute(select(Incident.lon, Incident.lat, Incident.grid_id).limit(300)).all()
        lon, lat, grid = (np.array(c) for c in zip(*rows, strict=True))
        assert (index.locate(lon, lat) == grid).all()
        assert (Lattice.of(60).locate(lon, lat) == grid).all()
        with store.transaction() as s:
            now = utcnow()
            new_id = s.scalar(
                insert(Incident)
                .values(kind="ticket", category="x", title="t", lon=106.7, lat=26.6, due_at=now)
                .returning(Incident.id)
            )
        assert new_id == 2501
        assert any("binary COPY" in line for line in lines)
    finally:
        store.dispose()
