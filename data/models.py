"""The store's tables (SQLAlchemy 2.0 typed ORM). Geometry is PostGIS on PostgreSQL, WKB elsewhere."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import shapely
from geoalchemy2 import Geometry
from geoalchemy2.elements import WKBElement
from geoalchemy2.shape import from_shape, to_shape
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    and_,
    func,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

KINDS = ("fire", "police", "ticket", "alarm", "visit")
MAP_KINDS = ("fire", "police", "ticket", "alarm")  # visits (bulk door-knocking) stay off the live map
ROLES = ("operator", "supervisor", "worker", "admin", "staff")  # staff: a department's people
# The case's stage between bodies (数字化城管: 立案 → 派遣 → 签收 → 处置 → 反馈 → 核查 → 结案), beside the
# task status above, which follows the one person sent to the place.
STAGES = (
    "reported",
    "verifying",
    "filed",
    "voided",
    "dispatched",
    "signed",
    "in_progress",
    "handled",
    "closed",
    "rework",
    "returned",
    "on_hold",
)
OPEN_STAGES = (
    "reported",
    "verifying",
    "filed",
    "dispatched",
    "signed",
    "in_progress",
    "handled",
    "rework",
    "returned",
    "on_hold",
)
# Stages that keep an item on the live screens whatever its task's status (a department still has work,
# or a check is due); "filed" is not among them: a filed item is open while its status is.
CASE_ACTIVE_STAGES = (
    "reported",
    "verifying",
    "dispatched",
    "signed",
    "in_progress",
    "handled",
    "rework",
    "returned",
    "on_hold",
)
FINAL_STATUSES = ("closed", "cancelled")
# Stages in which a department holds the case (and its staff may act on it).
DEPARTMENT_STAGES = ("dispatched", "signed", "in_progress", "handled", "rework", "on_hold")
STATUSES = ("new", "assigned", "accepted", "on_site", "resolved", "closed", "declined", "cancelled", "reopened")
# The groups of statuses, named once (every other module imports them or the filters below).
OPEN_STATUSES = ("new", "assigned", "accepted", "on_site", "declined", "reopened")  # still to be done
UNASSIGNED_STATUSES = ("new", "declined", "reopened")  # waiting for a worker
ACTIVE_TASK_STATUSES = ("assigned", "accepted", "on_site")  # a worker holds it
ACTIVE_ITEM_STATUSES = ACTIVE_TASK_STATUSES  # an item's status follows its active task's
DONE_STATUSES = ("resolved", "closed")  # the worker's part is done


def is_open_status(status: str) -> bool:
    return status in OPEN_STATUSES


def is_unassigned(status: str) -> bool:
    return status in UNASSIGNED_STATUSES


def is_active(status: str) -> bool:
    return status in ACTIVE_TASK_STATUSES


def is_done(status: str) -> bool:
    return status in DONE_STATUSES


# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class GeometryType(TypeDecorator[shapely.Geometry]):
    """A shapely geometry: PostGIS ``geometry(…, 4326)`` on PostgreSQL, WKB bytes on SQLite."""

    impl = LargeBinary
    cache_ok = True
    # Read by GeoAlchemy2's DDL hooks; our GIST indexes are made by the migration instead.
    srid = 4326
    spatial_index = False
    use_N_D_index = False

    def __init__(self, geometry_type: str = "GEOMETRY"):
        super().__init__()
        self.geometry_type = geometry_type

    def load_dialect_impl(self, dialect: Dialect | None) -> TypeEngine[Any]:
        # GeoAlchemy2's DDL hooks probe this with no dialect to ask "is this a spatial type?".
        if dialect is None:
            return Geometry(self.geometry_type, srid=4326, spatial_index=False)
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Geometry(self.geometry_type, srid=4326, spatial_index=False))
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value: shapely.Geometry | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "postgresql":
            return from_shape(value, srid=4326)
        return shapely.to_wkb(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> shapely.Geometry | None:
        if value is None:
            return None
        if isinstance(value, WKBElement):
            return to_shape(value)
        return shapely.from_wkb(bytes(value))


def utcnow() -> datetime:
    """Timestamps are naive UTC everywhere, so SQLite and PostgreSQL compare them alike."""
    return datetime.utcnow()  # noqa: DTZ003


def change_horizon(dialect: str, stamp: Any) -> Any:
    """The mark a reader keeps for ``change_seq`` (set by the database on every insert and update,
    migration 0009): every row committed after this is read has ``change_seq`` at or above it.

    PostgreSQL stamps a row with its transaction's id, and the oldest transaction still running
    bounds every id yet to commit (a long transaction keeps the mark back: its rows are read when
    it commits, never skipped). SQLite has one writer at a time, so its stamps are commit order.
    """
    if dialect == "postgresql":
        return literal_column("pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
    return select(func.coalesce(func.max(stamp), 0) + 1).scalar_subquery()


class Base(DeclarativeBase):
    pass


class Grid(Base):
    __tablename__ = "grids"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    district: Mapped[str] = mapped_column(String(64), index=True)
    community: Mapped[str] = mapped_column(String(64))
    population: Mapped[int | None] = mapped_column(Integer)
    area_m2: Mapped[float] = mapped_column(Float)
    center_lon: Mapped[float] = mapped_column(Float)
    center_lat: Mapped[float] = mapped_column(Float)
    geom: Mapped[shapely.MultiPolygon] = mapped_column(GeometryType("MULTIPOLYGON"))


class Department(Base):
    """A body that handles cases (城管局, 市场监管局, 交警大队, 派出所, 街道办 …): a tree of up to three levels,
    each with a jurisdiction and the categories it handles."""

    __tablename__ = "departments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    level: Mapped[int] = mapped_column(Integer, default=1)
    kind: Mapped[str] = mapped_column(String(32), default="")
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    # None: the whole city (a city bureau); otherwise the area it answers for.
    jurisdiction: Mapped[shapely.MultiPolygon | None] = mapped_column(GeometryType("MULTIPOLYGON"))
    jurisdiction_m2: Mapped[float | None] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    changed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    password_hash: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    prefix: Mapped[str | None] = mapped_column(String(8))  # the token's first characters, to name it by
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)  # None: until revoked
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)  # kept to the minute


class WebSession(Base):
    """A signed-in browser; the cookie holds a random token, this row its digest, so the server can end it."""

    __tablename__ = "web_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the cookie's token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Worker(Base):
    __tablename__ = "workers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(32))  # 网格长 / 信息员 / attached police etc.
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    on_duty: Mapped[bool] = mapped_column(Boolean, default=True)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    position_at: Mapped[datetime | None] = mapped_column(DateTime)
    # When this store last changed the row (server clock): every process's in-memory copy reads
    # only the rows stamped since it last looked (data/live_field.py).
    changed_at: Mapped[datetime | None] = mapped_column(DateTime, default=utcnow, onupdate=utcnow, index=True)
    change_seq: Mapped[int] = mapped_column(BigInteger, server_default="0", index=True)  # see change_horizon


class Incident(Base):
    """A fire report, police alert, service ticket or device alarm: anything that can become a task."""

    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer, default=3)
    status: Mapped[str] = mapped_column(String(16), default="new")
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"), index=True)
    reporter_name: Mapped[str | None] = mapped_column(String(64))
    reporter_phone: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(32), default="simulator")
    external_id: Mapped[str | None] = mapped_column(String(128))
    assigned_worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(DateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    report_count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # The case between bodies: who owns it, at which stage, why it went there, and the stage's clock.
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    stage: Mapped[str] = mapped_column(String(16), default="filed", server_default="filed")
    routing: Mapped[str | None] = mapped_column(Text)
    stage_at: Mapped[datetime | None] = mapped_column(DateTime)
    stage_due_at: Mapped[datetime | None] = mapped_column(DateTime)
    held_stage: Mapped[str | None] = mapped_column(String(16))
    urged_at: Mapped[datetime | None] = mapped_column(DateTime)
    urge_note: Mapped[str | None] = mapped_column(Text)
    urge_due_at: Mapped[datetime | None] = mapped_column(DateTime)
    extension_until: Mapped[datetime | None] = mapped_column(DateTime)  # asked for, not yet decided
    extension_reason: Mapped[str | None] = mapped_column(Text)
    rework_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    return_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    change_seq: Mapped[int] = mapped_column(BigInteger, server_default="0")  # see change_horizon

    __table_args__ = (
        Index("ix_incidents_status_kind", "status", "kind"),
        Index("ix_incidents_stage_department", "stage", "department_id"),
        Index("ix_incidents_lat_lon", "lat", "lon"),
        Index("ix_incidents_created_at", "created_at"),
        Index("ix_incidents_updated_at", "updated_at"),
        Index("ix_incidents_change_seq", "change_seq"),
        Index("ix_incidents_source_external", "source", "external_id", unique=True),
    )


class Task(Base):
    """One assignment of an incident to a worker; at most one active task per incident."""

    __tablename__ = "tasks"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="assigned")
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (
        Index(
            "ux_tasks_one_active",
            "incident_id",
            unique=True,
            sqlite_where=text("status IN ('assigned', 'accepted', 'on_site')"),
            postgresql_where=text("status IN ('assigned', 'accepted', 'on_site')"),
        ),
    )


class Road(Base):
    __tablename__ = "roads"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    geom: Mapped[shapely.LineString] = mapped_column(GeometryType("LINESTRING"))


class ParkingSegment(Base):
    __tablename__ = "parking_segments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    geom: Mapped[shapely.LineString] = mapped_column(GeometryType("LINESTRING"))


class ParkingSpace(Base):
    __tablename__ = "parking_spaces"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("parking_segments.id"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    occupied: Mapped[bool] = mapped_column(Boolean, default=False)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    comms_ok: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)  # the sensor's event time
    changed_at: Mapped[datetime | None] = mapped_column(DateTime, default=utcnow, onupdate=utcnow, index=True)
    change_seq: Mapped[int] = mapped_column(BigInteger, server_default="0", index=True)  # see change_horizon


class Event(Base):
    """The append-only audit log; its id is the cursor every screen catches up from."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(48))
    entity: Mapped[str] = mapped_column(String(24))
    entity_id: Mapped[int | None] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (
        Index("ix_events_entity", "entity", "entity_id"),
        # The evaluation's scans: a kind's events in a period, and a case's next/previous event of a kind.
        Index("ix_events_kind_at", "kind", "at"),
        Index("ix_events_kind_entity_id", "kind", "entity_id", "id"),
    )


class CaseFact(Base):
    """One row a case: the times and counts its case events give, kept from the event log by
    ``ops.case_facts.refresh`` (an idempotent job with a cursor on ``events.id``), so the evaluation
    reads one row a case instead of aggregating every case's events. ``last_event_id``/``last_at``:
    the newest case event folded in; a period ending after ``last_at`` sees exactly this row."""

    __tablename__ = "case_facts"
    case_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    last_event_id: Mapped[int] = mapped_column(BigInteger)
    last_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    owner: Mapped[int | None] = mapped_column(Integer)  # the department of the last dispatch
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)  # the first dispatch
    signed_at: Mapped[datetime | None] = mapped_column(DateTime)
    handled_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_handled_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    reopened_at: Mapped[datetime | None] = mapped_column(DateTime)
    deadline: Mapped[datetime | None] = mapped_column(DateTime)
    handle_deadline: Mapped[datetime | None] = mapped_column(DateTime)
    reworks: Mapped[int] = mapped_column(Integer)
    voids: Mapped[int] = mapped_column(Integer)
    held_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    resumed_at: Mapped[datetime | None] = mapped_column(DateTime)


class Report(Base):
    """One citizen's (or one system's) report; several reports of one event join one incident."""

    __tablename__ = "reports"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    reporter_name: Mapped[str | None] = mapped_column(String(64))
    reporter_phone: Mapped[str | None] = mapped_column(String(32))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    description: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(32))
    photo: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class IdempotencyKey(Base):
    """A client's retry key: the first answer is stored and replayed for the same request."""

    __tablename__ = "idempotency_keys"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (Index("ux_idempotency_user_key", "user_id", "key", unique=True),)


class ParkingEvent(Base):
    """Every state report from a kerbside sensor (Curb Data Specification event names)."""

    __tablename__ = "parking_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    space_id: Mapped[int] = mapped_column(ForeignKey("parking_spaces.id"), index=True)
    event_type: Mapped[str] = mapped_column(String(24))
    event_time: Mapped[datetime] = mapped_column(DateTime)
    sequence_number: Mapped[int] = mapped_column(BigInteger)
    device_id: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Alert(Base):
    """A CAP 1.2 alert; its areas are drawn on the map while it is active."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    identifier: Mapped[str] = mapped_column(String(200), unique=True)
    sender: Mapped[str] = mapped_column(String(200))
    sent: Mapped[datetime] = mapped_column(DateTime)
    msg_type: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))  # active, updated, cancelled
    event: Mapped[str] = mapped_column(String(200))
    urgency: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    certainty: Mapped[str] = mapped_column(String(16))
    headline: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    areas: Mapped[dict[str, Any]] = mapped_column(JSON)  # GeoJSON FeatureCollection, WGS-84
    replaces: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Photo(Base):
    """A photo attached to an item (by the reporter or by the worker who resolved it)."""

    __tablename__ = "photos"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"))
    name: Mapped[str] = mapped_column(String(80), unique=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Setting(Base):
    """Process-wide values every app process must share (e.g. the session signing key)."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Place(Base):
    """A place with records (a rental flat, a shop): its registered occupants are what activity is checked against."""

    __tablename__ = "places"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(32))  # rental, residence, shop, ...
    address: Mapped[str] = mapped_column(String(200))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"), index=True)
    registered_occupants: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AccessEvent(Base):
    """One door-access record at a place (a card, code or face id; kept as a one-way digest)."""

    __tablename__ = "access_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    place_id: Mapped[int] = mapped_column(ForeignKey("places.id"))
    credential: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(8))  # in, out
    at: Mapped[datetime] = mapped_column(DateTime)
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (Index("ix_access_events_place_at", "place_id", "at"),)


WARNING_STATUSES = ("open", "acknowledged", "resolved")
OPEN_WARNING_STATUSES = ("open", "acknowledged")


class EarlyWarning(Base):
    """A fired rule at one place; at most one open warning per rule and place."""

    __tablename__ = "warnings"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(64))
    rule_type: Mapped[str] = mapped_column(String(32))
    place_key: Mapped[str] = mapped_column(String(128))
    level: Mapped[str] = mapped_column(String(16))  # high, medium, low
    status: Mapped[str] = mapped_column(String(16), default="open")
    title: Mapped[str] = mapped_column(String(300))  # in English (the API's), from title_key when there is one
    title_key: Mapped[str | None] = mapped_column(String(64))  # catalog key; None on rows older than 0007
    title_params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))  # the verification task's item
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        Index("ix_warnings_status", "status"),
        Index("ix_warnings_rule_place", "rule_id", "place_key"),
        Index(
            "ux_warnings_one_open",
            "rule_id",
            "place_key",
            unique=True,
            sqlite_where=text("status IN ('open', 'acknowledged')"),
            postgresql_where=text("status IN ('open', 'acknowledged')"),
        ),
    )


class RuleWatch(Base):
    """Since when a lasting condition (e.g. a full parking segment) has held at a place."""

    __tablename__ = "rule_watches"
    rule_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    place_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    since: Mapped[datetime] = mapped_column(DateTime)


SPATIAL_INDEXES = {"grids": "geom", "roads": "geom", "parking_segments": "geom"}
# Made by later migrations (the first one cannot index tables it does not create).
LATER_SPATIAL_INDEXES = {"departments": "jurisdiction"}


def open_item() -> Any:
    """The one definition of an item still open on the live screens, as SQL (``data/live.py`` mirrors it)."""
    return or_(
        Incident.status.in_(OPEN_STATUSES),
        and_(Incident.stage.in_(CASE_ACTIVE_STAGES), Incident.status.not_in(FINAL_STATUSES)),
    )
