"""The rules page in headless Chromium against a real `python app.py`: an admin edits a rule, is told
exactly what is wrong, fixes it, adds a rule and saves; the store then holds what was saved. An
operator cannot open the page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from data.bus import MemoryBus
from data.store import Store
from ops import early_warning
from tests.browser.conftest import log_in
from tests.servers import running_app

pytestmark = pytest.mark.browser
RULES = Path(__file__).resolve().parents[2] / "rules.toml"
CELL = ".ag-center-cols-container .ag-row[row-index='{row}'] .ag-cell[col-id='{col}']"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    db = tmp_path_factory.mktemp("rules") / "onemap.db"
    url = f"sqlite:///{db}"
    with running_app(
        db.with_suffix(".log"), ONEMAP_DATABASE_URL=url, ONEMAP_GRID_COUNT="60", ONEMAP_SIMULATE="0"
    ) as base:
        yield base, url


def edit_cell(page, row: int, col: str, text: str) -> None:
    page.click(CELL.format(row=row, col=col))
    editor = page.locator(".ag-cell-inline-editing input, .ag-cell-inline-editing textarea").first
    editor.fill(text)
    editor.press("Enter")


def test_an_admin_edits_fixes_adds_and_saves_rules(server, browser) -> None:
    base, db_url = server
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    try:
        page.goto(base)
        log_in(page, "admin")
        page.get_by_role("link", name="预警规则").click()
        page.wait_for_url(re.compile(r".*/rules$"))
        page.wait_for_selector(CELL.format(row=5, col="id"))
        assert page.inner_text(CELL.format(row=0, col="id")) == "ticket-cluster"
        # Types and levels read by name (the stored rule keeps the codes).
        assert page.inner_text(CELL.format(row=0, col="type")) == "同类工单聚集"
        assert page.inner_text(CELL.format(row=2, col="level")) == "高"

        # A count below the type's floor: nothing is saved, and the problem is named.
        edit_cell(page, 0, "params", '{"count": 1, "hours": 24}')
        page.click("#rules-save")
        page.wait_for_selector(".rules-status-error")
        said = page.inner_text(".rules-status-error")
        assert "规则「ticket-cluster」：count 不能小于 2" in said and "must be" not in said  # in the page's language
        store = Store(db_url, MemoryBus())
        assert early_warning.current_rules(store, RULES)[0].params["count"] == 5  # still the file's

        # Fixed, and a new rule added (its defaults are a valid ticket cluster): both saved.
        edit_cell(page, 0, "params", '{"count": 3, "hours": 12}')
        page.click("#rules-add")
        page.wait_for_selector(CELL.format(row=6, col="id"))
        edit_cell(page, 6, "id", "cluster-fast")
        page.click("#rules-save")
        page.wait_for_selector(".rules-status-ok")
        assert "7" in page.inner_text(".rules-status-ok")
        saved = {r.id: r for r in early_warning.current_rules(store, RULES)}
        assert saved["ticket-cluster"].params["count"] == 3 and saved["ticket-cluster"].params["hours"] == 12
        assert saved["cluster-fast"].type == "ticket_cluster" and saved["cluster-fast"].params["count"] == 5

        # Delete the new rule again (tick its row, delete, save): six rules, the file's ids.
        page.click(".ag-center-cols-container .ag-row[row-index='6'] .ag-selection-checkbox input")
        page.click("#rules-delete")
        page.wait_for_function("() => !document.querySelector(\".ag-center-cols-container .ag-row[row-index='6']\")")
        page.click("#rules-save")
        page.wait_for_function("() => /6/.test(document.querySelector('.rules-status-ok')?.innerText || '')")
        assert "cluster-fast" not in {r.id for r in early_warning.current_rules(store, RULES)}
        store.dispose()
    finally:
        page.close()


def test_an_operator_cannot_open_the_rules_page(server, browser) -> None:
    base, _ = server
    page = browser.new_page()
    try:
        page.goto(base)
        log_in(page, "operator")
        page.wait_for_selector(".kpi-strip")
        assert page.get_by_role("link", name="预警规则").count() == 0  # no link for a non-admin
        page.goto(f"{base}/rules")
        page.wait_for_selector(".forbidden")
        assert page.locator("#rules-grid").count() == 0
    finally:
        page.close()
