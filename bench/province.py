"""A province on PostgreSQL, built with COPY: `python -m bench --scale province --database-url URL`.

The grids are a regular lattice over a province-sized box (Guizhou's, 6° × 4.6°, about 176,000 km²), not
the Guiyang file: 400 × 250 cells by default, grouped into counties (11 × 8 blocks) and communities
(5 × 5 cells). Everything goes into the same tables and columns the app reads (data/models.py), so the
app, the API and the bench figures run on it unchanged.

Rows go in through ``COPY`` (psycopg 3 ``cursor.copy``): the small tables (grids, departments, users,
workers, parking) as rows adapted by psycopg, the items as binary COPY buffers made by numpy in one
pass per group of rows of the same shape (no Python loop per row). While the items load, the secondary
indexes of ``incidents`` are dropped and the row triggers (foreign keys, the ``change_seq`` stamp) are
off (``session_replication_role = replica``, when the role may set it); the stamp is then written by
the load itself (the loading transaction's id, as the trigger would), and the indexes are rebuilt
after. ``VACUUM ANALYZE`` of the loaded tables ends the build.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import shapely
from sqlalchemy import text
from werkzeug.security import generate_password_hash

from bench.city import KIND_SHARE, OPEN_SHARE, Scale
from data.bus import MemoryBus
from data.demo import DEMO_PASSWORD, DEMO_STAFF, DEMO_WORKER_LOGINS, WORKER_ROLES
from data.demo_departments import CITY_BODIES, DISTRICT_BODIES
from data.models import utcnow
from data.store import Store, record_event
from geo.crs import to_metres

BOX = (103.6, 24.6, 109.6, 29.2)  # west, south, east, north: about Guizhou's
COUNTY_BLOCKS = (11, 8)  # 88 counties, as Guizhou has 88 county-level divisions
COMMUNITY_CELLS = 5  # a community: 5 × 5 grids
PG_EPOCH = datetime(2000, 1, 1)
HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
INCIDENT_CHUNK = 1_000_000
LOADED = ("grids", "departments", "users", "workers", "parking_segments", "parking_spaces", "incidents", "events")


class ProvinceError(ValueError):
    pass


@dataclass(frozen=True)
class Lattice:
    """``cols × rows`` cells over ``box``; grid ids 1.. row by row from the south-west corner."""

    cols: int
    rows: int
    box: tuple[float, float, float, float] = BOX

    @classmethod
    def of(cls, grids: int) -> Lattice:
        # The box's aspect ratio (in degrees) kept: cols / rows = width / height.
        west, south, east, north = BOX
        aspect = (east - west) / (north - south)
        near = max(1, round((grids / aspect) ** 0.5))
        # Exactly ``grids`` cells when a row count within a third of the square one divides it.
        for d in range(near // 3 + 1):
            for rows in (near - d, near + d):
                if rows > 0 and grids % rows == 0:
                    return cls(grids // rows, rows)
        return cls(-(-grids // near), near)

    @property
    def count(self) -> int:
        return self.cols * self.rows

    @property
    def step(self) -> tuple[float, float]:
        west, south, east, north = self.box
        return (east - west) / self.cols, (north - south) / self.rows

    def locate(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        dx, dy = self.step
        c = np.clip(((lon - self.box[0]) / dx).astype(np.int64), 0, self.cols - 1)
        r = np.clip(((lat - self.box[1]) / dy).astype(np.int64), 0, self.rows - 1)
        return r * self.cols + c + 1

    def points(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``n`` points uniform over the box (every one in a grid, away from the outline's edge)."""
        west, south, east, north = self.box
        dx, dy = self.step
        lon = rng.uniform(west + dx * 1e-3, east - dx * 1e-3, n)
        lat = rng.uniform(south + dy * 1e-3, north - dy * 1e-3, n)
        return lon, lat, self.locate(lon, lat)

    def county_of(self, col: np.ndarray, row: np.ndarray) -> np.ndarray:
        bx, by = COUNTY_BLOCKS
        return (row * by // self.rows) * bx + (col * bx // self.cols)


def county_name(k: int) -> str:
    return f"黔{k + 1:02d}县"


def _copy_rows(cur, table: str, columns: list[str], rows: list[tuple]) -> None:
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _ewkb(geoms: np.ndarray) -> list[str]:
    return shapely.to_wkb(shapely.set_srid(geoms, 4326), hex=True, include_srid=True).tolist()


def _grids(cur, lat: Lattice, rng: np.random.Generator) -> np.ndarray:
    """COPY the lattice into ``grids``; returns each grid's county (0-based) by grid id - 1."""
    dx, dy = lat.step
    col = np.tile(np.arange(lat.cols), lat.rows)
    row = np.repeat(np.arange(lat.rows), lat.cols)
    x0, y0 = lat.box[0] + col * dx, lat.box[1] + row * dy
    boxes = shapely.box(x0, y0, x0 + dx, y0 + dy)
    multi = shapely.multipolygons(boxes, indices=np.arange(len(boxes)))
    corners = np.column_stack(to_metres(np.concatenate([x0, x0 + dx]), np.concatenate([y0, y0 + dy])))
    n = len(boxes)
    area = np.abs((corners[n:, 0] - corners[:n, 0]) * (corners[n:, 1] - corners[:n, 1]))
    county = lat.county_of(col, row)
    community = (row // COMMUNITY_CELLS) * (-(-lat.cols // COMMUNITY_CELLS)) + col // COMMUNITY_CELLS
    population = rng.integers(300, 6000, n)
    wkb = _ewkb(multi)
    rows = [
        (
            i + 1,
            f"G{i + 1:06d}",
            f"网格{i + 1:06d}",
            county_name(int(county[i])),
            f"第{int(community[i]) + 1}社区",
            int(population[i]),
            float(area[i]),
            float(x0[i] + dx / 2),
            float(y0[i] + dy / 2),
            wkb[i],
        )
        for i in range(n)
    ]
    cols = ["id", "code", "name", "district", "community", "population", "area_m2", "center_lon", "center_lat", "geom"]
    _copy_rows(cur, "grids", cols, rows)
    return county


def _departments(cur, lat: Lattice, county: np.ndarray) -> int:
    """The province bodies (province-wide) and each county's branches (the county's rectangle)."""
    west, south, east, north = lat.box
    bx, by = COUNTY_BLOCKS
    province = shapely.multipolygons([shapely.box(west, south, east, north)])
    rows: list[tuple] = []
    by_code: dict[str, int] = {}

    def add(code: str, name: str, kind: str, categories: list[str], parent: str | None, area: shapely.Geometry):
        metres = shapely.transform(area, lambda xy: np.column_stack(to_metres(xy[:, 0], xy[:, 1])))
        level = 1 if parent is None else 2
        rows.append(
            (
                len(rows) + 1,
                code,
                name,
                by_code.get(parent) if parent else None,
                level,
                kind,
                json.dumps(list(categories), ensure_ascii=False),
                _ewkb(np.array([area], dtype=object))[0],
                float(shapely.area(metres)),
                True,
                utcnow(),
            )
        )
        by_code[code] = len(rows)

    for code, name, kind, categories in CITY_BODIES:
        add(code, name.replace("市", "省", 1), kind, categories, None, province)
    present = set(np.unique(county).tolist())
    for k in range(bx * by):
        if k not in present:
            continue
        r, c = divmod(k, bx)
        # The county's cells: the lattice's columns and rows whose county_of is k, as one rectangle.
        cols = np.nonzero((np.arange(lat.cols) * bx // lat.cols) == c)[0]
        rws = np.nonzero((np.arange(lat.rows) * by // lat.rows) == r)[0]
        gx, gy = lat.step
        area = shapely.multipolygons(
            [
                shapely.box(
                    west + cols[0] * gx, south + rws[0] * gy, west + (cols[-1] + 1) * gx, south + (rws[-1] + 1) * gy
                )
            ]
        )
        for suffix, name, parent, categories in DISTRICT_BODIES:
            kind = rows[by_code[parent] - 1][5]
            add(f"c{k + 1:02d}-{suffix}", f"{county_name(k)}{name}", kind, categories, parent, area)
    cols = [
        "id",
        "code",
        "name",
        "parent_id",
        "level",
        "kind",
        "categories",
        "jurisdiction",
        "jurisdiction_m2",
        "active",
        "changed_at",
    ]
    _copy_rows(cur, "departments", cols, rows)
    return len(rows)


def _people(cur, lat: Lattice, scale: Scale, rng: np.random.Generator) -> tuple[int, int]:
    """One worker (and its user) per grid, the first ``workers_on_duty`` on duty; the demo staff accounts."""
    n = lat.count
    demo_hash = generate_password_hash(DEMO_PASSWORD)
    now = utcnow()
    users = [
        (i, f"w{i:06d}", f"网格员{i:06d}", "worker", demo_hash if i <= DEMO_WORKER_LOGINS else None, now)
        for i in range(1, n + 1)
    ]
    users += [(n + j, u, d, r, demo_hash, now) for j, (u, r, d) in enumerate(DEMO_STAFF, start=1)]
    _copy_rows(cur, "users", ["id", "username", "display_name", "role", "password_hash", "created_at"], users)
    dx, dy = lat.step
    grid = np.arange(1, n + 1)
    col, row = (grid - 1) % lat.cols, (grid - 1) // lat.cols
    lon = lat.box[0] + (col + rng.uniform(0.05, 0.95, n)) * dx
    la = lat.box[1] + (row + rng.uniform(0.05, 0.95, n)) * dy
    phone = rng.integers(0, 10**9, n)
    workers = [
        (
            i + 1,
            f"网格员{i + 1:06d}",
            f"13{int(phone[i]):09d}",
            WORKER_ROLES[0],
            i + 1,
            i + 1,
            i < scale.workers_on_duty,
            float(lon[i]),
            float(la[i]),
            now,
            now,
        )
        for i in range(n)
    ]
    cols = ["id", "name", "phone", "role", "grid_id", "user_id", "on_duty", "lon", "lat", "position_at", "changed_at"]
    _copy_rows(cur, "workers", cols, workers)
    return n, len(users)


def _parking(cur, lat: Lattice, spaces: int, rng: np.random.Generator) -> tuple[int, int]:
    """Kerbside segments of 50 spaces each along the provincial capital's end of the box (Guiyang's area)."""
    per = 50
    count = -(-spaces // per) if spaces else 0
    if not count:
        return 0, 0
    # Short east-west kerbs scattered over a 0.4° square around Guiyang.
    x0 = rng.uniform(106.5, 106.9, count)
    y0 = rng.uniform(26.4, 26.8, count)
    length = per * 6e-5  # ~6 m a space
    lines = shapely.linestrings(np.stack([np.column_stack([x0, y0]), np.column_stack([x0 + length, y0])], axis=1))
    wkb = _ewkb(lines)
    _copy_rows(
        cur, "parking_segments", ["id", "name", "geom"], [(i + 1, f"路段{i + 1:05d}", wkb[i]) for i in range(count)]
    )
    now = utcnow()
    rows = []
    for s in range(count):
        for j in range(min(per, spaces - s * per)):
            rows.append(
                (
                    s + 1,
                    f"P{s + 1:05d}-{j + 1:03d}",
                    float(x0[s] + (j + 0.5) * 6e-5),
                    float(y0[s]),
                    bool(rng.uniform() < 0.6),
                    0,
                    now,
                    now,
                )
            )
    cols = ["segment_id", "code", "lon", "lat", "occupied", "seq", "updated_at", "changed_at"]
    _copy_rows(cur, "parking_spaces", cols, rows)
    return count, len(rows)


# The items' columns in the order the binary COPY sends them: (name, binary type).
#   "i8" / "i4" / "f8": big-endian numbers; "ts": microseconds since 2000-01-01; "txt": a constant per group.
ITEM_COLUMNS = [
    ("id", "i8"),
    ("kind", "txt"),
    ("category", "txt"),
    ("priority", "i4"),
    ("status", "txt"),
    ("title", "txt"),
    ("description", "txt"),
    ("lon", "f8"),
    ("lat", "f8"),
    ("grid_id", "i4"),
    ("source", "txt"),
    ("created_at", "ts"),
    ("updated_at", "ts"),
    ("due_at", "ts"),
    ("resolved_at", "ts"),
    ("closed_at", "ts"),
    ("report_count", "i4"),
    ("stage", "txt"),
    ("rework_count", "i4"),
    ("return_count", "i4"),
    ("change_seq", "i8"),
]
NUMERIC = {"i8": ">i8", "i4": ">i4", "f8": ">f8", "ts": ">i8"}


def binary_rows(values: dict[str, np.ndarray | bytes | int | None], n: int) -> bytes:
    """``n`` rows of ``ITEM_COLUMNS`` as PostgreSQL's binary COPY tuples (no header): each column is an
    array of ``n``, one constant (bytes for text, a number) or None (NULL). One numpy record per row."""
    fields: list[tuple[str, str]] = [("nf", ">i2")]
    fill: list[tuple[str, object]] = [("nf", len(ITEM_COLUMNS))]
    for name, kind in ITEM_COLUMNS:
        value = values[name]
        fields.append((f"{name}_len", ">i4"))
        if value is None:
            fill.append((f"{name}_len", -1))
            continue
        if kind == "txt":
            raw = value if isinstance(value, bytes) else str(value).encode()
            fill.append((f"{name}_len", len(raw)))
            if raw:  # an empty text is its length alone
                fields.append((name, f"S{len(raw)}"))
                fill.append((name, raw))
            continue
        fields.append((name, NUMERIC[kind]))
        fill.append((f"{name}_len", 8 if kind != "i4" else 4))
        fill.append((name, value))
    out = np.empty(n, dtype=np.dtype(fields))
    for name, value in fill:
        out[name] = value
    return out.tobytes()


def _micros(at: datetime) -> int:
    return (at - PG_EPOCH) // timedelta(microseconds=1)


def item_blocks(
    lattice: Lattice, n: int, first_id: int, rng: np.random.Generator, statuses: dict[str, float], days: float, seq: int
):
    """Binary COPY tuples of ``n`` items from id ``first_id``, made per (kind, status) group of one shape."""
    lon, lat, grid = lattice.points(n, rng)
    kind_names, status_names = list(KIND_SHARE), list(statuses)
    kinds = rng.choice(len(kind_names), n, p=list(KIND_SHARE.values()))
    status = rng.choice(len(status_names), n, p=list(statuses.values()))
    now = _micros(utcnow())
    created = now - (rng.uniform(0, days * 86400, n) * 1e6).astype(np.int64)
    response = (rng.lognormal(np.log(60), 0.8, n) * 60e6).astype(np.int64)  # minutes to resolution, in µs
    ids = np.arange(first_id, first_id + n, dtype=np.int64)
    hour = 3600 * 10**6
    for k, kind in enumerate(kind_names):
        for st, name in enumerate(status_names):
            m = (kinds == k) & (status == st)
            count = int(m.sum())
            if not count:
                continue
            closed = name == "closed"
            c = created[m]
            yield binary_rows(
                {
                    "id": ids[m],
                    "kind": kind.encode(),
                    "category": "基准".encode(),
                    "priority": 3,
                    "status": name.encode(),
                    "title": "基准事项".encode(),
                    "description": b"",
                    "lon": lon[m],
                    "lat": lat[m],
                    "grid_id": grid[m].astype(np.int32),
                    "source": b"bench",
                    "created_at": c,
                    "updated_at": c,
                    "due_at": c + 2 * hour,
                    "resolved_at": c + response[m] if closed else None,
                    "closed_at": c + hour if closed else None,
                    "report_count": 1,
                    "stage": b"filed",
                    "rework_count": 0,
                    "return_count": 0,
                    "change_seq": seq,
                },
                count,
            )


def _secondary_indexes(cur, table: str) -> list[tuple[str, str]]:
    cur.execute(
        "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "JOIN pg_class t ON t.oid = x.indrelid WHERE t.relname = %s AND NOT x.indisprimary ORDER BY 1",
        (table,),
    )
    return [(name, sql) for name, sql in cur.fetchall()]


def build(
    url: str, scale: Scale, seed: int = 7, log: Callable[[str], None] = print, history: int | None = None
) -> Store:
    """The province at ``scale`` (``history`` closed items instead of the scale's when given) into an
    empty PostgreSQL database at ``url``. Each step's time is logged."""
    if not url.startswith("postgresql"):
        raise ProvinceError(
            "the province scale is built with PostgreSQL COPY: pass --database-url postgresql+psycopg://… "
            "(an empty database); SQLite is for one machine's city, not a province"
        )
    history = scale.history if history is None else history
    store = Store(url, MemoryBus())
    step = time.perf_counter()
    store.migrate()
    with store.read() as s:
        if s.scalar(text("SELECT count(*) FROM grids")):
            raise ProvinceError("the database already holds grids: the province is built into an empty one")
    log(f"  migrated in {time.perf_counter() - step:.1f} s")
    rng = np.random.default_rng(seed)
    lattice = Lattice.of(scale.grids)
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        step = time.perf_counter()
        county = _grids(cur, lattice, rng)
        departments = _departments(cur, lattice, county)
        workers, users = _people(cur, lattice, scale, rng)
        segments, spaces = _parking(cur, lattice, scale.parking_spaces, rng)
        for table in ("grids", "departments", "users", "workers", "parking_segments", "parking_spaces"):
            top = f"(SELECT coalesce(max(id), 1) FROM {table})"
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {top})")
        raw.commit()
        log(
            f"  {lattice.count:,} grids ({lattice.cols} × {lattice.rows} lattice), {departments} departments, "
            f"{workers:,} workers ({scale.workers_on_duty:,} on duty), {users:,} users, {spaces:,} spaces "
            f"in {segments:,} segments: COPY in {time.perf_counter() - step:.1f} s"
        )
        step = time.perf_counter()
        cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        superuser = bool(cur.fetchone()[0])
        indexes = _secondary_indexes(cur, "incidents")
        for name, _ in indexes:
            cur.execute(f"DROP INDEX {name}")
        if superuser:
            cur.execute("SET session_replication_role = replica")  # no row triggers: FK checks, change_seq
        cur.execute("SELECT pg_current_xact_id()::text::bigint")
        seq = int(cur.fetchone()[0])
        total = history + scale.open_items
        done = 0
        columns = ", ".join(name for name, _ in ITEM_COLUMNS)
        for n, statuses, days in [(history, {"closed": 1.0}, 365.0), (scale.open_items, OPEN_SHARE, 1.0)]:
            for start in range(0, n, INCIDENT_CHUNK):
                size = min(INCIDENT_CHUNK, n - start)
                with cur.copy(f"COPY incidents ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.write(HEADER)
                    for block in item_blocks(lattice, size, done + 1, rng, statuses, days, seq):
                        copy.write(block)
                    copy.write(TRAILER)
                done += size
                if done % (5 * INCIDENT_CHUNK) == 0 or done == total:
                    log(f"    {done:,} / {total:,} items copied ({time.perf_counter() - step:.0f} s)")
        if superuser:
            cur.execute("SET session_replication_role = DEFAULT")
        cur.execute("SELECT setval(pg_get_serial_sequence('incidents', 'id'), %s)", (max(total, 1),))
        raw.commit()
        copied = time.perf_counter() - step
        log(
            f"  {history:,} history + {scale.open_items:,} open items: binary COPY in {copied:.1f} s "
            f"({total / max(copied, 1e-9):,.0f} rows/s; triggers {'off' if superuser else 'on'}, "
            f"{len(indexes)} secondary indexes dropped)"
        )
        step = time.perf_counter()
        cur.execute("SET maintenance_work_mem = '1GB'")
        for _, sql in indexes:
            cur.execute(sql)
        raw.commit()
        log(f"  {len(indexes)} secondary indexes of incidents rebuilt in {time.perf_counter() - step:.1f} s")
    finally:
        raw.close()
    with store.transaction() as s:
        record_event(
            s, "demo.seeded", "city", None, "bench", {"grids": lattice.count, "items": history + scale.open_items}
        )
    step = time.perf_counter()
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"VACUUM ANALYZE {', '.join(LOADED)}")
    log(f"  VACUUM ANALYZE of the loaded tables in {time.perf_counter() - step:.1f} s")
    return store


# The figures a province run measures: see steps() below (docs/performance.md, "Province scale").
# Left out: the peak memory (it reads the whole history into one process), the routing and hand-off
# figures (the city demo's departments, measured there), the browser figures (a first map of every
# grid: tens of MB).
# Items the review page may hold in one bench process here. 2,680,000 fit in memory (2.5 GB RSS) but the
# figure did not finish within a 10-minute run at load ~8 (docs/performance.md).
REVIEW_LIMIT = 3_000_000


def steps(all_steps: list, store: Store, rt, scale: Scale, url: str, keyset_items: int) -> list:
    """The suite's steps for a province, in ``order`` below: the review (when
    it fits) after the push, and the API's keyset read of ``keyset_items`` instead of every item."""
    by_name = dict(all_steps)
    by_name["review"] = lambda: review_if_it_fits(store, rt, scale)
    by_name["pages"] = lambda: [read_keyset(url, keyset_items)]
    order = ("grid", "suggest", "map", "ingest", "bulk", "review", "pages", "startup", "fanout")
    return [(name, by_name[name]) for name in order if name in by_name]


def review_if_it_fits(store: Store, rt, scale: Scale) -> list:
    """The review filter change, when the history fits the review page's one-process frame; else a note."""
    from bench.figures import Figure, review

    with store.read() as s:
        total = int(s.scalar(text("SELECT count(*) FROM incidents")))
    if total > REVIEW_LIMIT:
        note = (
            f"not measured: the review page reads all {total:,} items into each process (data/history.py), "
            f"above the {REVIEW_LIMIT:,} this shared 24 GiB machine gives one bench process"
        )
        return [Figure("review: one filter change over a year", float("nan"), 2.0, "s", 0.0, "≤ 2 s", False, note)]
    return review(store, rt, scale)


def read_keyset(url: str, n: int) -> object:
    """The first ``n`` items via ``GET /api/v1/incidents?order=asc&limit=1000`` following ``next`` (Flask's
    test client: the whole server path but the socket), against one ``SELECT`` of the same ``n`` rows."""
    from sqlalchemy import select

    from app import create_app
    from bench import BENCH_KEY
    from bench.figures import Figure
    from bench.pages import TOKEN
    from config import Config
    from data.models import Incident
    from data.queries.incidents import _incidents_joined

    app = create_app(Config(database_url=url, bootstrap_token=TOKEN, secret_key=BENCH_KEY), seed=False)
    store = app.server.config["onemap"].store
    client = app.server.test_client()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with store.read() as s:
        n = min(n, int(s.scalar(select(text("count(*)")).select_from(Incident))))
    started = time.perf_counter()
    with store.engine.connect() as conn:
        got = len(conn.execute(_incidents_joined().order_by(Incident.id).limit(n)).all())
    raw_s = time.perf_counter() - started
    started = time.perf_counter()
    seen, link, took = 0, "/api/v1/incidents?order=asc&limit=1000", []
    while link and seen < n:
        page = time.perf_counter()
        body = client.get(link, headers=headers).get_json()
        took.append(time.perf_counter() - page)
        seen += body["count"]
        link = body["next"]
    api_s = time.perf_counter() - started
    pages, ends = len(took), max(1, min(10, len(took) // 2))
    if seen < n or got != n:
        raise RuntimeError(f"the pages held {seen:,} items, the SELECT {got:,}, asked {n:,}")
    ours, limit = seen / api_s, got / raw_s
    return Figure(
        f"read {seen:,} items through the API (keyset pages of 1,000) vs one raw SELECT",
        ours,
        limit,
        "items/s",
        ours / limit,
        "≥ 0.25×",
        ours >= 0.25 * limit,
        f"{pages} pages; mean of the first {ends} {1e3 * sum(took[:ends]) / ends:.0f} ms, "
        f"of the last {ends} {1e3 * sum(took[-ends:]) / ends:.0f} ms",
    )
