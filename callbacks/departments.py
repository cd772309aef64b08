"""The departments page: add, discard, save and import departments (admins only)."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from dash import Dash, Input, Output, State, ctx, no_update

from api.request_body import data_url_text
from api.session import require_actor
from data.runtime import Runtime
from data.store import Store
from layouts import departments as view
from layouts.i18n import Text
from layouts.ids import DepartmentsIds
from locales import Message, msg
from ops import departments
from ops.accounts import Actor
from ops.departments import MAX_LEVEL, DepartmentIn
from ops.errors import Invalid, OneMapError

SEPARATORS = re.compile(r"[,，、]")
FIELDS = ("code", "name", "parent_id", "kind", "categories")


def split(text: Any) -> list[str]:
    return [part.strip() for part in SEPARATORS.split(str(text or "")) if part.strip()]


def _problem(where: Message, exc: Invalid) -> Message:
    params = dict(exc.params)
    if "name" in params and exc.field in ("code", "name", "kind"):
        params["name"] = msg(f"departments.col.{exc.field}")  # the column as the page names it
    return msg("departments.problem", where=where, problem=msg(exc.key, **params))


def _tree_problems(parents: dict[int, int | None], wheres: dict[int, Message]) -> list[Message]:
    """A cycle or a fourth level anywhere in the tree as it would be after the save."""
    problems = []
    for did in parents:
        seen, at, level = {did}, parents[did], 1
        while at is not None and at in parents:
            if at in seen:
                problems.append(msg("departments.problem", where=wheres[did], problem=msg("error.department_cycle")))
                break
            seen.add(at)
            at, level = parents[at], level + 1
        else:
            if level > MAX_LEVEL:
                problem = msg("error.department_levels", limit=MAX_LEVEL)
                problems.append(msg("departments.problem", where=wheres[did], problem=problem))
    return problems


def save_rows(store: Store, actor: Actor, rows: list[dict[str, Any]]) -> int:
    """Create the new rows and update the changed ones; every problem is named before anything is
    written. Returns how many departments were written."""
    departments.require_admin(actor, "manage_departments")
    current = {d["id"]: d for d in departments.list_all(store)}
    shapes = departments.district_shapes(store)
    by_name = Counter(d["name"] for d in current.values())
    id_of = {d["name"]: d["id"] for d in current.values()}
    problems: list[Message] = []
    writes: list[tuple[int | None, DepartmentIn]] = []
    parents = {did: d["parent_id"] for did, d in current.items()}
    wheres: dict[int, Message] = {}
    codes: Counter[str] = Counter()
    for n, row in enumerate(rows, start=1):
        did = row.get("id")
        old = current.get(did) if did is not None else None
        named = old["name"] if old else row.get("name")
        where = msg("departments.where.name", name=named) if named else msg("departments.where.n", n=n)
        parent = str(row.get("parent") or "").strip()
        if parent and by_name[parent] != 1:
            key = "departments.problem.parent_twice" if by_name[parent] else "departments.problem.parent"
            problems.append(msg(key, where=where, parent=parent))
            continue
        districts = split(row.get("districts"))
        data = {
            "code": row.get("code") or "",
            "name": row.get("name") or "",
            "parent_id": id_of[parent] if parent else None,
            "kind": row.get("kind") or "",
            "categories": split(row.get("categories")),
            "districts": districts or None,
            "jurisdiction": old["jurisdiction"] if old and not districts else None,  # unchanged unless named
        }
        try:
            spec = DepartmentIn.parse(data, shapes)
        except Invalid as exc:
            problems.append(_problem(where, exc))
            continue
        codes[spec.code] += 1
        if old is None:
            writes.append((None, spec))
            continue
        wheres[did] = where
        parents[did] = spec.parent_id
        now = {"code": spec.code, "name": spec.name, "parent_id": spec.parent_id, "kind": spec.kind}
        now["categories"] = list(spec.categories)
        if districts or any(now[k] != old[k] for k in FIELDS):
            writes.append((did, spec))
    for code, count in codes.items():
        if count > 1:
            problems.append(msg("departments.problem.code_twice", code=code))
    problems += _tree_problems(parents, wheres)
    if problems:
        raise Invalid("error.departments_invalid", field="departments", problems=problems)
    for did, spec in writes:
        if did is None:
            departments.create(store, actor, spec)
        else:
            departments.update_department(store, actor, did, spec)
    return len(writes)


def _decoded(contents: str) -> str:
    """The text of a dcc.Upload's data URL."""
    text = data_url_text(contents)
    if text is None:
        raise Invalid("error.department_upload", {}, field="file")
    return text


def import_upload(store: Store, actor: Actor, geojson: str | None, categories: str | None) -> list[int]:
    """The uploaded GeoJSON FeatureCollection (and CSV of code,category) through ``import_file``."""
    departments.require_admin(actor, "import_departments")
    if not geojson:
        raise Invalid("error.department_file_type", {}, field="file")
    try:
        doc = json.loads(_decoded(geojson))
    except json.JSONDecodeError:
        raise Invalid("error.department_file_type", {}, field="file") from None
    return departments.import_file(store, actor, doc, _decoded(categories) if categories else None)


def register(app: Dash, rt: Runtime, t: Text) -> None:
    def fresh() -> list[dict[str, Any]]:
        return view.department_rows(t, departments.list_all(rt.store), departments.district_shapes(rt.store))

    @app.callback(
        Output(DepartmentsIds.GRID, "rowData"),
        Output(DepartmentsIds.STATUS, "children"),
        Output(DepartmentsIds.IMPORT_STATUS, "children"),
        Input(DepartmentsIds.ADD, "n_clicks"),
        Input(DepartmentsIds.RELOAD, "n_clicks"),
        Input(DepartmentsIds.SAVE, "n_clicks"),
        Input(DepartmentsIds.IMPORT, "n_clicks"),
        State(DepartmentsIds.GRID, "rowData"),
        State(DepartmentsIds.DISTRICTS, "value"),
        State(DepartmentsIds.GEOJSON, "contents"),
        State(DepartmentsIds.CSV, "contents"),
        prevent_initial_call=True,
    )
    def edit(
        _add: Any,
        _reload: Any,
        _save: Any,
        _import: Any,
        rows: list[dict[str, Any]] | None,
        districts: list[str] | None,
        geo: Any,
        cats: Any,
    ) -> tuple[Any, Any, Any]:
        which = ctx.triggered_id
        try:
            actor = require_actor(rt)
            departments.require_admin(actor, "manage_departments")
            if which == DepartmentsIds.ADD:
                return [view.new_row(districts), *(rows or [])], no_update, no_update  # on top: the list is long
            if which == DepartmentsIds.RELOAD:
                return fresh(), None, None
            if which == DepartmentsIds.IMPORT:
                ids = import_upload(rt.store, actor, geo, cats)
                done = view.status(t, True, [t("departments.imported_n").format(n=len(ids))], "departments-import")
                return fresh(), no_update, done
            n = save_rows(rt.store, actor, rows or [])
        except OneMapError as exc:
            if which == DepartmentsIds.IMPORT:
                return no_update, no_update, view.status(t, False, t.problems(exc), "departments-import")
            return no_update, view.status(t, False, t.problems(exc)), no_update
        return fresh(), view.status(t, True, [t("departments.saved_n").format(n=n)]), no_update
