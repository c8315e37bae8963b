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
from edi_gateway.store.tables import Ack, Event, QueueItem
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


def test_a_resent_order_number_gets_a_negative_aperak(edifact_gateway: Gateway) -> None:
    gw = edifact_gateway
    first = submit(gw, three_orders(reference="IC1"))
    wait_idle(gw.worker)
    # a new interchange, but its second order repeats PO-IC1-2 for the same buyer
    payload = three_orders(reference="IC2").replace(b"BGM+220+PO-IC2-2+9", b"BGM+220+PO-IC1-2+9")
    again = submit(gw, payload)
    wait_idle(gw.worker)
    assert status(gw, first)["state"] == "done"
    st = status(gw, again)
    assert st["state"] == "done"
    assert [(d["id"], d["queue"]) for d in st["documents"]] == [
        ("PO-IC2-1", "moe.order"),
        ("PO-IC1-2", None),
        ("PO-IC2-3", "moe.order"),
    ]
    assert [f["code"] for f in st["documents"][1]["findings"]] == ["duplicate-document"]
    assert len(queued(gw)) == 5
    found = acks_of(gw, again)
    assert found["contrl"].positive  # the syntax is fine: the application says no
    aperak = found["aperak"].content.decode("latin-1")
    assert not found["aperak"].positive and aperak.count("UNH+") == 1
    assert "BGM++" in aperak and "+27'" in aperak
    assert "RFF+ACW:M2'RFF+ON:PO-IC1-2'ERC+DUPLIC'FTX+AAO+++duplicate-document?: " in aperak


def test_each_interchange_of_a_payload_is_checked_for_a_resend(edifact_gateway: Gateway) -> None:
    gw = edifact_gateway
    submit(gw, three_orders(reference="IC10"))
    wait_idle(gw.worker)
    # IC11 is new, IC10 comes again behind it: only IC11's orders are taken
    both = submit(gw, three_orders(reference="IC11") + b"\n" + three_orders(reference="IC10"))
    wait_idle(gw.worker)
    st = status(gw, both)
    assert st["state"] == "done" and st["control_reference"] == "IC11"
    assert [d["queue"] is not None for d in st["documents"]] == [True] * 3 + [False] * 3
    assert {f["code"] for d in st["documents"][3:] for f in d["findings"]} == {"duplicate"}
    assert len(queued(gw)) == 6
    found = acks_of_each(gw, both)
    assert [a.kind for a in found] == ["contrl", "contrl"]  # no APERAK for the resent one
    assert f"UCI+IC11+{SENDER}+{RECIPIENT}+7'".encode() in found[0].content
    assert f"UCI+IC10+{SENDER}+{RECIPIENT}+4+26'".encode() in found[1].content
    assert b"UCM+" not in found[1].content
    # IC13 is the second interchange of its payload: sent again alone, it is still a resend
    submit(gw, three_orders(reference="IC12") + three_orders(reference="IC13"))
    wait_idle(gw.worker)
    assert len(queued(gw)) == 12
    alone = submit(gw, three_orders(reference="IC13"))
    wait_idle(gw.worker)
    st = status(gw, alone)
    assert st["state"] == "duplicate" and st["findings"][0]["code"] == "duplicate"
    assert len(queued(gw)) == 12
    assert f"UCI+IC13+{SENDER}+{RECIPIENT}+4+26'".encode() in acks_of(gw, alone)["contrl"].content


def test_one_interchange_twice_in_one_payload(edifact_gateway: Gateway) -> None:
    gw = edifact_gateway
    rid = submit(gw, three_orders(reference="IC30") * 2)
    wait_idle(gw.worker)
    docs = status(gw, rid)["documents"]
    assert [d["queue"] is not None for d in docs] == [True] * 3 + [False] * 3
    assert "interchange 1 of this payload" in docs[3]["findings"][0]["text"]


def test_a_partners_contrl_is_recorded_not_routed(edifact_gateway: Gateway) -> None:
    gw = edifact_gateway
    contrl = f"UNH+1+CONTRL:D:3:UN'UCI+4K2J7ZQ0X1B9MA+{RECIPIENT}+{SENDER}+7'UNT+3+1'"
    rid = submit(
        gw, interchange(contrl, sender=SENDER, recipient=RECIPIENT, reference="C1").encode()
    )
    wait_idle(gw.worker)
    st = status(gw, rid)
    assert st["state"] == "done" and st["findings"] == []
    [doc] = st["documents"]
    assert (doc["state"], doc["queue"], doc["findings"]) == ("valid", None, [])
    assert queued(gw) == [] and acks_of(gw, rid) == {}  # a CONTRL is not answered
    with gw.sessions() as s:
        [event] = s.scalars(
            select(Event).where(Event.interchange_id == rid, Event.type == "handled")
        )
    assert (
        event.detail["text"] == "CONTRL received: our interchange 4K2J7ZQ0X1B9MA was acknowledged"
    )
    assert event.document_id == doc["document_id"]


def acks_of_each(gw: Gateway, rid: str) -> list[Ack]:
    with gw.sessions() as s:
        return list(s.scalars(select(Ack).where(Ack.interchange_id == rid).order_by(Ack.filename)))
