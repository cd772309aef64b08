"""Browser sessions and the Dash callback endpoint: the server decides who may do what."""

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import select, update

from api.session import safe_next, signing_keys
from app import create_app, runtime_of
from config import DEFAULT_SESSION_IDLE_MINUTES, DEFAULT_SESSION_MAX_HOURS, DEFAULT_SLA_MINUTES, Config, ConfigError
from data.demo import DEMO_PASSWORD
from data.models import User, WebSession, Worker, utcnow
from ops.accounts import SYSTEM, create_user
from ops.incidents import NewIncident, report
from ops.web_sessions import SessionRules, end_session, open_session, session_actor


def login(app, username, password=DEMO_PASSWORD):
    client = app.server.test_client()
    r = client.post("/login", data={"username": username, "password": password, "next": "/"})
    return client, r


def test_login_routes_each_role_home(app):
    _, r = login(app, "operator")
    assert r.status_code == 302 and r.headers["Location"] == "/"
    client, r = login(app, "w00001")
    assert r.headers["Location"] == "/worker"
    assert client.get("/").headers["Location"] == "/worker"  # a worker never sees the command page
    _, r = login(app, "operator", "wrong")
    assert r.status_code == 401 and "错误" in r.get_data(as_text=True)
    _, r = login(app, "nobody-at-all")
    assert r.status_code == 401


def test_login_never_redirects_off_site(app):
    client = app.server.test_client()
    r = client.post("/login", data={"username": "operator", "password": DEMO_PASSWORD, "next": "//evil.example/x"})
    assert r.headers["Location"] == "/"


def test_logout_ends_the_session(app):
    client, _ = login(app, "operator")
    assert client.post("/_dash-update-component", json={}).status_code != 401
    client.get("/logout")
    assert client.post("/_dash-update-component", json={}).status_code == 401


def assign_via_dash(client, incident_id: int, worker_id: int):
    press = {"worker": worker_id, "at": 1}  # a press on the worker's button, as the browser relays it
    payload = {
        "output": "command-message.children",
        "outputs": {"id": "command-message", "property": "children"},
        "inputs": [{"id": "command-assign-pressed", "property": "data", "value": press}],
        "changedPropIds": ["command-assign-pressed.data"],
        "state": [{"id": "command-selected", "property": "data", "value": incident_id}],
    }
    return client.post("/_dash-update-component", json=payload)


@pytest.mark.parametrize(
    ("who", "http", "status"),
    [(None, 401, "new"), ("w00001", 200, "new"), ("operator", 200, "assigned"), ("supervisor", 200, "assigned")],
)
def test_assign_through_the_dash_endpoint_checks_the_session_role(app, as_role, client, who, http, status):
    rt = runtime_of(app)
    with rt.store.read() as s:
        grid = s.get(Worker, 1).grid_id
    p = rt.index.polygons[list(rt.index.ids).index(grid)].representative_point()
    (iid,) = report(rt.store, rt.index, SYSTEM, [NewIncident("fire", "火", "火", p.x, p.y)], DEFAULT_SLA_MINUTES)
    client = as_role(who) if who else client
    r = assign_via_dash(client, iid, 1)
    assert r.status_code == http, r.get_data(as_text=True)
    with rt.store.read() as s:
        from data.models import Incident

        assert s.get(Incident, iid).status == status
    if who == "w00001":
        said = r.get_json()["response"]["command-message"]["children"]
        assert said == "角色「网格员」无权派单"  # the refusal in the screen's language (zh-CN)


# --- Sessions the server can end (issue #14) -----------------------------------------------------------


KEY = "k-new-0123456789abcdef"
OLD_KEY = "k-old-0123456789abcdef"


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One app for the tests that only read (building one costs seconds on a loaded machine)."""
    db = tmp_path_factory.mktemp("sessions") / "s.db"
    return create_app(
        Config(
            database_url=f"sqlite:///{db}",
            grid_count=60,
            parking_spaces=60,
            simulate=False,
            secret_key=KEY,
            secret_key_fallbacks=(OLD_KEY,),
        )
    )


def dash_ok(client) -> bool:
    """Whether the Dash endpoint takes this client as signed in (401 means it does not)."""
    return client.post("/_dash-update-component", json={}).status_code != 401


def session_cookie(client) -> str:
    return client.get_cookie("session").value


def set_session_age(app, client, *, created: timedelta, seen: timedelta) -> None:
    """Move the client's session back in time, as if it was opened ``created`` ago and last used ``seen`` ago."""
    rt = runtime_of(app)
    with rt.store.transaction() as s:
        (sid,) = s.scalars(select(WebSession.id).order_by(WebSession.created_at.desc()).limit(1))
        s.execute(
            update(WebSession)
            .where(WebSession.id == sid)
            .values(created_at=utcnow() - created, last_seen_at=utcnow() - seen)
        )


def test_logout_ends_a_copied_cookie_at_once(shared):
    client, _ = login(shared, "operator")
    thief = shared.server.test_client()
    thief.set_cookie("session", session_cookie(client))
    assert dash_ok(thief)
    client.get("/logout")
    assert not dash_ok(thief)  # the copy dies with the session, not with the browser's cookie


def test_idle_timeout_and_absolute_lifetime(shared):
    client, _ = login(shared, "operator")
    # A wall screen polling all shift: opened 12 h ago, seen a moment ago, still signed in.
    set_session_age(shared, client, created=timedelta(hours=12), seen=timedelta(seconds=5))
    assert dash_ok(client)
    # Left alone longer than the idle timeout: ended.
    set_session_age(
        shared, client, created=timedelta(hours=1), seen=timedelta(minutes=DEFAULT_SESSION_IDLE_MINUTES + 1)
    )
    assert not dash_ok(client)
    # Polling all along, but past the lifetime: ended too, and the browser is sent to sign in again.
    client, _ = login(shared, "operator")
    set_session_age(shared, client, created=timedelta(hours=DEFAULT_SESSION_MAX_HOURS, minutes=1), seen=timedelta(0))
    assert not dash_ok(client)
    assert client.get("/review").headers["Location"].startswith("/login")


def test_last_seen_is_written_at_most_once_a_minute(shared):
    client, _ = login(shared, "operator")
    rt = runtime_of(shared)
    set_session_age(shared, client, created=timedelta(minutes=5), seen=timedelta(seconds=20))
    with rt.store.read() as s:
        before = s.scalar(select(WebSession.last_seen_at).order_by(WebSession.created_at.desc()).limit(1))
    assert dash_ok(client) and dash_ok(client)
    with rt.store.read() as s:
        assert s.scalar(select(WebSession.last_seen_at).order_by(WebSession.created_at.desc()).limit(1)) == before
    set_session_age(shared, client, created=timedelta(minutes=5), seen=timedelta(seconds=90))
    assert dash_ok(client)
    with rt.store.read() as s:
        seen = s.scalar(select(WebSession.last_seen_at).order_by(WebSession.created_at.desc()).limit(1))
    assert utcnow() - seen < timedelta(seconds=30)  # touched: the idle clock starts again


def test_session_rows_on_each_backend(store):
    uid = create_user(store, "wall", "operator", password="x")
    rules = SessionRules(idle=timedelta(minutes=60), lifetime=timedelta(hours=13))
    token = open_session(store, uid, rules)
    assert session_actor(store, token, rules).name == "wall"
    assert session_actor(store, token + "x", rules) is None
    assert session_actor(store, token, rules, now=utcnow() + timedelta(minutes=61)) is None  # idle: ended for good
    assert session_actor(store, token, rules) is None
    token = open_session(store, uid, rules)
    end_session(store, token)
    assert session_actor(store, token, rules) is None
    with store.read() as s:
        assert s.scalars(select(WebSession)).all() == []  # the raw token is never stored, and ended rows go


def test_session_settings_from_the_environment(tmp_path):
    cfg = Config.from_env({})
    assert (cfg.session_idle_minutes, cfg.session_max_hours) == (60, 13)
    cfg = Config.from_env({"ONEMAP_SESSION_IDLE_MINUTES": "15", "ONEMAP_SESSION_MAX_HOURS": "24"})
    assert (cfg.session_idle_minutes, cfg.session_max_hours) == (15, 24)
    with pytest.raises(ConfigError, match="ONEMAP_SESSION_IDLE_MINUTES"):
        Config.from_env({"ONEMAP_SESSION_IDLE_MINUTES": "0"})


# --- Cookies ----------------------------------------------------------------------------------------------


def set_cookie_header(response) -> str:
    (header,) = [v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("session=")]
    return header


def test_cookie_is_httponly_lax_and_secure_over_https(shared):
    plain = login(shared, "operator")[1]
    header = set_cookie_header(plain)
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" not in header
    client = shared.server.test_client()
    r = client.post(
        "/login", data={"username": "operator", "password": DEMO_PASSWORD}, base_url="https://onemap.example"
    )
    assert "Secure" in set_cookie_header(r)
    # Lifetime of the cookie: the session's, not Flask's 31 days.
    expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", set_cookie_header(r)).group(1))
    left = expires - datetime.now(UTC)
    assert timedelta(hours=DEFAULT_SESSION_MAX_HOURS, minutes=-5) < left <= timedelta(hours=DEFAULT_SESSION_MAX_HOURS)


def test_secure_cookie_behind_a_trusted_proxy(tmp_path):
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    data = {"username": "operator", "password": DEMO_PASSWORD}
    direct = create_app(Config(database_url=f"sqlite:///{tmp_path / 'a.db'}", grid_count=60, simulate=False))
    # Without a trusted proxy anyone can send the header: it changes nothing.
    assert "Secure" not in set_cookie_header(direct.server.test_client().post("/login", data=data, headers=headers))
    proxied = create_app(
        Config(database_url=f"sqlite:///{tmp_path / 'a.db'}", grid_count=60, simulate=False, trusted_proxies=1)
    )
    assert "Secure" in set_cookie_header(proxied.server.test_client().post("/login", data=data, headers=headers))


# --- The signing key --------------------------------------------------------------------------------------


def cookie_signed_with(key: str, token: str) -> str:
    old = Flask("old-process")
    old.secret_key = key
    return SecureCookieSessionInterface().get_signing_serializer(old).dumps({"sid": token})


def test_a_rotated_key_keeps_sessions_signed_with_the_previous_one(shared):
    rt = runtime_of(shared)
    with rt.store.read() as s:
        uid = s.scalar(select(User.id).where(User.username == "operator"))
    rules = SessionRules(idle=timedelta(minutes=60), lifetime=timedelta(hours=13))
    for key, accepted in ((OLD_KEY, True), (KEY, True), ("k-unknown-0123456789", False)):
        client = shared.server.test_client()
        client.set_cookie("session", cookie_signed_with(key, open_session(rt.store, uid, rules)))
        assert dash_ok(client) is accepted, key


def test_signing_key_from_a_file_with_previous_keys(tmp_path):
    f = tmp_path / "key"
    f.write_text("new-key-0123456789abcdef\nold-key-0123456789abcdef\n")
    cfg = Config.from_env({"ONEMAP_SECRET_KEY_FILE": str(f)})
    assert cfg.secret_key == "new-key-0123456789abcdef"
    assert cfg.secret_key_fallbacks == ("old-key-0123456789abcdef",)
    cfg = Config.from_env({"ONEMAP_SECRET_KEY": "env-key-0123456789abcdef", "ONEMAP_SECRET_KEY_PREVIOUS": "a" * 20})
    assert (cfg.secret_key, cfg.secret_key_fallbacks) == ("env-key-0123456789abcdef", ("a" * 20,))
    f.write_text("")
    with pytest.raises(ConfigError, match="empty"):
        Config.from_env({"ONEMAP_SECRET_KEY_FILE": str(f)})
    with pytest.raises(ConfigError, match="16"):
        Config.from_env({"ONEMAP_SECRET_KEY": "short"})
    with pytest.raises(ConfigError, match="ONEMAP_SECRET_KEY_FILE"):
        Config.from_env({"ONEMAP_SECRET_KEY_FILE": str(tmp_path / "missing")})


def test_only_the_embedded_sqlite_store_may_keep_its_own_key(store):
    if store.kind == "sqlite":
        key, previous = signing_keys(Config(database_url=store.url), store)
        assert len(key) == 64 and previous == []
    else:
        with pytest.raises(ConfigError, match="ONEMAP_SECRET_KEY"):
            signing_keys(Config(database_url=store.url), store)
    assert signing_keys(Config(secret_key=KEY, secret_key_fallbacks=(OLD_KEY,)), store) == (KEY, [OLD_KEY])


# --- Where a login may send the browser --------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/x",
        "/\\evil.example",
        "/\t/evil.example/x",
        "/\n/evil.example",
        "\\\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "/%0d\r/evil",
        "/\x00x",
        "",
        "review",
    ],
)
def test_next_may_only_be_a_local_path(shared, target):
    assert safe_next(target) == "/"
    client = shared.server.test_client()
    r = client.post("/login", data={"username": "operator", "password": DEMO_PASSWORD, "next": target})
    assert r.headers["Location"] == "/"


def test_a_local_next_is_kept(shared):
    assert safe_next("/review?day=2026-11-30") == "/review?day=2026-11-30"
    client = shared.server.test_client()
    r = client.post("/login", data={"username": "supervisor", "password": DEMO_PASSWORD, "next": "/review"})
    assert r.headers["Location"] == "/review"
