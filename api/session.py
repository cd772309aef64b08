"""Browser sessions: the login page, logout, and the guard in front of every page and Dash endpoint.

The session cookie holds a random session token (and the login form's CSRF token), signed with the
configured key; the session itself is a row in the store (``ops.web_sessions``), so logout, the idle
timeout and the lifetime end it on the server. The role is read from the store on every request.
"""

from __future__ import annotations

import hmac
import math
import secrets
import uuid
from datetime import timedelta

from flask import Blueprint, Flask, Response, g, jsonify, redirect, request, session
from flask.sessions import SecureCookieSessionInterface
from markupsafe import escape

from api.web_security import is_cross_site
from config import Config, ConfigError
from data.runtime import Runtime
from data.store import Store
from ops.accounts import Actor, check_password, shared_secret
from ops.errors import Unauthorized
from ops.login_throttle import Limits, LoginThrottle
from ops.web_sessions import SessionRules, end_session, open_session, session_actor

OPEN_PREFIXES = (
    "/login",
    "/logout",
    "/api/",
    "/open311/",
    "/map/",
    "/assets/",
    "/_dash-component-suites/",
    "/_favicon.ico",
)
HOME = {"worker": "/worker"}
SESSION_TOKEN = "sid"
CSRF_TOKEN = "csrf"


def session_rules(config: Config) -> SessionRules:
    return SessionRules(
        idle=timedelta(minutes=config.session_idle_minutes), lifetime=timedelta(hours=config.session_max_hours)
    )


def current_actor(rt: Runtime) -> Actor | None:
    """Who is logged in on this request (None for nobody); read once per request."""
    if "onemap_actor" not in g:
        token = session.get(SESSION_TOKEN)
        actor = session_actor(rt.store, token, session_rules(rt.config)) if isinstance(token, str) else None
        if actor is None and token is not None:
            session.pop(SESSION_TOKEN, None)  # ended or expired: the browser forgets it too
        g.onemap_actor = actor
    return g.onemap_actor


def require_actor(rt: Runtime) -> Actor:
    """The logged-in actor, or ``Unauthorized`` (for callbacks that change something)."""
    actor = current_actor(rt)
    if actor is None:
        raise Unauthorized("error.login_first")
    return actor


def safe_next(target: str | None) -> str:
    """A local path to go to after login; anything that could leave the site becomes ``/``."""
    # Browsers drop tabs and newlines from URLs and read a backslash as a slash, so "/\t/host" and
    # "/\\host" are "//host", another site: refuse control characters and backslashes outright.
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return "/"
    return target


def _csrf_token() -> str:
    if CSRF_TOKEN not in session:
        session[CSRF_TOKEN] = secrets.token_urlsafe(32)
    return session[CSRF_TOKEN]


def _csrf_ok(sent: str) -> bool:
    expected = session.get(CSRF_TOKEN)
    return bool(sent) and isinstance(expected, str) and hmac.compare_digest(sent.encode(), expected.encode())


def _from_a_browser() -> bool:
    # Every current browser sends Origin (or at least Referer / Sec-Fetch-*) with a form's POST, a
    # cross-site one too ("Origin: null" under a no-referrer policy). A request with none of them
    # is a script, which holds no victim's cookies: login CSRF needs a browser.
    return any(h in request.headers for h in ("Origin", "Referer", "Sec-Fetch-Site", "Sec-Fetch-Mode"))


def _login_page(texts: dict[str, str], error: str = "", username: str = "", target: str = "/") -> str:
    alert = f'<p class="login-error" role="alert">{escape(error)}</p>' if error else ""
    return f"""<!doctype html>
<html lang="{escape(texts["lang"])}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(texts["title"])}</title><link rel="stylesheet" href="/assets/onemap.css"></head>
<body><main class="login-body"><form class="login" method="post" action="/login">
<h1>{escape(texts["title"])}</h1>{alert}
<input type="hidden" name="csrf_token" value="{escape(_csrf_token())}">
<input type="hidden" name="next" value="{escape(target)}">
<label>{escape(texts["username"])}
<input name="username" autocomplete="username" value="{escape(username)}" required></label>
<label>{escape(texts["password"])}
<input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">{escape(texts["submit"])}</button></form></main></body></html>"""


def create_blueprint(rt: Runtime, texts: dict[str, str], throttle: LoginThrottle) -> Blueprint:
    """/login and /logout; ``texts`` holds the page's words in the UI language."""
    bp = Blueprint("session", __name__)

    @bp.get("/login")
    def login_form() -> str:
        return _login_page(texts, target=safe_next(request.args.get("next")))

    @bp.post("/login")
    def login() -> Response | tuple[str, int] | tuple[str, int, dict[str, str]]:
        username = request.form.get("username", "").strip()
        target = safe_next(request.form.get("next"))
        if _from_a_browser() and not _csrf_ok(request.form.get("csrf_token", "")):
            return _login_page(texts, texts["expired"], username, target), 403
        address = request.remote_addr or ""
        wait = throttle.wait_seconds(username, address)
        if wait > 0:
            minutes = str(math.ceil(wait / 60))
            page = _login_page(texts, texts["throttled"].replace("{minutes}", minutes), username, target)
            return page, 429, {"Retry-After": str(math.ceil(wait))}
        try:
            actor = check_password(rt.store, username, request.form.get("password", ""))
        except Unauthorized:
            throttle.failed(username, address)
            return _login_page(texts, texts["wrong"], username, target), 401
        throttle.succeeded(username)
        old = session.get(SESSION_TOKEN)
        if isinstance(old, str):
            end_session(rt.store, old)
        session.clear()  # a new session token and a new CSRF token: nothing from before the login survives
        session[SESSION_TOKEN] = open_session(rt.store, actor.user_id or 0, session_rules(rt.config))
        session.permanent = True
        return redirect(HOME.get(actor.role, target if target != "/worker" else "/"))

    @bp.get("/logout")
    def logout() -> Response:
        if is_cross_site(request):  # another site's link or image must not sign anyone out
            return redirect("/")
        token = session.get(SESSION_TOKEN)
        if isinstance(token, str):
            end_session(rt.store, token)
        session.clear()
        return redirect("/login")

    return bp


class _SessionCookies(SecureCookieSessionInterface):
    """Signed cookies marked ``Secure`` whenever the request came over HTTPS (behind a trusted proxy too)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure


def signing_keys(config: Config, store: Store) -> tuple[str, list[str]]:
    """The key that signs session cookies and the previous keys still accepted."""
    if config.secret_key:
        return config.secret_key, list(config.secret_key_fallbacks)
    if store.kind != "sqlite":
        raise ConfigError("set ONEMAP_SECRET_KEY or ONEMAP_SECRET_KEY_FILE: a shared database needs a configured key")
    return shared_secret(store), []  # the embedded demo: a random key kept in its own file


def install_guard(server: Flask, rt: Runtime) -> None:
    """Every page and Dash endpoint needs a logged-in user; workers land on their own page."""
    server.secret_key, fallbacks = signing_keys(rt.config, rt.store)
    server.session_interface = _SessionCookies()
    server.config.update(
        SECRET_KEY_FALLBACKS=fallbacks,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=rt.config.session_max_hours),
        # The cookie expires with the session's lifetime; re-sending it on every poll would only cost bytes.
        SESSION_REFRESH_EACH_REQUEST=False,
    )

    @server.before_request
    def _guard() -> Response | tuple[Response, int] | None:
        path = request.path
        if path.startswith(OPEN_PREFIXES):
            return None
        actor = current_actor(rt)
        if actor is None:
            if path.startswith("/_dash"):
                return jsonify({"error": "unauthorized", "message": "log in first"}), 401
            return redirect(f"/login?next={path}")
        if path == "/" and actor.role == "worker":
            return redirect("/worker")
        return None


def login_throttle(rt: Runtime) -> LoginThrottle:
    """The login throttle, shared through Redis when the deployment has one."""
    cfg = rt.config
    limits = Limits(cfg.login_account_failures, cfg.login_address_failures, cfg.login_lock_minutes * 60)
    instance = rt.store.setting("instance", lambda: uuid.uuid4().hex) if cfg.redis_url else ""
    return LoginThrottle(limits, cfg.redis_url, instance)
