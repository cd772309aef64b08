"""OneMap: ``create_app(config) -> Dash``; ``python app.py`` runs it on embedded defaults.

``gunicorn app:server`` works too: ``server`` is built on first access, not at import.
"""

from __future__ import annotations

import gc
import ipaddress
import logging
import sys
from typing import Any

from dash import Dash, set_props
from flask import Response, jsonify
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import InternalServerError

from api import limits, map_assets, media, open311, openapi, review_export, session, web_security
from api.v1 import create_blueprint, store_error_answer
from callbacks import alerts as alert_callbacks
from callbacks import command as command_callbacks
from callbacks import departments as departments_callbacks
from callbacks import evaluation as evaluation_callbacks
from callbacks import review as review_callbacks
from callbacks import rules as rules_callbacks
from callbacks import shell as shell_callbacks
from callbacks import wall as wall_callbacks
from callbacks import worker as worker_callbacks
from config import Config, ConfigError
from data.demo import DEMO_PASSWORD, grid_count, has_demo_accounts, seed_demo
from data.demo_history import seed_history
from data.runtime import Runtime, build_runtime, open_store
from data.store import Contention, Store, classify, patiently
from layouts import command, departments, review, rules, shell, worker
from layouts.i18n import Text
from layouts.ids import ShellIds
from ops.accounts import ensure_bootstrap_token
from ops.case_history import seed_demo_cases
from ops.cases import city_cases
from ops.errors import OneMapError
from ops.jobs import JobBoard

log = logging.getLogger("onemap")


def create_app(config: Config | None = None, seed: bool = True) -> Dash:
    """Build the whole app: store (migrated), demo city when empty and asked for, bootstrap token, pages, API.

    ``create_app()`` (gunicorn) reads the environment: no demo city and no account unless ONEMAP_DEMO=1.
    """
    config = config or Config.from_env()
    store = patiently(lambda: start_store(config, seed))
    t = Text(config.lang)
    hover = {k: t(f"hover.{k}") for k in ("open", "worker", "space", "grids", "per_grid")}  # the map's words
    rt = build_runtime(config, store, hover, t.warning_title)
    rt.cases = city_cases(store, config)

    app = Dash(
        __name__,
        title=t("app.title"),
        update_title=None,
        serve_locally=True,
        # Pages are rendered by the router, so each page lacks the other pages' ids; validation_layout
        # still lets Dash check every callback against the union of all pages.
        suppress_callback_exceptions=True,
        on_error=lambda exc: store_trouble_notice(t, exc),
    )
    # Screen readers and the browser's own hyphenation and fonts follow the page's language.
    app.index_string = app.index_string.replace("<html>", f'<html lang="{config.lang}">', 1)
    app.server.config["onemap"] = rt
    app.server.register_blueprint(create_blueprint(rt))
    app.server.register_blueprint(map_assets.create_blueprint())
    app.server.register_blueprint(media.create_blueprint(rt))
    app.server.register_blueprint(open311.create_blueprint(rt))
    app.server.register_blueprint(review_export.create_blueprint(rt))
    login_words = ("title", "username", "password", "submit", "wrong", "throttled", "expired")
    login_texts = {k: t(f"login.{k}") for k in login_words}
    throttle = session.login_throttle(rt)
    app.server.register_blueprint(session.create_blueprint(rt, {**login_texts, "lang": config.lang}, throttle))
    web_security.trust_proxies(app.server, config.trusted_proxies)
    web_security.install_cross_site_refusal(app.server)  # before the guard: a refused request reads no session
    session.install_guard(app.server, rt)
    limits.install(app, config)  # after the guard: a caller who is not logged in hears 401 first

    @app.server.errorhandler(OneMapError)
    def _refused(exc: OneMapError) -> tuple[Response, int]:
        # A rule refusing a Dash callback (ops.permissions: a role reading what it may not) answers with
        # the rule's status and message, as the API does, instead of a 500.
        return jsonify(exc.to_dict()), exc.status

    app.server.add_url_rule("/api/openapi.json", "openapi", lambda: jsonify(openapi.spec()))
    app.server.register_error_handler(InternalServerError, server_error_answer)

    # The grid shapes and other start-up structures live as long as the process: keep them out of
    # the garbage collector's full passes (millions of small objects at city scale, 0.1-0.2 s each).
    gc.collect()
    gc.freeze()
    app.layout = shell.layout()
    app.validation_layout = validation_layout(t, rt)
    shell_callbacks.register(app, rt, t)
    command_callbacks.register(app, rt, t)
    command_callbacks.register_push(app, rt, t, JobBoard())
    alert_callbacks.register(app, rt, t)
    wall_callbacks.register(app)
    worker_callbacks.register(app, rt, t)
    review_callbacks.register(app, rt, t)
    evaluation_callbacks.register(app, rt, t)
    rules_callbacks.register(app, rt, t)
    departments_callbacks.register(app, rt, t)
    # Every callback is registered now, so the hashes cover each inline script Dash will send.
    web_security.install_headers(app.server, web_security.content_security_policy(app.csp_hashes(), config.tile_url))
    return app


def start_store(config: Config, seed: bool) -> Store:
    """The migrated store, seeded with the demo city when empty, with the bootstrap token."""
    store = open_store(config)
    try:
        if seed and config.demo and not grid_count(store):
            try:
                log.info("empty store: seeding the demo city (%d grids)", config.grid_count)
                seed_demo(store, config)
                log.info("seeding %d days of history for the review page", config.history_days)
                seed_history(store, config, config.history_days)
                cases = seed_demo_cases(store, config.seed)
                log.info("%d of the past tickets went round the loop between bodies", cases["cases"])
            except IntegrityError:
                log.info("another process seeded the demo city first")
        if config.bootstrap_token:
            ensure_bootstrap_token(store, config.bootstrap_token)
    except Exception:
        store.dispose()  # ``patiently`` may start again with a new store
        raise
    return store


def server_error_answer(exc: InternalServerError) -> Response | InternalServerError:
    """A store outage or contention is a 503 with Retry-After (every route); anything else stays a 500."""
    found = classify(exc.original_exception or exc)
    return store_error_answer(found) if found is not None else exc


def store_trouble_notice(t: Text, exc: Exception) -> None:
    """A callback that met a store outage changes nothing on screen and says why in a notice.

    The poll's heartbeat is not written either, so the live badge turns to "disconnected" on its own.
    """
    found = classify(exc)
    if found is None:
        raise exc
    log.warning("callback: store trouble: %s", found)
    notice = {"action": "show", "id": "store-trouble", "color": "red", "autoClose": 8000}
    notice["title"] = t("app.title")
    notice["message"] = t("error.store_busy" if isinstance(found, Contention) else "error.store_down")
    set_props(ShellIds.NOTICES, {"sendNotifications": [notice]})


def validation_layout(t: Text, rt: Runtime) -> Any:
    """Every page at once, so Dash can check each callback's ids at start."""
    empty_kpis = {
        "open": dict.fromkeys(("fire", "police", "ticket", "alarm"), 0),
        "unassigned": 0,
        "overdue": 0,
        "parking_pct": 0.0,
        "on_duty": 0,
    }
    me = {"id": 0, "name": "", "grid_id": 0, "lon": None, "lat": None}
    return [
        shell.layout(),
        command.layout(t, {"data": [], "layout": {}}, empty_kpis, [], [], 0, rt.config.poll_ms, ""),
        worker.layout(t, me, [], rt.style, 0, rt.config.poll_ms),
        command.priority_select(t, 3),  # the detail panel's controls appear once an item is picked
        command.cancel_controls(t),
        review.layout(t, rt.style, [], [], ""),
        rules.layout(t, [], ""),
        departments.layout(t, [], [], ""),
    ]


def demo_exposure(store: Any, host: str) -> str | None:
    """The loud warning when demo accounts (published password) are served beyond this machine, else None."""
    if is_loopback(host) or not has_demo_accounts(store):
        return None
    return (
        f"!!! DEMO ACCOUNTS with the published password {DEMO_PASSWORD!r} are served on {host}, reachable from "
        "the network: anyone can sign in as admin. For real use start on an empty database without ONEMAP_DEMO. !!!"
    )


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach a server listening on ``host``."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def runtime_of(app: Dash) -> Runtime:
    """The runtime an app was built with (for the CLI and tests)."""
    return app.server.config["onemap"]


def main() -> None:
    """Run on the configured host and port; start the simulator when ONEMAP_SIMULATE is on."""
    import waitress

    from ops import early_warning, retention, sla, working_time
    from ops.simulator import start_in_thread

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = Config.from_env(embedded=True)
        working_time.load_calendar(config.calendar_file)  # a broken calendar stops the start, by name
    except ConfigError as exc:
        sys.exit(f"onemap: {exc}")
    app = create_app(config)
    rt = runtime_of(app)
    try:  # take the port before any background work starts
        server = waitress.create_server(app.server, host=config.host, port=config.port, threads=16, ident="onemap")
    except OSError as exc:
        sys.exit(
            f"onemap: cannot listen on {config.host}:{config.port} ({exc.strerror}); is OneMap already running? "
            "Set ONEMAP_PORT to use another port."
        )
    exposed = demo_exposure(rt.store, config.host)
    if exposed:
        log.warning(exposed)
    if not grid_count(rt.store):
        log.warning(
            "empty city and no demo (ONEMAP_DEMO=1 seeds one): import grids with `python manage.py import-grids FILE` "
            "and create the first admin with `python manage.py create-user NAME --role admin` (password asked for)"
        )
    sla.start_in_thread(rt.store, config.accept_minutes)
    retention.start_in_thread(rt.store, config)
    try:
        early_warning.current_rules(rt.store, config.rules_file)  # a broken rule file stops the start, by name
    except OneMapError as exc:
        sys.exit(f"onemap: warning rules: {exc.message}")
    early_warning.start_in_thread(rt.store, config.rules_file, config.rules_seconds, config.lang, config.sla_minutes)
    # The review history is not read at start (docs/performance.md): a process serves the command page
    # in seconds whatever the history's length, and one nobody reviews on never holds it.
    if config.simulate:
        start_in_thread(rt.store, rt.index, config, rt.cases)
        log.info("simulator running at %.0fx", config.sim_speed)
    log.info("OneMap on http://%s:%d (store %s, bus %s)", config.host, config.port, rt.store.kind, rt.store.bus.kind)
    server.print_listen("Serving on http://{}:{}")
    server.run()


def __getattr__(name: str) -> Any:
    # ``gunicorn app:server`` asks for this attribute; build the app only then.
    if name == "server":
        return create_app().server
    raise AttributeError(name)


if __name__ == "__main__":
    main()
