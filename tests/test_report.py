"""The monthly evaluation report (PDF) on the hand-built case log of tests/test_evaluation.py, with
jurisdictions so the maps are drawn: generated once through its API route (a real headless Chromium
renders the screen's figures), opened with pypdf; who may have it; the command line's bad month."""

from __future__ import annotations

import io
from datetime import datetime

import pypdf
import pytest
import shapely
from sqlalchemy import update

import manage
from app import create_app, runtime_of
from config import Config
from data.bus import MemoryBus
from data.demo import DEMO_PASSWORD
from data.models import Department, Incident
from data.store import Store
from ops import evaluation, report
from ops.accounts import create_token, create_user
from tests.conftest import need_server
from tests.test_evaluation import SUPERVISOR, build

# A case title that would be markup anywhere markup is read: the PDF must show it as it is.
TITLE = "<b>**井盖**</b> &amp; {x}"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    browser = need_server("Chromium", "ONEMAP_TEST_CHROMIUM")
    folder = tmp_path_factory.mktemp("report")
    url = f"sqlite:///{folder / 'r.db'}"
    store = Store(url, MemoryBus())
    store.migrate()
    build(store)
    with store.transaction() as s:
        for department, box in ((1, (106.60, 26.50, 106.65, 26.60)), (3, (106.65, 26.50, 106.70, 26.60))):
            area = shapely.MultiPolygon([shapely.box(*box)])
            s.execute(update(Department).where(Department.id == department).values(jurisdiction=area))
        s.execute(update(Incident).where(Incident.id == 8).values(title=TITLE))
    store.dispose()
    app = create_app(Config(database_url=url, simulate=False, media_dir=str(folder / "media")), seed=False)
    rt = runtime_of(app)
    tokens = {"w1": create_token(rt.store, 1), "op1": create_token(rt.store, 2)}
    for name, role, department in (("boss", "supervisor", None), ("a1", "staff", 2), ("root", "admin", None)):
        user = create_user(rt.store, name, role, department_id=department, password=DEMO_PASSWORD)
        tokens[name] = create_token(rt.store, user)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BROWSER_PATH", browser)  # how kaleido (choreographer) finds the browser

        class Api:
            store = rt.store
            db = url
            dash_app = app

            def get(self, path, who=None):
                headers = {"Authorization": f"Bearer {tokens[who]}"} if who else {}
                return app.server.test_client().get(f"/api/v1{path}", headers=headers)

        yield Api()


@pytest.fixture(scope="module")
def pdf(api):
    """The one PDF these tests read (rendered once)."""
    r = api.get("/evaluation/report.pdf?month=2026-11", "boss")
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    assert r.mimetype == "application/pdf"
    assert 'filename="onemap-report-2026-11.pdf"' in r.headers["Content-Disposition"]
    assert r.data.startswith(b"%PDF-")
    return pypdf.PdfReader(io.BytesIO(r.data))


def text_of(reader: pypdf.PdfReader) -> str:
    return "\n".join(page.extract_text() for page in reader.pages)


def test_the_month_is_on_the_city_clock_and_the_trend_against_the_calendar_month_before():
    assert evaluation.month("2026-11") == (datetime(2026, 10, 31, 16), datetime(2026, 11, 30, 16))
    assert report.previous_month("2026-11") == "2026-10" and report.previous_month("2027-01") == "2026-12"


def test_the_worst_cases_are_the_longest_overdue_not_closed(api):
    data = report.gather(api.store, SUPERVISOR, "2026-11")
    start, end = evaluation.month("2026-11")
    not_closed = []
    for root in (1, 3):
        not_closed += evaluation.cases(api.store, SUPERVISOR, start, end, "department", root, "not_closed", True)[
            "items"
        ]
    expected = sorted(not_closed, key=lambda c: c["deadline"])
    assert [c["id"] for c in data.worst] == [c["id"] for c in expected] and expected
    first = data.worst[0]
    assert first["overdue_days"] == pytest.approx((end - first["deadline"]).total_seconds() / 86400)
    assert first["department"] == "城管一中队"


def test_the_pdf_has_the_summary_the_league_the_images_and_the_worst_cases(api, pdf):
    text = text_of(pdf)
    lines = text.splitlines()
    assert len(pdf.pages) >= 3
    assert "2026-11 月度综合评价报告" in text and "全市概况" in text and "部门排名" in text
    league = evaluation.league(api.store, SUPERVISOR, *evaluation.month("2026-11"))
    shown = 0
    for row in league["rows"]:
        line = next(line for line in lines if line.startswith(row["name"] + " "))
        rate = row["rates"]["closing_rate"]
        if rate is not None:
            assert f"{100 * rate:.1f}" in line.split(), (row["name"], line)
            shown += 1
    assert shown >= 2
    due = sum(r["counts"]["due"] for r in league["rows"])
    closed = sum(r["counts"]["closed"] for r in league["rows"])
    assert f"{100 * closed / due:.1f}" in text  # the city's closing rate
    # Two maps, the day chart and the worst cases' timeline, each a PNG the browser drew.
    images = [image for page in pdf.pages for image in page.images]
    assert len(images) >= 4
    assert all(image.image.width >= 1000 for image in images)
    assert "逾期最久" in text and TITLE in text  # plain text: not read as markup


def test_who_may_have_the_report(api, pdf):
    assert api.get("/evaluation/report.pdf?month=2026-11").status_code == 401
    for who in ("w1", "op1", "a1"):
        r = api.get("/evaluation/report.pdf?month=2026-11", who)
        assert r.status_code == 403 and r.get_json()["error"] == "forbidden", who
    for query in ("month=2026-13", "month=11-2026", "", "month=2026-11&lang=fr"):
        assert api.get(f"/evaluation/report.pdf?{query}", "root").status_code == 422, query
    # Nothing changed in the log since: the same document, from the process's cache.
    again = api.get("/evaluation/report.pdf?month=2026-11", "root")
    assert again.status_code == 200 and len(pypdf.PdfReader(io.BytesIO(again.data)).pages) == len(pdf.pages)


def test_the_review_pages_link_gives_a_signed_in_supervisor_the_same_report(api, pdf):
    """The evaluation section's "monthly report" link: the session route serves the API's document."""
    from layouts.evaluation import report_href

    client = api.dash_app.server.test_client()
    assert client.get(report_href("2026-11")).status_code in (302, 401)  # not signed in
    r = client.post("/login", data={"username": "boss", "password": DEMO_PASSWORD, "next": "/review"})
    assert r.status_code == 302
    r = client.get(report_href("2026-11"))
    assert r.status_code == 200 and r.mimetype == "application/pdf", r.get_data(as_text=True)[:300]
    assert len(pypdf.PdfReader(io.BytesIO(r.data)).pages) == len(pdf.pages)
    assert client.get(report_href("2026-13")).status_code == 422


def test_the_route_answers_503_when_the_server_has_no_browser(api, monkeypatch):
    monkeypatch.setenv("BROWSER_PATH", "/nonexistent/chromium")
    monkeypatch.setenv("PATH", "/nonexistent")
    r = api.get("/evaluation/report.pdf?month=2026-10", "root")  # another month: nothing cached
    assert r.status_code == 503 and r.get_json()["error"] == "unavailable", r.data[:300]
    assert "BROWSER_PATH" in r.get_json()["message"]


def test_the_command_line_refuses_a_bad_month_and_says_when_there_is_no_browser(api, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("ONEMAP_DATABASE_URL", api.db)
    assert manage.main(["report", "--month", "2026-13"]) == 2
    assert "YYYY-MM" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        manage.parser().parse_args(["report", "--month", "2026-11", "--lang", "fr"])
    monkeypatch.setenv("BROWSER_PATH", "/nonexistent/chromium")  # no browser: said, not a traceback
    assert manage.main(["report", "--month", "2026-11", "--out", str(tmp_path / "r.pdf")]) == 2
    assert "BROWSER_PATH" in capsys.readouterr().err and not (tmp_path / "r.pdf").exists()
