"""Shared by the dashboard tests (no tests here): a store with realistic traffic in it, the
operators who sign in, and the dashboard served by uvicorn on a loopback port."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from edi_gateway import samples
from edi_gateway.app import Gateway
from edi_gateway.intake import Origin
from edi_gateway.model import new_id
from edi_gateway.pipeline.worker import wait_idle
from edi_gateway.store.operators import Role
from edi_gateway.store.tables import (
    Ack,
    AckState,
    DocumentRow,
    DocumentState,
    Event,
    FindingRow,
    Interchange,
    InterchangeState,
    QueueItem,
    QueueItemState,
)
from edi_gateway.web.dashboard import accounts
from edi_gateway.web.dashboard.listener import DashboardListener
from edi_gateway.web.dashboard.security import Throttle

MOE, SEOUL = samples.INSTITUTIONS
HANIL, DAEHAN, NORDIC = samples.SUPPLIERS
PASSWORD = "correct horse battery"
OPERATORS = {"alice": Role.ADMIN, "oscar": Role.OPERATOR, "vera": Role.VIEWER}

# A rejected EDIFACT invoice: the MOA amount is not numeric (segment 7, element 1).
EDIFACT_INVOICE = (
    b"UNA:+.? '"
    b"UNB+UNOC:3+8809876000015:14+8801234000017:14+261126:0910+CR0007'"
    b"UNH+1+INVOIC:D:96A:UN'"
    b"BGM+380+INV-EDI-0099+9'"
    b"DTM+137:20261126:102'"
    b"NAD+BY+8801234000017::9'"
    b"NAD+SU+8809876000015::9'"
    b"MOA+77:ABC'"
    b"UNT+7+1'"
    b"UNZ+1+CR0007'"
)
EDIFACT_FINDING = {
    "segment": 7,
    "segment_tag": "MOA",
    "element": 1,
    "component": 2,
}

UBL_INVOICE = b"""<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
 xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
 xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2">
<cbc:ID>INV-XML-0007</cbc:ID><cbc:IssueDate>2026-11-26</cbc:IssueDate>
<cbc:DocumentCurrencyCode>KRW</cbc:DocumentCurrencyCode>
<cac:LegalMonetaryTotal><cbc:PayableAmount currencyID="KRW">-10</cbc:PayableAmount></cac:LegalMonetaryTotal>
</Invoice>"""


@dataclass
class Store:
    """What `seed` put into the store, for the tests to look for."""

    invoice_number: str  # a JSON invoice that went through the pipeline
    invoice_id: str
    edifact_id: str  # the rejected EDIFACT interchange
    xml_id: str
    ack_id: str  # the failed CONTRL of the EDIFACT interchange


def _spooled(gw: Gateway, raw: bytes) -> str:
    staged = gw.spool.stage(io.BytesIO(raw))
    gw.spool.commit([staged])
    return staged.sha256


def _rejected(
    gw: Gateway,
    *,
    raw: bytes,
    fmt: str,
    channel: str,
    transport_id: str,
    control_reference: str | None,
    number: str,
    finding: dict[str, object],
    code: str,
    text: str,
    origin: dict[str, object],
) -> str:
    """A rejected interchange written the way the worker writes one (for formats the
    pipeline does not drive yet)."""
    now = gw.clock()
    sha = _spooled(gw, raw)
    iid = new_id()
    with gw.sessions.begin() as s:
        s.add(
            Interchange(
                id=iid,
                partner_id=HANIL.id,
                channel=channel,
                direction="in",
                transport_id=transport_id,
                raw_sha256=sha,
                size=len(raw),
                filename=f"{number}.{'edi' if fmt == 'edifact' else 'xml'}",
                media_type="application/EDIFACT" if fmt == "edifact" else "application/xml",
                received_at=now - dt.timedelta(minutes=3),
                state=InterchangeState.REJECTED,
                format=fmt,
                standard="edifact" if fmt == "edifact" else "ubl",
                control_reference=control_reference,
                test=False,
                origin=origin,
                attempts=1,
                runs=1,
                finished_at=now - dt.timedelta(minutes=3),
            )
        )
        s.flush()
        s.add(
            DocumentRow(
                id=f"{iid}-0",
                interchange_id=iid,
                position=0,
                kind="invoice",
                message_type="INVOIC:D:96A:UN" if fmt == "edifact" else "Invoice-2",
                reference="1",
                business_id=number,
                state=DocumentState.INVALID,
                sender_id=HANIL.id,
                test=False,
                created_at=now,
            )
        )
        s.add(
            FindingRow(
                interchange_id=iid,
                document_id=f"{iid}-0",
                code=code,
                severity="error",
                text=text,
                location=finding,
                source=fmt,
                run=1,
            )
        )
        for kind in ("received", "processing", "rejected"):
            s.add(Event(at=now, interchange_id=iid, actor="seed", type=kind, detail={}))
    return iid


def seed(gw: Gateway) -> Store:
    now = gw.clock()
    for i in range(6):
        doc = samples.invoice(f"INV-2026-{40 + i:04d}", MOE, HANIL)
        gw.intake.receive(
            json.dumps(doc).encode(),
            Origin("http", HANIL.id, transport_id=f"idem-{i}", filename=f"inv{i}.json"),
        )
    for i in range(4):
        doc = samples.order(f"PO-2026-{100 + i}", SEOUL, NORDIC)
        gw.intake.receive(json.dumps(doc).encode(), Origin("folder", NORDIC.id))
    gw.intake.receive(b'{"kind": "invoice", "id": ', Origin("http", DAEHAN.id))  # broken JSON
    wait_idle(gw.worker)
    edifact_id = _rejected(
        gw,
        raw=EDIFACT_INVOICE,
        fmt="edifact",
        channel="as2",
        transport_id="<hanil-20261126-0007@as2.hanil.example>",
        control_reference="CR0007",
        number="INV-EDI-0099",
        finding=EDIFACT_FINDING,
        code="12",
        text="MOA 5004 (monetary amount) must be numeric; found 'ABC'",
        origin={
            "as2": {"from": "HANIL", "to": "EDIGATEWAY", "signed": True, "encrypted": True},
            "mdn": "sync, signed, MIC sha256",
            "remote": "203.0.113.7",
        },
    )
    xml_id = _rejected(
        gw,
        raw=UBL_INVOICE,
        fmt="xml",
        channel="email",
        transport_id="<CAF=inv0007@mail.hanil.example>",
        control_reference=None,
        number="INV-XML-0007",
        finding={"xpath": "/Invoice/cac:LegalMonetaryTotal/cbc:PayableAmount"},
        code="BR-CO-25",
        text="the amount due must not be negative",
        origin={"mail": {"from": "billing@hanil.example", "subject": "Invoice INV-XML-0007"}},
    )
    with gw.sessions.begin() as s:
        ack = Ack(
            id=f"{edifact_id[:20]}ACK001",
            interchange_id=edifact_id,
            partner_id=HANIL.id,
            kind="CONTRL",
            positive=False,
            media_type="application/EDIFACT",
            filename="contrl.edi",
            content=b"UNB+UNOC:3'",
            route="as2",
            state=AckState.FAILED,
            attempts=8,
            next_attempt_at=now,
            last_error="ConnectError: partner AS2 endpoint refused the connection",
            created_at=now - dt.timedelta(minutes=3),
        )
        s.add(ack)
        item = s.query(QueueItem).order_by(QueueItem.id).first()
        assert item is not None
        item.state, item.last_error = QueueItemState.DEAD, "back office refused it 5 times"
    for name, role in OPERATORS.items():
        accounts.add(gw.sessions, name, PASSWORD, role, "test", now, name.title())
    with gw.sessions() as s:
        invoice = s.query(DocumentRow).filter(DocumentRow.business_id == "INV-2026-0042").one()
    return Store("INV-2026-0042", invoice.interchange_id, edifact_id, xml_id, ack.id)


class DashboardServer(DashboardListener):
    """The dashboard on 127.0.0.1, on a port of its own (the listener `serve` runs)."""

    def __init__(self, gateway: Gateway, **options: object) -> None:
        super().__init__(gateway, "127.0.0.1", 0, **options)


@pytest.fixture
def store(gateway: Gateway) -> Store:
    return seed(gateway)


@pytest.fixture
def dashboard_server(gateway: Gateway, store: Store) -> Iterator[DashboardServer]:
    with DashboardServer(gateway, throttle=Throttle(free=3)) as srv:
        yield srv


CSRF_INPUT = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = CSRF_INPUT.search(html)
    assert m, "the page has no CSRF field"
    return m.group(1)


@contextlib.contextmanager
def signed_in(server: DashboardServer, username: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        token = csrf_of(client.get("/login").text)
        r = client.post(
            "/login", data={"username": username, "password": PASSWORD, "csrf": token, "next": "/"}
        )
        assert r.status_code == 303, r.text
        yield client
