"""The monthly report's render is single-flight per month and language inside the process: concurrent
first requests get one render (kaleido + Chromium take seconds each), a repeat is served from the kept
document, a new event makes a fresh one, and a month or language is never served another's document.
The real route, token check and data gathering run; only the document renderer (``layouts.report.build``,
the browser and fpdf2) is replaced by one that counts its calls and holds until the test lets it go."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import select

from api.report_pdf import flights
from app import create_app, runtime_of
from config import Config
from data.models import User
from data.store import record_event
from ops.accounts import create_token, create_user
from ops.report import ReportError

DEADLINE_S = 30


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


class Renderer:
    """Stands in for ``layouts.report.build``: records each call, holds it until ``release`` is set, and
    returns a document naming its month, language and call number (or raises ``fail``)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.release = threading.Event()
        self.fail: Exception | None = None

    def __call__(self, t, data, departments, generated) -> bytes:
        self.calls.append((data.month, t.lang))
        n = len(self.calls)
        assert self.release.wait(DEADLINE_S), "the test never released the render"
        if self.fail is not None:
            raise self.fail
        return f"%PDF-fake {data.month} {t.lang} #{n}".encode()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """One app on an empty store (no demo city: the renders are counted, not read)."""
    import layouts.report

    folder = tmp_path_factory.mktemp("report-cache")
    config = Config(database_url=f"sqlite:///{folder / 'c.db'}", simulate=False, media_dir=str(folder / "media"))
    with pytest.MonkeyPatch.context() as mp:
        renderer = Renderer()
        mp.setattr(layouts.report, "build", renderer)
        app = create_app(config, seed=False)
        app.renderer = renderer
        yield app
        renderer.release.set()


@pytest.fixture
def api(app):
    rt = runtime_of(app)
    app.renderer.__init__()  # each test counts its own renders, from an empty cache
    flights(rt.store).__init__()
    names = {"boss": "supervisor", "ops": "operator"}
    with rt.store.read() as s:
        have = set(s.scalars(select(User.username)).all())
    tokens = {}
    for name, role in names.items():
        user = create_user(rt.store, name, role, password="x" * 12) if name not in have else None
        tokens[name] = create_token(rt.store, user or _user_id(rt.store, name))

    class Api:
        store = rt.store
        render = app.renderer
        operator = tokens["ops"]

        def get(self, query: str, who: str = tokens["boss"]):
            client = app.server.test_client()
            return client.get(f"/api/v1/evaluation/report.pdf?{query}", headers={"Authorization": f"Bearer {who}"})

        def in_thread(self, query: str) -> tuple[threading.Thread, dict]:
            out: dict = {}
            thread = threading.Thread(target=lambda: out.update(r=self.get(query)), daemon=True)
            thread.start()
            return thread, out

    yield Api()
    app.renderer.release.set()


def _user_id(store, name: str) -> int:
    with store.read() as s:
        return s.scalar(select(User.id).where(User.username == name))


def test_two_concurrent_first_requests_render_once_and_get_the_same_document(api):
    first, a = api.in_thread("month=2026-11")
    wait_for(lambda: len(api.render.calls) == 1, "the first render to start")
    second, b = api.in_thread("month=2026-11")
    # The second request either waits for the render in flight or (without single-flight) renders too.
    wait_for(lambda: sum(flights(api.store).waiting.values()) == 1 or len(api.render.calls) > 1, "the second")
    api.render.release.set()
    first.join(DEADLINE_S)
    second.join(DEADLINE_S)
    assert api.render.calls == [("2026-11", "zh-CN")]
    assert a["r"].status_code == b["r"].status_code == 200
    assert a["r"].data == b["r"].data == b"%PDF-fake 2026-11 zh-CN #1"
    assert a["r"].mimetype == "application/pdf"


def test_kept_until_the_next_event_and_never_another_months_or_languages(api):
    api.render.release.set()
    assert api.get("month=2026-11").data == b"%PDF-fake 2026-11 zh-CN #1"
    assert api.get("month=2026-11").data == b"%PDF-fake 2026-11 zh-CN #1"  # kept: no second render
    assert api.get("month=2026-11&lang=en").data == b"%PDF-fake 2026-11 en #2"
    assert api.get("month=2026-10").data == b"%PDF-fake 2026-10 zh-CN #3"
    assert len(api.render.calls) == 3
    with api.store.transaction() as s:
        record_event(s, "case.urge", "incident", 1, "boss", {"code": 900})
    assert api.get("month=2026-11").data == b"%PDF-fake 2026-11 zh-CN #4"  # a new event: a fresh report
    assert api.get("month=2026-11&lang=en").data == b"%PDF-fake 2026-11 en #5"
    assert api.get("month=2026-11").data == b"%PDF-fake 2026-11 zh-CN #4"
    assert len(api.render.calls) == 5
    # Who may have it is checked on every request, the kept document's included.
    assert api.get("month=2026-11", api.operator).status_code == 403
    assert api.get("month=2026-13").status_code == 422


def test_a_failed_render_fails_its_waiters_too_and_is_not_kept(api):
    api.render.fail = ReportError("no browser here")
    first, a = api.in_thread("month=2026-11")
    wait_for(lambda: len(api.render.calls) == 1, "the first render to start")
    second, b = api.in_thread("month=2026-11")
    wait_for(lambda: sum(flights(api.store).waiting.values()) == 1 or len(api.render.calls) > 1, "the second")
    api.render.release.set()
    first.join(DEADLINE_S)
    second.join(DEADLINE_S)
    assert len(api.render.calls) == 1
    for r in (a["r"], b["r"]):
        assert r.status_code == 503 and "no browser here" in r.get_json()["message"]
    api.render.fail = None
    r = api.get("month=2026-11")  # the next request tries again
    assert r.status_code == 200 and r.data == b"%PDF-fake 2026-11 zh-CN #2"
