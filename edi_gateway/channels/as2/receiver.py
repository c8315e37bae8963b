"""Receiving an AS2 message, independent of the transport: headers and a body stream in,
the payload and the facts needed for the MDN out.

`receive` peels the S/MIME layers in whatever order the sender applied them (encryption,
compression before or after signing, signature), checks them against the partner's policy and
computes the MIC of RFC 4130 §7.3.1. It never raises on bad input: a defect becomes the
disposition the MDN will report. It does raise OSError (disk full, client gone) so that the
listener answers with a temporary failure instead of an MDN.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from typing import BinaryIO

from cryptography import x509

from edi_gateway.channels.as2.algorithms import (
    OID_AUTH_ENVELOPED_DATA,
    OID_COMPRESSED_DATA,
    OID_ENVELOPED_DATA,
    OID_SIGNED_DATA,
    Cipher,
    Digest,
    KeyTransport,
    SignaturePadding,
)
from edi_gateway.channels.as2.ber import BerReader, read_oid
from edi_gateway.channels.as2.compression import decompress
from edi_gateway.channels.as2.envelope import decrypt
from edi_gateway.channels.as2.errors import (
    As2Error,
    AuthenticationFailed,
    DecompressionFailed,
    DecryptionFailed,
    InsufficientSecurity,
    IntegrityCheckFailed,
    MalformedMessage,
)
from edi_gateway.channels.as2.keys import KeyPair
from edi_gateway.channels.as2.mdn import (
    Disposition,
    Mdn,
    MdnRequest,
    parse_mdn_request,
    render_mdn,
    verify_variants,
)
from edi_gateway.channels.as2.mic import Mic
from edi_gateway.channels.as2.mime import (
    Entity,
    HeaderInput,
    Headers,
    decoded_body,
    parse_entity,
    signed_parts,
)
from edi_gateway.channels.as2.policy import PartnerProfile, ReceiverPolicy
from edi_gateway.channels.as2.signature import SignatureFacts
from edi_gateway.channels.as2.spool import ByteRange, Spools

log = logging.getLogger(__name__)

MAX_LAYERS = 8

_DISPOSITIONS: dict[type[As2Error], Disposition] = {
    AuthenticationFailed: Disposition.AUTHENTICATION_FAILED,
    DecryptionFailed: Disposition.DECRYPTION_FAILED,
    IntegrityCheckFailed: Disposition.INTEGRITY_CHECK_FAILED,
    InsufficientSecurity: Disposition.INSUFFICIENT_MESSAGE_SECURITY,
    DecompressionFailed: Disposition.DECOMPRESSION_FAILED,
}


@dataclass
class SecurityFacts:
    """How the message was protected, as found (not as the policy wanted)."""

    signed: bool = False
    signature_digest: Digest | None = None
    signature_padding: SignaturePadding | None = None
    signer: x509.Certificate | None = None
    encrypted: bool = False
    cipher: Cipher | None = None
    key_transport: KeyTransport | None = None
    decrypted_with: x509.Certificate | None = None
    compressed: bool = False
    compressed_before_signing: bool | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class Received:
    """The outcome of `receive`. Close it (or use `with`) to drop its temporary files.

    On success `payload` is the payload's bytes (transfer encoding undone) as a range of a
    spooled file: `payload.chunks()` streams it, `payload.read()` loads it. On failure
    `error` is the disposition to report and `detail` says why (never key material).
    """

    headers: Headers
    as2_from: str | None = None
    as2_to: str | None = None
    message_id: str | None = None
    subject: str | None = None
    partner: PartnerProfile | None = None
    raw: ByteRange | None = None
    payload: ByteRange | None = None
    filename: str | None = None
    content_type: str | None = None
    security: SecurityFacts = field(default_factory=SecurityFacts)
    mic: Mic | None = None
    mdn_request: MdnRequest | None = None
    error: Disposition | None = None
    detail: str = ""
    _spools: Spools = field(default_factory=Spools, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    def close(self) -> None:
        self._spools.close()

    def __enter__(self) -> Received:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def receive(headers: HeaderInput, body: BinaryIO | bytes, policy: ReceiverPolicy) -> Received:
    """Read one AS2 message. See the module docstring for what raises and what does not."""
    parsed = Headers.of(headers)
    received = Received(headers=parsed, _spools=Spools(policy.spool_threshold))
    received.as2_from = _as2_id(parsed.get("AS2-From"))
    received.as2_to = _as2_id(parsed.get("AS2-To"))
    received.message_id = parsed.get("Message-ID")
    received.subject = parsed.get("Subject")
    try:
        received.mdn_request = parse_mdn_request(parsed)
    except As2Error:
        received.mdn_request = None
    stream = io.BytesIO(body) if isinstance(body, bytes | bytearray) else body
    try:
        received.raw = received._spools.fill(stream, policy.max_size)
    except ValueError as exc:  # over the size limit
        _fail(received, Disposition.UNEXPECTED_PROCESSING_ERROR, str(exc))
        return received
    try:
        received.partner = _authorise(received, policy)
        _unwrap(received, Entity(parsed, received.raw, received.raw), policy)
        _enforce(received, received.partner)
    except As2Error as exc:
        disposition = _DISPOSITIONS.get(type(exc), Disposition.UNEXPECTED_PROCESSING_ERROR)
        _fail(received, disposition, str(exc))
    except OSError:
        received.close()
        raise
    except Exception as exc:  # a bug or a library surprise must still yield an MDN
        log.warning("AS2 message %s failed: %s", received.message_id, type(exc).__name__)
        _fail(received, Disposition.UNEXPECTED_PROCESSING_ERROR, type(exc).__name__)
    return received


def _as2_id(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


def _fail(received: Received, disposition: Disposition, detail: str) -> None:
    received.error = disposition
    received.detail = detail
    received.payload = None


def _authorise(received: Received, policy: ReceiverPolicy) -> PartnerProfile:
    if not received.message_id:
        raise MalformedMessage("the message has no Message-ID")
    if received.as2_to != policy.local.as2_id:
        raise AuthenticationFailed(f"AS2-To {received.as2_to!r} is not us")
    partner = policy.partners.get(received.as2_from or "")
    if partner is None:
        raise AuthenticationFailed(f"AS2-From {received.as2_from!r} is not a known partner")
    return partner


def _unwrap(received: Received, entity: Entity, policy: ReceiverPolicy) -> None:
    spools = received._spools
    security = received.security
    partner = received.partner
    assert partner is not None
    for _ in range(MAX_LAYERS):
        kind = _layer(entity, spools)
        if kind in (OID_ENVELOPED_DATA, OID_AUTH_ENVELOPED_DATA):
            if security.encrypted or security.signed:
                raise MalformedMessage("encryption inside a signature or a second encryption")
            sink = spools.new()
            facts = decrypt(decoded_body(entity, spools).stream(), policy.local.keys, sink)
            security.encrypted = True
            security.cipher = facts.cipher
            security.key_transport = facts.key_transport
            security.decrypted_with = facts.opened_with
            entity = _inner_entity(spools.written(sink), received.headers)
        elif kind == OID_COMPRESSED_DATA:
            if security.compressed:
                raise MalformedMessage("compressed twice")
            sink = spools.new()
            decompress(decoded_body(entity, spools).stream(), sink)
            security.compressed = True
            security.compressed_before_signing = security.signed
            entity = _inner_entity(spools.written(sink), received.headers)
        elif kind == OID_SIGNED_DATA:
            raise MalformedMessage("opaque (application/pkcs7-mime) signatures are not supported")
        elif entity.content_type == "multipart/signed":
            if security.signed:
                raise MalformedMessage("signed twice")
            signed_part, signature_part = signed_parts(entity)
            der = decoded_body(signature_part, spools).read()
            verified = _verify(der, signed_part, partner, policy)
            security.signed = True
            security.signature_digest = verified.digest
            security.signature_padding = verified.padding
            security.signer = verified.signer
            if verified.warning:
                security.warnings.append(verified.warning)
            received.mic = Mic(verified.digest, verified.content_digest)
            entity = signed_part
        else:
            _take_payload(received, entity)
            return
    raise MalformedMessage(f"more than {MAX_LAYERS} MIME layers")


def _layer(entity: Entity, spools: Spools) -> str | None:
    """The CMS content type of an application/pkcs7-mime entity, from its bytes."""
    if entity.content_type not in ("application/pkcs7-mime", "application/x-pkcs7-mime"):
        return None
    content = decoded_body(entity, spools)
    reader = BerReader(content.stream())
    outer = reader.read_header()
    return read_oid(reader, next(reader.children(outer)))


def _inner_entity(content: ByteRange, outer: Headers) -> Entity:
    entity = parse_entity(content)
    if entity is not None:
        return entity
    # a sender that enveloped the bare payload: it keeps the outer name, if any
    fields = [("Content-Type", "application/octet-stream")]
    disposition = outer.get("Content-Disposition")
    if disposition:
        fields.append(("Content-Disposition", disposition))
    return Entity(Headers(fields), content, content)


def _verify(
    der: bytes, signed: Entity, partner: PartnerProfile, policy: ReceiverPolicy
) -> SignatureFacts:
    return verify_variants(der, signed, partner.certificates, policy.clock())


def _take_payload(received: Received, entity: Entity) -> None:
    received.payload = decoded_body(entity, received._spools)
    received.filename = entity.headers.filename() or received.headers.filename()
    received.content_type = entity.content_type
    if received.mic is None:
        # unsigned: MIC over the innermost entity with its headers (RFC 4130 §7.3.1); a plain
        # unprotected body has no MIME headers of its own, so it is over the body alone
        digest = received.mdn_request.micalg if received.mdn_request else Digest.SHA256
        received.mic = Mic.compute(entity.whole.chunks(), digest)


def _enforce(received: Received, partner: PartnerProfile) -> None:
    if partner.require_signature and not received.security.signed:
        raise InsufficientSecurity("the partner's policy requires a signed message")
    if partner.require_encryption and not received.security.encrypted:
        raise InsufficientSecurity("the partner's policy requires an encrypted message")


def build_mdn(
    received: Received,
    disposition: Disposition | None = None,
    sign_with: KeyPair | None = None,
    *,
    our_as2_id: str | None = None,
    explanation: str = "",
) -> Mdn | None:
    """The MDN for a received message, or None when the sender asked for none.

    `disposition` defaults to the receive error, or `processed` when there was none; send
    `processed` only after intake has committed the payload, `DUPLICATE_DOCUMENT` for a
    Message-ID seen before. The MDN is signed with `sign_with` when the sender asked for a
    signed receipt.
    """
    if received.mdn_request is None:
        return None
    chosen = disposition or received.error or Disposition.PROCESSED
    if received.error is not None and not chosen.is_error:
        raise ValueError(f"cannot report {chosen.value} for a message that failed")
    mic = received.mic if not chosen.is_error else None
    return render_mdn(
        our_as2_id=our_as2_id or received.as2_to or "",
        partner_as2_id=received.as2_from or "",
        original_message_id=received.message_id or "",
        disposition=chosen,
        mic=mic,
        request=received.mdn_request,
        sign_with=sign_with,
        explanation=explanation,
    )
