"""Acceptance: an operator drives the dashboard in Debian's Chromium (Playwright). Writes a
screenshot of every page to artifacts/screenshots/."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from edi_gateway.app import Gateway
from edi_gateway.store.tables import InterchangeState
from tests import test_dashboard_support as support
from tests.support import ROOT
from tests.test_dashboard_support import (
    EDIFACT_FINDING,
    PASSWORD,
    DashboardServer,
    Store,
)

store = support.store  # fixtures
dashboard_server = support.dashboard_server


CHROMIUM = Path(os.environ.get("EDI_GATEWAY_CHROMIUM", "/usr/bin/chromium"))
SHOTS = ROOT / "artifacts" / "screenshots"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The browser tests run on SQLite only (the HTTP tests cover PostgreSQL)."""
    return f"sqlite:///{tmp_path / 'gateway.db'}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing; .ci/run must install the chromium package")
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield b
        b.close()


def _page(browser: Browser, server: DashboardServer, lang: str = "en-GB") -> Iterator[Page]:
    context = browser.new_context(
        base_url=server.url, locale=lang, viewport={"width": 1360, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def page(browser: Browser, dashboard_server: DashboardServer) -> Iterator[Page]:
    yield from _page(browser, dashboard_server)


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, username: str, then: str = "/overview") -> None:
    page.goto(then)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label(re.compile("Username|사용자 이름")).fill(username)
    page.get_by_label(re.compile("Password|비밀번호")).fill(PASSWORD)
    page.get_by_role("button", name=re.compile("Sign in|로그인")).click()
    expect(page).to_have_url(re.compile(re.escape(then) + "$"))


def test_an_operator_finds_a_failed_invoice_and_reprocesses_it(
    page: Page, gateway: Gateway, store: Store
) -> None:
    page.goto("/login")
    shot(page, "01-sign-in")
    sign_in(page, "oscar")
    expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()
    expect(page.locator("svg.chart")).to_have_count(2)
    expect(page.locator(".count.s-rejected .n").first).to_have_text("3")  # last hour
    shot(page, "02-overview")

    page.get_by_role("link", name="Messages", exact=True).click()
    page.locator("select[name=partner]").select_option("hanil-office")
    page.locator("select[name=state]").select_option("rejected")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("#message-list tbody tr[data-id]")
    expect(rows).to_have_count(2)  # the EDIFACT and the XML invoice, not daehan's broken JSON
    shot(page, "03-messages-filtered")

    page.get_by_role("link", name="Clear").click()
    page.get_by_placeholder(re.compile("Business number")).fill(store.invoice_number)
    page.get_by_placeholder(re.compile("Business number")).press("Enter")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(store.invoice_number)
    shot(page, "04-messages-search")

    page.get_by_placeholder(re.compile("Business number")).fill("INV-EDI-0099")
    page.get_by_placeholder(re.compile("Business number")).press("Enter")
    expect(rows).to_have_count(1)
    rows.first.get_by_role("link").click()
    expect(page).to_have_url(re.compile(f"/messages/{store.edifact_id}$"))
    expect(page.locator("#state")).to_have_text("rejected")
    marked = page.locator("#raw .seg.marked")
    expect(marked).to_have_count(1)
    expect(marked.locator(".ln")).to_have_text(str(EDIFACT_FINDING["segment"]))
    expect(marked.locator(".tag")).to_have_text("MOA")
    expect(marked.locator(".el.mark")).to_have_text("77:ABC")
    expect(marked.locator(".comp.mark")).to_have_text("ABC")  # component 2
    expect(marked).to_contain_text("must be numeric")
    expect(page.locator("#raw .seg")).to_have_count(10)  # UNA and nine numbered segments
    shot(page, "05-message-edifact")

    page.locator("#reprocess").click()
    expect(page.get_by_role("status")).to_contain_text("Queued for reprocessing")
    expect(page.locator("#state")).to_have_text("received")
    expect(page.locator(".timeline")).to_contain_text("operator:oscar")

    gateway.worker.run_once()  # the pipeline takes it up again
    page.reload()
    expect(page.locator("#state")).not_to_have_text(re.compile("received|processing"))
    state = page.locator("#state").inner_text()
    assert InterchangeState(state).terminal
    expect(page.locator(".timeline li")).to_have_count(6)  # 3 seeded + reprocess, processing, end
    shot(page, "06-message-after-reprocess")


def test_xml_findings_are_highlighted_at_their_xpath(page: Page, store: Store) -> None:
    sign_in(page, "vera", f"/messages/{store.xml_id}")
    marked = page.locator("#raw .seg.marked")
    expect(marked).to_have_count(1)
    expect(marked).to_contain_text("<cbc:PayableAmount")
    expect(marked).to_contain_text("BR-CO-25")
    shot(page, "07-message-xml")


def test_a_viewer_sees_no_actions_and_cannot_post_them(page: Page, store: Store) -> None:
    sign_in(page, "vera", f"/messages/{store.edifact_id}")
    expect(page.locator("#reprocess")).to_have_count(0)
    token = page.locator("input[name=csrf]").first.get_attribute("value")
    answer = page.request.post(
        f"/messages/{store.edifact_id}/reprocess", form={"csrf": token or ""}
    )
    assert answer.status == 403
    page.goto("/messages")
    expect(page.locator("input[name=ids]")).to_have_count(0)
    expect(page.get_by_role("button", name="Reprocess selected")).to_have_count(0)


def test_a_forged_post_is_refused(page: Page, store: Store) -> None:
    sign_in(page, "oscar", f"/messages/{store.edifact_id}")
    page.evaluate("document.querySelectorAll('input[name=csrf]').forEach(e => e.remove())")
    page.locator("#reprocess").click()
    expect(page.get_by_role("alert")).to_contain_text("The form expired")
    page.goto(f"/messages/{store.edifact_id}")
    expect(page.locator("#state")).to_have_text("rejected")


def test_anonymous_browsing_lands_on_sign_in(page: Page, store: Store) -> None:
    for path in ("/overview", "/messages", f"/messages/{store.edifact_id}", "/queues", "/audit"):
        page.goto(path)
        expect(page).to_have_url(re.compile(r"/login\?next="))
    answer = page.request.get("/api/messages")
    assert answer.status == 401


def test_the_other_pages_and_korean(
    browser: Browser, dashboard_server: DashboardServer, store: Store
) -> None:
    for page in _page(browser, dashboard_server, lang="ko-KR"):
        sign_in(page, "alice")
        expect(page.get_by_role("heading", name="개요")).to_be_visible()
        shot(page, "08-overview-ko")
        page.get_by_role("link", name="English").click()
        expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()
        for path, name, heading in (
            ("/partners", "09-partners", "Partners"),
            ("/queues", "10-queues", "Queues"),
            ("/audit", "11-audit", "Audit trail"),
            ("/users", "12-operators", "Operators"),
        ):
            page.goto(path)
            expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
            shot(page, name)
        page.goto("/audit")
        expect(page.locator("#audit-list")).to_contain_text("sign-in")
        page.goto("/lang/ko?next=/messages")
        expect(page.get_by_role("heading", name="메시지")).to_be_visible()
        shot(page, "13-messages-ko")


def test_the_overview_refreshes_itself(
    browser: Browser, gateway: Gateway, dashboard_server: DashboardServer, store: Store
) -> None:
    dashboard_server.app.state.dashboard.refresh_seconds = 1
    for page in _page(browser, dashboard_server):
        sign_in(page, "vera")
        before = page.locator(".count.s-received .n").first
        expect(before).to_have_text("0")
        from edi_gateway.intake import Origin

        gateway.intake.receive(b'{"kind": "order"}', Origin("http", "hanil-office"))
        expect(before).to_have_text("1", timeout=10_000)
