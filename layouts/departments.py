"""The departments page `/departments` (admins): the routing rule table, one editable row per department."""

from __future__ import annotations

from typing import Any

import dash_ag_grid as dag
import dash_mantine_components as dmc
import numpy as np
import shapely
from dash import dcc, html
from shapely.geometry import shape

from layouts.command import GRID_THEME
from layouts.i18n import Text
from layouts.ids import DepartmentsIds

COVERED = 0.99  # a district counts as inside a jurisdiction when this share of it is


def area_label(t: Text, jurisdiction: dict[str, Any] | None, districts: dict[str, shapely.Geometry]) -> str:
    """全市 for none, N 个区县 when the area is whole districts, 自定义辖区 otherwise."""
    if jurisdiction is None:
        return t("departments.area.city")
    area = shape(jurisdiction)
    outlines = np.array(list(districts.values()), dtype=object)
    if len(outlines):
        whole = shapely.area(shapely.intersection(area, outlines)) >= COVERED * shapely.area(outlines)
        if whole.any() and shapely.area(outlines[whole]).sum() >= COVERED * area.area:
            return t("departments.area.districts").format(n=int(whole.sum()))
    return t("departments.area.custom")


def department_rows(
    t: Text, departments: list[dict[str, Any]], districts: dict[str, shapely.Geometry]
) -> list[dict[str, Any]]:
    """One grid row per department: the parent by name, the categories as one comma-separated text."""
    name_of = {d["id"]: d["name"] for d in departments}
    return [
        {
            "id": d["id"],
            "code": d["code"],
            "name": d["name"],
            "parent": name_of.get(d["parent_id"], ""),
            "level": d["level"],
            "kind": d["kind"],
            "categories": ", ".join(d["categories"]),
            "area": area_label(t, d["jurisdiction"], districts),
            "districts": "",
            "staff": d["staff"],
        }
        for d in departments
    ]


def new_row(districts: list[str] | None = None) -> dict[str, Any]:
    """An empty department; its area the districts picked for it, if any (the whole city otherwise)."""
    return {
        "id": None,
        "code": "",
        "name": "",
        "parent": "",
        "level": None,
        "kind": "",
        "categories": "",
        "area": "",
        "districts": ", ".join(districts or []),
        "staff": 0,
    }


def layout(t: Text, rows: list[dict[str, Any]], districts: list[str], user: str) -> Any:
    header = dmc.Group(
        [
            dmc.Group([dmc.Title(t("departments.title"), order=2), dmc.Text(t("app.title"), c="dimmed")], gap="md"),
            dmc.Group(
                [
                    html.A(t("nav.command"), href="/", className="nav-link"),
                    html.A(t("nav.rules"), href="/rules", className="nav-link"),
                    html.Span(user, className="user"),
                    html.A(t("nav.logout"), href="/logout", className="logout"),
                ]
            ),
        ],
        justify="space-between",
        className="header",
    )
    fixed = {"editable": False, "cellClass": "read-only"}
    column_defs = [
        {"field": "id", "headerName": t("departments.col.id"), "width": 80, **fixed},
        {"field": "code", "headerName": t("departments.col.code"), "width": 150},
        {"field": "name", "headerName": t("departments.col.name"), "width": 200},
        {
            "field": "parent",
            "headerName": t("departments.col.parent"),
            "width": 200,
            "cellEditor": "agSelectCellEditor",
            "cellEditorParams": {"values": ["", *sorted({r["name"] for r in rows})]},
        },
        {"field": "level", "headerName": t("departments.col.level"), "width": 80, **fixed},
        {"field": "kind", "headerName": t("departments.col.kind"), "width": 110},
        {"field": "categories", "headerName": t("departments.col.categories"), "flex": 1, "minWidth": 240},
        {"field": "area", "headerName": t("departments.col.area"), "width": 120, **fixed},
        {"field": "districts", "headerName": t("departments.col.districts"), "width": 180},
        {"field": "staff", "headerName": t("departments.col.staff"), "width": 90, **fixed},
    ]
    grid = dag.AgGrid(
        id=DepartmentsIds.GRID,
        rowData=rows,
        columnDefs=column_defs,
        defaultColDef={"editable": True, "resizable": True},
        dashGridOptions={"theme": GRID_THEME, "singleClickEdit": True, "stopEditingWhenCellsLoseFocus": True},
        style={"height": "480px"},
    )
    buttons = dmc.Group(
        [
            dmc.MultiSelect(
                id=DepartmentsIds.DISTRICTS,
                data=districts,
                placeholder=t("departments.pick_districts"),
                searchable=True,
                clearable=True,
                w=360,
            ),
            dmc.Button(t("departments.add"), id=DepartmentsIds.ADD, variant="light"),
            dmc.Button(t("departments.reload"), id=DepartmentsIds.RELOAD, variant="subtle"),
            dmc.Button(t("departments.save"), id=DepartmentsIds.SAVE),
        ]
    )
    uploads = dmc.Group(
        [
            dcc.Upload(
                html.Div(t("departments.import.geojson"), className="upload-zone"),
                id=DepartmentsIds.GEOJSON,
                accept=".geojson,.json,application/geo+json,application/json",
            ),
            dcc.Upload(
                html.Div(t("departments.import.csv"), className="upload-zone"),
                id=DepartmentsIds.CSV,
                accept=".csv,text/csv",
            ),
            dmc.Button(t("departments.import.run"), id=DepartmentsIds.IMPORT, variant="light"),
        ]
    )
    return html.Div(
        [
            header,
            dmc.Stack(
                [
                    dmc.Text(t("departments.intro"), c="dimmed"),
                    grid,
                    buttons,
                    html.Div(id=DepartmentsIds.STATUS),
                    dmc.Title(t("departments.import.title"), order=4),
                    dmc.Text(t("departments.import.intro"), c="dimmed", size="sm"),
                    uploads,
                    html.Div(id=DepartmentsIds.IMPORT_STATUS),
                ],
                gap="md",
                p="md",
            ),
        ],
        className="departments-page",
    )


def status(t: Text, ok: bool, lines: list[str], what: str = "departments") -> Any:
    """The outcome of a save or an import: what was written, or every problem found, one per line."""
    return dmc.Alert(
        html.Ul([html.Li(line) for line in lines]) if len(lines) > 1 else lines[0],
        title=t("departments.saved") if ok else t("departments.rejected"),
        color="green" if ok else "red",
        className=f"{what}-status-ok" if ok else f"{what}-status-error",
    )
