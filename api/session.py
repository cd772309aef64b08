"""Browser sessions: the login page, logout, and the guard in front of every page and Dash endpoint.

The session cookie holds only the user id, signed with a key shared through the database; the
role is read from the store on every request, never taken from the browser.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify, redirect, request, session
from markupsafe import escape

from data.runtime import Runtime
from ops.accounts import Actor, actor_for_user, check_password, shared_secret
from ops.errors import Unauthorized

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


def current_actor(rt: Runtime) -> Actor | None:
    """Who is logged in on this request (None for nobody)."""
    return actor_for_user(rt.store, session.get("uid"))


def require_actor(rt: Runtime) -> Actor:
    """The logged-in actor, or ``Unauthorized`` (for callbacks that change something)."""
    actor = current_actor(rt)
    if actor is None:
        raise Unauthorized("error.login_first")
    return actor


def _safe_next(target: str | None) -> str:
    # Only local paths: a login link must never send someone to another site.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


def _login_page(texts: dict[str, str], error: str = "", username: str = "", target: str = "/") -> str:
    alert = f'<p class="login-error" role="alert">{escape(error)}</p>' if error else ""
    return f"""<!doctype html>
<html lang="{escape(texts["lang"])}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(texts["title"])}</title><link rel="stylesheet" href="/assets/onemap.css"></head>
<body><main class="login-body"><form class="login" method="post" action="/login">
<h1>{escape(texts["title"])}</h1>{alert}
<input type="hidden" name="next" value="{escape(target)}">
<label>{escape(texts["username"])}
<input name="username" autocomplete="username" value="{escape(username)}" required></label>
<label>{escape(texts["password"])}
<input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">{escape(texts["submit"])}</button></form></main></body></html>"""


def create_blueprint(rt: Runtime, texts: dict[str, str]) -> Blueprint:
    """/login and /logout; ``texts`` holds the page's words in the UI language."""
    bp = Blueprint("session", __name__)

    @bp.get("/login")
    def login_form() -> str:
        return _login_page(texts, target=_safe_next(request.args.get("next")))

    @bp.post("/login")
    def login() -> Response | tuple[str, int]:
        username = request.form.get("username", "").strip()
        target = _safe_next(request.form.get("next"))
        try:
            actor = check_password(rt.store, username, request.form.get("password", ""))
        except Unauthorized:
            return _login_page(texts, texts["wrong"], username, target), 401
        session.clear()
        session["uid"] = actor.user_id
        session.permanent = True
        return redirect(HOME.get(actor.role, target if target != "/worker" else "/"))

    @bp.get("/logout")
    def logout() -> Response:
        session.clear()
        return redirect("/login")

    return bp


def install_guard(server: Flask, rt: Runtime) -> None:
    """Every page and Dash endpoint needs a logged-in user; workers land on their own page."""
    server.secret_key = rt.config.secret_key or shared_secret(rt.store)
    server.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")

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
