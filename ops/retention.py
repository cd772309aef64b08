"""Retention: personal data is kept only as long as its purpose needs (PIPL §19), then purged.

Reporters' names and phones go from finished items reported more than ``retain_reporter_days`` ago
(an open item still needs its reporter); photos (rows and files) older than ``retain_photo_days``;
door-access events older than ``retain_access_days``. One transaction and one ``retention.purged``
event per run; ``python manage.py purge`` and a thread of every ``python app.py`` run it.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select, update

from config import Config
from data.models import AccessEvent, Incident, Photo, Report, open_item, utcnow
from data.store import Store, record_event

log = logging.getLogger(__name__)
ACTOR = "retention"


def purge(store: Store, config: Config, now: datetime | None = None, actor: str = ACTOR) -> dict[str, int]:
    """Purge what is past its days; return how many reporters, photos and access events went."""
    now = now or utcnow()
    reporter_cutoff = now - timedelta(days=config.retain_reporter_days)
    photo_cutoff = now - timedelta(days=config.retain_photo_days)
    access_cutoff = now - timedelta(days=config.retain_access_days)
    with store.transaction() as s:
        finished = select(Incident.id).where(Incident.created_at < reporter_cutoff, ~open_item()).scalar_subquery()
        named = (Incident.reporter_name.is_not(None)) | (Incident.reporter_phone.is_not(None))
        incidents = s.execute(
            update(Incident).where(Incident.id.in_(finished), named).values(reporter_name=None, reporter_phone=None)
        ).rowcount
        report_named = (Report.reporter_name.is_not(None)) | (Report.reporter_phone.is_not(None))
        reports = s.execute(
            update(Report)
            .where(Report.incident_id.in_(finished), report_named)
            .values(reporter_name=None, reporter_phone=None)
        ).rowcount
        names = list(s.scalars(select(Photo.name).where(Photo.created_at < photo_cutoff)))
        if names:
            s.execute(delete(Photo).where(Photo.name.in_(names)))
            s.execute(update(Report).where(Report.photo.in_(names)).values(photo=None))
        access = s.execute(delete(AccessEvent).where(AccessEvent.at < access_cutoff)).rowcount
        counts = {"incidents": incidents, "reports": reports, "photos": len(names), "access_events": access}
        if any(counts.values()):
            record_event(s, "retention.purged", "city", None, actor, counts)
    # Files go after the commit: a failed transaction must not leave rows pointing at deleted files.
    for name in names:
        (Path(config.media_dir) / name).unlink(missing_ok=True)
    return counts


def start_in_thread(store: Store, config: Config) -> threading.Event:
    """Purge at start and then every ``config.retention_seconds`` in a daemon thread; set the event to stop.

    Several processes may run it at once: each purge is idempotent.
    """
    stop = threading.Event()

    def loop() -> None:
        while True:
            try:
                counts = purge(store, config)
                if any(counts.values()):
                    log.info("retention purge: %s", counts)
            except Exception:  # a transient store error must not end the purge for good
                log.exception("retention purge failed")
            if stop.wait(config.retention_seconds):
                return

    threading.Thread(target=loop, name="onemap-retention", daemon=True).start()
    return stop
