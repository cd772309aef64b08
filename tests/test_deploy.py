"""Safe to deploy: the demo city and its published password only when asked for, the first admin
from the CLI (password never on the command line), and an audit log that names who acted."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

import app as app_module
import manage
from app import create_app, demo_exposure, runtime_of
from config import Config
from data.demo import DEMO_PASSWORD
from data.models import Event, Grid, User, Worker
from ops.accounts import create_token


def test_only_python_app_on_the_embedded_sqlite_seeds_the_demo() -> None:
    assert Config.from_env({}, embedded=True).demo  # `python app.py` on the embedded default: the demo city
    assert not Config.from_env({"ONEMAP_DATABASE_URL": "postgresql+psycopg://x/y"}, embedded=True).demo
    assert not Config.from_env({"ONEMAP_DATABASE_URL": "sqlite:////srv/city.db"}, embedded=True).demo
    assert not Config.from_env({}).demo  # gunicorn and the CLI
    assert Config.from_env({"ONEMAP_DATABASE_URL": "postgresql+psycopg://x/y", "ONEMAP_DEMO": "1"}).demo
    assert not Config.from_env({"ONEMAP_DEMO": "0"}, embedded=True).demo


def test_gunicorn_on_an_empty_database_starts_with_no_account(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ONEMAP_DATABASE_URL", f"sqlite:///{tmp_path / 'g.db'}")
    for name in ("ONEMAP_DEMO", "ONEMAP_BOOTSTRAP_TOKEN", "ONEMAP_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    server = app_module.server  # what `gunicorn app:server` asks for
    rt = server.config["onemap"]
    with rt.store.read() as s:
        assert s.scalar(select(func.count(User.id))) == 0
        assert s.scalar(select(func.count(Grid.id))) == 0
    r = server.test_client().post("/login", data={"username": "admin", "password": DEMO_PASSWORD, "next": "/"})
    assert r.status_code == 401


def test_the_first_admin_comes_from_the_cli_with_the_password_on_stdin(tmp_path, monkeypatch) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    monkeypatch.setenv("ONEMAP_DATABASE_URL", url)
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-secret-1\n"))
    assert manage.main(["create-user", "boss", "--role", "admin", "--password-stdin"]) == 0
    with pytest.raises(SystemExit):  # no way to put a password on the command line, where `ps` shows it
        manage.parser().parse_args(["create-user", "x", "--role", "admin", "--password", "pw"])
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert manage.main(["create-user", "tiny", "--role", "admin", "--password-stdin"]) == 2
    served = create_app(Config(database_url=url, demo=False))
    r = served.server.test_client().post(
        "/login", data={"username": "boss", "password": "a-long-secret-1", "next": "/"}
    )
    assert r.status_code == 302
    with runtime_of(served).store.read() as s:
        actor = s.scalar(select(Event.actor).where(Event.kind == "user.created"))
    assert actor.startswith("cli")  # the audit log names who ran the command, not "system"


def test_demo_accounts_on_a_network_address_are_announced(tmp_path) -> None:
    demo = create_app(Config(database_url=f"sqlite:///{tmp_path / 'd.db'}", grid_count=10, parking_spaces=10))
    store = runtime_of(demo).store
    assert demo_exposure(store, "127.0.0.1") is None and demo_exposure(store, "localhost") is None
    warning = demo_exposure(store, "0.0.0.0")
    assert warning and DEMO_PASSWORD in warning and "0.0.0.0" in warning
    empty = create_app(Config(database_url=f"sqlite:///{tmp_path / 'e.db'}", demo=False))
    assert demo_exposure(runtime_of(empty).store, "0.0.0.0") is None


def test_every_event_names_the_person_who_acted(tmp_path) -> None:
    """Through a token and through a session: each new event row's actor is that user, never a placeholder."""
    served = create_app(Config(database_url=f"sqlite:///{tmp_path / 'a.db'}", grid_count=10, parking_spaces=10))
    rt = runtime_of(served)
    with rt.store.read() as s:
        uid = s.scalar(select(User.id).where(User.username == "operator"))
        worker = s.execute(select(Worker.id, Worker.grid_id)).first()
    start = rt.store.latest_event_id()
    token = create_token(rt.store, uid, label="audit")
    p = rt.index.polygons[list(rt.index.ids).index(worker.grid_id)].representative_point()
    api = served.server.test_client()
    body = {"kind": "fire", "title": "厨房起火", "category": "住宅火灾", "lon": p.x, "lat": p.y}
    r = api.post("/api/v1/incidents", json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.get_data(as_text=True)
    iid = r.get_json()["id"]
    browser = served.server.test_client()
    browser.post("/login", data={"username": "supervisor", "password": DEMO_PASSWORD, "next": "/"})
    press = {"worker": worker.id, "at": 1}  # a press on the worker's button, as the browser relays it
    payload = {
        "output": "command-message.children",
        "outputs": {"id": "command-message", "property": "children"},
        "inputs": [{"id": "command-assign-pressed", "property": "data", "value": press}],
        "changedPropIds": ["command-assign-pressed.data"],
        "state": [{"id": "command-selected", "property": "data", "value": iid}],
    }
    assert browser.post("/_dash-update-component", json=payload).status_code == 200
    with rt.store.read() as s:
        rows = s.execute(select(Event.kind, Event.actor).where(Event.id > start).order_by(Event.id)).all()
    by_kind = {kind: actor for kind, actor in rows}
    assert by_kind["incident.created"] == "operator"
    assert by_kind["incident.assigned"] == "supervisor"
    assert all(actor in ("operator", "supervisor") for kind, actor in rows if kind != "token.created"), rows
