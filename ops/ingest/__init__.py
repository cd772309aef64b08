"""The doors: citizen reports (joined when they describe one event), parking sensor events,
worker positions and device alarms. Every input is checked field by field; a refused input
changes nothing and says which field and why.

The package holds, along its seams:
- ``fields``: the checks every door shares (who may feed data, text, coordinates, times, batches);
- ``merging``: ``open_to_join``, the one rule by which a report joins an open incident;
- ``reports``: citizen reports, parsed and stored one by one or as a batch;
- ``sensors``: parking events, worker positions and device alarms.

Callers import from ``ops.ingest``; the names below are its public face.
"""

from ops.ingest.fields import INGEST_ROLES, LIMITS, MAX_BATCH, locate, require_ingest
from ops.ingest.merging import MERGE_SLACK_M, open_to_join
from ops.ingest.reports import PHONE, REPORT_KINDS, CitizenReport, parse_report, submit_batch, submit_report
from ops.ingest.sensors import ALARM_TYPES, PARKING_EVENTS, ingest_alarms, ingest_parking, ingest_positions

__all__ = [
    "ALARM_TYPES",
    "INGEST_ROLES",
    "LIMITS",
    "MAX_BATCH",
    "MERGE_SLACK_M",
    "PARKING_EVENTS",
    "PHONE",
    "REPORT_KINDS",
    "CitizenReport",
    "ingest_alarms",
    "ingest_parking",
    "ingest_positions",
    "locate",
    "open_to_join",
    "parse_report",
    "require_ingest",
    "submit_batch",
    "submit_report",
]
