"""S/MIME entities: building ours (payload, signed, compressed, enveloped; each wraps the exact
bytes of the entity inside it, all line ends CRLF) and verifying a partner's signed part."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509

from edi_gateway.channels.as2.algorithms import Cipher, CipherMode, Digest, KeyTransport
from edi_gateway.channels.as2.algorithms import SignaturePadding as Padding
from edi_gateway.channels.as2.compression import compress
from edi_gateway.channels.as2.envelope import encrypt
from edi_gateway.channels.as2.errors import IntegrityCheckFailed
from edi_gateway.channels.as2.keys import KeyPair
from edi_gateway.channels.as2.mime import Entity, signed_byte_variants
from edi_gateway.channels.as2.signature import SignatureFacts, sign_detached, verify_detached


@dataclass(frozen=True)
class OutgoingEntity:
    """A MIME entity we produce: header fields and body bytes."""

    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def content_type(self) -> str:
        return dict(self.headers)["Content-Type"]

    def to_bytes(self) -> bytes:
        head = "".join(f"{name}: {value}\r\n" for name, value in self.headers)
        return head.encode("ascii") + b"\r\n" + self.body


def payload_entity(payload: bytes, content_type: str, filename: str | None) -> OutgoingEntity:
    headers = [("Content-Type", content_type), ("Content-Transfer-Encoding", "binary")]
    if filename:
        safe = filename.replace("\\", "_").replace('"', "_").replace("\r", "").replace("\n", "")
        headers.append(("Content-Disposition", f'attachment; filename="{safe}"'))
    return OutgoingEntity(tuple(headers), payload)


def signed_entity(
    inner: OutgoingEntity,
    signer: KeyPair,
    digest: Digest,
    rsa_padding: Padding = Padding.PKCS1V15,
) -> OutgoingEntity:
    """multipart/signed over the exact bytes of `inner`, signature base64-encoded."""
    boundary = f"----=_Signed_{uuid.uuid4().hex}"
    signed = inner.to_bytes()
    signature = sign_detached(signed, signer, digest, rsa_padding)
    encoded = base64.encodebytes(signature).replace(b"\n", b"\r\n")
    body = (
        f"--{boundary}\r\n".encode("ascii")
        + signed
        + f"\r\n--{boundary}\r\n".encode("ascii")
        + b"Content-Type: application/pkcs7-signature; name=smime.p7s; smime-type=signed-data\r\n"
        + b"Content-Transfer-Encoding: base64\r\n"
        + b'Content-Disposition: attachment; filename="smime.p7s"\r\n\r\n'
        + encoded
        + f"--{boundary}--\r\n".encode("ascii")
    )
    content_type = (
        'multipart/signed; protocol="application/pkcs7-signature"; '
        f'micalg={digest.micalg}; boundary="{boundary}"'
    )
    return OutgoingEntity((("Content-Type", content_type),), body)


def compressed_entity(inner: OutgoingEntity) -> OutgoingEntity:
    return OutgoingEntity(
        (
            (
                "Content-Type",
                'application/pkcs7-mime; smime-type=compressed-data; name="smime.p7z"',
            ),
            ("Content-Transfer-Encoding", "binary"),
            ("Content-Disposition", 'attachment; filename="smime.p7z"'),
        ),
        compress(inner.to_bytes()),
    )


def enveloped_entity(
    inner: OutgoingEntity,
    recipient: x509.Certificate,
    cipher: Cipher,
    key_transport: KeyTransport,
) -> OutgoingEntity:
    smime_type = "authEnveloped-data" if cipher.mode is CipherMode.GCM else "enveloped-data"
    return OutgoingEntity(
        (
            ("Content-Type", f'application/pkcs7-mime; smime-type={smime_type}; name="smime.p7m"'),
            ("Content-Transfer-Encoding", "binary"),
            ("Content-Disposition", 'attachment; filename="smime.p7m"'),
        ),
        encrypt(inner.to_bytes(), recipient, cipher, key_transport),
    )


def verify_variants(
    der: bytes,
    signed: Entity,
    trusted: Sequence[x509.Certificate],
    at: dt.datetime,
    *,
    trust_embedded: bool = False,
) -> SignatureFacts:
    """Verify a detached signature over a MIME part, tolerating lost CRLFs (see mime.py)."""
    variants = signed_byte_variants(signed)
    exact = next(variants)
    try:
        return verify_detached(der, exact(), trusted, at, trust_embedded=trust_embedded)
    except IntegrityCheckFailed as failure:
        for variant in variants:
            try:
                return verify_detached(der, variant(), trusted, at, trust_embedded=trust_embedded)
            except IntegrityCheckFailed:
                continue
        raise failure from None
