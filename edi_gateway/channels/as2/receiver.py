"""Receiving an AS2 message, independent of the transport: headers and a body stream in,
the payload and the facts needed for the MDN out.

`receive` peels the S/MIME layers in whatever order the sender applied them (encryption,
compression before or after signing, signature), checks them against the partner's policy and
computes the MIC of RFC 4130 §7.3.1. It never raises on bad input: a defect becomes the
disposition the MDN will report. It does raise OSError (disk full, client gone) so that the
listener answers with a temporary failure instead of an MDN.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, cast

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
    UnsupportedAlgorithm,
)
from edi_gateway.channels.as2.keys import KeyPair
from edi_gateway.channels.as2.mdn import (
    Disposition,
    Mdn,
    MdnRequest,
    parse_mdn_request,
    render_mdn,
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
from edi_gateway.channels.as2.signature import SignatureFacts, verify_opaque
from edi_gateway.channels.as2.smime import verify_variants
from edi_gateway.channels.as2.spool import ByteRange, Spools

log = logging.getLogger(__name__)

Body = bytes | BinaryIO | Iterable[bytes]

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
    local_as2_id: str = ""  # our AS2 id, which the MDN is from
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


def receive(headers: HeaderInput, body: Body, policy: ReceiverPolicy) -> Received:
    """Read one AS2 message. See the module docstring for what raises and what does not.

    `headers`: the HTTP request headers (a mapping or (name, value) pairs). `body`: bytes, a
    binary file (a seekable one is read in place and must stay open while the result is in
    use; any other is copied into a temporary spool), or an iterable of byte chunks.
    """
    parsed = Headers.of(headers)
    received = Received(
        headers=parsed, local_as2_id=policy.local.as2_id, _spools=Spools(policy.spool_threshold)
    )
    received.as2_from = _as2_id(parsed.get("AS2-From"))
    received.as2_to = _as2_id(parsed.get("AS2-To"))
    received.message_id = parsed.get("Message-ID")
    received.subject = parsed.get("Subject")
    try:
        received.mdn_request = parse_mdn_request(parsed)
    except As2Error:
        received.mdn_request = None
    try:
        received.raw = _body_range(body, received._spools, policy.max_size)
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


def _body_range(body: Body, spools: Spools, limit: int | None) -> ByteRange:
    """The body as a byte range: a seekable file is used in place (from its current position),
    bytes are wrapped, anything else (a socket stream, chunks) is copied into a spool."""
    if isinstance(body, bytes | bytearray):
        source = ByteRange.of(bytes(body))
    elif hasattr(body, "seekable") and body.seekable():
        file = cast(BinaryIO, body)
        start = file.tell()
        end = file.seek(0, io.SEEK_END)
        source = ByteRange(file, start, end)
    else:
        return spools.fill(body, limit)
    if limit is not None and source.size > limit:
        raise ValueError(f"message exceeds the size limit of {limit} bytes")
    return source


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
    """Peel layers until the payload; each layer's defects are reported as that layer's."""
    for _ in range(MAX_LAYERS):
        kind, entity = _layer_kind(entity, received._spools)
        if kind == _ENVELOPED:
            entity = _open_envelope(received, entity, policy)
        elif kind == _COMPRESSED:
            entity = _inflate(received, entity)
        elif kind == _SIGNED:
            entity = _check_signature(received, entity, policy)
        elif kind == _OPAQUE:
            entity = _check_opaque_signature(received, entity, policy)
        else:
            _take_payload(received, entity)
            return
    raise MalformedMessage(f"more than {MAX_LAYERS} MIME layers")


_ENVELOPED, _COMPRESSED, _SIGNED, _OPAQUE = "enveloped", "compressed", "signed", "opaque"
_SMIME_TYPES = {
    "enveloped-data": _ENVELOPED,
    "authenveloped-data": _ENVELOPED,
    "compressed-data": _COMPRESSED,
    "signed-data": _OPAQUE,
}
_CMS_TYPES = {
    OID_ENVELOPED_DATA: _ENVELOPED,
    OID_AUTH_ENVELOPED_DATA: _ENVELOPED,
    OID_COMPRESSED_DATA: _COMPRESSED,
    OID_SIGNED_DATA: _OPAQUE,
}


def _layer_kind(entity: Entity, spools: Spools) -> tuple[str | None, Entity]:
    """What the entity is, and the entity to work on (transfer-decoded if it had to be read)."""
    if entity.content_type == "multipart/signed":
        return _SIGNED, entity
    if entity.content_type not in ("application/pkcs7-mime", "application/x-pkcs7-mime"):
        return None, entity
    smime_type = entity.params.get("smime-type", "").lower()
    if smime_type in _SMIME_TYPES:
        return _SMIME_TYPES[smime_type], entity
    # no (or an unknown) smime-type: the CMS content type decides
    body = decoded_body(entity, spools)
    binary = Headers(
        [(n, v) for n, v in entity.headers.items() if n.lower() != "content-transfer-encoding"]
    )
    try:
        reader = BerReader(body.stream())
        oid = read_oid(reader, next(reader.children(reader.read_header())))
    except StopIteration:
        raise MalformedMessage("application/pkcs7-mime body is not CMS") from None
    if oid not in _CMS_TYPES:
        raise MalformedMessage(f"unsupported CMS content type {oid}")
    return _CMS_TYPES[oid], Entity(binary, entity.whole, body)


@contextlib.contextmanager
def _reported_as(error: type[As2Error]) -> Iterator[None]:
    """Within a layer, an unreadable or unsupported structure is that layer's failure."""
    try:
        yield
    except (MalformedMessage, UnsupportedAlgorithm) as exc:
        raise error(str(exc)) from exc
    except (ValueError, TypeError, KeyError) as exc:  # asn1crypto parses lazily
        raise error(f"unreadable structure: {exc}") from exc


def _open_envelope(received: Received, entity: Entity, policy: ReceiverPolicy) -> Entity:
    security = received.security
    if security.encrypted or security.signed:
        raise MalformedMessage("encryption inside a signature, or encrypted twice")
    spools = received._spools
    sink = spools.new()
    with _reported_as(DecryptionFailed):
        facts = decrypt(decoded_body(entity, spools).stream(), policy.local.keys, sink)
    security.encrypted = True
    security.cipher = facts.cipher
    security.key_transport = facts.key_transport
    security.decrypted_with = facts.opened_with
    return _inner_entity(spools.written(sink), received.headers)


def _inflate(received: Received, entity: Entity) -> Entity:
    security = received.security
    if security.compressed:
        raise MalformedMessage("compressed twice")
    spools = received._spools
    sink = spools.new()
    with _reported_as(DecompressionFailed):
        decompress(decoded_body(entity, spools).stream(), sink)
    security.compressed = True
    security.compressed_before_signing = security.signed
    return _inner_entity(spools.written(sink), received.headers)


def _check_signature(received: Received, entity: Entity, policy: ReceiverPolicy) -> Entity:
    """multipart/signed: verify the detached signature over the exact first part."""
    partner = _before_signature(received)
    signed_part, signature_part = signed_parts(entity)
    with _reported_as(AuthenticationFailed):
        der = decoded_body(signature_part, received._spools).read()
        verified = verify_variants(der, signed_part, partner.certificates, policy.clock())
    _record_signature(received, verified)
    return signed_part


def _check_opaque_signature(received: Received, entity: Entity, policy: ReceiverPolicy) -> Entity:
    """application/pkcs7-mime signed-data: verify while unpacking the encapsulated entity."""
    partner = _before_signature(received)
    spools = received._spools
    sink = spools.new()
    with _reported_as(AuthenticationFailed):
        verified = verify_opaque(
            decoded_body(entity, spools).stream(), sink, partner.certificates, policy.clock()
        )
    _record_signature(received, verified)
    return _inner_entity(spools.written(sink), received.headers)


def _before_signature(received: Received) -> PartnerProfile:
    if received.security.signed:
        raise MalformedMessage("signed twice")
    assert received.partner is not None
    return received.partner


def _record_signature(received: Received, verified: SignatureFacts) -> None:
    security = received.security
    security.signed = True
    security.signature_digest = verified.digest
    security.signature_padding = verified.padding
    security.signer = verified.signer
    if verified.warning:
        security.warnings.append(verified.warning)
    # the MIC is the digest of exactly what the signature covers (RFC 4130 §7.3.1)
    received.mic = Mic(verified.digest, verified.content_digest)


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
        our_as2_id=received.local_as2_id,
        partner_as2_id=received.as2_from or "",
        original_message_id=received.message_id or "",
        disposition=chosen,
        mic=mic,
        request=received.mdn_request,
        sign_with=sign_with,
        explanation=explanation,
    )
