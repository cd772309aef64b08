"""The departments page in headless Chromium against a real `python app.py`: an admin edits a
department's categories and saves (the store then holds them), and a bad edit is named and saves
nothing. An operator cannot open the page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from data.bus import MemoryBus
from data.store import Store
from layouts import departments as view
from layouts.i18n import Text
from ops import departments
from tests.browser.conftest import log_in
from tests.servers import running_app

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CELL = "#departments-grid .ag-center-cols-container .ag-row[row-index='{row}'] .ag-cell[col-id='{col}']"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    db = tmp_path_factory.mktemp("departments") / "onemap.db"
    url = f"sqlite:///{db}"
    with running_app(
        db.with_suffix(".log"), ONEMAP_DATABASE_URL=url, ONEMAP_GRID_COUNT="60", ONEMAP_SIMULATE="0"
    ) as base:
        yield base, url


def desk_page(browser):
    return browser.new_page(viewport={"width": 1920, "height": 1080})


def edit_cell(page, row: int, col: str, text: str) -> None:
    page.click(CELL.format(row=row, col=col))
    editor = page.locator(".ag-cell-inline-editing input, .ag-cell-inline-editing textarea").first
    editor.fill(text)
    editor.press("Enter")


def stored(db_url: str) -> dict[int, dict]:
    store = Store(db_url, MemoryBus())
    try:
        return {d["id"]: d for d in departments.list_all(store)}
    finally:
        store.dispose()


def test_an_admin_edits_categories_and_a_bad_edit_is_named(server, browser) -> None:
    base, db_url = server
    page = desk_page(browser)
    try:
        page.goto(base)
        log_in(page, "admin")
        page.get_by_role("link", name="部门管理").click()
        page.wait_for_url(re.compile(r".*/departments$"))
        page.wait_for_selector(CELL.format(row=1, col="name"))
        first = int(page.inner_text(CELL.format(row=0, col="id")))
        second = int(page.inner_text(CELL.format(row=1, col="id")))
        before = stored(db_url)
        assert page.inner_text(CELL.format(row=0, col="name")) == before[first]["name"]
        store = Store(db_url, MemoryBus())
        rows = view.department_rows(Text("zh-CN"), departments.list_all(store), departments.district_shapes(store))
        store.dispose()
        for n in (0, 1):  # the area reads as the page's builder words it from the store
            assert page.inner_text(CELL.format(row=n, col="area")) == rows[n]["area"]

        edit_cell(page, 0, "categories", "占道经营, 井盖缺失")
        page.click("#departments-save")
        page.wait_for_selector(".departments-status-ok")
        assert "1" in page.inner_text(".departments-status-ok")
        after = stored(db_url)
        assert after[first]["categories"] == ["占道经营", "井盖缺失"]
        assert after[first]["jurisdiction"] == before[first]["jurisdiction"]  # the area is kept
        assert {k: v for k, v in after.items() if k != first} == {k: v for k, v in before.items() if k != first}

        # An empty name: the problem is named in the page's language, nothing is saved.
        edit_cell(page, 1, "name", "")
        edit_cell(page, 0, "categories", "占道经营")
        page.click("#departments-save")
        page.wait_for_selector(".departments-status-error")
        said = page.inner_text(".departments-status-error")
        assert f"部门「{before[second]['name']}」：请填写 名称" in said and "required" not in said, said
        assert stored(db_url) == after

        page.click("#departments-reload")
        page.wait_for_function(
            "([sel, name]) => document.querySelector(sel)?.innerText === name",
            arg=[CELL.format(row=1, col="name"), before[second]["name"]],
        )

        # A new department with one district picked as its area, on top of the list; saved, it reads so.
        page.click("#departments-districts")
        option = page.get_by_role("option").first
        district = option.inner_text()
        option.click()
        page.keyboard.press("Escape")
        page.click("#departments-add")
        page.wait_for_function(
            "([sel, d]) => document.querySelector(sel)?.innerText === d",
            arg=[CELL.format(row=0, col="districts"), district],
        )
        edit_cell(page, 0, "name", "测试新部门")
        edit_cell(page, 0, "categories", "井盖缺失")
        page.click("#departments-save")
        page.wait_for_selector(".departments-status-ok")
        [new] = [d for d in stored(db_url).values() if d["name"] == "测试新部门"]
        assert new["categories"] == ["井盖缺失"] and new["level"] == 1 and new["jurisdiction"] is not None
        assert len(stored(db_url)) == len(before) + 1
    except Exception:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "departments-page.png"))
        raise
    finally:
        page.close()


def test_an_operator_cannot_open_the_departments_page(server, browser) -> None:
    base, _ = server
    page = desk_page(browser)
    try:
        page.goto(base)
        log_in(page, "operator")
        page.wait_for_selector(".kpi-strip")
        assert page.get_by_role("link", name="部门管理").count() == 0  # no link for a non-admin
        page.goto(f"{base}/departments")
        page.wait_for_selector(".forbidden")
        assert "只有管理员" in page.inner_text(".forbidden")
        assert page.locator("#departments-grid").count() == 0
    except Exception:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "departments-forbidden.png"))
        raise
    finally:
        page.close()
