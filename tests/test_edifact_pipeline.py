"""EDIFACT through a real gateway (SQLite and PostgreSQL): intake, worker, queues, acks.

The format is registered here until the composition root wires it."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import select

from edi_gateway import samples
from edi_gateway.app import Gateway
from edi_gateway.formats.edifact.format import EdifactFormat, EdifactFormatSettings
from edi_gateway.intake import Origin
from edi_gateway.mapping import translate_message
from edi_gateway.pipeline.worker import wait_idle
from edi_gateway.store.queries import interchange_status
from edi_gateway.store.tables import Ack, QueueItem
from tests.conftest import Server
from tests.support import wait_for
from tests.test_edifact_format import interchange, order

MOE = samples.INSTITUTIONS[0]
HANIL = samples.SUPPLIERS[0]
SENDER = f"{HANIL.edifact_id}:14"
RECIPIENT = ":".join(samples.GATEWAY_EDIFACT_ID)


@pytest.fixture
def edifact_gateway(gateway: Gateway) -> Gateway:
    settings = EdifactFormatSettings.from_config(gateway.config, translator=translate_message)
    gateway.registry.add(EdifactFormat(settings))
    return gateway


def three_orders(broken: int | None = None, buyer: str = MOE.gln, reference: str = "IC1") -> bytes:
    messages = []
    for number in (1, 2, 3):
        text = order(f"M{number}", f"PO-{reference}-{number}", buyer=buyer)
        if number == broken:
            text = text.replace("QTY+21:10", "QTY+21:TEN")
        messages.append(text)
    return interchange(*messages, sender=SENDER, recipient=RECIPIENT, reference=reference).encode(
        "latin-1"
    )


def submit(gw: Gateway, payload: bytes) -> str:
    origin = Origin(channel="http", partner_id=HANIL.id, filename="orders.edi")
    return gw.intake.receive(payload, origin).interchange_id


def status(gw: Gateway, rid: str) -> dict:
    with gw.sessions() as s:
        found = interchange_status(s, rid)
    assert found is not None
    return found


def acks_of(gw: Gateway, rid: str) -> dict[str, Ack]:
    with gw.sessions() as s:
        rows = list(s.scalars(select(Ack).where(Ack.interchange_id == rid)))
    by_kind = {a.kind: a for a in rows}
    assert len(by_kind) == len(rows)
    return by_kind


def queued(gw: Gateway) -> list[QueueItem]:
    with gw.sessions() as s:
        return list(s.scalars(select(QueueItem).order_by(QueueItem.id)))


def test_a_broken_message_is_rejected_alone(edifact_gateway: Gateway) -> None:
    gw = edifact_gateway
    rid = submit(gw, three_orders(broken=2))
    wait_idle(gw.worker)
    st = status(gw, rid)
    assert (st["state"], st["format"], st["control_reference"]) == ("done", "edifact", "IC1")
    assert [(d["reference"], d["state"]) for d in st["documents"]] == [
        ("M1", "routed"),
        ("M2", "invalid"),
        ("M3", "routed"),
    ]
    items = queued(gw)
    assert [(i.queue, i.body["document"]["id"]) for i in items] == [
        ("moe.order", "PO-IC1-1"),
        ("moe.order", "PO-IC1-3"),
    ]
    assert items[0].body["provenance"]["message_reference"] == "M1"
    found = acks_of(gw, rid)
    assert set(found) == {"contrl"}  # no application error: no APERAK
    contrl = found["contrl"]
    assert not contrl.positive and contrl.route == "http"
    body = contrl.content.decode("latin-1")
    assert f"UCI+IC1+{SENDER}+{RECIPIENT}+7'" in body
    assert "UCM+M1+ORDERS:D:96A:UN+7'UCM+M2+ORDERS:D:96A:UN+4'UCS+7'UCD+37+2:2'" in body
    assert "UCM+M3+ORDERS:D:96A:UN+7'" in body
    assert body.startswith(f"UNA:+.? 'UNB+UNOC:3+{RECIPIENT}+{SENDER}+")


def test_an_unknown_buyer_gets_an_aperak(edifact_gateway: Gateway) -> None:
    gw = edifact_gateway
    rid = submit(gw, three_orders(buyer="4000000000001"))
    wait_idle(gw.worker)
    assert status(gw, rid)["state"] == "rejected"
    assert queued(gw) == []
    found = acks_of(gw, rid)
    assert set(found) == {"contrl", "aperak"}
    assert found["contrl"].positive  # the syntax is fine
    aperak = found["aperak"].content.decode("latin-1")
    assert aperak.count("UNH+") == 3 and aperak.count("ERC+BUYER'") == 3
    assert "RFF+ACW:M2'RFF+ON:PO-IC1-2'ERC+BUYER'FTX+AAO+++unknown-buyer?: " in aperak


def test_a_resent_interchange_is_a_duplicate_answered_with_code_26(
    edifact_gateway: Gateway,
) -> None:
    gw = edifact_gateway
    first = submit(gw, three_orders(reference="IC7"))
    wait_idle(gw.worker)
    resent = three_orders(reference="IC7").replace(b"261126:0900", b"261126:0915")
    again = submit(gw, resent)
    wait_idle(gw.worker)
    assert status(gw, first)["state"] == "done"
    assert status(gw, again)["state"] == "duplicate"
    assert len(queued(gw)) == 3
    found = acks_of(gw, again)
    assert set(found) == {"contrl"}
    assert f"UCI+IC7+{SENDER}+{RECIPIENT}+4+26'".encode() in found["contrl"].content


def test_an_interchange_for_another_recipient_is_rejected(edifact_gateway: Gateway) -> None:
    gw = edifact_gateway
    payload = three_orders().replace(RECIPIENT.encode(), b"4000000000001:14")
    rid = submit(gw, payload)
    wait_idle(gw.worker)
    st = status(gw, rid)
    assert st["state"] == "rejected" and st["documents"] == []
    assert [f["code"] for f in st["findings"]] == ["7"]
    contrl = acks_of(gw, rid)["contrl"].content
    assert f"UCI+IC1+{SENDER}+4000000000001:14+4+7+UNB+4:1'".encode() in contrl


def test_over_http_with_the_gateway_running(edifact_gateway: Gateway) -> None:
    gw = edifact_gateway
    token = samples_token(gw)
    with Server(gw) as server:
        response = httpx.post(
            f"{server.url}/api/v1/submissions",
            content=three_orders(broken=3),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/EDIFACT"},
            timeout=30,
        )
        assert response.status_code == 202, response.text
        rid = response.json()["receipt_id"]
        wait_for(lambda: status(gw, rid)["terminal"], timeout=60)
    assert len(queued(gw)) == 2
    assert "UCM+M3+ORDERS:D:96A:UN+4'" in acks_of(gw, rid)["contrl"].content.decode()


def samples_token(gw: Gateway) -> str:
    """The sample supplier's API token, from the credentials the sample config wrote."""
    creds = json.loads((gw.config.path.parent / "credentials.json").read_text())
    return str(creds[HANIL.id]["api_token"])
