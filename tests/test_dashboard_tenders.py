"""The tender opening page over real HTTP (SQLite and PostgreSQL): the calls, the sealed
tenders as metadata, and every way the opening form refuses; then the opening in Debian's
Chromium with two of three shares (screenshots in artifacts/screenshots/)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select
from structlog.testing import capture_logs

from edi_gateway import samples
from edi_gateway.app import Gateway
from edi_gateway.config import Config
from edi_gateway.intake import Origin
from edi_gateway.store.operators import AuditEntry, Role
from edi_gateway.store.tables import Event
from edi_gateway.store.tendering import TenderCall
from edi_gateway.tendering import calls
from edi_gateway.tendering.wiring import tendering_of
from edi_gateway.web.dashboard import accounts
from edi_gateway.web.dashboard.security import Throttle
from tests import test_dashboard_browser as browsing
from tests.conftest import FakeClock
from tests.test_dashboard_browser import _page, shot, sign_in
from tests.test_dashboard_support import PASSWORD, DashboardServer, csrf_of, signed_in

MOE = samples.INSTITUTIONS[0]
HANIL, DAEHAN, NORDIC = samples.SUPPLIERS
START = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
DEADLINE = START + dt.timedelta(hours=1)
OPENING = DEADLINE + dt.timedelta(minutes=30)
PROCEDURE = "CFT-2026-077"
OPERATORS = {"alice": Role.ADMIN, "oscar": Role.OPERATOR, "vera": Role.VIEWER}

browser = browsing.browser  # fixture: Debian's Chromium


@dataclass
class Tendered:
    shares: list[str]
    counted: dict[str, str]  # tenderer -> receipt id of the tender that counts
    other_call_shares: list[str]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def gateway(config: Config, clock: FakeClock) -> Iterator[Gateway]:
    gw = Gateway(config, clock=clock)
    yield gw
    gw.stop()
    gw.engine.dispose()


def _register(gw: Gateway, procedure: str) -> list[str]:
    t = tendering_of(gw)
    spec = calls.CallSpec(
        procedure_id=procedure,
        institution_id=MOE.id,
        deadline=DEADLINE,
        opening_at=OPENING,
        officers=["kim", "lee", "park"],
        threshold=2,
        title="Classroom chairs",
    )
    return list(calls.register_call(t.sessions, t.clock, spec, "test").shares.values())


def _tender(gw: Gateway, number: str, supplier: samples.SamplePartner) -> str:
    doc = samples.tender(number, MOE, supplier, PROCEDURE)
    payload = json.dumps(doc).encode()
    return gw.intake.receive(payload, Origin("http", supplier.id)).interchange_id


@pytest.fixture
def tendered(gateway: Gateway, clock: FakeClock) -> Tendered:
    shares = _register(gateway, PROCEDURE)
    other = _register(gateway, "CFT-2026-078")
    _tender(gateway, "TND-H-1", HANIL)
    clock.advance(60)
    hanil = _tender(gateway, "TND-H-2", HANIL)  # replaces the first
    daehan = _tender(gateway, "TND-D-1", DAEHAN)
    clock.advance(60)
    _tender(gateway, "TND-N-1", NORDIC)
    t = tendering_of(gateway)
    calls.withdraw(t.sessions, t.clock, PROCEDURE, NORDIC.id, "test")
    t.clerk.run_once()
    for name, role in OPERATORS.items():
        accounts.add(gateway.sessions, name, PASSWORD, role, "test", clock(), name.title())
    return Tendered(shares, {HANIL.id: hanil, DAEHAN.id: daehan}, other)


@pytest.fixture
def server(gateway: Gateway, tendered: Tendered) -> Iterator[DashboardServer]:
    with DashboardServer(gateway, throttle=Throttle(free=5)) as srv:
        yield srv


def _call_state(gw: Gateway) -> str:
    with gw.sessions() as s:
        return str(calls.find_call(s, PROCEDURE).state)


def _open(client: httpx.Client, shares: list[str], csrf: str | None = None) -> httpx.Response:
    page = client.get(f"/tenders/{PROCEDURE}")
    token = csrf if csrf is not None else csrf_of(page.text)
    return client.post(f"/tenders/{PROCEDURE}/opening", data={"csrf": token, "share": shares})


def _audits(gw: Gateway) -> list[AuditEntry]:
    with gw.sessions() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == "open-call")))


def test_the_calls_and_their_sealed_tenders_show_metadata_only(
    gateway: Gateway, server: DashboardServer, tendered: Tendered
) -> None:
    with signed_in(server, "vera") as viewer:
        listing = viewer.get("/tenders")
        assert listing.status_code == 200
        assert PROCEDURE in listing.text and "CFT-2026-078" in listing.text
        assert "2026-11-26 10:30:00" in listing.text  # the opening time
        page = viewer.get(f"/tenders/{PROCEDURE}")
        assert page.status_code == 200
        rows = re.findall(r'<tr data-receipt="([^"]+)">(.*?)</tr>', page.text, re.S)
        assert len(rows) == 4
        standing = {rid: re.search(r"standing-(\w+)", row).group(1) for rid, row in rows}  # type: ignore[union-attr]
        assert sorted(standing.values()) == ["counted", "counted", "replaced", "withdrawn"]
        assert standing[tendered.counted[HANIL.id]] == "counted"
        assert "TND-H-2" not in page.text  # a tender number is content: never shown
        assert 'id="opening"' not in page.text  # a viewer gets no form
        token = csrf_of(page.text)
        refused = viewer.post(
            f"/tenders/{PROCEDURE}/opening", data={"csrf": token, "share": tendered.shares[:2]}
        )
        assert refused.status_code == 403
    assert _call_state(gateway) == "open"


def test_the_opening_form_refuses_before_the_opening_time(
    gateway: Gateway, server: DashboardServer, tendered: Tendered, clock: FakeClock
) -> None:
    clock.now = OPENING - dt.timedelta(seconds=1)
    with signed_in(server, "oscar") as op:
        r = _open(op, tendered.shares[:2])
        assert r.status_code == 409
        assert "The opening time has not come yet." in r.text
    assert _call_state(gateway) == "open"
    (entry,) = _audits(gateway)
    assert entry.outcome == "too-early" and entry.detail["shares_given"] == 2


def test_the_opening_form_refuses_too_few_or_wrong_shares_and_a_forged_post(
    gateway: Gateway, server: DashboardServer, tendered: Tendered, clock: FakeClock
) -> None:
    clock.now = OPENING
    with signed_in(server, "oscar") as op:
        few = _open(op, tendered.shares[:1])
        assert few.status_code == 422 and "Enter the shares of 2 officers." in few.text
        wrong = _open(op, tendered.other_call_shares[:2])
        assert wrong.status_code == 422 and "These shares do not open this call." in wrong.text
        forged = _open(op, tendered.shares[:2], csrf="forged")
        assert forged.status_code == 403
        unknown = op.post(
            "/tenders/NO-SUCH-CALL/opening",
            data={"csrf": csrf_of(op.get("/tenders").text), "share": tendered.shares[:2]},
        )
        assert unknown.status_code == 404
        for refused in (few, wrong):
            assert not any(share in refused.text for share in tendered.shares)
    assert _call_state(gateway) == "open"
    outcomes = sorted(e.outcome for e in _audits(gateway))
    assert outcomes == ["shares-rejected", "too-few-shares", "unknown-call"]


def test_an_opening_with_two_of_three_shares_shows_the_record_and_keeps_no_share(
    gateway: Gateway,
    server: DashboardServer,
    tendered: Tendered,
    clock: FakeClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clock.now = OPENING
    with signed_in(server, "oscar") as op, capture_logs() as logged:
        r = _open(op, [tendered.shares[0], tendered.shares[2]])
        assert r.status_code == 200, r.text
        assert 'id="opening-record"' in r.text and 'id="opening"' not in r.text
        assert "operator:oscar" in r.text
    assert _call_state(gateway) == "opened"
    with gateway.sessions() as s:
        record = s.scalar(
            select(TenderCall.opening_record).where(TenderCall.procedure_id == PROCEDURE)
        )
        events = [json.dumps(e) for e in s.scalars(select(Event.detail))]
    assert record is not None
    assert {x["receipt_id"] for x in record["tenders"]} == set(tendered.counted.values())
    assert all(x["price"] for x in record["tenders"])
    for x in record["tenders"]:
        assert x["sha256"] in r.text and x["tenderer"] in r.text
    (entry,) = _audits(gateway)
    assert entry.outcome == "ok" and entry.actor == "oscar" and entry.detail["shares_given"] == 2
    stored = json.dumps(entry.detail) + "".join(events)
    assert not any(share in stored for share in tendered.shares)
    assert "tendering.opened" in [e["event"] for e in logged]  # logs seen, and no share in them
    written = capsys.readouterr()
    assert not any(share in repr(logged) + written.out + written.err for share in tendered.shares)


# -- in the browser ----------------------------------------------------------------------------


def test_two_officers_open_the_call_in_the_browser(
    browser: Browser,
    gateway: Gateway,
    server: DashboardServer,
    tendered: Tendered,
    clock: FakeClock,
) -> None:
    if not gateway.config.database_url.startswith("sqlite"):
        pytest.skip("the browser test runs on SQLite (the HTTP tests cover PostgreSQL)")
    clock.now = OPENING
    for page in _page(browser, server):
        sign_in(page, "oscar", "/tenders")
        expect(page.get_by_role("heading", name="Tender opening", exact=True)).to_be_visible()
        expect(page.locator("#call-list tbody tr")).to_have_count(2)
        shot(page, "30-tenders")
        page.get_by_role("link", name=PROCEDURE).click()
        expect(page.locator("#sealed-tenders tbody tr")).to_have_count(4)
        expect(page.locator("#sealed-tenders")).to_contain_text("withdrawn")
        fields = page.locator("#opening input[name=share]")
        expect(fields).to_have_count(2)  # k of them
        fields.nth(0).fill(tendered.shares[0])
        fields.nth(1).fill(tendered.shares[2])
        shot(page, "31-tender-call-before-opening")
        page.locator("#open-call").click()
        expect(page.locator("#opening-record")).to_be_visible()
        expect(page.locator("#call-state")).to_have_text("opened")
        rows = page.locator("#opened-tenders tbody tr")
        expect(rows).to_have_count(2)
        expect(page.locator("#opened-tenders")).to_contain_text(HANIL.id)
        expect(page.locator("#opening input[name=share]")).to_have_count(0)
        shot(page, "32-tender-opening-record")
        page.goto(f"/lang/ko?next=/tenders/{PROCEDURE}")
        expect(page.get_by_role("heading", name=re.compile("입찰 공고"))).to_be_visible()
        shot(page, "33-tender-opening-record-ko")
    assert _call_state(gateway) == "opened"
