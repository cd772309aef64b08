"""Seed the demo city (real Guiyang districts, generated grids, workers, roads, parking) and
import real grid files. Bulk paths use SQLAlchemy Core inserts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import shapely
from sqlalchemy import func, insert, select, text
from werkzeug.security import check_password_hash, generate_password_hash

from config import DISTRICTS_FILE, Config
from data.demo_departments import GridCell, department_rows, staff_rows
from data.models import Department, Grid, ParkingSegment, ParkingSpace, Road, User, Worker
from data.store import Store, record_event
from geo.crs import to_metres
from geo.demo_city import make_grids, make_parking, make_roads
from geo.grid_import import GridFeature, GridImportError, read_grid_file

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何罗高林"
_GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "霞",
    "平",
]
WORKER_ROLES = ("网格长", "信息员", "网格警员", "市场监管员", "消防专干")
DEMO_PASSWORD = "onemap-demo"
DEMO_STAFF = (
    ("admin", "admin", "管理员"),
    ("operator", "operator", "值班调度员"),
    ("supervisor", "supervisor", "督导员"),
)
DEMO_WORKER_LOGINS = 5  # workers w00001..w00005 can log in with the demo password


def _area_m2(geom: shapely.Geometry) -> float:
    return float(shapely.area(shapely.transform(geom, lambda xy: np.column_stack(to_metres(xy[:, 0], xy[:, 1])))))


def grid_count(store: Store) -> int:
    with store.read() as s:
        return int(s.scalar(select(func.count(Grid.id))) or 0)


def has_demo_accounts(store: Store) -> bool:
    """Whether a demo account still signs in with the published demo password."""
    with store.read() as s:
        hashes = s.scalars(select(User.password_hash).where(User.username.in_([u for u, _, _ in DEMO_STAFF])))
        return any(h and check_password_hash(h, DEMO_PASSWORD) for h in hashes)


def import_grids(store: Store, features: list[GridFeature], district: str = "", actor: str = "cli") -> int:
    """Insert imported grid features (names must be new); return how many were stored."""
    rows = []
    for f in features:
        c = f.geometry.representative_point()
        rows.append(
            {
                "code": f.name,
                "name": f.name,
                "district": str(f.properties.get("district") or district or ""),
                "community": str(f.properties.get("community") or ""),
                "population": f.properties.get("population"),
                "area_m2": _area_m2(f.geometry),
                "center_lon": c.x,
                "center_lat": c.y,
                "geom": f.geometry,
            }
        )
    with store.transaction() as s:
        s.execute(insert(Grid), rows)
        record_event(s, "grids.imported", "grid", None, actor, {"count": len(rows)})
    return len(rows)


def seed_demo(store: Store, config: Config, districts_file: Path = DISTRICTS_FILE) -> dict[str, int]:
    """Build the demo city into an empty store; return what was created."""
    if grid_count(store):
        raise GridImportError("the store already holds grids; the demo city seeds an empty store only")
    report = read_grid_file(districts_file, crs="gcj02")
    if not report.ok:
        raise GridImportError(report.summary(), report)
    rng = np.random.default_rng(config.seed)
    grids = make_grids(report.features, config.grid_count, config.seed)
    roads = make_roads(report.features, config.seed)
    segments = make_parking(roads, config.parking_spaces, config.seed)

    grid_rows = []
    for i, g in enumerate(grids, start=1):
        c = g.geometry.representative_point()
        area = _area_m2(g.geometry)
        # Urban grids hold a few thousand residents; the density follows the grid size.
        population = int(min(6000, max(300, 2.5e9 / max(area, 1.0) ** 0.9 * rng.uniform(0.6, 1.4))))
        grid_rows.append(
            {
                "id": i,
                "code": f"G{i:05d}",
                "name": g.name,
                "district": g.district,
                "community": g.community,
                "population": population,
                "area_m2": area,
                "center_lon": c.x,
                "center_lat": c.y,
                "geom": g.geometry,
            }
        )
    worker_rows = []
    user_rows = []
    for row in grid_rows:
        geom = grids[row["id"] - 1].geometry
        for k in range(config.workers_per_grid):
            lon, lat = _random_point_in(geom, rng)
            name = _SURNAMES[rng.integers(len(_SURNAMES))] + _GIVEN[rng.integers(len(_GIVEN))]
            n = len(worker_rows) + 1
            user_rows.append(
                {
                    "id": n,
                    "username": f"w{n:05d}",
                    "display_name": name,
                    "role": "worker",
                    "password_hash": generate_password_hash(DEMO_PASSWORD) if n <= DEMO_WORKER_LOGINS else None,
                }
            )
            worker_rows.append(
                {
                    "id": n,
                    "user_id": n,
                    "name": name,
                    "phone": f"1{rng.choice([3, 5, 7, 8, 9])}{rng.integers(0, 10**9):09d}",
                    "role": WORKER_ROLES[k % len(WORKER_ROLES)],
                    "grid_id": row["id"],
                    "on_duty": n <= DEMO_WORKER_LOGINS or bool(rng.uniform() < 0.85),
                    "lon": lon,
                    "lat": lat,
                }
            )
    staff = [
        {
            "id": len(user_rows) + i,
            "username": u,
            "role": r,
            "display_name": d,
            "password_hash": generate_password_hash(DEMO_PASSWORD),
        }
        for i, (u, r, d) in enumerate(DEMO_STAFF, start=1)
    ]
    bodies = department_rows([GridCell(g["district"], g["community"], g["geom"]) for g in grid_rows])
    # One hash for every department's demo account: the demo password is public anyway, and each
    # hash costs a quarter of a second.
    department_staff = staff_rows(bodies, len(user_rows) + len(staff) + 1, generate_password_hash(DEMO_PASSWORD))
    with store.transaction() as s:
        s.execute(insert(Grid), grid_rows)
        s.execute(insert(Department), bodies)
        s.execute(insert(User), user_rows + staff)
        if department_staff:
            s.execute(insert(User), department_staff)
        s.execute(insert(Worker), worker_rows)
        s.execute(insert(Road), [{"name": r.name, "kind": r.kind, "geom": r.geometry} for r in roads])
        space_rows = []
        for n, seg in enumerate(segments, start=1):
            s.execute(insert(ParkingSegment), [{"id": n, "name": seg.name, "geom": seg.geometry}])
            for j, (lon, lat) in enumerate(seg.spaces, start=1):
                space_rows.append(
                    {
                        "segment_id": n,
                        "code": f"P{n:02d}-{j:03d}",
                        "lon": lon,
                        "lat": lat,
                        "occupied": bool(rng.uniform() < 0.6),
                        "seq": 0,
                    }
                )
        if space_rows:
            s.execute(insert(ParkingSpace), space_rows)
        summary = {
            "grids": len(grid_rows),
            "departments": len(bodies),
            "workers": len(worker_rows),
            "roads": len(roads),
            "parking_segments": len(segments),
            "parking_spaces": len(space_rows),
        }
        record_event(s, "demo.seeded", "city", None, "demo", summary)
        if store.kind == "postgresql":
            # Rows above carry explicit ids; move each id sequence past them for later inserts.
            for table in ("grids", "departments", "users", "workers", "parking_segments"):
                s.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
                )
    return summary


def _random_point_in(geom: shapely.Geometry, rng: np.random.Generator) -> tuple[float, float]:
    xmin, ymin, xmax, ymax = geom.bounds
    for _ in range(100):
        x, y = rng.uniform(xmin, xmax), rng.uniform(ymin, ymax)
        if shapely.contains_xy(geom, x, y):
            return float(x), float(y)
    p = geom.representative_point()
    return p.x, p.y
