"""Message Disposition Notifications (RFC 3798 as profiled by RFC 4130 §7): build and read them.

An MDN is a multipart/report with a human-readable part and a message/disposition-notification
part, optionally wrapped in multipart/signed. `render_mdn` builds the HTTP headers and body of
one; `read_mdn` parses one that a partner sent and verifies its signature.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cryptography import x509

from edi_gateway.channels.as2.algorithms import Digest
from edi_gateway.channels.as2.errors import (
    MalformedMessage,
    UnsupportedAlgorithm,
)
from edi_gateway.channels.as2.keys import KeyPair
from edi_gateway.channels.as2.mic import Mic
from edi_gateway.channels.as2.mime import (
    Entity,
    HeaderInput,
    Headers,
    decoded_body,
    parse_entity,
    signed_parts,
    split_multipart,
)
from edi_gateway.channels.as2.signature import SignatureFacts
from edi_gateway.channels.as2.smime import OutgoingEntity, signed_entity, verify_variants
from edi_gateway.channels.as2.spool import ByteRange, Spools

REPORTING_UA = "edi-gateway AS2"
AS2_VERSION = "1.2"
_UNSAFE = re.compile(r"[\r\n\x00]")


class Disposition(enum.Enum):
    """The dispositions we send; the value is the text after `MDN-sent-automatically; `."""

    PROCESSED = "processed"
    DUPLICATE_DOCUMENT = "processed/Warning: duplicate-document"
    AUTHENTICATION_FAILED = "processed/error: authentication-failed"
    DECRYPTION_FAILED = "processed/error: decryption-failed"
    INTEGRITY_CHECK_FAILED = "processed/error: integrity-check-failed"
    INSUFFICIENT_MESSAGE_SECURITY = "processed/error: insufficient-message-security"
    UNEXPECTED_PROCESSING_ERROR = "processed/error: unexpected-processing-error"
    DECOMPRESSION_FAILED = "processed/error: decompression-failed"  # RFC 5402

    @property
    def is_error(self) -> bool:
        return "/error:" in self.value

    @property
    def modifier(self) -> str | None:
        """`authentication-failed`, `duplicate-document`, … or None for plain `processed`."""
        return self.value.partition(": ")[2] or None

    @classmethod
    def parse(cls, text: str) -> Disposition | None:
        """Recognise a received `Disposition:` value (action part optional, any letter case)."""
        _, _, disposition = text.rpartition(";")
        wanted = re.sub(r"\s+", "", disposition).lower()
        for member in cls:
            if re.sub(r"\s+", "", member.value).lower() == wanted:
                return member
        return None


@dataclass(frozen=True)
class MdnRequest:
    """What the sender asked for: where to send the MDN, and whether and how to sign it."""

    to: str
    signed: bool = False
    micalgs: tuple[Digest, ...] = ()
    async_url: str | None = None

    @property
    def micalg(self) -> Digest:
        """The first requested digest we support (SHA-256 when none is)."""
        return self.micalgs[0] if self.micalgs else Digest.SHA256


def parse_mdn_request(headers: Headers) -> MdnRequest | None:
    """The MDN request of an AS2 message, or None when it asks for no MDN."""
    to = headers.get("Disposition-Notification-To")
    if not to:
        return None
    signed = False
    micalgs: list[Digest] = []
    for option in (headers.get("Disposition-Notification-Options") or "").split(";"):
        name, _, value = option.partition("=")
        values = [v.strip().lower() for v in value.split(",")]
        if values and values[0] in ("required", "optional"):
            values = values[1:]
        if name.strip().lower() == "signed-receipt-protocol":
            signed = "pkcs7-signature" in values
        elif name.strip().lower() == "signed-receipt-micalg":
            for candidate in values:
                try:
                    micalgs.append(Digest.from_name(candidate))
                except UnsupportedAlgorithm:
                    continue
    async_url = headers.get("Receipt-Delivery-Option") or None
    return MdnRequest(to, signed, tuple(micalgs), async_url)


@dataclass(frozen=True)
class Mdn:
    """An MDN ready to send: HTTP headers and body (sync response or async POST)."""

    message_id: str
    headers: list[tuple[str, str]]
    body: bytes
    disposition: Disposition
    signed: bool


def new_message_id(as2_id: str) -> str:
    host = re.sub(r"[^A-Za-z0-9.-]", "_", as2_id) or "as2"
    return f"<edi-gateway-{uuid.uuid4().hex}@{host}>"


def header_safe(value: str) -> str:
    """A value from a partner that is echoed into our headers: no line breaks, bounded."""
    return _UNSAFE.sub(" ", value)[:998]


def quote_as2_id(as2_id: str) -> str:
    return f'"{as2_id}"' if re.search(r'[\s"(),:;<>@\[\\\]]', as2_id) else as2_id


def render_mdn(
    *,
    our_as2_id: str,
    partner_as2_id: str,
    original_message_id: str,
    disposition: Disposition,
    mic: Mic | None,
    request: MdnRequest | None,
    sign_with: KeyPair | None,
    explanation: str = "",
) -> Mdn:
    """Build the MDN; signed (with the first requested micalg) when asked and a key is given."""
    boundary = f"----=_MDN_{uuid.uuid4().hex}"
    fields = [
        f"Reporting-UA: {REPORTING_UA}",
        f"Original-Recipient: rfc822; {header_safe(our_as2_id)}",
        f"Final-Recipient: rfc822; {header_safe(our_as2_id)}",
        f"Original-Message-ID: {header_safe(original_message_id)}",
        f"Disposition: automatic-action/MDN-sent-automatically; {disposition.value}",
    ]
    if mic is not None:
        fields.append(f"Received-Content-MIC: {mic.header_value()}")
    text = explanation or _default_text(disposition)
    report_type = f'multipart/report; report-type=disposition-notification; boundary="{boundary}"'
    report_body = (
        f"--{boundary}\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "Content-Transfer-Encoding: 7bit\r\n\r\n"
        f"{_ascii(text)}\r\n"
        f"--{boundary}\r\n"
        "Content-Type: message/disposition-notification\r\n"
        "Content-Transfer-Encoding: 7bit\r\n\r\n" + "\r\n".join(fields) + "\r\n\r\n"
        f"--{boundary}--\r\n"
    ).encode("ascii")
    message_id = new_message_id(our_as2_id)
    headers = [
        ("AS2-Version", AS2_VERSION),
        ("AS2-From", quote_as2_id(header_safe(our_as2_id))),
        ("AS2-To", quote_as2_id(header_safe(partner_as2_id))),
        ("Message-ID", message_id),
        ("MIME-Version", "1.0"),
        ("Subject", "Message Disposition Notification"),
    ]
    signed = bool(request and request.signed and sign_with is not None)
    if not signed or sign_with is None or request is None:
        headers.append(("Content-Type", report_type))
        return Mdn(message_id, headers, report_body, disposition, False)
    report = OutgoingEntity((("Content-Type", report_type),), report_body)
    signed_report = signed_entity(report, sign_with, request.micalg)
    headers.append(("Content-Type", signed_report.content_type))
    return Mdn(message_id, headers, signed_report.body, disposition, True)


def _default_text(disposition: Disposition) -> str:
    if disposition is Disposition.PROCESSED:
        return "The AS2 message was received and stored."
    if disposition is Disposition.DUPLICATE_DOCUMENT:
        return "The AS2 message was received before; it was not processed again."
    return f"The AS2 message could not be processed: {disposition.modifier}."


def _ascii(text: str) -> str:
    return (
        text.encode("ascii", "replace").decode("ascii").replace("\r\n", "\n").replace("\n", "\r\n")
    )


@dataclass(frozen=True)
class MdnReport:
    """An MDN a partner sent us, parsed and (when signed) verified."""

    original_message_id: str | None
    disposition_text: str
    disposition: Disposition | None
    mic: Mic | None
    signature: SignatureFacts | None
    fields: Mapping[str, str] = field(default_factory=dict)
    explanation: str = ""

    @property
    def signed(self) -> bool:
        return self.signature is not None

    @property
    def processed(self) -> bool:
        """`processed` without an error modifier (warnings such as duplicate count as processed)."""
        return self.disposition in (Disposition.PROCESSED, Disposition.DUPLICATE_DOCUMENT)


def read_mdn(
    headers: HeaderInput,
    body: bytes,
    trusted: Sequence[x509.Certificate],
    at: dt.datetime | None = None,
    *,
    trust_embedded: bool = False,
) -> MdnReport:
    """Parse an MDN (HTTP headers and body) and verify its signature against `trusted`.

    Raises IntegrityCheckFailed / AuthenticationFailed when a signature does not verify,
    MalformedMessage when it is not an MDN.
    """
    when = at or dt.datetime.now(dt.UTC)
    spools = Spools()
    try:
        top = Headers.of(headers)
        source = ByteRange.of(body)
        entity = Entity(top, source, source)
        signature: SignatureFacts | None = None
        if entity.content_type == "multipart/signed":
            signed_part, signature_part = signed_parts(entity)
            der = decoded_body(signature_part, spools).read()
            signature = verify_variants(
                der, signed_part, trusted, when, trust_embedded=trust_embedded
            )
            entity = signed_part
        return _read_report(entity, signature, spools)
    finally:
        spools.close()


def _read_report(entity: Entity, signature: SignatureFacts | None, spools: Spools) -> MdnReport:
    if entity.content_type != "multipart/report":
        raise MalformedMessage(f"expected multipart/report, found {entity.content_type}")
    boundary = entity.params.get("boundary")
    if not boundary:
        raise MalformedMessage("multipart/report without a boundary")
    fields: dict[str, str] = {}
    explanation = ""
    for part_range in split_multipart(entity.body, boundary):
        part = parse_entity(part_range)
        if part is None:
            continue
        content = decoded_body(part, spools).read()
        if part.content_type == "message/disposition-notification":
            fields = _notification_fields(content)
        elif part.content_type.startswith("text/") and not explanation:
            explanation = content.decode("utf-8", "replace").strip()
    if "disposition" not in fields:
        raise MalformedMessage("the MDN has no Disposition field")
    mic_text = fields.get("received-content-mic")
    return MdnReport(
        original_message_id=fields.get("original-message-id"),
        disposition_text=fields["disposition"],
        disposition=Disposition.parse(fields["disposition"]),
        mic=Mic.parse(mic_text) if mic_text else None,
        signature=signature,
        fields=fields,
        explanation=explanation,
    )


def _notification_fields(content: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    last = ""
    for line in content.decode("utf-8", "replace").splitlines():
        if line[:1] in (" ", "\t") and last:
            fields[last] += " " + line.strip()
            continue
        name, separator, value = line.partition(":")
        if separator and name.strip():
            last = name.strip().lower()
            fields[last] = value.strip()
    return fields
