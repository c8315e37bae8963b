"""Interop with a real product: the Mendelson AS2 messages and MDNs of the shared corpus."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

import pytest

from edi_gateway.channels.as2.algorithms import Cipher, Digest
from edi_gateway.channels.as2.errors import AuthenticationFailed, IntegrityCheckFailed
from edi_gateway.channels.as2.mdn import Disposition, read_mdn
from edi_gateway.channels.as2.mic import Mic
from edi_gateway.channels.as2.receiver import build_mdn, receive
from tests.test_as2_support import (
    MENDELSON,
    MENDELSON_TIME,
    PAYLOAD,
    mecas2_certificate,
    mendelson_policy,
    needs_corpus,
    needs_openssl,
    openssl,
    our_key,
    read_http,
    with_header,
    write_pem,
)

pytestmark = needs_corpus

# file -> (signed, encrypted, compressed)
MESSAGES = {
    "mecas2_signed.as2": (True, False, False),
    "mecas2_encrypted.as2": (False, True, False),
    "mecas2_compressed.as2": (True, False, True),
    "mecas2_signed_encrypted.as2": (True, True, False),
    "mecas2_compressed_signed_encrypted.as2": (True, True, True),
}
SIGNED_MDN_OPTIONS = (
    "signed-receipt-protocol=optional, pkcs7-signature; signed-receipt-micalg=optional, sha-256"
)


@pytest.mark.parametrize("name", list(MESSAGES))
def test_mendelson_message_yields_the_payload(name: str) -> None:
    headers, body = read_http(MENDELSON / name)
    with receive(headers, body, mendelson_policy()) as received:
        assert received.ok, received.detail
        assert received.payload is not None and received.payload.read() == PAYLOAD
        assert received.filename == "payload.txt"
        assert (received.as2_from, received.as2_to) == ("mecas2", "pyas2lib")
        facts = received.security
        assert (facts.signed, facts.encrypted, facts.compressed) == MESSAGES[name]
        if facts.encrypted:
            assert facts.cipher is Cipher.TRIPLE_DES_CBC
        if facts.signed:
            assert facts.signature_digest is Digest.SHA256
            assert received.mic is not None and received.mic.digest is Digest.SHA256


def test_mic_is_over_the_signed_part_whatever_the_wrapping() -> None:
    """Same payload part signed, then once encrypted: the MIC must not change."""
    mics = []
    for name in ("mecas2_signed.as2", "mecas2_signed_encrypted.as2"):
        headers, body = read_http(MENDELSON / name)
        with receive(headers, body, mendelson_policy()) as received:
            mics.append(received.mic)
    assert mics[0] == mics[1]


def test_tampered_mendelson_payload_is_integrity_failure() -> None:
    headers, body = read_http(MENDELSON / "mecas2_signed.as2")
    tampered = body.replace(b"BGM+220+1AA1TEST+9", b"BGM+220+1AA1TEST+8")
    assert tampered != body
    with receive(headers, tampered, mendelson_policy()) as received:
        assert received.error is Disposition.INTEGRITY_CHECK_FAILED
        assert received.payload is None


@needs_openssl
@pytest.mark.parametrize("name", list(MESSAGES))
def test_our_signed_mdn_verifies(tmp_path: Path, name: str) -> None:
    headers, body = read_http(MENDELSON / name)
    headers = with_header(headers, "Disposition-Notification-Options", SIGNED_MDN_OPTIONS)
    with receive(headers, body, mendelson_policy()) as received:
        mdn = build_mdn(received, Disposition.PROCESSED, our_key())
        assert mdn is not None and mdn.signed
        report = read_mdn(mdn.headers, mdn.body, [our_key().certificate], MENDELSON_TIME)
        assert report.disposition is Disposition.PROCESSED
        assert report.original_message_id == received.message_id
        assert report.mic == received.mic
    content_type = dict(mdn.headers)["Content-Type"]
    smime = tmp_path / "mdn.eml"
    smime.write_bytes(
        f"MIME-Version: 1.0\r\nContent-Type: {content_type}\r\n\r\n".encode() + mdn.body
    )
    cert = MENDELSON / "cert_test_public.pem"
    out = openssl(
        "smime", "-verify", "-in", smime, "-CAfile", cert, "-attime", "1641340800",
        "-purpose", "any",
    )  # fmt: skip
    assert b"Disposition: automatic-action/MDN-sent-automatically; processed" in out
    openssl(
        "cms", "-verify", "-in", smime, "-CAfile", cert, "-attime", "1641340800",
        "-purpose", "any", "-out", tmp_path / "report",
    )  # fmt: skip


def test_mendelson_signed_mdn_parses_and_verifies() -> None:
    headers, body = read_http(MENDELSON / "mecas2_signed.mdn")
    at = dt.datetime(2016, 12, 30, 11, 0, tzinfo=dt.UTC)
    report = read_mdn(headers, body, [], at, trust_embedded=True)
    assert report.signed
    assert report.signature is not None and report.signature.digest is Digest.SHA1
    assert report.disposition is Disposition.PROCESSED
    assert report.original_message_id == "<20161230102456.10748.40759@imac.local>"
    assert report.mic == Mic.parse("O4bvrm5t2YunRfwvZicNdEUmPaPZ9vUslX8loVLDck0=, sha-256")
    assert "AS2 message has been received" in report.explanation


def test_mendelson_signed_mdn_from_an_untrusted_certificate_is_rejected() -> None:
    """Its signer is not the mecas2 certificate we hold: not evidence for this partner."""
    headers, body = read_http(MENDELSON / "mecas2_signed.mdn")
    at = dt.datetime(2016, 12, 30, 11, 0, tzinfo=dt.UTC)
    with pytest.raises(AuthenticationFailed):
        read_mdn(headers, body, [mecas2_certificate()], at)


def test_mendelson_tampered_signed_mdn_is_rejected() -> None:
    headers, body = read_http(MENDELSON / "mecas2_signed.mdn")
    tampered = body.replace(b"; processed", b"; processed/error: decryption-failed")
    at = dt.datetime(2016, 12, 30, 11, 0, tzinfo=dt.UTC)
    with pytest.raises(IntegrityCheckFailed):
        read_mdn(headers, tampered, [], at, trust_embedded=True)


def test_mendelson_error_mdn_parses() -> None:
    headers, body = read_http(MENDELSON / "mecas2_unsigned.mdn")
    report = read_mdn(headers, body, [mecas2_certificate()])
    assert not report.signed
    assert report.disposition is Disposition.AUTHENTICATION_FAILED
    assert not report.processed
    assert report.mic is None
    assert report.original_message_id == "<20161230102316.10728.85252@imac.local>"
    assert "Verification failed" in report.explanation


@needs_openssl
def test_mic_is_the_digest_of_the_signed_part_with_its_headers(tmp_path: Path) -> None:
    """RFC 4130 §7.3.1 by hand: openssl decrypts, we cut the first part, sha256 it."""
    headers, body = read_http(MENDELSON / "mecas2_signed_encrypted.as2")
    (tmp_path / "body.der").write_bytes(body)
    key, _ = write_pem(tmp_path, our_key(), "ours")  # the .p12 uses RC2, legacy in openssl 3
    decrypted = openssl("cms", "-decrypt", "-binary", "-inform", "DER", "-in",
                        tmp_path / "body.der", "-inkey", key)  # fmt: skip
    boundary = re.search(rb'boundary="([^"]+)"', decrypted)
    assert boundary is not None
    delimiter = b"--" + boundary.group(1)
    first = decrypted.split(delimiter)[1]
    signed_part = first[2:-2]  # without the CRLF after the delimiter and before the next one
    assert signed_part.startswith(b"Content-Type: application/EDI-Consent")
    expected = Mic(Digest.SHA256, hashlib.sha256(signed_part).digest())
    with receive(headers, body, mendelson_policy()) as received:
        assert received.mic == expected
