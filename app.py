"""OneMap: ``create_app(config) -> Dash``; ``python app.py`` runs it on embedded defaults.

``gunicorn app:server`` works too: ``server`` is built on first access, not at import.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
from typing import Any

from dash import Dash
from flask import jsonify
from sqlalchemy.exc import IntegrityError

from api import map_assets, media, open311, openapi, review_export, session
from api.v1 import create_blueprint
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
from data.demo import grid_count, seed_demo
from data.demo_history import seed_history
from data.runtime import Runtime, build_runtime, open_store
from layouts import command, departments, review, rules, shell, worker
from layouts.i18n import Text
from ops.accounts import ensure_bootstrap_token
from ops.cases import city_cases
from ops.jobs import JobBoard

log = logging.getLogger("onemap")


def create_app(config: Config | None = None, seed: bool = True) -> Dash:
    """Build the whole app: store (migrated), demo city when empty, bootstrap token, pages, API."""
    config = config or Config.from_env()
    store = open_store(config)
    if seed and not grid_count(store):
        try:
            log.info("empty store: seeding the demo city (%d grids)", config.grid_count)
            seed_demo(store, config)
            log.info("seeding %d days of history for the review page", config.history_days)
            seed_history(store, config, config.history_days)
        except IntegrityError:
            log.info("another process seeded the demo city first")
    if config.bootstrap_token:
        ensure_bootstrap_token(store, config.bootstrap_token)
    t = Text(config.lang)
    rt = build_runtime(config, store, {k: t(f"hover.{k}") for k in ("open", "worker", "space")}, t.warning_title)
    rt.cases = city_cases(store, config)

    app = Dash(
        __name__,
        title=t("app.title"),
        update_title=None,
        serve_locally=True,
        # Pages are rendered by the router, so each page lacks the other pages' ids; validation_layout
        # still lets Dash check every callback against the union of all pages.
        suppress_callback_exceptions=True,
    )
    # Screen readers and the browser's own hyphenation and fonts follow the page's language.
    app.index_string = app.index_string.replace("<html>", f'<html lang="{config.lang}">', 1)
    app.server.config["onemap"] = rt
    app.server.register_blueprint(create_blueprint(rt))
    app.server.register_blueprint(map_assets.create_blueprint())
    app.server.register_blueprint(media.create_blueprint(rt))
    app.server.register_blueprint(open311.create_blueprint(rt))
    app.server.register_blueprint(review_export.create_blueprint(rt))
    login_texts = {k: t(f"login.{k}") for k in ("title", "username", "password", "submit", "wrong")}
    app.server.register_blueprint(session.create_blueprint(rt, {**login_texts, "lang": config.lang}))
    session.install_guard(app.server, rt)
    app.server.add_url_rule("/api/openapi.json", "openapi", lambda: jsonify(openapi.spec()))

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
    return app


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


def runtime_of(app: Dash) -> Runtime:
    """The runtime an app was built with (for the CLI and tests)."""
    return app.server.config["onemap"]


def main() -> None:
    """Run on the configured host and port; start the simulator when ONEMAP_SIMULATE is on."""
    import waitress

    from ops import early_warning, sla, working_time
    from ops.errors import OneMapError
    from ops.simulator import start_in_thread

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = Config.from_env()
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
    sla.start_in_thread(rt.store, config.accept_minutes)
    try:
        early_warning.current_rules(rt.store, config.rules_file)  # a broken rule file stops the start, by name
    except OneMapError as exc:
        sys.exit(f"onemap: warning rules: {exc.message}")
    early_warning.start_in_thread(rt.store, config.rules_file, config.rules_seconds, config.lang, config.sla_minutes)
    # Read the review history now, so the first supervisor to open /review does not wait for it.
    threading.Thread(target=rt.history.frame, name="onemap-history", daemon=True).start()
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
