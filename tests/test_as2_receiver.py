"""The receiver: policies, faults and their dispositions, messages built by the openssl CLI."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import tracemalloc
from pathlib import Path

import pytest

from edi_gateway.channels.as2.algorithms import Cipher, Digest, KeyTransport
from edi_gateway.channels.as2.mdn import Disposition, read_mdn
from edi_gateway.channels.as2.policy import LocalStation, PartnerProfile, ReceiverPolicy
from edi_gateway.channels.as2.receiver import build_mdn, receive
from edi_gateway.channels.as2.sender import build_message
from tests.test_as2_support import NOW, identity, needs_openssl, openssl, write_pem

PAYLOAD = b"UNA:+.? 'UNB+UNOC:3+SENDER+RECEIVER+260101:1200+1'UNZ+0+1'\n" * 20


def _us() -> LocalStation:
    return LocalStation("GATEWAY", (identity("receiver"),))


def _partner(**options: object) -> PartnerProfile:
    settings: dict[str, object] = {"certificates": (identity("sender").certificate,)}
    settings.update(options)
    return PartnerProfile("PARTNER", **settings)  # type: ignore[arg-type]


def _policy(partner: PartnerProfile | None = None, **options: object) -> ReceiverPolicy:
    partner = partner or _partner()
    return ReceiverPolicy(_us(), {partner.as2_id: partner}, **options)  # type: ignore[arg-type]


def _sender_view(**options: object) -> tuple[LocalStation, PartnerProfile]:
    """The partner's side: they are PARTNER with the sender key, we are GATEWAY to them."""
    them = LocalStation("PARTNER", (identity("sender"),))
    settings: dict[str, object] = {"certificates": (identity("receiver").certificate,)}
    settings.update(options)
    return them, PartnerProfile("GATEWAY", **settings)  # type: ignore[arg-type]


def _send(**options: object) -> tuple[list[tuple[str, str]], bytes]:
    them, gateway = _sender_view(**options)
    message = build_message(PAYLOAD, them, gateway, filename="order.edi")
    return message.headers, message.body


def test_signed_and_encrypted_message_is_accepted() -> None:
    headers, body = _send()
    with receive(headers, body, _policy()) as received:
        assert received.ok, received.detail
        assert received.payload is not None and received.payload.read() == PAYLOAD
        assert received.filename == "order.edi"
        assert received.security.signed and received.security.encrypted
        assert received.security.cipher is Cipher.AES256_CBC
        assert received.mdn_request is not None and received.mdn_request.signed


def test_wrong_key_is_decryption_failed() -> None:
    headers, body = _send(certificates=(identity("stranger").certificate,))
    with receive(headers, body, _policy()) as received:
        assert received.error is Disposition.DECRYPTION_FAILED
        assert received.payload is None


def test_unsigned_when_signing_is_required() -> None:
    headers, body = _send(sign=False)
    with receive(headers, body, _policy()) as received:
        assert received.error is Disposition.INSUFFICIENT_MESSAGE_SECURITY
        assert received.payload is None


def test_unencrypted_when_encryption_is_required() -> None:
    headers, body = _send(encrypt=False)
    with receive(headers, body, _policy()) as received:
        assert received.error is Disposition.INSUFFICIENT_MESSAGE_SECURITY


def test_unprotected_message_accepted_when_policy_allows() -> None:
    headers, body = _send(encrypt=False, sign=False)
    policy = _policy(_partner(require_signature=False, require_encryption=False))
    with receive(headers, body, policy) as received:
        assert received.ok and received.payload is not None
        assert received.payload.read() == PAYLOAD
        assert received.mic is not None  # over the bare body


def test_expired_partner_certificate_is_authentication_failed() -> None:
    expired = identity("expired-sender", NOW - dt.timedelta(days=400), NOW - dt.timedelta(days=1))
    them = LocalStation("PARTNER", (expired,))
    _, gateway = _sender_view()
    message = build_message(PAYLOAD, them, gateway)
    policy = _policy(_partner(certificates=(expired.certificate,)))
    with receive(message.headers, message.body, policy) as received:
        assert received.error is Disposition.AUTHENTICATION_FAILED
        assert "expired" in received.detail


def test_signature_by_another_key_is_authentication_failed() -> None:
    headers, body = _send()
    policy = _policy(_partner(certificates=(identity("somebody-else").certificate,)))
    with receive(headers, body, policy) as received:
        assert received.error is Disposition.AUTHENTICATION_FAILED


def test_tampered_signed_content_is_integrity_failure() -> None:
    headers, body = _send(encrypt=False)
    tampered = body.replace(b"UNB+UNOC:3+SENDER", b"UNB+UNOC:3+SENDEX", 1)
    assert tampered != body
    policy = _policy(_partner(require_encryption=False))
    with receive(headers, tampered, policy) as received:
        assert received.error is Disposition.INTEGRITY_CHECK_FAILED


@pytest.mark.parametrize(("header", "value"), [("AS2-From", "NOBODY"), ("AS2-To", "NOT-US")])
def test_unknown_as2_ids_are_authentication_failed(header: str, value: str) -> None:
    headers, body = _send()
    headers = [(n, value if n == header else v) for n, v in headers]
    with receive(headers, body, _policy()) as received:
        assert received.error is Disposition.AUTHENTICATION_FAILED


def test_quoted_as2_ids_are_unquoted() -> None:
    partner = _partner()
    policy = ReceiverPolicy(
        LocalStation("MY GATEWAY", (identity("receiver"),)), {"PARTNER": partner}
    )
    headers, body = _send()
    headers = [(n, '"MY GATEWAY"' if n == "AS2-To" else v) for n, v in headers]
    with receive(headers, body, policy) as received:
        assert received.ok, received.detail
        assert received.as2_to == "MY GATEWAY"


def test_garbage_envelope_is_decryption_failed() -> None:
    headers, _ = _send()
    with receive(headers, os.urandom(3000), _policy()) as received:
        assert received.error is Disposition.DECRYPTION_FAILED


def test_garbage_signature_is_authentication_failed() -> None:
    headers, body = _send(encrypt=False)
    marker = b'filename="smime.p7s"\r\n\r\n'
    start = body.index(marker) + len(marker)
    broken = body[:start] + b"AAAA" + body[start + 4 :]
    with receive(headers, broken, _policy(_partner(require_encryption=False))) as received:
        assert received.error is Disposition.AUTHENTICATION_FAILED


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/pkcs7-mime", b"\x30\x03\x06\x01\x01"),  # CMS of an unknown type
        ("application/pkcs7-mime", b"not BER at all"),
        ("multipart/signed; boundary=b", b"--b\r\nContent-Type: a/b\r\n\r\nx\r\n"),
    ],
)
def test_malformed_structures_are_an_answer_not_a_crash(content_type: str, body: bytes) -> None:
    headers, _ = _send()
    headers = [(n, content_type if n == "Content-Type" else v) for n, v in headers]
    with receive(headers, body, _policy()) as received:
        assert received.error is Disposition.UNEXPECTED_PROCESSING_ERROR
        assert received.detail


def test_size_limit() -> None:
    headers, body = _send()
    with receive(headers, body, _policy(max_size=100)) as received:
        assert received.error is Disposition.UNEXPECTED_PROCESSING_ERROR
        assert "size limit" in received.detail


def test_error_mdn_has_no_mic_and_cannot_claim_processed() -> None:
    headers, body = _send(sign=False)
    with receive(headers, body, _policy()) as received:
        mdn = build_mdn(received, sign_with=identity("receiver"))
        assert mdn is not None and mdn.disposition is Disposition.INSUFFICIENT_MESSAGE_SECURITY
        report = read_mdn(mdn.headers, mdn.body, [identity("receiver").certificate])
        assert report.disposition is Disposition.INSUFFICIENT_MESSAGE_SECURITY
        assert report.mic is None
        with pytest.raises(ValueError):
            build_mdn(received, Disposition.PROCESSED)


def test_duplicate_mdn_carries_the_mic() -> None:
    headers, body = _send()
    with receive(headers, body, _policy()) as received:
        mdn = build_mdn(received, Disposition.DUPLICATE_DOCUMENT, identity("receiver"))
        assert mdn is not None
        report = read_mdn(mdn.headers, mdn.body, [identity("receiver").certificate])
        assert report.disposition is Disposition.DUPLICATE_DOCUMENT
        assert report.processed and report.mic == received.mic


def test_no_mdn_when_none_is_requested() -> None:
    headers, body = _send(request_mdn=False)
    with receive(headers, body, _policy()) as received:
        assert received.ok and build_mdn(received) is None


def test_mdn_is_signed_with_the_requested_micalg() -> None:
    headers, body = _send(digest=Digest.SHA512)
    with receive(headers, body, _policy()) as received:
        mdn = build_mdn(received, sign_with=identity("receiver"))
        assert mdn is not None and "micalg=sha-512" in dict(mdn.headers)["Content-Type"]
        report = read_mdn(mdn.headers, mdn.body, [identity("receiver").certificate])
        assert report.signature is not None and report.signature.digest is Digest.SHA512


def test_async_mdn_url_is_reported() -> None:
    headers, body = _send(async_mdn_url="https://partner.example/mdn")
    with receive(headers, body, _policy()) as received:
        assert received.mdn_request is not None
        assert received.mdn_request.async_url == "https://partner.example/mdn"


# --- messages built by the openssl command-line tool -------------------------------------------


def _openssl_message(
    tmp_path: Path, md: str, cipher_flag: str | None, base64_body: bool, oaep: bool = False
) -> tuple[list[tuple[str, str]], bytes]:
    key, cert = write_pem(tmp_path, identity("sender"), "sender")
    _, recipient = write_pem(tmp_path, identity("receiver"), "receiver")
    entity = tmp_path / "entity"
    entity.write_bytes(
        b"Content-Type: application/edifact\r\n"
        b'Content-Disposition: attachment; filename="openssl.edi"\r\n\r\n' + PAYLOAD
    )
    signed = openssl(
        "cms", "-sign", "-binary", "-crlfeol", "-md", md, "-in", entity,
        "-signer", cert, "-inkey", key,
    )  # fmt: skip
    mime = signed
    if cipher_flag:
        (tmp_path / "signed").write_bytes(signed)
        args: list[str | Path] = ["cms", "-encrypt", "-binary", cipher_flag]
        args += ["-in", tmp_path / "signed", "-recip", recipient]
        args += ["-keyopt", "rsa_padding_mode:oaep"] if oaep else []
        if base64_body:
            mime = openssl(*args, "-crlfeol")
        else:
            der = openssl(*args, "-outform", "DER")
            mime = b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n\r\n" + der
    blank = re.search(rb"\r?\n\r?\n", mime)
    assert blank is not None
    headers = [
        tuple(line.split(":", 1))
        for line in mime[: blank.start()].decode().replace("\r\n", "\n").replace("\n ", " ")
        .replace("\n\t", " ").split("\n")
    ]  # fmt: skip
    headers += [
        ("AS2-From", "PARTNER"),
        ("AS2-To", "GATEWAY"),
        ("Message-ID", "<openssl-1@partner>"),
        ("Disposition-Notification-To", "x"),
    ]
    return [(n.strip(), v.strip()) for n, v in headers], mime[blank.end() :]


@needs_openssl
@pytest.mark.parametrize("md", ["sha1", "sha256", "sha512"])
@pytest.mark.parametrize("cipher_flag", [None, "-des3", "-aes128", "-aes256", "-aes-256-gcm"])
@pytest.mark.parametrize("base64_body", [False, True], ids=["binary", "base64"])
def test_accept_what_openssl_signs_and_encrypts(
    tmp_path: Path, md: str, cipher_flag: str | None, base64_body: bool
) -> None:
    headers, body = _openssl_message(tmp_path, md, cipher_flag, base64_body)
    policy = _policy(_partner(require_encryption=cipher_flag is not None))
    with receive(headers, body, policy) as received:
        assert received.ok, received.detail
        assert received.payload is not None and received.payload.read() == PAYLOAD
        assert received.filename == "openssl.edi"
        assert received.security.signature_digest is Digest.from_name(md)
        assert received.security.encrypted == (cipher_flag is not None)


@needs_openssl
def test_accept_openssl_oaep(tmp_path: Path) -> None:
    headers, body = _openssl_message(tmp_path, "sha256", "-aes192", False, oaep=True)
    with receive(headers, body, _policy()) as received:
        assert received.ok, received.detail
        assert received.security.key_transport is KeyTransport.RSA_OAEP


@needs_openssl
def test_large_streamed_message_keeps_memory_flat(tmp_path: Path) -> None:
    """40 MB signed+encrypted by openssl (BER, streamed): Python heap stays far below that."""
    key, cert = write_pem(tmp_path, identity("sender"), "sender")
    _, recipient = write_pem(tmp_path, identity("receiver"), "receiver")
    payload = (PAYLOAD * (40_000_000 // len(PAYLOAD) + 1))[:40_000_000]
    (tmp_path / "entity").write_bytes(b"Content-Type: application/edifact\r\n\r\n" + payload)
    openssl(
        "cms", "-sign", "-binary", "-crlfeol", "-stream", "-in", tmp_path / "entity",
        "-signer", cert, "-inkey", key, "-out", tmp_path / "signed",
    )  # fmt: skip
    openssl(
        "cms", "-encrypt", "-binary", "-stream", "-aes256", "-outform", "DER",
        "-in", tmp_path / "signed", "-recip", recipient, "-out", tmp_path / "body",
    )  # fmt: skip
    headers = [
        ("Content-Type", "application/pkcs7-mime; smime-type=enveloped-data"),
        ("AS2-From", "PARTNER"),
        ("AS2-To", "GATEWAY"),
        ("Message-ID", "<big@partner>"),
    ]
    tracemalloc.start()
    try:
        with (tmp_path / "body").open("rb") as body:
            received = receive(headers, body, _policy(spool_threshold=1 << 20))
        with received:
            _, peak = tracemalloc.get_traced_memory()
            assert received.ok, received.detail
            assert received.payload is not None and received.payload.size == len(payload)
    finally:
        tracemalloc.stop()
    assert peak < 16_000_000, f"peak Python heap {peak / 1e6:.1f} MB"


class _SocketLike:
    """A non-seekable stream, like a request body read off the network."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self, size: int = -1) -> bytes:
        size = len(self._data) if size < 0 else size
        piece, self._data = self._data[:size], self._data[size:]
        return piece


@pytest.mark.parametrize("form", ["chunks", "stream"])
def test_body_as_chunks_or_unseekable_stream(form: str) -> None:
    headers, body = _send()
    source = (
        iter([body[:100], body[100:2000], body[2000:]]) if form == "chunks" else _SocketLike(body)
    )
    with receive(headers, source, _policy()) as received:  # type: ignore[arg-type]
        assert received.ok, received.detail
        assert received.payload is not None and received.payload.read() == PAYLOAD
        assert received.raw is not None and received.raw.read() == body


@needs_openssl
def test_accept_opaque_signed_and_encrypted(tmp_path: Path) -> None:
    key, cert = write_pem(tmp_path, identity("sender"), "sender")
    _, recipient = write_pem(tmp_path, identity("receiver"), "receiver")
    (tmp_path / "entity").write_bytes(
        b'Content-Type: application/edifact\r\nContent-Disposition: attachment; filename="o.edi"'
        b"\r\n\r\n" + PAYLOAD
    )
    openssl(
        "cms", "-sign", "-nodetach", "-binary", "-crlfeol", "-in", tmp_path / "entity",
        "-signer", cert, "-inkey", key, "-out", tmp_path / "signed",
    )  # fmt: skip
    body = openssl(
        "cms", "-encrypt", "-binary", "-aes128", "-outform", "DER",
        "-in", tmp_path / "signed", "-recip", recipient,
    )  # fmt: skip
    headers = [
        ("Content-Type", 'application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"'),
        ("AS2-From", "PARTNER"),
        ("AS2-To", "GATEWAY"),
        ("Message-ID", "<opaque@partner>"),
    ]
    with receive(headers, body, _policy()) as received:
        assert received.ok, received.detail
        assert received.payload is not None and received.payload.read() == PAYLOAD
        assert received.filename == "o.edi"
        assert received.security.signed and received.security.encrypted


@pytest.mark.parametrize(
    ("options", "covers"),
    [
        ({}, "entity"),  # signed: the signed part, i.e. the payload entity with its headers
        ({"sign": False}, "entity"),  # encrypted only: the decrypted entity with its headers
        ({"sign": False, "encrypt": False}, "body"),  # unprotected: the body without headers
    ],
)
def test_mic_covers_what_rfc_4130_says(options: dict[str, object], covers: str) -> None:
    """The MIC recomputed by hand from the payload entity we know was sent."""
    headers, body = _send(**options)
    entity = (
        b"Content-Type: application/edifact\r\nContent-Transfer-Encoding: binary\r\n"
        b'Content-Disposition: attachment; filename="order.edi"\r\n\r\n' + PAYLOAD
    )
    expected = hashlib.sha256(entity if covers == "entity" else PAYLOAD).digest()
    policy = _policy(_partner(require_signature=False, require_encryption=False))
    with receive(headers, body, policy) as received:
        assert received.ok, received.detail
        assert received.mic is not None and received.mic.value == expected
