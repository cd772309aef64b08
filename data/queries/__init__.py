"""Read paths for the map, the KPI strip, the feed and the API. Columns come back as numpy arrays.

The package holds one module per entity:
- ``city``: grids (the index, GeoJSON, open load per grid), roads, districts, active alert areas;
- ``incidents``: open items as columns, the queue, the feed, search and one item's detail;
- ``workers``: positions, search, the on-duty snapshot, a worker's inbox, task summaries;
- ``parking``: occupancy per segment, segments and spaces;
- ``early_warnings``: warning lists, the review period, one warning's detail, the map's points;
- ``dashboard``: the KPI strip and which layers changed since a cursor;
- ``paging``: ``keyset``, the id-ordered paging every list shares.

Callers import from ``data.queries``; the names below are its public face.
"""

from data.queries.city import (
    active_alert_areas,
    district_outlines,
    districts,
    grid_geojson,
    load_grid_index,
    open_load_by_grid,
    roads,
)
from data.queries.dashboard import EVENT_LAYERS, kpis, layers_changed_since
from data.queries.early_warnings import (
    LEVEL_ORDER,
    WARNING_COLUMNS,
    find_warnings,
    warning_detail,
    warning_points,
    warnings_between,
)
from data.queries.incidents import (
    INCIDENT_COLUMNS,
    ItemColumns,
    categories,
    counted_titles,
    incident_detail,
    latest_items,
    open_items,
    queue_items,
)
from data.queries.paging import keyset
from data.queries.parking import SegmentState, parking_occupancy, parking_segments, parking_spaces
from data.queries.workers import (
    WorkerSnapshot,
    find_workers,
    task_label,
    task_summary,
    worker_inbox,
    worker_name,
    worker_positions,
    worker_snapshot,
)

__all__ = [
    "EVENT_LAYERS",
    "INCIDENT_COLUMNS",
    "ItemColumns",
    "LEVEL_ORDER",
    "SegmentState",
    "WARNING_COLUMNS",
    "WorkerSnapshot",
    "active_alert_areas",
    "categories",
    "counted_titles",
    "district_outlines",
    "districts",
    "find_warnings",
    "find_workers",
    "grid_geojson",
    "incident_detail",
    "keyset",
    "kpis",
    "latest_items",
    "layers_changed_since",
    "load_grid_index",
    "open_items",
    "open_load_by_grid",
    "parking_occupancy",
    "parking_segments",
    "parking_spaces",
    "queue_items",
    "roads",
    "task_label",
    "task_summary",
    "warning_detail",
    "warning_points",
    "warnings_between",
    "worker_inbox",
    "worker_name",
    "worker_positions",
    "worker_snapshot",
]
