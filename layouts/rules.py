"""The rules page `/rules` (admins): the early-warning rules as an editable table, saved for every process."""

from __future__ import annotations

import json
from typing import Any

import dash_ag_grid as dag
import dash_mantine_components as dmc
from dash import html

from layouts.command import GRID_THEME
from layouts.i18n import Text
from layouts.ids import RulesIds
from ops.early_warning import HIGHEST, LEVELS, PARAMS, REQUIRED, Rule

WRAP = {"wrapText": True, "autoHeight": True}


def rule_rows(rules: list[Rule]) -> list[dict[str, Any]]:
    """One grid row per rule; the type's parameters as a JSON object in one cell."""
    return [
        {
            "enabled": r.enabled,
            "id": r.id,
            "name": r.name,
            "type": r.type,
            "level": r.level,
            "create_task": r.create_task,
            "params": json.dumps(r.params, ensure_ascii=False),
        }
        for r in rules
    ]


def new_row(n: int) -> dict[str, Any]:
    return {
        "enabled": True,
        "id": f"rule-{n}",
        "name": "",
        "type": "ticket_cluster",
        "level": "medium",
        "create_task": False,
        "params": '{"count": 5, "hours": 24}',
    }


def param_help(t: Text) -> list[dict[str, Any]]:
    """Each rule type with its parameters: required ones, and the others with their defaults."""
    rows = []
    for rtype, spec in PARAMS.items():
        parts = []
        for key, (kind, lowest, default) in spec.items():
            what = t("rules.required") if default is REQUIRED else f"{t('rules.default')} {json.dumps(default)}"
            floor = f", ≥ {lowest:g}" if lowest is not None else ""
            floor += f", ≤ {HIGHEST[key]:g}" if key in HIGHEST else ""
            parts.append(f"{key} ({kind.__name__}{floor}; {what})")
        name = f"{t(f'rules.typename.{rtype}')} ({rtype})"  # the code too: the API and the JSON speak it
        rows.append({"type": name, "meaning": t(f"rules.type.{rtype}"), "params": "; ".join(parts)})
    return rows


def layout(t: Text, rules: list[Rule], user: str) -> Any:
    header = dmc.Group(
        [
            dmc.Group([dmc.Title(t("rules.title"), order=2), dmc.Text(t("app.title"), c="dimmed")], gap="md"),
            dmc.Group(
                [
                    html.A(t("nav.command"), href="/", className="nav-link"),
                    html.A(t("nav.review"), href="/review", className="nav-link"),
                    html.Span(user, className="user"),
                    html.A(t("nav.logout"), href="/logout", className="logout"),
                ]
            ),
        ],
        justify="space-between",
        className="header",
    )
    column_defs = [
        {"field": "enabled", "headerName": t("rules.col.enabled"), "cellDataType": "boolean", "width": 90},
        {"field": "id", "headerName": t("rules.col.id"), "width": 170},
        {"field": "name", "headerName": t("rules.col.name"), "width": 180},
        {
            "field": "type",
            "headerName": t("rules.col.type"),
            "width": 170,
            "cellEditor": "agSelectCellEditor",
            "cellEditorParams": {"values": list(PARAMS)},
            "refData": {code: t(f"rules.typename.{code}") for code in PARAMS},  # shown by name, kept as code
        },
        {
            "field": "level",
            "headerName": t("rules.col.level"),
            "width": 100,
            "cellEditor": "agSelectCellEditor",
            "cellEditorParams": {"values": list(LEVELS)},
            "refData": {code: t(f"warning.level.{code}") for code in LEVELS},
        },
        {"field": "create_task", "headerName": t("rules.col.create_task"), "cellDataType": "boolean", "width": 120},
        {"field": "params", "headerName": t("rules.col.params"), "flex": 1, "minWidth": 260},
    ]
    grid = dag.AgGrid(
        id=RulesIds.GRID,
        rowData=rule_rows(rules),
        columnDefs=column_defs,
        defaultColDef={"editable": True, "resizable": True},
        dashGridOptions={
            "theme": GRID_THEME,
            "rowSelection": {"mode": "multiRow"},
            "singleClickEdit": True,
            "stopEditingWhenCellsLoseFocus": True,
        },
        style={"height": "360px"},
    )
    help_grid = dag.AgGrid(
        rowData=param_help(t),
        columnDefs=[
            {"field": "type", "headerName": t("rules.col.type"), "width": 230},
            {"field": "meaning", "headerName": t("rules.col.meaning"), "width": 260, **WRAP},
            {"field": "params", "headerName": t("rules.col.params"), "flex": 1, **WRAP},
        ],
        dashGridOptions={"theme": GRID_THEME, "domLayout": "autoHeight"},
        style={"height": None},
    )
    buttons = dmc.Group(
        [
            dmc.Button(t("rules.add"), id=RulesIds.ADD, variant="light"),
            dmc.Button(t("rules.delete"), id=RulesIds.DELETE, variant="light", color="red"),
            dmc.Button(t("rules.reload"), id=RulesIds.RELOAD, variant="subtle"),
            dmc.Button(t("rules.save"), id=RulesIds.SAVE),
        ]
    )
    return html.Div(
        [
            header,
            dmc.Stack(
                [
                    dmc.Text(t("rules.intro"), c="dimmed"),
                    grid,
                    buttons,
                    html.Div(id=RulesIds.STATUS),
                    dmc.Title(t("rules.help"), order=4),
                    help_grid,
                ],
                gap="md",
                p="md",
            ),
        ],
        className="rules-page",
    )


def status(t: Text, ok: bool, lines: list[str]) -> Any:
    """The outcome of a save: how many rules now apply, or every problem found, one per line."""
    return dmc.Alert(
        html.Ul([html.Li(line) for line in lines]) if len(lines) > 1 else lines[0],
        title=t("rules.saved") if ok else t("rules.rejected"),
        color="green" if ok else "red",
        className="rules-status-ok" if ok else "rules-status-error",
    )
