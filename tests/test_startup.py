"""Start-up reads nothing history-sized: the command page is served without the review history."""

from __future__ import annotations

import pytest

from app import create_app, runtime_of
from config import Config
from data.demo import DEMO_PASSWORD
from data.history import History
from data.models import Incident


@pytest.fixture
def reads(monkeypatch):
    """Every full or incremental read of the review history, as (since,) tuples."""
    seen: list[object] = []
    original = History.read

    def counted(self, since):
        seen.append(since)
        return original(self, since)

    monkeypatch.setattr(History, "read", counted)
    return seen


def route(client, path: str):
    payload = {
        "output": "shell-page.children",
        "outputs": {"id": "shell-page", "property": "children"},
        "inputs": [{"id": "shell-url", "property": "pathname", "value": path}],
        "changedPropIds": ["shell-url.pathname"],
    }
    return client.post("/_dash-update-component", json=payload)


def test_the_command_page_is_served_without_reading_the_history(tmp_path, reads):
    app = create_app(
        Config(database_url=f"sqlite:///{tmp_path / 's.db'}", grid_count=60, parking_spaces=60, history_days=3)
    )
    rt = runtime_of(app)
    with rt.store.read() as s:
        assert s.query(Incident).count() > 200  # there is a history to (not) read
    client = app.server.test_client()
    client.post("/login", data={"username": "supervisor", "password": DEMO_PASSWORD, "next": "/"})
    page = route(client, "/")
    assert page.status_code == 200 and "command-map" in page.get_data(as_text=True)
    assert reads == [] and not rt.history.ready
    assert client.get("/api/v1/health").get_json()["review_ready"] is False
    # The review page is what reads it, on first use (so the spy above does see a read).
    assert route(client, "/review").status_code == 200
    rt.history.frame()
    assert reads and reads[0] is None and rt.history.ready
