"""Retention: reporters, photos and door-access events go after their days, on both backends."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from config import DEFAULT_SLA_MINUTES, Config
from data.models import AccessEvent, Event, Incident, Photo, Place, Report, utcnow
from ops import retention
from ops.accounts import SYSTEM
from ops.incidents import NewIncident, report
from tests.conftest import SMALL_CITY


def _item(store, index, name: str, days_ago: int, status: str) -> int:
    p = index.polygons[0].representative_point()
    at = utcnow() - timedelta(days=days_ago)
    item = NewIncident(
        "ticket", "噪音", "噪音", p.x, p.y, reporter_name=name, reporter_phone="13812345678", created_at=at
    )
    (iid,) = report(store, index, SYSTEM, [item], DEFAULT_SLA_MINUTES)
    with store.transaction() as s:
        s.execute(update(Incident).where(Incident.id == iid).values(status=status, created_at=at))
        s.add(Report(incident_id=iid, reporter_name=name, reporter_phone="13812345678", lon=p.x, lat=p.y, source="api"))
    return iid


def test_purge_keeps_only_what_is_within_its_days(city, tmp_path: Path) -> None:
    from data.queries import load_grid_index

    store, index = city, load_grid_index(city)
    config = replace(SMALL_CITY, media_dir=str(tmp_path), retain_reporter_days=180, retain_photo_days=90)
    old_done = _item(store, index, "老结案", 200, "closed")
    old_open = _item(store, index, "老未结", 200, "new")  # still open: its reporter is still needed
    new_done = _item(store, index, "新结案", 10, "closed")
    now = utcnow()
    for name, days in (("old.jpg", 100), ("new.jpg", 5)):
        (tmp_path / name).write_bytes(b"jpeg")
        with store.transaction() as s:
            s.add(
                Photo(
                    incident_id=new_done,
                    name=name,
                    width=1,
                    height=1,
                    uploaded_by="w",
                    created_at=now - timedelta(days=days),
                )
            )
            s.execute(update(Report).where(Report.incident_id == new_done).values(photo=name))
    with store.transaction() as s:
        place = Place(external_id="flat-1", kind="rental", address="1号", lon=106.7, lat=26.6, registered_occupants=2)
        s.add(place)
        s.flush()
        for n, days in enumerate((45, 29, 1)):
            s.add(
                AccessEvent(
                    event_id=f"e{n}", place_id=place.id, credential="x", direction="in", at=now - timedelta(days=days)
                )
            )

    counts = retention.purge(store, config, actor="cli:tester")

    assert counts == {"incidents": 1, "reports": 1, "photos": 1, "access_events": 1}
    with store.read() as s:
        names = dict(s.execute(select(Incident.id, Incident.reporter_name)).all())
        phones = dict(s.execute(select(Incident.id, Incident.reporter_phone)).all())
        report_names = dict(s.execute(select(Report.incident_id, Report.reporter_name)).all())
        assert (names[old_done], phones[old_done], report_names[old_done]) == (None, None, None)
        assert names[old_open] == "老未结" and names[new_done] == "新结案" and report_names[old_open] == "老未结"
        assert list(s.scalars(select(Photo.name))) == ["new.jpg"]
        assert len(s.scalars(select(AccessEvent.id)).all()) == 2
        event = s.scalars(select(Event).where(Event.kind == "retention.purged")).one()
        assert event.actor == "cli:tester" and event.data == counts
    assert not (tmp_path / "old.jpg").exists() and (tmp_path / "new.jpg").exists()
    assert retention.purge(store, config) == dict.fromkeys(counts, 0)  # a second run finds nothing


def test_the_app_purges_on_its_own(city, tmp_path: Path) -> None:
    from data.queries import load_grid_index

    old = _item(city, load_grid_index(city), "老结案", 400, "closed")
    stop = retention.start_in_thread(city, replace(SMALL_CITY, media_dir=str(tmp_path), retention_seconds=0.2))
    try:
        deadline = time.monotonic() + 30
        while True:
            with city.read() as s:
                if s.scalar(select(Incident.reporter_name).where(Incident.id == old)) is None:
                    break
            assert time.monotonic() < deadline, "the retention thread did not purge within 30 s"
            time.sleep(0.1)
    finally:
        stop.set()


def test_retention_days_come_from_the_environment() -> None:
    cfg = Config.from_env({"ONEMAP_RETAIN_REPORTER_DAYS": "90", "ONEMAP_RETAIN_ACCESS_DAYS": "7"})
    assert (cfg.retain_reporter_days, cfg.retain_photo_days, cfg.retain_access_days) == (90, 365, 7)
