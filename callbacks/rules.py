"""The rules page: add, delete, reload and save the early-warning rules (admins only)."""

from __future__ import annotations

import json
from typing import Any

from dash import Dash, Input, Output, State, ctx, no_update

from api.session import current_actor, require_actor
from data.runtime import Runtime
from layouts import rules as view
from layouts.i18n import Text
from layouts.ids import RulesIds
from locales import Message, msg
from ops import early_warning, permissions
from ops.errors import Forbidden, Invalid


def rows_to_doc(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The grid's rows as a rule document for ``early_warning.parse_rules``; a parameter cell that is
    not a JSON object is named with its row."""
    rules: list[dict[str, Any]] = []
    problems: list[Message] = []
    for i, row in enumerate(rows, start=1):
        where = msg("rules.where.id", id=row["id"]) if row.get("id") else msg("rules.where.n", n=i)
        text = str(row.get("params") or "{}").strip() or "{}"
        try:
            params = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(msg("rules.problem.params_json", where=where, reason=exc.msg, pos=exc.pos + 1))
            continue
        if not isinstance(params, dict):
            problems.append(msg("rules.problem.params_object", where=where))
            continue
        clash = sorted(set(params) & early_warning.COMMON)
        if clash:
            problems.append(msg("rules.problem.params_clash", where=where, keys=", ".join(clash)))
            continue
        item = {k: row.get(k) for k in ("id", "type", "name", "level", "create_task", "enabled")}
        item["id"] = str(item["id"] or "").strip()
        rules.append({**params, **item})
    if problems:
        raise Invalid("error.rules_invalid", field="rules", problems=problems)
    return {"rules": rules}


def register(app: Dash, rt: Runtime, t: Text) -> None:
    @app.callback(
        Output(RulesIds.GRID, "rowData"),
        Output(RulesIds.STATUS, "children"),
        Input(RulesIds.ADD, "n_clicks"),
        Input(RulesIds.DELETE, "n_clicks"),
        Input(RulesIds.RELOAD, "n_clicks"),
        Input(RulesIds.SAVE, "n_clicks"),
        State(RulesIds.GRID, "rowData"),
        State(RulesIds.GRID, "selectedRows"),
        prevent_initial_call=True,
    )
    def edit(
        _add: Any, _delete: Any, _reload: Any, _save: Any, rows: list[dict[str, Any]] | None, selected: Any
    ) -> tuple[Any, Any]:
        rows = rows or []
        if ctx.triggered_id == RulesIds.ADD:
            return [*rows, view.new_row(len(rows) + 1)], no_update
        if ctx.triggered_id == RulesIds.DELETE:
            gone = selected or []
            return [r for r in rows if r not in gone], no_update
        permissions.require(require_actor(rt), "read_rules")
        current = early_warning.current_rules(rt.store, rt.config.rules_file)
        if ctx.triggered_id == RulesIds.RELOAD:
            return view.rule_rows(current), None
        actor = current_actor(rt)
        try:
            if actor is None:
                raise Forbidden("error.login_first")
            saved = early_warning.save_rules(rt.store, actor, rows_to_doc(rows))
        except (Invalid, Forbidden) as exc:
            return no_update, view.status(t, False, t.problems(exc))
        return view.rule_rows(saved), view.status(t, True, [t("rules.saved_n").format(n=len(saved))])
