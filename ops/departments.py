"""Departments (部门): a tree of up to three levels (city bureau → district branch → station or
street office), each with a jurisdiction, the categories it handles, and its staff.

The categories and jurisdictions are the routing rule table: an admin edits them here (page, API or
an imported file) and ``ops/routing.py`` answers "who owns this case" from them. Every change is one
transaction with its event row; the tree can never get a cycle or a fourth level.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from typing import Any

import shapely
from shapely.geometry import mapping, shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from data.models import Department, Grid, User
from data.store import Store, record_event
from geo.jurisdictions import area_m2
from ops.accounts import Actor
from ops.errors import Forbidden, Invalid, NotFound

MAX_LEVEL = 3
NAME_LIMIT = 128
MAX_CATEGORIES = 200


def require_admin(actor: Actor, what: str) -> None:
    if actor.role != "admin":
        raise Forbidden("error.role_may_not", {"role": actor.role, "what": what})


@dataclass(frozen=True)
class DepartmentIn:
    """A department as an admin describes it; ``parse`` names the first bad field."""

    code: str
    name: str
    parent_id: int | None
    kind: str
    categories: tuple[str, ...]
    jurisdiction: shapely.MultiPolygon | None

    @classmethod
    def parse(cls, data: dict[str, Any], grids: dict[str, shapely.Geometry] | None = None) -> DepartmentIn:
        name = _text(data, "name", required=True)
        code = _text(data, "code") or name
        parent = data.get("parent_id")
        if parent is not None and (isinstance(parent, bool) or not isinstance(parent, int) or not 1 <= parent < 2**63):
            raise Invalid("error.department_parent_id", {}, field="parent_id")
        cats = data.get("categories", [])
        if not isinstance(cats, list) or not all(isinstance(c, str) and 0 < len(c.strip()) <= 64 for c in cats):
            raise Invalid("error.department_categories", {}, field="categories")
        if len(cats) > MAX_CATEGORIES:
            raise Invalid("error.department_categories_many", {"limit": MAX_CATEGORIES}, field="categories")
        return cls(
            code=code,
            name=name,
            parent_id=parent,
            kind=_text(data, "kind"),
            categories=tuple(dict.fromkeys(c.strip() for c in cats)),
            jurisdiction=_jurisdiction(data.get("jurisdiction"), data.get("districts"), grids),
        )


def _text(data: dict[str, Any], name: str, required: bool = False) -> str:
    value = data.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise Invalid("error.department_text", {"name": name}, field=name)
    value = value.strip()
    if required and not value:
        raise Invalid("error.department_required", {"name": name}, field=name)
    if len(value) > NAME_LIMIT:
        raise Invalid("error.department_too_long", {"name": name, "limit": NAME_LIMIT}, field=name)
    return value


def _jurisdiction(
    geometry: Any, districts: Any, grids: dict[str, shapely.Geometry] | None
) -> shapely.MultiPolygon | None:
    """A GeoJSON (multi)polygon, or the union of named districts' grids; None: the whole city."""
    if geometry is not None and districts:
        raise Invalid("error.department_area_twice", {}, field="jurisdiction")
    if districts:
        if not isinstance(districts, list) or not all(isinstance(d, str) for d in districts):
            raise Invalid("error.department_districts", {}, field="districts")
        unknown = [d for d in districts if d not in (grids or {})]
        if unknown:
            raise Invalid("error.department_district_unknown", {"district": unknown[0]}, field="districts")
        return _multi(shapely.union_all([grids[d] for d in districts]))  # type: ignore[index]
    if geometry is None:
        return None
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        raise Invalid("error.department_area_type", {}, field="jurisdiction")
    try:
        geom = shape(geometry)
    except (KeyError, TypeError, ValueError, IndexError, shapely.errors.GEOSException) as exc:
        raise Invalid("error.department_area_geojson", {"detail": str(exc)}, field="jurisdiction") from None
    if geom.is_empty or not geom.is_valid:
        raise Invalid("error.department_area_invalid", {}, field="jurisdiction")
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise Invalid("error.department_area_wgs84", {}, field="jurisdiction")
    return _multi(geom)


def _multi(geom: shapely.Geometry) -> shapely.MultiPolygon:
    polys = [p for p in shapely.get_parts(geom) if isinstance(p, shapely.Polygon)]
    return shapely.MultiPolygon(polys)


def district_shapes(store: Store) -> dict[str, shapely.Geometry]:
    """Each district's outline, as the union of its grids (what ``districts`` in a department names)."""
    with store.read() as s:
        rows = s.execute(select(Grid.district, Grid.geom)).all()
    by: dict[str, list[shapely.Geometry]] = {}
    for district, geom in rows:
        by.setdefault(district, []).append(geom)
    return {d: shapely.union_all(g) for d, g in by.items()}


def _level_of(s: Session, parent_id: int | None, own_id: int | None = None) -> int:
    if parent_id is None:
        return 1
    seen = {own_id} if own_id else set()
    level, at = 1, parent_id
    while at is not None:
        if at in seen:
            raise Invalid("error.department_cycle", {}, field="parent_id")
        seen.add(at)
        row = s.get(Department, at)
        if row is None:
            raise NotFound("error.department_missing", {"id": at}, field="parent_id")
        level, at = level + 1, row.parent_id
    if level > MAX_LEVEL:
        raise Invalid("error.department_levels", {"limit": MAX_LEVEL}, field="parent_id")
    return level


def _apply(row: Department, spec: DepartmentIn, level: int) -> None:
    row.code, row.name, row.parent_id, row.kind, row.level = spec.code, spec.name, spec.parent_id, spec.kind, level
    row.categories = list(spec.categories)
    row.jurisdiction = spec.jurisdiction
    row.jurisdiction_m2 = area_m2(spec.jurisdiction) if spec.jurisdiction is not None else None


def create(store: Store, actor: Actor, spec: DepartmentIn) -> int:
    """A new department; its code must be new."""
    require_admin(actor, "manage_departments")
    with store.transaction() as s:
        if s.scalar(select(Department.id).where(Department.code == spec.code)) is not None:
            raise Invalid("error.department_code_taken", {"code": spec.code}, field="code")
        row = Department()
        _apply(row, spec, _level_of(s, spec.parent_id))
        s.add(row)
        s.flush()
        record_event(s, "department.created", "department", row.id, actor.name, {"name": spec.name})
        return row.id


def update_department(store: Store, actor: Actor, department_id: int, spec: DepartmentIn) -> None:
    """Change a department's name, parent, categories or jurisdiction (the routing rules)."""
    require_admin(actor, "manage_departments")
    with store.transaction() as s:
        row = s.get(Department, department_id)
        if row is None:
            raise NotFound("error.department_missing", {"id": department_id})
        clash = s.scalar(select(Department.id).where(Department.code == spec.code, Department.id != department_id))
        if clash is not None:
            raise Invalid("error.department_code_taken", {"code": spec.code}, field="code")
        level = _level_of(s, spec.parent_id, own_id=department_id)
        depth = _depth_below(s, department_id)
        if level + depth > MAX_LEVEL:
            raise Invalid("error.department_levels", {"limit": MAX_LEVEL}, field="parent_id")
        _apply(row, spec, level)
        _relevel_children(s, department_id, level)
        record_event(s, "department.updated", "department", department_id, actor.name, {"name": spec.name})


def _depth_below(s: Session, department_id: int) -> int:
    children = s.scalars(select(Department.id).where(Department.parent_id == department_id)).all()
    return 1 + max(_depth_below(s, c) for c in children) if children else 0


def _relevel_children(s: Session, department_id: int, level: int) -> None:
    for child in s.scalars(select(Department).where(Department.parent_id == department_id)).all():
        child.level = level + 1
        _relevel_children(s, child.id, level + 1)


def list_all(store: Store) -> list[dict[str, Any]]:
    """Every department, as the API shows it (jurisdiction as GeoJSON or null), by id."""
    with store.read() as s:
        rows = s.scalars(select(Department).order_by(Department.id)).all()
        staff = dict(
            s.execute(
                select(User.department_id, func.count())
                .where(User.department_id.is_not(None))
                .group_by(User.department_id)
            ).all()
        )
        return [
            {
                "id": r.id,
                "code": r.code,
                "name": r.name,
                "parent_id": r.parent_id,
                "level": r.level,
                "kind": r.kind,
                "categories": list(r.categories or []),
                "jurisdiction": mapping(r.jurisdiction) if r.jurisdiction is not None else None,
                "staff": int(staff.get(r.id, 0)),
            }
            for r in rows
        ]


def names(store: Store) -> list[dict[str, Any]]:
    """Every active department's id, name and level, by tree order of ids (what a picker lists)."""
    with store.read() as s:
        rows = s.execute(
            select(Department.id, Department.name, Department.level)
            .where(Department.active.is_(True))
            .order_by(Department.id)
        ).all()
    return [r._asdict() for r in rows]


def subtree(store: Store, department_id: int) -> set[int]:
    """A department and every department below it."""
    with store.read() as s:
        pairs = s.execute(select(Department.id, Department.parent_id)).all()
    children: dict[int | None, list[int]] = {}
    for did, parent in pairs:
        children.setdefault(parent, []).append(did)
    out, todo = set(), [department_id]
    while todo:
        at = todo.pop()
        if at not in out:
            out.add(at)
            todo += children.get(at, [])
    return out


def import_file(store: Store, actor: Actor, geojson: dict[str, Any], categories_csv: str | None = None) -> list[int]:
    """Departments from a GeoJSON FeatureCollection (properties: code, name, parent_code, kind) and an
    optional CSV of ``code,category`` rows; every feature is checked before any is written, and a bad
    one is named by its number."""
    require_admin(actor, "import_departments")
    if not isinstance(geojson, dict) or geojson.get("type") != "FeatureCollection":
        raise Invalid("error.department_file_type", {}, field="file")
    cats: dict[str, list[str]] = {}
    if categories_csv:
        for n, row in enumerate(csv.reader(io.StringIO(categories_csv)), 1):
            if n == 1 and [c.strip().lower() for c in row[:2]] == ["code", "category"]:
                continue
            if len(row) < 2 or not row[0].strip() or not row[1].strip():
                raise Invalid("error.department_csv_line", {"n": n}, field="categories")
            cats.setdefault(row[0].strip(), []).append(row[1].strip())
    features = geojson.get("features") or []
    if not isinstance(features, list) or not features:
        raise Invalid("error.department_file_empty", {}, field="file")
    with store.read() as s:
        codes: dict[str, int] = dict(s.execute(select(Department.code, Department.id)).all())
    # Every feature is checked before any is written.
    parsed: list[tuple[DepartmentIn, str | None]] = []
    known = set(codes)
    for n, feature in enumerate(features, 1):
        feature = feature if isinstance(feature, dict) else {}
        props = feature.get("properties") or {}
        parent_code = props.get("parent_code") or None
        if parent_code is not None and parent_code not in known:
            raise Invalid("error.department_parent_code", {"n": n, "parent_code": parent_code}, field="file")
        data = {
            "code": props.get("code"),
            "name": props.get("name"),
            "kind": props.get("kind") or "",
            "categories": cats.get(str(props.get("code") or props.get("name")), props.get("categories") or []),
            "jurisdiction": feature.get("geometry"),
        }
        try:
            spec = DepartmentIn.parse(data)
        except Invalid as exc:
            raise Invalid(
                "error.department_feature",
                {"n": n},
                field=exc.field,
                problems=[
                    {"key": "error.department_feature", "params": {"n": n}},
                    {"key": exc.key, "params": exc.params},
                ],
            ) from None
        known.add(spec.code)
        parsed.append((spec, parent_code))
    ids: list[int] = []
    for spec, parent_code in parsed:
        spec = replace(spec, parent_id=codes[parent_code] if parent_code else None)
        if spec.code in codes:
            update_department(store, actor, codes[spec.code], spec)
        else:
            codes[spec.code] = create(store, actor, spec)
        ids.append(codes[spec.code])
    return ids
