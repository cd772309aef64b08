"""Route each URL to its page, for whoever is logged in (the guard in api/session.py has run first)."""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, dcc, html

from api.session import current_actor
from callbacks.command import scope_of
from data import map_view, queries
from data.live import QueueFilter
from data.runtime import Runtime
from layouts import command, review, rules, worker
from layouts import departments as departments_view
from layouts.i18n import Text
from layouts.ids import ShellIds
from ops import cases, departments, early_warning
from ops.accounts import Actor


def command_page(rt: Runtime, t: Text, user: str, admin: bool = False, scope: tuple[int, ...] | None = None) -> Any:
    with rt.store.read():  # one connection for every query of the page
        return _command_page(rt, t, user, admin, scope)


def rules_page(rt: Runtime, t: Text, user: str, role: str) -> Any:
    if role != "admin":
        return html.Div([html.P(t("rules.forbidden"), className="forbidden"), html.A(t("nav.command"), href="/")])
    return rules.layout(t, early_warning.current_rules(rt.store, rt.config.rules_file), user)


def departments_page(rt: Runtime, t: Text, user: str, role: str) -> Any:
    if role != "admin":
        return html.Div([html.P(t("departments.forbidden"), className="forbidden"), html.A(t("nav.command"), href="/")])
    shapes = departments.district_shapes(rt.store)
    rows = departments_view.department_rows(t, departments.list_all(rt.store), shapes)
    return departments_view.layout(t, rows, sorted(shapes), user)


def _command_page(rt: Runtime, t: Text, user: str, admin: bool, scope: tuple[int, ...] | None) -> Any:
    cursor, _ = rt.cursor()
    rt.live.refresh()
    figure = map_view.full_figure(
        rt.store, rt.static, rt.crs, rt.style, command.DEFAULT_LAYERS, live=rt.live, departments=scope
    )
    queue = rt.live.items.queue_page(rt.static.names_by_id, QueueFilter(departments=scope), 0, 200)[0]
    return command.layout(
        t,
        figure,
        rt.live.kpis(departments=scope),
        queries.latest_items(rt.store, departments=scope),
        queue,
        cursor,
        rt.config.poll_ms,
        user,
        queries.find_warnings(rt.store) if scope is None else [],
        admin,
        departments.names(rt.store),
        home=rt.static.bounds,
        case_counts=rt.live.items.case_counts(departments=scope),
    )


def review_page(rt: Runtime, t: Text, user: str) -> Any:
    # The categories come from the review history when it is loaded (a DISTINCT over every item otherwise).
    ready = rt.history.ready
    categories = [str(c) for c in rt.history.frame()["category"].cat.categories] if ready else None
    return review.layout(
        t, rt.style, categories or queries.categories(rt.store), queries.districts(rt.store), user, 1000
    )


def worker_page(rt: Runtime, t: Text, actor: Actor) -> Any:
    cursor = rt.store.latest_event_id()
    me, tasks = queries.worker_inbox(rt.store, actor.user_id or 0)
    grid = rt.index.polygon(me["grid_id"]) if me else None
    return worker.layout(t, me, tasks, rt.style, cursor, rt.config.poll_ms, grid, cases.site_checks(rt.store, actor))


def register(app: Dash, rt: Runtime, t: Text) -> None:
    @app.callback(Output(ShellIds.PAGE, "children"), Input(ShellIds.URL, "pathname"))
    def route(path: str | None) -> Any:
        actor = current_actor(rt)
        if actor is None:
            return dcc.Location(id="to-login", href="/login")
        if path == "/worker" or actor.role == "worker":
            return worker_page(rt, t, actor)
        if path == "/review" and actor.role != "staff":  # a department's console is its own command page
            return review_page(rt, t, actor.name)
        if path == "/rules":
            return rules_page(rt, t, actor.name, actor.role)
        if path == "/departments":
            return departments_page(rt, t, actor.name, actor.role)
        return command_page(rt, t, actor.name, actor.role == "admin", scope_of(rt, actor))
