"""Acceptance in Debian's Chromium (Playwright): an admin adds a partner, reads the loader's
error in the form, issues its token, edits its return route and disables it; an operator
reads the AS2 evidence of a message. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator

from playwright.sync_api import Browser, Page, expect

from edi_gateway.app import Gateway
from edi_gateway.config import hash_token
from tests import test_dashboard_browser as chromium
from tests.test_dashboard_browser import shot, sign_in
from tests.test_dashboard_partners import _mdns
from tests.test_dashboard_support import DashboardServer, Store

store = chromium.store  # fixtures
dashboard_server = chromium.dashboard_server
database_url = chromium.database_url
browser = chromium.browser


def _pages(browser: Browser, server: DashboardServer, lang: str) -> Iterator[Page]:
    yield from chromium._page(browser, server, lang)


def test_an_admin_adds_a_partner_issues_its_token_and_disables_it(
    browser: Browser, dashboard_server: DashboardServer, gateway: Gateway, store: Store
) -> None:
    for page in _pages(browser, dashboard_server, "en-GB"):
        sign_in(page, "alice", then="/partners")
        expect(page.locator("#our-certificates")).to_contain_text("AS2 is not configured.")
        shot(page, "20-partners-admin")

        page.locator("#add-partner").click()
        page.get_by_label("Partner id").fill("hanil-office")  # taken
        page.get_by_label("Name", exact=True).fill("Acme Office Supplies")
        page.get_by_label(re.compile("Identifiers")).fill("0088:8807777000016\nVAT:KR7777700001")
        page.get_by_label(re.compile("EDIFACT interchange ids")).fill("8807777000016/14")
        page.get_by_label("invoice", exact=True).check()
        page.get_by_label("Return route").select_option("http")
        page.locator("#save-partner").click()
        expect(page.locator("#form-error")).to_contain_text("exists already")
        expect(page.get_by_label("Name", exact=True)).to_have_value("Acme Office Supplies")
        shot(page, "21-partner-form-error")

        page.get_by_label("Partner id").fill("acme")
        page.locator("#save-partner").click()
        expect(page.get_by_role("status")).to_contain_text("Partner acme saved")
        row = page.locator("tr[data-partner=acme]")
        expect(row).to_contain_text("0088:8807777000016")

        row.get_by_role("button", name="New token").click()
        token = page.locator("#new-token").inner_text()
        assert token.startswith("egw_")
        shot(page, "22-partner-token")
        page.get_by_role("link", name="Back to partners").click()
        expect(page.locator("body")).not_to_contain_text(token)

        row.get_by_role("link", name="Edit").click()
        page.get_by_label("Return route").select_option("none")
        page.get_by_label("Drop folder").check()
        shot(page, "23-partner-edit")
        page.locator("#save-partner").click()
        expect(row.locator(".chip", has_text="folder")).to_be_visible()

        row.get_by_role("button", name="Disable").click()
        expect(row).to_contain_text("Disabled")
        shot(page, "24-partners-after-changes")

    acme = gateway.config.partners["acme"]
    assert acme.enabled is False and acme.acks.route == "none" and acme.folder is True
    assert gateway.config.partner_by_token(token) is None  # disabled: its token is refused
    assert (gateway.config.folder_root / "acme" / "in").is_dir()  # made without a restart
    text = (gateway.config.partners_dir / "acme.toml").read_text()
    assert tomllib.loads(text)["api_tokens"][0]["sha256"] == hash_token(token)


def test_an_operator_reads_the_mdn_evidence_in_korean_too(
    browser: Browser, dashboard_server: DashboardServer, gateway: Gateway, store: Store
) -> None:
    _mdns(gateway, store.edifact_id)
    for page in _pages(browser, dashboard_server, "en-GB"):
        sign_in(page, "oscar", then=f"/messages/{store.edifact_id}")
        panel = page.locator("#as2-mdns")
        expect(panel.locator("tbody tr")).to_have_count(2)
        expect(panel).to_contain_text("decryption-failed")
        expect(panel.get_by_role("link", name="Download MDN")).to_have_count(2)
        shot(page, "25-message-mdns")
        with page.expect_download() as got:
            panel.get_by_role("link", name="Download MDN").first.click()
        assert got.value.suggested_filename.startswith("mdn-")
    for page in _pages(browser, dashboard_server, "ko-KR"):
        sign_in(page, "alice", then="/partners")
        expect(page.get_by_role("heading", name="거래처")).to_be_visible()
        expect(page.locator("#add-partner")).to_have_text("거래처 추가")
        shot(page, "26-partners-ko")
        page.goto(f"/messages/{store.edifact_id}")
        expect(page.locator("#as2-mdns h2")).to_contain_text("AS2 수신 확인")
