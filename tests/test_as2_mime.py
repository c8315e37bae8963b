"""MIME layers: headers, multipart ranges, transfer encodings, canonical forms, MDN options."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edi_gateway.channels.as2 import spool
from edi_gateway.channels.as2.algorithms import Digest
from edi_gateway.channels.as2.errors import MalformedMessage, UnsupportedAlgorithm
from edi_gateway.channels.as2.mdn import parse_mdn_request
from edi_gateway.channels.as2.mime import (
    Headers,
    crlf_canonical,
    decoded_body,
    parse_entity,
    signed_byte_variants,
    split_multipart,
)
from edi_gateway.channels.as2.spool import ByteRange, Spools


def test_headers_are_case_insensitive_and_parse_parameters() -> None:
    headers = Headers(
        [("content-type", 'multipart/signed; protocol="application/pkcs7-signature"; '
                          'micalg=sha256; \tboundary="----=_Part_1"')]
    )  # fmt: skip
    kind, params = headers.content_type()
    assert kind == "multipart/signed"
    assert params["boundary"] == "----=_Part_1"
    assert params["micalg"] == "sha256"


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ('attachment; filename="payload.txt"', "payload.txt"),
        ("attachment; filename=payload.txt", "payload.txt"),
        ("attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.edi", "résumé.edi"),
    ],
)
def test_filename_from_content_disposition(value: str, name: str) -> None:
    assert Headers([("Content-Disposition", value)]).filename() == name


@pytest.mark.parametrize("spelling", ["sha256", "sha-256", "SHA256", "SHA-256", '"sha-256"'])
def test_both_micalg_spellings(spelling: str) -> None:
    assert Digest.from_name(spelling) is Digest.SHA256


def test_unknown_micalg_is_rejected() -> None:
    with pytest.raises(UnsupportedAlgorithm):
        Digest.from_name("md5")


def test_entity_keeps_exact_ranges() -> None:
    data = b"Content-Type: text/plain\r\nX-Folded: a\r\n b\r\n\r\nbody\r\n"
    entity = parse_entity(ByteRange.of(data))
    assert entity is not None
    assert entity.headers.get("x-folded") == "a b"
    assert entity.body.read() == b"body\r\n"
    assert entity.whole.read() == data


@pytest.mark.parametrize(
    "content",
    [
        b"UNB+UNOA:2+<Sender GLN>:14+<Receiver GLN>:14+140407:0910'\nUNH+1'\n",
        b"\r\nno headers at all",
        b"X-Only: no content type\r\n\r\nbody",
    ],
)
def test_bare_content_is_not_an_entity(content: bytes) -> None:
    assert parse_entity(ByteRange.of(content)) is None


def _multipart(boundary: str, *parts: bytes, newline: bytes = b"\r\n") -> bytes:
    out = b"preamble" + newline
    for part in parts:
        out += b"--" + boundary.encode() + newline + part + newline
    return out + b"--" + boundary.encode() + b"--" + newline + b"epilogue"


def test_split_multipart_returns_exact_parts() -> None:
    parts = [b"Content-Type: a/b\r\n\r\none", b"Content-Type: c/d\r\n\r\ntwo\r\n--notit"]
    body = ByteRange.of(_multipart("XyZ", *parts))
    assert [p.read() for p in split_multipart(body, "XyZ")] == parts


def test_split_multipart_with_lf_only() -> None:
    parts = [b"Content-Type: a/b\n\none", b"Content-Type: c/d\n\ntwo"]
    body = ByteRange.of(_multipart("b", *parts, newline=b"\n"))
    assert [p.read() for p in split_multipart(body, "b")] == parts


def test_delimiter_across_chunk_borders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spool, "CHUNK_SIZE", 7)
    monkeypatch.setattr(ByteRange.chunks, "__defaults__", (7,))
    parts = [b"Content-Type: a/b\r\n\r\n" + b"x" * 50, b"Content-Type: c/d\r\n\r\n" + b"y" * 33]
    body = ByteRange.of(_multipart("----=_Part_0_1", *parts))
    assert [p.read() for p in split_multipart(body, "----=_Part_0_1")] == parts


def test_missing_closing_delimiter_is_malformed() -> None:
    with pytest.raises(MalformedMessage):
        split_multipart(ByteRange.of(b"--b\r\nContent-Type: a/b\r\n\r\nx\r\n"), "b")


def test_base64_body_is_decoded_in_chunks() -> None:
    payload = bytes(range(256)) * 50
    encoded = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    data = b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    entity = parse_entity(ByteRange.of(data + encoded))
    assert entity is not None
    spools = Spools()
    assert decoded_body(entity, spools).read() == payload
    spools.close()


@given(st.lists(st.binary(max_size=20), max_size=20))
def test_crlf_canonical_matches_whole_conversion(chunks: list[bytes]) -> None:
    joined = b"".join(chunks)
    expected = joined.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    # only bare LF is touched; a lone CR stays as it is
    if b"\r" in joined.replace(b"\r\n", b""):
        return
    assert b"".join(crlf_canonical(chunks)) == expected


def test_signed_byte_variants_for_lf_stored_part() -> None:
    entity = parse_entity(ByteRange.of(b"Content-Type: a/b\n\nline1\nline2\n"))
    assert entity is not None
    variants = [b"".join(v()) for v in signed_byte_variants(entity)]
    assert variants == [
        b"Content-Type: a/b\n\nline1\nline2\n",
        b"Content-Type: a/b\r\n\r\nline1\nline2\n",
        b"Content-Type: a/b\r\n\r\nline1\r\nline2\r\n",
    ]


def test_disposition_notification_options() -> None:
    request = parse_mdn_request(
        Headers(
            [
                ("Disposition-Notification-To", "mailto:as2@example.com"),
                (
                    "Disposition-Notification-Options",
                    "signed-receipt-protocol=optional, pkcs7-signature; "
                    "signed-receipt-micalg=optional, md5, sha256, sha-1",
                ),
                ("Receipt-Delivery-Option", "https://partner.example/as2/mdn"),
            ]
        )
    )
    assert request is not None
    assert request.signed
    assert request.micalgs == (Digest.SHA256, Digest.SHA1)
    assert request.async_url == "https://partner.example/as2/mdn"


def test_no_mdn_requested() -> None:
    assert parse_mdn_request(Headers([("AS2-From", "x")])) is None
    request = parse_mdn_request(Headers([("Disposition-Notification-To", "x")]))
    assert request is not None and not request.signed and request.micalg is Digest.SHA256
