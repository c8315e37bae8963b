"""The `as2` return route: our acknowledgements go to a partner's AS2 listener (a second
gateway of ours, with its own keys) through the real ack outbox, and its MDN is verified."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from edi_gateway.channels.as2.partners import As2Directory
from edi_gateway.channels.as2.policy import LocalStation
from edi_gateway.intake import Origin
from edi_gateway.model import new_id
from edi_gateway.store.as2 import As2Mdn
from edi_gateway.store.tables import Ack, AckState, Event
from tests.conftest import free_port
from tests.support import wait_for
from tests.test_as2_env import As2Gateway, as2_gateway, pem
from tests.test_as2_support import identity, our_key

ACME = identity("acme")
CONTRL = (
    b"UNA:+.? 'UNB+UNOC:3+GATEWAY:14+ACME:14+261126:1200+7'UNH+1+CONTRL:D:3:UN'UNT+2+1'UNZ+1+7'"
)


@pytest.fixture
def peer(tmp_path: Path) -> Iterator[As2Gateway]:
    """The partner: another gateway whose AS2 name is `acme` and who knows us as `pyas2lib`."""
    partners = {"gateway": (pem(our_key()), {"name": "pyas2lib"})}
    with as2_gateway(tmp_path / "peer", partners, LocalStation("acme", (ACME,))) as env:
        yield env


def ours(
    tmp_path: Path, peer_url: str, mdn: str, **settings: Any
) -> contextlib.AbstractContextManager[As2Gateway]:
    partners = {"acme": (pem(ACME), {"url": peer_url, "mdn": mdn})}
    return as2_gateway(tmp_path / "ours", partners, start_loops=False, **settings)


def queue_ack(gw: As2Gateway) -> Ack:
    receipt = gw.gateway.intake.receive(b"{}", Origin(channel="cli", partner_id="acme"))
    now = dt.datetime.now(dt.UTC)
    ack = Ack(
        id=new_id(), interchange_id=receipt.interchange_id, partner_id="acme", kind="contrl",
        positive=True, media_type="application/edifact", filename="contrl.edi", content=CONTRL,
        route="as2", state=AckState.PENDING, attempts=0, next_attempt_at=now, created_at=now,
    )  # fmt: skip
    with gw.gateway.sessions.begin() as session:
        session.add(ack)
    gw.gateway.senders["as2"] = gw.channel.sender
    return ack


def ack_row(gw: As2Gateway, ack_id: str) -> Ack:
    with gw.gateway.reads() as session:
        return session.get_one(Ack, ack_id)


def test_ack_is_delivered_and_its_sync_mdn_verified(peer: As2Gateway, tmp_path: Path) -> None:
    with ours(tmp_path, peer.url, "sync") as gw:
        ack = queue_ack(gw)
        assert gw.gateway.outbox.deliver_due() == 1
        assert ack_row(gw, ack.id).state == AckState.DELIVERED
        [evidence] = gw.mdns()
        assert (evidence.direction, evidence.state, evidence.ack_id) == (
            "received", "verified", ack.id
        )  # fmt: skip
        assert evidence.signed and evidence.interchange_id == ack.interchange_id
        assert evidence.disposition is not None and evidence.disposition.endswith("processed")
        with gw.gateway.reads() as session:
            types = set(session.scalars(select(Event.type).where(
                Event.interchange_id == ack.interchange_id)))  # fmt: skip
        assert {"as2-mdn-verified", "ack-delivered"} <= types
    [received] = peer.interchanges()
    assert peer.spooled(received) == CONTRL
    assert received.partner_id == "gateway" and received.filename == "contrl.edi"


def test_a_retry_reuses_the_message_id_and_is_not_taken_twice(
    peer: As2Gateway, tmp_path: Path
) -> None:
    with ours(tmp_path, peer.url, "sync") as gw:
        ack = queue_ack(gw)
        gw.channel.sender.send(ack, gw.gateway.config.partners["acme"])
        gw.channel.sender.send(ack, gw.gateway.config.partners["acme"])
        dispositions = [m.disposition for m in gw.mdns()]
    assert len(peer.interchanges()) == 1
    assert dispositions[1] is not None and dispositions[1].endswith("duplicate-document")


def test_partner_down_means_retry_then_failed(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/as2"  # nobody listens there
    with ours(tmp_path, url, "sync") as gw:
        ack = queue_ack(gw)
        gw.gateway.outbox.max_attempts = 2
        gw.gateway.outbox.deliver_due()
        row = ack_row(gw, ack.id)
        assert row.state == AckState.PENDING and "ConnectError" in (row.last_error or "")
        with gw.gateway.sessions.begin() as session:  # due now rather than after the backoff
            session.get_one(Ack, ack.id).next_attempt_at = dt.datetime.now(dt.UTC)
        gw.gateway.outbox.deliver_due()
        assert ack_row(gw, ack.id).state == AckState.FAILED


def test_negative_mdn_keeps_the_ack_undelivered(peer: As2Gateway, tmp_path: Path) -> None:
    """The peer does not trust our signing key (we sign with another one): authentication
    failed, so the ack is not delivered and the MDN is kept as evidence."""
    with ours(tmp_path, peer.url, "sync") as gw:
        ack = queue_ack(gw)
        impostor = LocalStation("pyas2lib", (identity("not-the-gateway"),))
        directory = gw.channel.sender.directory
        gw.channel.sender.directory = As2Directory(
            dataclasses.replace(directory.policy, local=impostor),
            directory.profiles, directory.partner_ids,
        )  # fmt: skip
        gw.gateway.outbox.deliver_due()
        row = ack_row(gw, ack.id)
        assert row.state == AckState.PENDING and "authentication-failed" in (row.last_error or "")
        [evidence] = gw.mdns()
        assert evidence.state == "rejected"
    assert peer.interchanges() == []


def test_async_mdn_comes_back_to_our_listener(peer: As2Gateway, tmp_path: Path) -> None:
    port = free_port()
    public = f"http://127.0.0.1:{port}/as2"
    with ours(tmp_path, peer.url, "async", port=port, public_url=public) as gw:
        ack = queue_ack(gw)
        gw.gateway.outbox.deliver_due()
        assert ack_row(gw, ack.id).state == AckState.DELIVERED

        def settled() -> As2Mdn | None:
            rows = gw.mdns()
            return rows[0] if rows and rows[0].state != "awaited" else None

        evidence = wait_for(settled, timeout=30)
        assert evidence is not None
        assert evidence.state == "verified" and evidence.signed and evidence.mode == "async"
        assert evidence.body is not None and b"processed" in evidence.body
    assert len(peer.interchanges()) == 1
