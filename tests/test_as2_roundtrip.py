"""Our sender to our receiver and back: every cipher × digest, compression, MDN verification."""

from __future__ import annotations

import json

import pytest

from edi_gateway.channels.as2.algorithms import Cipher, Digest, KeyTransport, SignaturePadding
from edi_gateway.channels.as2.mdn import Disposition
from edi_gateway.channels.as2.policy import (
    Compression,
    LocalStation,
    PartnerProfile,
    ReceiverPolicy,
)
from edi_gateway.channels.as2.receiver import build_mdn, receive
from edi_gateway.channels.as2.sender import (
    OutgoingMessage,
    SentRecord,
    build_message,
    verify_mdn,
)
from tests.test_as2_support import identity

PAYLOAD = b"UNA:+.? 'UNB+UNOC:3+A+B+260101:1200+7'UNH+1+ORDERS:D:96A:UN'\r\n" * 30

US = "GATEWAY"
THEM = "PARTNER"


def _round_trip(**options: object) -> tuple[OutgoingMessage, object]:
    """Send from PARTNER to GATEWAY with `options`, receive, answer, verify the MDN."""
    sender_side = PartnerProfile(US, (identity("receiver").certificate,), **options)  # type: ignore[arg-type]
    message = build_message(PAYLOAD, LocalStation(THEM, (identity("sender"),)), sender_side,
                            filename="po.edi")  # fmt: skip
    receiver_side = PartnerProfile(
        THEM,
        (identity("sender").certificate,),
        require_signature=sender_side.sign,
        require_encryption=sender_side.encrypt,
    )
    policy = ReceiverPolicy(LocalStation(US, (identity("receiver"),)), {THEM: receiver_side})
    with receive(message.headers, message.body, policy) as received:
        assert received.ok, received.detail
        assert received.payload is not None and received.payload.read() == PAYLOAD
        assert received.filename == "po.edi"
        mdn = build_mdn(received, Disposition.PROCESSED, identity("receiver"))
    assert mdn is not None
    outcome = verify_mdn(mdn.headers, mdn.body, message, sender_side)
    assert outcome.delivered, outcome.problems
    return message, received


@pytest.mark.parametrize("cipher", list(Cipher))
@pytest.mark.parametrize("digest", list(Digest))
def test_every_cipher_and_digest(cipher: Cipher, digest: Digest) -> None:
    _, received = _round_trip(cipher=cipher, digest=digest)
    assert received.security.cipher is cipher  # type: ignore[attr-defined]
    assert received.security.signature_digest is digest  # type: ignore[attr-defined]


@pytest.mark.parametrize("compression", list(Compression))
@pytest.mark.parametrize("sign", [True, False], ids=["signed", "unsigned"])
@pytest.mark.parametrize("encrypt", [True, False], ids=["encrypted", "plain"])
def test_compression_signing_encryption_combinations(
    compression: Compression, sign: bool, encrypt: bool
) -> None:
    _, received = _round_trip(compression=compression, sign=sign, encrypt=encrypt)
    security = received.security  # type: ignore[attr-defined]
    assert security.compressed == (compression is not Compression.NONE)
    if security.compressed and sign:
        assert security.compressed_before_signing == (compression is Compression.BEFORE_SIGNING)


@pytest.mark.parametrize("transport", list(KeyTransport))
@pytest.mark.parametrize("scheme", list(SignaturePadding))
def test_key_transports_and_signature_schemes(
    transport: KeyTransport, scheme: SignaturePadding
) -> None:
    _, received = _round_trip(key_transport=transport, signature_padding=scheme)
    assert received.security.key_transport is transport  # type: ignore[attr-defined]
    assert received.security.signature_padding is scheme  # type: ignore[attr-defined]


def test_unsigned_mdn_when_none_signed_is_requested() -> None:
    message, _ = _round_trip(request_signed_mdn=False)
    assert not message.signed_mdn_requested


def test_mic_mismatch_is_detected() -> None:
    """An MDN whose MIC is for other content must not count as delivered."""
    partner = PartnerProfile(US, (identity("receiver").certificate,))
    local = LocalStation(THEM, (identity("sender"),))
    sent = build_message(PAYLOAD, local, partner)
    other = build_message(PAYLOAD + b"x", local, partner, message_id=sent.message_id)
    receiver_side = PartnerProfile(THEM, (identity("sender").certificate,))
    policy = ReceiverPolicy(LocalStation(US, (identity("receiver"),)), {THEM: receiver_side})
    with receive(other.headers, other.body, policy) as received:
        mdn = build_mdn(received, Disposition.PROCESSED, identity("receiver"))
    assert mdn is not None
    outcome = verify_mdn(mdn.headers, mdn.body, sent, partner)
    assert outcome.mic_matches is False and not outcome.delivered


def test_mdn_for_another_message_is_flagged() -> None:
    partner = PartnerProfile(US, (identity("receiver").certificate,))
    local = LocalStation(THEM, (identity("sender"),))
    first = build_message(PAYLOAD, local, partner)
    second = build_message(PAYLOAD, local, partner)
    receiver_side = PartnerProfile(THEM, (identity("sender").certificate,))
    policy = ReceiverPolicy(LocalStation(US, (identity("receiver"),)), {THEM: receiver_side})
    with receive(second.headers, second.body, policy) as received:
        mdn = build_mdn(received, Disposition.PROCESSED, identity("receiver"))
    assert mdn is not None
    outcome = verify_mdn(mdn.headers, mdn.body, first, partner)
    assert not outcome.delivered
    assert any("answers" in problem for problem in outcome.problems)


def test_error_mdn_is_not_delivered() -> None:
    partner = PartnerProfile(US, (identity("stranger").certificate,))  # encrypts to a wrong key
    local = LocalStation(THEM, (identity("sender"),))
    sent = build_message(PAYLOAD, local, partner)
    receiver_side = PartnerProfile(THEM, (identity("sender").certificate,))
    policy = ReceiverPolicy(LocalStation(US, (identity("receiver"),)), {THEM: receiver_side})
    with receive(sent.headers, sent.body, policy) as received:
        mdn = build_mdn(received, sign_with=identity("receiver"))
    assert mdn is not None
    trusting = PartnerProfile(US, (identity("receiver").certificate,))
    outcome = verify_mdn(mdn.headers, mdn.body, sent, trusting)
    assert outcome.report.disposition is Disposition.DECRYPTION_FAILED
    assert not outcome.delivered


def test_async_mdn_checked_from_a_stored_record() -> None:
    """The record of a sent message survives a JSON round trip and still checks the MDN."""
    partner = PartnerProfile(US, (identity("receiver").certificate,), digest=Digest.SHA384,
                             async_mdn_url="https://us.example/as2/mdn")  # fmt: skip
    local = LocalStation(THEM, (identity("sender"),))
    sent = build_message(PAYLOAD, local, partner)
    stored = json.loads(json.dumps(sent.record.as_dict()))
    receiver_side = PartnerProfile(THEM, (identity("sender").certificate,))
    policy = ReceiverPolicy(LocalStation(US, (identity("receiver"),)), {THEM: receiver_side})
    with receive(sent.headers, sent.body, policy) as received:
        assert received.mdn_request is not None
        assert received.mdn_request.async_url == "https://us.example/as2/mdn"
        mdn = build_mdn(received, Disposition.PROCESSED, identity("receiver"))
    assert mdn is not None
    outcome = verify_mdn(mdn.headers, mdn.body, SentRecord.from_dict(stored), partner)
    assert outcome.delivered, outcome.problems
    assert outcome.report.mic is not None and outcome.report.mic.digest is Digest.SHA384
