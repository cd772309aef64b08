"""The whole loop between bodies in two browsers: a citizen's report → filed by the command centre →
routed to the district's 城管 → signed by its staff → a worker sent → handled → the check fails →
rework → handled → the check passes → closed. Every stage with its time and deadline in the case's
history; the command page follows the department's moves live, without a click."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from shapely.geometry import shape

from tests.browser.conftest import log_in
from tests.conftest import ROOT
from tests.servers import running_app

pytestmark = pytest.mark.browser
ARTIFACTS = ROOT / "tests" / "artifacts"
TOKEN = "case-loop-bootstrap-token"
SHOWS = (
    "(id) => { const h = document.querySelector('#detail-title'); return !!h && h.textContent.startsWith(`#${id} `); }"
)
STAGE_IS = "(s) => { const b = document.querySelector('#detail-stage'); return !!b && b.textContent === s; }"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    db = tmp_path_factory.mktemp("loop") / "onemap.db"
    with running_app(
        db.with_suffix(".log"),
        ONEMAP_DATABASE_URL=f"sqlite:///{db}",
        ONEMAP_SIMULATE="0",
        ONEMAP_GRID_COUNT="200",
        ONEMAP_POLL_MS="500",
        ONEMAP_BOOTSTRAP_TOKEN=TOKEN,
        ONEMAP_VERIFY_SOURCES="api,citizen,open311",  # a citizen's report through the API is checked on site first
    ) as url:
        yield url, db


def api(url: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        url + "/api/v1" + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.loads(r.read())


def signed_in_page(browser, url: str, user: str):
    page = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
    page.goto(url)
    log_in(page, user)
    page.wait_for_selector("#command-queue")
    return page


def open_case(page, case_id: int) -> None:
    page.fill("#command-queue-search", str(case_id))
    row = page.locator(f"#command-queue .ag-row[row-id='{case_id}'] .ag-cell[col-id=title]")
    row.wait_for(timeout=20_000)
    row.click()
    page.wait_for_function(SHOWS, arg=case_id, timeout=20_000)


def move(page, button: str, note: str | None = None, stage: str | None = None) -> None:
    if note is not None:
        page.fill("#command-case-note", note)
    page.click(f'xpath=//button[contains(@id, \'"action":"{button}"\')]')
    if stage:
        page.wait_for_function(STAGE_IS, arg=stage, timeout=20_000)


def test_a_case_goes_round_the_whole_loop(server, browser) -> None:
    url, _ = server
    # The demo city's bodies: 南明区's city management bureau and one of its staff (nanming_cg).
    dept = next(d for d in api(url, "/departments")["items"] if d["name"] == "南明区城市管理局")
    grids = [g for g in api(url, "/grids")["features"] if g["properties"]["district"] == "南明区"]
    point = shape(grids[0]["geometry"]).representative_point()
    lon, lat = point.x, point.y
    case = api(
        url,
        "/incidents",
        {
            "kind": "ticket",
            "category": "占道经营",
            "title": "人行道占道摆摊",
            "lon": lon,
            "lat": lat,
            "reporter": {"name": "王女士", "phone": "13800001111"},
        },
    )
    case_id = case["id"]
    assert case["stage"] == "verifying", case["stage"]  # a citizen's report is verified before it is filed

    operator = signed_in_page(browser, url, "operator")
    staff = signed_in_page(browser, url, "nanming_cg")
    try:
        open_case(operator, case_id)
        move(operator, "file", stage="已派遣")
        routed = operator.inner_text("#command-detail-head")
        assert "南明区城市管理局" in routed and "占道经营" in routed and "辖区" in routed  # the reason is shown

        open_case(staff, case_id)
        move(staff, "sign", stage="已签收")
        operator.wait_for_function(STAGE_IS, arg="已签收", timeout=10_000)  # live on the command page, no click
        staff.locator(".assign-button").first.click()
        staff.wait_for_function(STAGE_IS, arg="处置中", timeout=20_000)
        move(staff, "handled", note="已劝离摊贩", stage="已反馈")

        operator.wait_for_function(STAGE_IS, arg="已反馈", timeout=10_000)
        move(operator, "check_failed", note="复查时摊位仍在", stage="返工")
        staff.wait_for_function(STAGE_IS, arg="返工", timeout=10_000)
        move(staff, "handled", note="已取缔并清理", stage="已反馈")
        operator.wait_for_function(STAGE_IS, arg="已反馈", timeout=10_000)
        move(operator, "check_passed", note="现场已恢复", stage="已结案")

        history = operator.inner_text("#command-detail-history")
        for word in ("立案", "派遣", "签收", "开始处置", "处置反馈", "核查不通过", "核查通过", "时限"):
            assert word in history, (word, history)
        final = api(url, f"/incidents/{case_id}")
        assert final["stage"] == "closed" and final["rework_count"] == 1 and final["department_id"] == dept["id"]
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        operator.screenshot(path=str(ARTIFACTS / "case-loop-operator.png"))
        staff.screenshot(path=str(ARTIFACTS / "case-loop-staff.png"))
        operator.context.close()
        staff.context.close()
