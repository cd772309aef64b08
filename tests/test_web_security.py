"""Issue #14, the web side: login throttling and equal timing, CSRF and cross-site refusal, security headers."""

from __future__ import annotations

import base64
import hashlib
import re
import time

import pytest

from app import create_app, runtime_of
from config import DEFAULT_SLA_MINUTES, Config
from data.demo import DEMO_PASSWORD
from data.models import Incident, Worker
from ops import accounts
from ops.accounts import SYSTEM
from ops.incidents import NewIncident, report
from ops.login_throttle import Limits, LoginThrottle
from tests.test_sessions import assign_via_dash

TOKEN = "test-bootstrap-token-0123456789"
HERE = "http://localhost"  # the test client's origin
EVIL = "https://evil.example"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    db = tmp_path_factory.mktemp("websec") / "w.db"
    return create_app(
        Config(
            database_url=f"sqlite:///{db}",
            grid_count=60,
            parking_spaces=60,
            simulate=False,
            bootstrap_token=TOKEN,
            tile_url="https://tiles.example.org/{z}/{x}/{y}.png",
            login_account_failures=3,
            login_address_failures=6,
        )
    )


def form_token(client) -> str:
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def browser_login(client, username: str, address: str = "127.0.0.1", **headers: str):
    """A login as a browser sends it: the form's token, the page's Origin and fetch metadata."""
    data = {"username": username, "password": DEMO_PASSWORD, "csrf_token": form_token(client), "next": "/"}
    headers = {"Origin": HERE, "Sec-Fetch-Site": "same-origin", **headers}
    return client.post("/login", data=data, headers=headers, environ_overrides={"REMOTE_ADDR": address})


# --- Login throttling ---------------------------------------------------------------------------------


def wrong(client, username: str, address: str):
    data = {"username": username, "password": "not-it"}
    return client.post("/login", data=data, environ_overrides={"REMOTE_ADDR": address})


def test_an_account_is_locked_after_repeated_wrong_passwords(app):
    client = app.server.test_client()
    for _ in range(3):
        assert wrong(client, "supervisor", "10.0.0.1").status_code == 401
    r = browser_login(client, "supervisor", "10.0.0.2")  # the right password, from elsewhere: still locked
    assert r.status_code == 429
    assert "请 15 分钟后再试" in r.get_data(as_text=True)
    assert 0 < int(r.headers["Retry-After"]) <= 15 * 60
    assert browser_login(client, "operator", "10.0.0.2").status_code == 302  # other accounts are not


def test_an_address_is_locked_after_many_wrong_passwords(app):
    client = app.server.test_client()
    for n in range(6):
        assert wrong(client, f"guess{n}", "10.0.0.3").status_code == 401
    assert browser_login(client, "w00002", "10.0.0.3").status_code == 429
    assert browser_login(client, "w00002", "10.0.0.4").status_code == 302


def test_a_right_password_clears_the_account_count():
    throttle = LoginThrottle(Limits(per_account=2, per_address=100, window_seconds=60))
    throttle.failed("ops", "a")
    throttle.succeeded("ops")
    throttle.failed("ops", "a")
    assert throttle.wait_seconds("ops", "b") == 0
    throttle.failed("OPS ", "a")  # one name however it is typed
    assert 55 < throttle.wait_seconds("ops", "b") <= 60


def test_processes_share_the_throttle_through_redis(redis_url):
    limits = Limits(per_account=2, per_address=100, window_seconds=60)
    one, two = LoginThrottle(limits, redis_url, "t1"), LoginThrottle(limits, redis_url, "t1")
    other_deployment = LoginThrottle(limits, redis_url, "t2")
    one.failed("ops", "a")
    two.failed("ops", "b")
    assert 55 < one.wait_seconds("ops", "c") <= 60 and 55 < two.wait_seconds("ops", "c") <= 60
    assert other_deployment.wait_seconds("ops", "c") == 0


def test_unknown_user_names_cost_what_known_ones_cost(app, monkeypatch):
    rt = runtime_of(app)
    checked: list[str] = []
    real = accounts.check_password_hash
    monkeypatch.setattr(accounts, "check_password_hash", lambda h, p: checked.append(h) or real(h, p))

    def seconds(username: str) -> float:
        start = time.perf_counter()
        with pytest.raises(accounts.Unauthorized):
            accounts.check_password(rt.store, username, "not-it")
        return time.perf_counter() - start

    unknown = min(seconds("no-such-user") for _ in range(5))
    known = min(seconds("operator") for _ in range(5))
    assert len(checked) == 10  # a hash is checked for the unknown name too
    assert unknown > 0.5 * known, (unknown, known)  # the fastest of five: load on the machine only adds


# --- CSRF and cross-site requests ---------------------------------------------------------------------


def test_login_csrf_from_another_site_is_refused(app):
    client = app.server.test_client()
    data = {"username": "operator", "password": DEMO_PASSWORD}
    r = client.post("/login", data=data, headers={"Origin": EVIL})
    assert r.status_code == 403 and client.get_cookie("session") is None
    r = client.post("/login", data=data, headers={"Sec-Fetch-Site": "cross-site", "Origin": "null"})
    assert r.status_code == 403 and client.get_cookie("session") is None
    # From our own page but without the form's token (a stale form, a forged one): refused too.
    r = client.post("/login", data=data, headers={"Origin": HERE})
    assert r.status_code == 403 and "已过期" in r.get_data(as_text=True)
    assert browser_login(client, "operator").status_code == 302


def test_a_cross_site_dash_request_changes_nothing(app):
    rt = runtime_of(app)
    client = app.server.test_client()
    assert browser_login(client, "operator").status_code == 302
    with rt.store.read() as s:
        grid = s.get(Worker, 1).grid_id
    p = rt.index.polygons[list(rt.index.ids).index(grid)].representative_point()
    (iid,) = report(rt.store, rt.index, SYSTEM, [NewIncident("fire", "火", "火", p.x, p.y)], DEFAULT_SLA_MINUTES)
    for headers in ({"Origin": EVIL}, {"Sec-Fetch-Site": "cross-site"}, {"Referer": f"{EVIL}/page"}):
        client.environ_base.update({f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})
        r = assign_via_dash(client, iid, 1)
        client.environ_base.clear()
        assert r.status_code == 403 and r.get_json()["error"] == "forbidden", headers
        with rt.store.read() as s:
            assert s.get(Incident, iid).status == "new"
    client.environ_base.update({"HTTP_ORIGIN": HERE, "HTTP_SEC_FETCH_SITE": "same-origin"})
    assert assign_via_dash(client, iid, 1).status_code == 200
    with rt.store.read() as s:
        assert s.get(Incident, iid).status == "assigned"


def test_bearer_token_calls_are_not_cross_site_checked(app):
    rt = runtime_of(app)
    p = rt.index.polygons[0].representative_point()
    body = {"kind": "fire", "category": "住宅火灾", "description": "三楼冒烟", "lon": p.x, "lat": p.y}
    r = app.server.test_client().post(
        "/api/v1/incidents", json=body, headers={"Authorization": f"Bearer {TOKEN}", "Origin": EVIL}
    )
    assert r.status_code in (200, 201), r.get_data(as_text=True)  # filed (or joined to a report like it)


def test_another_site_cannot_sign_someone_out(app):
    client = app.server.test_client()
    browser_login(client, "operator")
    client.get("/logout", headers={"Sec-Fetch-Site": "cross-site"})
    assert client.post("/_dash-update-component", json={}).status_code != 401
    client.get("/logout", headers={"Sec-Fetch-Site": "same-origin"})
    assert client.post("/_dash-update-component", json={}).status_code == 401


# --- Security headers ---------------------------------------------------------------------------------


def directives(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}


@pytest.mark.parametrize("path", ["/", "/login", "/api/v1/health", "/assets/onemap.css", "/no-such-page", "/worker"])
def test_every_response_carries_the_security_headers(app, path):
    r = app.server.test_client().get(path)
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "same-origin"
    csp = directives(r)
    assert csp["default-src"] == ["'self'"] and csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"] == ["'self'"] and csp["base-uri"] == ["'self'"] and csp["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert csp["img-src"] == ["'self'", "data:", "blob:", "https://tiles.example.org"]
    assert csp["connect-src"] == ["'self'", "https://tiles.example.org"] and "blob:" in csp["worker-src"]


def test_each_inline_script_of_a_page_is_allowed_by_hash(app):
    client = app.server.test_client()
    browser_login(client, "operator")
    r = client.get("/")
    html = re.sub(r"<!--.*?-->", "", r.get_data(as_text=True), flags=re.S)  # Dash's IE-only note is a comment
    inline = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>(.*?)</script>", html, re.S)
    assert inline, "Dash's page has inline scripts (its renderer)"
    allowed = set(directives(r)["script-src"])
    for script in inline:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in allowed, script[:80]


def test_no_tile_server_no_outside_host():
    from api.web_security import content_security_policy

    policy = content_security_policy(["'sha256-x'"])
    assert "http" not in policy and "script-src 'self' 'sha256-x'" in policy
