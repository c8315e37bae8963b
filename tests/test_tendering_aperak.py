"""Receipts for EDIFACT tenders (QUOTES) are APERAKs in the tenderer's own syntax and
separators, carrying the received time, the hash and a signed statement; a late one is a
negative APERAK stating the deadline and the time received."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edi_gateway.app import Gateway
from edi_gateway.formats.edifact.envelope import EnvelopeChecker, Message
from edi_gateway.formats.edifact.segments import Segment
from edi_gateway.formats.edifact.structure import schema_for, validate_message
from edi_gateway.formats.edifact.tokenizer import Tokenizer
from edi_gateway.tendering import edifact_receipt
from edi_gateway.tendering.wiring import tendering_of
from tests import test_tendering as tendering
from tests.conftest import FakeClock
from tests.test_edifact_acks import CATALOG
from tests.test_tendering import (
    DEADLINE,
    HANIL,
    PROCEDURE,
    QUOTES,
    receipt_ack,
    register,
    state,
    submit,
)

clock, gw = tendering.clock, tendering.gw  # the same fixtures

# the tenderer's own separators: * component, | element, , decimal, \ release, ~ terminator
OWN_SEPARATORS = (
    "UNA*|,\\ ~UNB|UNOC*3|8809876000015*14|EDIGATEWAY*ZZZ|261126*0900|IC9~"
    "UNH|Q\\|7|QUOTES*D*96A*UN~BGM|310|Q-7|9~DTM|137*20261126*102~RFF|AHU*{procedure}~"
    "LIN|1~QTY|21*1*PCE~MOA|203*100,5~UNS|S~MOA|79*100,5~UNT|10|Q\\|7~UNZ|1|IC9~"
)


def _segments(content: bytes) -> list[Segment]:
    return list(Tokenizer.from_bytes(content))


def _one(segments: list[Segment], tag: str, qualifier: str) -> Segment:
    (found,) = [s for s in segments if s.tag == tag and s.element(1) == qualifier]
    return found


def _stamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S")


def _assert_valid_aperak(content: bytes) -> None:
    """The gateway's own envelope and D96A structure checks accept the receipt."""
    checker = EnvelopeChecker(io.BytesIO(content))
    messages = [e for e in checker if isinstance(e, Message)]
    assert len(messages) == 1 and checker.findings == [] and messages[0].findings == []
    schema = schema_for(messages[0].segments[0], CATALOG, 3)
    assert schema is not None
    found = [f for f in validate_message(messages[0].segments, schema) if f.rejects]
    assert found == [], [f.text for f in found]


def _statement(content: bytes) -> dict[str, str]:
    segments = _segments(content)
    statement, signature = edifact_receipt.signed_parts([(s.tag, s.elements) for s in segments])
    return dict(line.split(": ", 1) for line in statement.decode().splitlines()[1:]) | {
        "_statement": statement.hex(),
        "_signature": signature.hex(),
    }


def _verify(gw: Gateway, content: bytes) -> dict[str, str]:
    lines = _statement(content)
    public = tendering_of(gw).key.private.public_key()
    assert isinstance(public, Ed25519PublicKey)
    public.verify(bytes.fromhex(lines["_signature"]), bytes.fromhex(lines["_statement"]))
    return lines


def test_the_receipt_is_an_aperak_written_with_the_tenderers_separators(gw: Gateway) -> None:
    register(gw)
    payload = OWN_SEPARATORS.format(procedure=PROCEDURE).encode()
    receipt = submit(gw, payload, HANIL.id)
    tendering_of(gw).clerk.run_once()
    assert state(gw, receipt.interchange_id) == "sealed"
    ack = receipt_ack(gw, receipt.interchange_id)
    assert ack.positive and ack.media_type == "application/EDIFACT"
    assert ack.content.startswith(b"UNA*|,\\ ~UNB|UNOC*3|EDIGATEWAY*ZZZ|8809876000015*14|")
    _assert_valid_aperak(ack.content)
    segments = _segments(ack.content)
    assert segments[1].tag == "UNH" and segments[1].element(2) == "APERAK"
    bgm = next(s for s in segments if s.tag == "BGM")
    assert (bgm.element(2), bgm.element(3)) == (receipt.interchange_id, "29")
    assert _one(segments, "RFF", "ACW").element(1, 2) == "Q|7"  # the QUOTES answered
    assert _one(segments, "RFF", "AHU").element(1, 2) == PROCEDURE  # the call
    assert _one(segments, "DTM", "310").element(1, 2) == _stamp(receipt.received_at)
    assert not [s for s in segments if s.tag == "ERC"]
    sha = hashlib.sha256(payload).hexdigest()
    assert [s.element(4) for s in segments if s.element(3) == "SHA"] == [sha.upper()]
    lines = _verify(gw, ack.content)
    assert lines["verdict"] == "accepted" and lines["sha256"] == sha
    assert lines["receipt"] == receipt.interchange_id and lines["procedure"] == PROCEDURE


def test_a_late_quotes_gets_a_negative_aperak_with_deadline_and_received_time(
    gw: Gateway, clock: FakeClock
) -> None:
    register(gw)
    clock.now = DEADLINE + dt.timedelta(seconds=1)
    payload = QUOTES.format(procedure=PROCEDURE, marker="late").encode()
    receipt = submit(gw, payload, HANIL.id)
    tendering_of(gw).clerk.run_once()
    assert state(gw, receipt.interchange_id) == "rejected"
    ack = receipt_ack(gw, receipt.interchange_id)
    assert not ack.positive
    _assert_valid_aperak(ack.content)
    segments = _segments(ack.content)
    bgm = next(s for s in segments if s.tag == "BGM")
    assert bgm.element(3) == "27"
    assert [s.element(1) for s in segments if s.tag == "ERC"] == ["LATE"]
    assert _one(segments, "DTM", "286").element(1, 2) == _stamp(DEADLINE)
    assert _one(segments, "DTM", "310").element(1, 2) == _stamp(receipt.received_at)
    why = "".join(_one(segments, "FTX", "AAO").elements[3])
    assert "after the submission deadline" in why and DEADLINE.isoformat()[:16] in why
    lines = _verify(gw, ack.content)
    assert lines["verdict"] == "refused-late"
    assert lines["deadline"].startswith(DEADLINE.isoformat()[:19])


def test_a_forged_statement_does_not_verify(gw: Gateway) -> None:
    register(gw)
    receipt = submit(gw, QUOTES.format(procedure=PROCEDURE, marker="x").encode(), HANIL.id)
    tendering_of(gw).clerk.run_once()
    content = receipt_ack(gw, receipt.interchange_id).content
    lines = _statement(content)
    forged = bytes.fromhex(lines["_statement"]).replace(b"accepted", b"refused-late")
    public = tendering_of(gw).key.private.public_key()
    with pytest.raises(InvalidSignature):
        public.verify(bytes.fromhex(lines["_signature"]), forged)
