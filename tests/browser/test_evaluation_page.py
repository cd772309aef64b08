"""The review page's evaluation section in headless Chromium against a real `python app.py` over the
hand-built case log of tests/test_evaluation.py, moved so that its November ends now: the league
table shows the API's figures, sorts by a header, and a number drills down to its cases."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from data.bus import MemoryBus
from data.models import utcnow
from data.store import Store
from ops.accounts import create_token, create_user
from tests.browser.conftest import DEMO_PASSWORD, log_in
from tests.servers import running_app
from tests.test_evaluation import build

pytestmark = pytest.mark.browser
LEAGUE = "#eval-league .ag-center-cols-container .ag-row"
# The rows' names top to bottom (AG Grid orders rows by position, not in the DOM).
NAMES = (
    f"() => [...document.querySelectorAll('{LEAGUE}')]"
    ".sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top)"
    ".map((r) => r.querySelector('[col-id=name]')?.innerText)"
)
DUE_CELLS = f"[...document.querySelectorAll('{LEAGUE} [col-id=due]')].map((c) => c.innerText).sort().join()"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, datetime]]:
    folder = tmp_path_factory.mktemp("evaluation")
    db = folder / "onemap.db"
    store = Store(f"sqlite:///{db}", MemoryBus())
    store.migrate()
    # The log's November, moved to end an hour ago: the page's "30 days" then holds all of it (and the
    # hour after it, in which nothing happens), so its figures are the month's.
    end = (utcnow() - timedelta(hours=1)).replace(microsecond=0)
    build(store, end - datetime(2026, 12, 1))
    supervisor = create_user(store, "supervisor", "supervisor", password=DEMO_PASSWORD)
    token = create_token(store, supervisor)
    store.dispose()
    with running_app(folder / "app.log", ONEMAP_DATABASE_URL=f"sqlite:///{db}", ONEMAP_SIMULATE="0") as url:
        yield url, token, end


def api(url: str, token: str, path: str) -> dict:
    request = urllib.request.Request(f"{url}/api/v1{path}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_league_table_matches_the_api_sorts_and_drills_down(server, browser) -> None:
    url, token, end = server
    # The browser guard (tests/browser/conftest.py) fails the test on a console or page error and on a request
    # to another host, and pictures the page if it fails.
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    try:
        page.goto(f"{url}/review")
        log_in(page, "supervisor")
        page.wait_for_url(re.compile(r".*/review$"))
        page.set_default_timeout(90_000)  # two shared cores draw a WebGL map in software
        # The section has its first period's figures.
        page.wait_for_function(
            "() => /\\d/.test(document.querySelector('#eval-summary')?.innerText || '')", polling=500
        )
        # AG Grid shows a grid's cells once it has been on screen (hidden ones read as empty text): scroll to it
        # as a supervisor does.
        page.locator("#eval-league").scroll_into_view_if_needed()
        page.get_by_text("近30天").click()
        page.wait_for_function(f"() => {DUE_CELLS} === '0,1,4'", polling=500)
        start = (end - timedelta(days=30)).isoformat() + "Z"
        figures = api(url, token, f"/evaluation?start={start}&end={end.isoformat()}Z")
        by_name = {r["name"]: r for r in figures["rows"]}
        a1 = by_name["城管一中队"]
        row = page.locator(f"{LEAGUE}:has([col-id=name]:text-is('城管一中队'))")
        shown = {k: row.locator(f"[col-id={k}]").inner_text() for k in ("grade", "score", "due", "closing_rate")}
        assert shown == {
            "grade": a1["grade"],
            "score": f"{a1['score']:g}",
            "due": str(a1["counts"]["due"]),
            "closing_rate": f"{100 * a1['rates']['closing_rate']:g}",
        }, shown
        assert (a1["grade"], a1["counts"]["due"]) == ("B", 4)  # what tests/test_evaluation.py works out by hand

        # Sorting: one click on the "due" header sorts ascending, a second descending.
        header = page.locator("#eval-league .ag-header-cell[col-id=due] .ag-header-cell-label")
        header.click()
        page.wait_for_function(f"() => ({NAMES})().join() === '城管局,市场监管局,城管一中队'", polling=500)
        header.click()
        page.wait_for_function(f"() => ({NAMES})().join() === '城管一中队,市场监管局,城管局'", polling=500)

        # Drill-down: A1's "due" lists its four cases, as the API's does, and draws them on the timeline.
        row.locator("[col-id=due]").click()
        page.wait_for_function(
            "() => document.querySelectorAll('#eval-cases .ag-center-cols-container .ag-row').length === 4",
            polling=500,
        )
        listed = page.eval_on_selector_all(
            "#eval-cases .ag-center-cols-container .ag-row [col-id=id]", "(cells) => cells.map((c) => c.innerText)"
        )
        cases = api(url, token, f"/evaluation/cases?start={start}&end={end.isoformat()}Z&id={a1['id']}&count=due")
        assert sorted(listed, key=int) == [str(c["id"]) for c in cases["items"]] == ["1", "3", "4", "8"]
        page.wait_for_function(
            "() => { const gd = document.querySelector('#eval-timeline .js-plotly-plot');"
            " return gd && gd._fullData && gd._fullData[0].y.length === 4; }",
            polling=500,
        )
    except Exception:
        print("section:", page.evaluate("() => document.querySelector('#eval-section')?.innerText?.slice(0, 600)"))
        raise
    finally:
        page.close()
