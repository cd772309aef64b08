"""The command page `/`: KPI strip, the one map, the queue, layer toggles, the live feed and the
detail drawer with one-click assignment (wall-screen dark)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dash_ag_grid as dag
import dash_mantine_components as dmc
from dash import dcc, html

from data.models import MAP_KINDS, OPEN_STAGES, is_active, is_open_status
from geo.layers import LAYER_TRACES
from layouts.alerts import alert_banner
from layouts.i18n import Text, local
from layouts.ids import ASSIGN, CASE_ACTION, KPI_IDS, WARNING_ACTION, CommandIds, Ids
from layouts.liveness import watch

DEFAULT_LAYERS = [
    "grids",
    "alerts",
    "fire",
    "police",
    "ticket",
    "alarm",
    "overdue",
    "no_owner",
    "parking",
    "workers",
    "warnings",
]
KPI_COLORS = {
    "fire": "red",
    "police": "blue",
    "ticket": "yellow",
    "alarm": "grape",
    "unassigned": "orange",
    "overdue": "pink",
    "parking": "teal",
    "on_duty": "cyan",
    "visit": "lime",
}
GRID_THEME = {
    "function": "themeQuartz.withParams({backgroundColor: '#111b2e', foregroundColor: '#e6edf7',"
    " accentColor: '#3d8bfd', headerBackgroundColor: '#16223a', fontSize: 14})"
}
GRAPH_CONFIG = {"displaylogo": False, "scrollZoom": True, "displayModeBar": "hover", "responsive": True}


def kpi_values(kpis: dict[str, Any]) -> dict[str, str]:
    """KPI strip texts by KPI name, from ``queries.kpis``."""
    values = {k: f"{v:,}" for k, v in kpis["open"].items()}
    values["unassigned"] = f"{kpis['unassigned']:,}"
    values["overdue"] = f"{kpis['overdue']:,}"
    values["parking"] = f"{kpis['parking_pct']:.1f}%"
    values["on_duty"] = f"{kpis['on_duty']:,}"
    return values


def _kpi_card(name: str, t: Text, value: str) -> dmc.Paper:
    return dmc.Paper(
        [
            dmc.Text(t(f"kpi.{name}"), size="sm", c="dimmed", className="kpi-label"),
            dmc.Text(value, id=KPI_IDS[name], fw=700, c=KPI_COLORS[name], className="kpi-value"),
        ],
        p="xs",
        withBorder=True,
        className="kpi-card",
    )


LEVEL_COLORS = {"high": "red", "medium": "orange", "low": "yellow"}


def warning_badge(t: Text, rows: list[dict[str, Any]]) -> tuple[str, str]:
    """Header badge text and class: it flashes while any warning is still unacknowledged."""
    waiting = sum(1 for r in rows if r["status"] == "open")
    return t("warning.badge").format(n=len(rows)), "warning-badge flash" if waiting else "warning-badge"


def warning_items(rows: list[dict[str, Any]], t: Text) -> list[Any]:
    """Open and acknowledged warnings, newest first, each with acknowledge and resolve buttons."""
    if not rows:
        return [dmc.Text(t("warning.empty"), c="dimmed", size="sm")]
    out = []
    for r in rows:
        buttons = []
        if r["status"] == "open":
            buttons.append(
                dmc.Button(
                    t("warning.ack"),
                    id={"type": WARNING_ACTION, "warning": r["id"], "action": "acknowledge"},
                    size="compact-xs",
                    variant="outline",
                    color="yellow",
                )
            )
        buttons.append(
            dmc.Button(
                t("warning.resolve"),
                id={"type": WARNING_ACTION, "warning": r["id"], "action": "resolve"},
                size="compact-xs",
                variant="outline",
                color="green",
            )
        )
        rule = t.rule_name(r["rule_id"], r["rule_type"], (r.get("detail") or {}).get("rule_name"))
        meta = f"{rule} · {t('warning.status.' + r['status'])} · {local(r['created_at']):%m-%d %H:%M}"
        if r.get("incident_id"):
            meta += " · " + t("warning.task").format(id=r["incident_id"])
        out.append(
            html.Div(
                [
                    dmc.Group(
                        [
                            dmc.Badge(
                                t(f"warning.level.{r['level']}"),
                                color=LEVEL_COLORS.get(r["level"], "gray"),
                                variant="filled" if r["status"] == "open" else "outline",
                                size="sm",
                            ),
                            dmc.Group(buttons, gap=4),
                        ],
                        justify="space-between",
                    ),
                    html.Div(t.warning_title(r), className="warning-title"),
                    html.Div(meta, className="feed-meta"),
                ],
                className=f"warning-row warning-{r['status']}",
            )
        )
    return out


def feed_items(rows: list[dict[str, Any]], t: Text) -> list[Any]:
    """The live feed's rows: newest item first, kind, title, grid, status and time."""
    if not rows:
        return [dmc.Text(t("feed.empty"), c="dimmed")]
    out = []
    for r in rows:
        out.append(
            html.Div(
                [
                    dmc.Badge(t(f"kind.{r['kind']}"), color=KPI_COLORS[r["kind"]], variant="filled", size="sm"),
                    html.Span(f" #{r['id']} {r['title']}", className="feed-title"),
                    html.Div(
                        f"{r['grid'] or '—'} · {t('status.' + r['status'])} · {local(r['created_at']):%H:%M:%S}",
                        className="feed-meta",
                    ),
                ],
                className="feed-row",
            )
        )
    return out


def queue_rows(rows: list[dict[str, Any]], t: Text) -> list[dict[str, Any]]:
    """AG Grid rows for the queue, with translated kind, status and priority (``gone``: left the queue)."""
    return [
        {
            "id": r["id"],
            "kind": t(f"kind.{r['kind']}"),
            "title": r["title"],
            "grid": r["grid"] or "—",
            "status": t(f"status.{r['status']}") if not r.get("gone") else t("queue.gone"),
            "priority": t(f"priority.{r['priority']}"),
            "due": f"{local(r['due_at']):%H:%M}",
            "overdue": r["overdue"] and not r.get("gone"),
            "gone": bool(r.get("gone")),
            "stage": t(f"stage.{r['stage']}") if r.get("stage") else "—",
            "stage_overdue": bool(r.get("stage_overdue")) and not r.get("gone"),
        }
        for r in rows
    ]


def queue_total(t: Text, offset: int, shown: int, total: int) -> str:
    """ "1–200 / 911": which of the matching open items this page shows."""
    if not total:
        return t("queue.total_none")
    return t("queue.total").format(first=offset + 1 if shown else 0, last=offset + shown, total=f"{total:,}")


def queue_controls(t: Text) -> dmc.Group:
    """Search by id, title or grid; filter by kind, priority, overdue or waiting; page through every open item."""
    return dmc.Group(
        [
            dmc.TextInput(
                id=CommandIds.QUEUE_SEARCH,
                placeholder=t("queue.search"),
                size="xs",
                debounce=300,
                w=200,
                **{"aria-label": t("queue.search")},
            ),
            dmc.MultiSelect(
                id=CommandIds.QUEUE_KINDS,
                data=[{"value": k, "label": t(f"kind.{k}")} for k in MAP_KINDS],
                placeholder=t("queue.kinds"),
                size="xs",
                w=170,
                clearable=True,
                **{"aria-label": t("queue.kinds")},
            ),
            dmc.MultiSelect(
                id=CommandIds.QUEUE_PRIORITIES,
                data=[{"value": str(p), "label": t(f"priority.{p}")} for p in (1, 2, 3)],
                placeholder=t("queue.priorities"),
                size="xs",
                w=150,
                clearable=True,
                **{"aria-label": t("queue.priorities")},
            ),
            dmc.ChipGroup(
                [
                    dmc.Chip(t(f"queue.flag.{f}"), value=f, size="xs")
                    for f in ("waiting", "overdue", "stage_overdue", "no_owner")
                ],
                id=CommandIds.QUEUE_FLAGS,
                multiple=True,
                value=[],
            ),
            dmc.Button(
                t("queue.new").format(n=0),
                id=CommandIds.QUEUE_NEW,
                size="compact-sm",
                color="orange",
                style={"display": "none"},
            ),
            dmc.Group(
                [
                    dmc.Button(
                        "‹",
                        id=CommandIds.QUEUE_PREV,
                        size="compact-sm",
                        variant="default",
                        **{"aria-label": t("queue.prev")},
                    ),
                    dmc.Text(id=CommandIds.QUEUE_TOTAL, size="sm", className="queue-total"),
                    dmc.Button(
                        "›",
                        id=CommandIds.QUEUE_NEXT,
                        size="compact-sm",
                        variant="default",
                        **{"aria-label": t("queue.next")},
                    ),
                ],
                gap=4,
            ),
        ],
        gap="xs",
        className="queue-controls",
    )


def queue(rows: list[dict[str, Any]], t: Text) -> dag.AgGrid:
    """The operators' queue: multi-row selection for bulk assignment, overdue rows highlighted."""
    columns = [
        {"field": "id", "headerName": t("queue.id"), "width": 110},
        {"field": "kind", "headerName": t("queue.kind"), "width": 80},
        {"field": "title", "headerName": t("queue.title_col"), "flex": 1},
        {"field": "grid", "headerName": t("queue.grid"), "flex": 1},
        {"field": "status", "headerName": t("queue.status"), "width": 90},
        {"field": "stage", "headerName": t("queue.stage"), "width": 90},
        {"field": "priority", "headerName": t("queue.priority"), "width": 80},
        {"field": "due", "headerName": t("queue.due"), "width": 80},
    ]
    return dag.AgGrid(
        id=CommandIds.QUEUE,
        rowData=queue_rows(rows, t),
        columnDefs=columns,
        getRowId="params.data.id + ''",
        dashGridOptions={
            "theme": GRID_THEME,
            "rowSelection": {
                "mode": "multiRow",
                "checkboxes": True,
                "headerCheckbox": True,
                "enableClickSelection": False,
            },
            "rowClassRules": {
                "row-overdue": "params.data.overdue || params.data.stage_overdue",
                "row-gone": "params.data.gone",
            },
            "animateRows": False,
            "localeText": {"noRowsToShow": t("queue.total_none")},
        },
        className="queue-grid",
        style={"height": "100%"},
    )


def _fmt(when: datetime | None) -> str:
    return f"{local(when):%m-%d %H:%M:%S}" if when else "—"


def priority_select(t: Text, value: int) -> dmc.Select:
    return dmc.Select(
        id=CommandIds.PRIORITY,
        label=t("detail.priority"),
        value=str(value),
        data=[{"value": str(p), "label": t(f"priority.{p}")} for p in (1, 2, 3)],
        allowDeselect=False,
        w=160,
    )


def cancel_controls(t: Text) -> dmc.Group:
    return dmc.Group(
        [
            dmc.TextInput(
                id=CommandIds.CANCEL_REASON,
                placeholder=t("detail.cancel_reason"),
                label=t("detail.cancel_reason"),
                size="sm",
                className="cancel-reason",
                # The typed text stays in the field until it loses focus: a store round trip per key
                # lets a late echo overwrite newer keys under load (characters were lost).
                debounce=True,
            ),
            dmc.Button(t("detail.cancel"), id=CommandIds.CANCEL, color="red", variant="outline", size="sm"),
        ],
        mt="sm",
        align="flex-end",
    )


def is_open(detail: dict[str, Any]) -> bool:
    return is_open_status(detail["status"])


def detail_head(detail: dict[str, Any] | None, t: Text, now: datetime, routing: str | None = None) -> list[Any]:
    """What, where, when, grid, reporter (masked), photos: the part of the panel that follows the item live."""
    if detail is None:
        return [dmc.Text(t("detail.none"), c="dimmed")]
    overdue = is_open(detail) and detail["due_at"] < now
    facts = [
        (t("detail.where"), f"{detail['lon']:.5f}, {detail['lat']:.5f}"),
        (t("detail.grid"), detail["grid_name"] or "—"),
        (t("detail.when"), _fmt(detail["created_at"])),
        (t("detail.due"), _fmt(detail["due_at"])),
        (t("detail.reporter"), f"{detail['reporter']['name'] or '—'} {detail['reporter']['phone'] or ''}"),
    ]
    photos = [html.Img(src=f"/media/{name}", className="photo", alt=t("detail.photo")) for name in detail["photos"]]
    badges = [
        dmc.Badge(t(f"kind.{detail['kind']}"), color=KPI_COLORS[detail["kind"]], variant="filled"),
        dmc.Badge(t(f"status.{detail['status']}"), variant="outline", id="detail-status"),
    ]
    if overdue:
        badges.append(dmc.Badge(t("detail.overdue"), color="red"))
    return [
        dmc.Group(badges),
        dmc.Title(f"#{detail['id']} {detail['title']}", order=4, mt=6, id="detail-title"),
        dmc.Text(detail["description"], size="sm", c="dimmed"),
        html.Table([html.Tr([html.Th(k), html.Td(v)]) for k, v in facts], className="facts"),
        *case_facts(detail, t, now, routing),
        html.Div(photos or t("detail.no_photo"), className="photos"),
    ]


def detail_history(detail: dict[str, Any] | None, t: Text) -> list[Any]:
    """The item's history, oldest first, from the event log."""
    if detail is None:
        return []
    history = [
        dmc.TimelineItem(
            title=f"{t.get('event.' + h['kind'], h['kind'])} · {h['actor']}",
            children=[
                dmc.Text(_history_line(h, t), size="xs", className="history-line"),
                *_history_photos(h, t),
            ],
        )
        for h in detail["history"]
    ]
    return [dmc.Title(t("detail.history"), order=5, mt="sm"), dmc.Timeline(history, active=len(history), bulletSize=12)]


def _history_photos(h: dict[str, Any], t: Text) -> list[Any]:
    """The photos a move brought (a department's handled report), small, under its line."""
    names = (h["data"] or {}).get("photos") or []
    return [html.Img(src=f"/media/{name}", className="photo history-photo", alt=t("detail.photo")) for name in names]


def _history_line(h: dict[str, Any], t: Text) -> str:
    """When, what was said, and for a case move the stage it led to and that stage's deadline."""
    data = h["data"] or {}
    parts = [_fmt(h["at"])]
    if h["kind"].startswith("case.") and data.get("to"):
        parts.append(t(f"stage.{data['to']}"))
        if data.get("due"):
            due = datetime.fromisoformat(data["due"].rstrip("Z"))
            parts.append(t("case.history_due").format(due=_fmt(due)))
    said = data.get("note") or data.get("reason")
    if said:
        parts.append(str(said))
    return " · ".join(parts)


def case_controls(t: Text, departments: list[dict[str, Any]]) -> html.Div:
    """The case's hand-offs: a note or reason, a department to send it to, a new deadline, and the moves
    the person may make now (the buttons follow the stage; the fields are never redrawn)."""
    return html.Div(
        [
            dmc.Title(t("case.title"), order=5, mt="sm"),
            html.Div(id=CommandIds.CASE_ACTIONS, className="case-actions"),
            dmc.Textarea(
                id=CommandIds.CASE_NOTE,
                label=t("case.note"),
                placeholder=t("case.note_hint"),
                autosize=True,
                minRows=1,
                debounce=True,  # as the cancel reason: no round trip per key
            ),
            dcc.Upload(
                html.Div(t("case.photos"), className="upload-zone"),
                id=CommandIds.CASE_PHOTOS,
                accept="image/*",
                multiple=True,
            ),
            dmc.Text(id=CommandIds.CASE_PHOTOS_INFO, size="xs", c="dimmed"),
            dmc.Group(
                [
                    dmc.Select(
                        id=CommandIds.CASE_DEPARTMENT,
                        label=t("case.department"),
                        data=[{"value": str(d["id"]), "label": d["name"]} for d in departments],
                        searchable=True,
                        clearable=True,
                        w=220,
                    ),
                    dmc.TextInput(
                        id=CommandIds.CASE_UNTIL,
                        label=t("case.until"),
                        placeholder="2026-12-03 17:30",
                        w=170,
                        debounce=True,
                    ),
                ],
                gap="xs",
            ),
        ],
        className="case-controls",
    )


CHECKS = {"check_passed": ("check", {"passed": True}), "check_failed": ("check", {"passed": False})}
DECISIONS = {
    "extension_granted": ("extension", {"approve": True}),
    "extension_refused": ("extension", {"approve": False}),
}
CALLBACKS = {
    "callback_satisfied": ("callback", {"satisfied": True}),
    "callback_reopened": ("callback", {"satisfied": False}),
}
# A button's name → (the case move, what the button itself decides).
CASE_BUTTONS: dict[str, tuple[str, dict[str, Any]]] = {**CHECKS, **DECISIONS, **CALLBACKS}
BUTTON_COLORS = {"return": "orange", "void": "red", "check_failed": "red", "extension_refused": "red", "urge": "pink"}


def case_badge(t: Text, counts: dict[str, int]) -> str:
    """The header's line on the case loop: cases past their stage deadline, and cases nobody owns yet."""
    return t("case.badge").format(late=counts["stage_overdue"], none=counts["no_owner"])


def case_buttons(moves: list[str], t: Text) -> list[Any]:
    """One big button per move the person may make at this stage (``ops.cases.available``)."""
    if not moves:
        return [dmc.Text(t("case.no_moves"), size="sm", c="dimmed")]
    return [
        dmc.Group(
            [
                dmc.Button(
                    t(f"case.button.{m}"),
                    id={"type": CASE_ACTION, "action": m},
                    size="sm",
                    color=BUTTON_COLORS.get(m, "blue"),
                    variant="filled" if m in ("sign", "handled", "check_passed", "file", "dispatch") else "outline",
                )
                for m in moves
            ],
            gap=6,
        )
    ]


def case_facts(detail: dict[str, Any], t: Text, now: datetime, routing: str | None) -> list[Any]:
    """Where the case is between bodies: stage, owner, why it went there, the stage's clock and its flags."""
    stage = detail.get("stage") or "filed"
    due = detail.get("stage_due_at")
    late = bool(due and stage in OPEN_STAGES and due < now)
    badges = [dmc.Badge(t(f"stage.{stage}"), color="indigo", variant="filled", id="detail-stage")]
    if late:
        badges.append(dmc.Badge(t("case.stage_overdue"), color="red"))
    if detail.get("urged_at"):
        badges.append(dmc.Badge(t("case.urged"), color="pink", variant="filled", className="urged"))
    if detail.get("extension_until"):
        badges.append(
            dmc.Badge(t("case.extension_pending").format(until=_fmt(detail["extension_until"])), color="yellow")
        )
    facts = [
        (t("case.department"), detail.get("department_name") or t("case.no_owner")),
        (t("case.routing"), routing or "—"),
        (t("case.stage_due"), _fmt(due)),
    ]
    if detail.get("urge_note"):
        facts.append((t("case.urge_note"), detail["urge_note"]))
    if detail.get("rework_count") or detail.get("return_count"):
        facts.append(
            (t("case.counts"), t("case.counts_text").format(rework=detail["rework_count"], back=detail["return_count"]))
        )
    return [
        dmc.Group(badges, gap=4, mt=6),
        html.Table([html.Tr([html.Th(k), html.Td(v)]) for k, v in facts], className="facts case-facts"),
    ]


def detail_controls(t: Text, departments: list[dict[str, Any]] | None = None) -> html.Div:
    """The controls of the panel: always on the page, filled per item, never redrawn by a live update."""
    return html.Div(
        [
            case_controls(t, departments or []),
            priority_select(t, 3),
            html.Div(
                [
                    dmc.Group(
                        [
                            dmc.Title(t("detail.suggest"), order=5),
                            dmc.SegmentedControl(
                                id=CommandIds.RANKING,
                                value="own_grid",
                                data=[{"value": r, "label": t(f"ranking.{r}")} for r in ("own_grid", "nearest")],
                                size="xs",
                                persistence=True,
                                persistence_type="local",
                            ),
                            dmc.Button(t("detail.rerank"), id=CommandIds.RERANK, size="compact-sm", variant="subtle"),
                        ],
                        justify="space-between",
                        mt="sm",
                    ),
                    dmc.Text(id=CommandIds.RANKING_RULE, size="xs", c="dimmed"),
                    html.Div(id=CommandIds.DETAIL_SUGGEST, className="suggestions"),
                    cancel_controls(t),
                ],
                id=CommandIds.DETAIL_CANCEL_WRAP,
            ),
        ],
        id=CommandIds.DETAIL_FORM,
        hidden=True,
    )


def _age(when: datetime | None, now: datetime, t: Text) -> str:
    if when is None:
        return t("detail.position_unknown")
    seconds = max(0, int((now - when).total_seconds()))
    return t("detail.position_age").format(age=f"{seconds} s" if seconds < 120 else f"{seconds // 60} min")


def suggestion_rows(
    detail: dict[str, Any] | None, suggestions: list[Any], t: Text, now: datetime, grid_names: dict[int, str]
) -> list[Any]:
    """Ranked workers, each with grid, distance, position age and load, and a big assign button."""
    if detail is None or not is_open(detail):
        return []
    if not suggestions:
        return [dmc.Text(t("detail.no_suggestion"), c="dimmed", size="sm")]
    verb = "detail.reassign" if is_active(detail["status"]) else "detail.assign"
    rows = []
    for rank, sug in enumerate(suggestions, 1):
        grid = grid_names.get(sug.grid_id, "—")
        facts = [
            f"{sug.distance_m:,.0f} m",
            _age(sug.position_at, now, t),
            f"{sug.open_tasks} {t('detail.tasks')}",
        ]
        rows.append(
            html.Div(
                [
                    html.Div(
                        [
                            html.Span(f"{rank}. {sug.name}", className="suggestion-name"),
                            html.Span(f" · {sug.role} · {grid}", className="suggestion-grid"),
                            *([dmc.Badge(t("detail.own_grid"), size="sm", ml=6)] if sug.own_grid else []),
                            html.Div(" · ".join(facts), className="suggestion-facts"),
                        ],
                        className="suggestion",
                    ),
                    dmc.Button(
                        t(verb),
                        id={"type": ASSIGN, "worker": sug.worker_id},
                        size="md",
                        className="assign-button",
                        disabled=sug.worker_id == detail["assigned_worker_id"],
                        **{"aria-label": f"{t(verb)} {sug.name}"},
                    ),
                ],
                className="suggestion-row",
                **{"data-worker": str(sug.worker_id)},
            )
        )
    return rows


def layout(
    t: Text,
    figure: dict[str, Any],
    kpis: dict[str, Any],
    feed: list[dict[str, Any]],
    queue_data: list[dict[str, Any]],
    cursor: int,
    poll_ms: int,
    user: str,
    warnings: list[dict[str, Any]] | None = None,
    admin: bool = False,
    departments: list[dict[str, Any]] | None = None,
    case_counts: dict[str, int] | None = None,
    home: list[float] | None = None,
) -> Any:
    """The whole command page, filled with the first state so the wall shows data at once.

    ``home`` is the city's box (west, south, east, north): the map opens framed on it, and the home
    control frames it again. Wall mode (large text for a wall screen) is remembered per screen."""
    values = kpi_values(kpis)
    warnings = warnings or []
    badge_text, badge_class = warning_badge(t, warnings)
    header = dmc.Group(
        [
            dmc.Group([dmc.Title(t("app.title"), order=2), dmc.Text(t("app.subtitle"), c="dimmed")], gap="md"),
            dmc.Group(
                [
                    html.Span(badge_text, id=CommandIds.WARNING_BADGE, className=badge_class),
                    html.Span(
                        case_badge(t, case_counts) if case_counts else "",
                        id=CommandIds.CASE_BADGE,
                        className="case-badge",
                        role="status",
                    ),
                    dmc.Switch(id=CommandIds.WALL_TOGGLE, label=t("wall.toggle"), className="wall-toggle"),
                    html.A(t("nav.review"), href="/review", className="nav-link"),
                    *([html.A(t("nav.rules"), href="/rules", className="nav-link")] if admin else []),
                    *([html.A(t("nav.departments"), href="/departments", className="nav-link")] if admin else []),
                    dmc.Badge(t("live.ok"), id=Ids.LIVE_BADGE, color="green", variant="dot", size="lg"),
                    html.Span(id=Ids.CLOCK, className="clock"),
                    html.Span(user, className="user"),
                    html.A(t("nav.logout"), href="/logout", className="logout"),
                ]
            ),
        ],
        justify="space-between",
        className="header",
    )
    kpi_strip = html.Div([_kpi_card(name, t, values[name]) for name in KPI_IDS], className="kpi-strip")
    layer_toggle = dmc.CheckboxGroup(
        id=Ids.LAYERS,
        label=t("layers.title"),
        value=DEFAULT_LAYERS,
        children=dmc.Stack([dmc.Checkbox(label=t(f"layer.{name}"), value=name) for name in LAYER_TRACES], gap=6),
    )
    push = dmc.Paper(
        [
            dmc.Title(t("push.title"), order=5),
            dcc.Upload(
                html.Div(t("push.upload"), className="upload-zone"), id=CommandIds.PUSH_UPLOAD, accept=".csv,text/csv"
            ),
            dmc.Progress(
                id=CommandIds.PUSH_PROGRESS,
                value=0,
                size="lg",
                mt=6,
                attributes={"section": {"aria-label": t("push.progress")}},
            ),
            dmc.Text(id=CommandIds.PUSH_RESULT, size="sm", mt=4),
            dmc.Button(
                t("push.download"), id=CommandIds.PUSH_DOWNLOAD_BUTTON, size="xs", variant="outline", disabled=True
            ),
            dcc.Download(id=CommandIds.PUSH_DOWNLOAD),
            dcc.Store(id=CommandIds.PUSH_JOB),
            # Runs only while a push job does: an idle panel costs the server no request per poll.
            dcc.Interval(id=CommandIds.PUSH_POLL, interval=1000, disabled=True),
        ],
        p="sm",
        withBorder=True,
        className="push-panel",
    )
    side = html.Div(
        [
            dmc.Paper(
                [
                    dmc.Title(t("warning.title"), order=4),
                    html.Div(warning_items(warnings, t), id=CommandIds.WARNINGS, className="warnings"),
                ],
                p="sm",
                withBorder=True,
                className="warning-panel",
            ),
            dmc.Paper(
                [layer_toggle, dmc.Text(t("legend.parking"), size="xs", c="dimmed", mt=8)],
                p="sm",
                withBorder=True,
                className="layers-panel",
            ),
            push,
            dmc.Paper(
                [
                    dmc.Title(t("feed.title"), order=4),
                    html.Div(
                        feed_items(feed, t),
                        id=Ids.FEED,
                        className="feed",
                        role="log",
                        tabIndex="0",  # it scrolls: the keyboard must be able to reach and scroll it
                        **{"aria-label": t("feed.title")},
                    ),
                ],
                p="sm",
                withBorder=True,
                className="feed-panel",
            ),
        ],
        className="side",
    )
    queue_panel = dmc.Paper(
        [
            dmc.Group(
                [
                    dmc.Title(t("queue.title"), order=4),
                    dmc.Group(
                        [
                            dmc.Text(t("bulk.selected").format(n=0), id=CommandIds.BULK_INFO, size="sm"),
                            dmc.Button(t("bulk.assign"), id=CommandIds.BULK, size="xs", disabled=True),
                        ]
                    ),
                ],
                justify="space-between",
            ),
            queue_controls(t),
            html.Div(queue(queue_data, t), className="queue-wrap"),
        ],
        p="xs",
        withBorder=True,
        className="queue-panel",
    )
    graph = dcc.Graph(id=Ids.MAP, figure=figure, config=GRAPH_CONFIG, className="map-graph")
    home_button = html.Button(
        "⌂ " + t("map.home"), id=CommandIds.HOME, title=t("map.home_title"), className="map-home", n_clicks=0
    )
    map_wrap = html.Div([graph, home_button], id=CommandIds.MAP_WRAP, className="map-wrap")
    main = html.Div([map_wrap, queue_panel], className="main-col")
    detail = html.Aside(
        [
            dmc.Group(
                [
                    dmc.Title(t("detail.title"), order=4),
                    dmc.Button(t("detail.close"), id=CommandIds.DETAIL_CLOSE, variant="subtle", size="xs"),
                ],
                justify="space-between",
            ),
            html.Div(detail_head(None, t, datetime.now()), id=CommandIds.DETAIL_HEAD),
            detail_controls(t, departments),
            html.Div(id=CommandIds.DETAIL_HISTORY),
        ],
        id=CommandIds.DETAIL,
        hidden=True,
        className="detail-panel",
    )
    return html.Div(
        [
            html.A(t("nav.skip_queue"), href=f"#{CommandIds.QUEUE}", className="skip-link"),
            header,
            kpi_strip,
            html.Div([main, side], className="body"),
            detail,
            html.Div(id=CommandIds.MESSAGE, className="message", role="status"),
            dcc.Interval(id=Ids.POLL, interval=poll_ms),
            *watch(Ids.HEARTBEAT, Ids.WATCHDOG, t, poll_ms),
            dcc.Store(id=Ids.CURSOR, data=cursor),
            dcc.Store(id=CommandIds.SELECTED),
            dcc.Store(id=CommandIds.DETAIL_STATE),
            dcc.Store(id=CommandIds.ASSIGN_PRESSED),
            dcc.Store(id=CommandIds.CASE_PRESSED),
            dcc.Store(id=CommandIds.WARNING_PRESSED),
            dcc.Store(id=CommandIds.PRIORITY_SHOWN),
            dcc.Store(id=CommandIds.PRIORITY_CHOSEN),
            dcc.Store(id=CommandIds.QUEUE_PAGE, data=0),
            dcc.Store(id=CommandIds.QUEUE_HOLD, data=False),
            dcc.Store(id=CommandIds.MAP_AIM, data=False),
            dcc.Store(id=CommandIds.QUEUE_SHOWN, data=[r["id"] for r in queue_data]),
            dcc.Store(id=CommandIds.SELECTION, data=[]),
            dcc.Store(id=CommandIds.VIEW),
            dcc.Store(id=CommandIds.DIGESTS, data={}),
            alert_banner(t, cursor),
            dcc.Store(id=CommandIds.HOME_BOUNDS, data=home),
            dcc.Store(id=CommandIds.WALL, storage_type="local"),
        ],
        id=CommandIds.ROOT,
        className="command",
    )
