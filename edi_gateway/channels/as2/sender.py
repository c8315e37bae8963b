"""Sending over AS2, without the transport: build the message for a partner, then check the MDN
that comes back (signature, Original-Message-ID, disposition and the MIC of what we sent)."""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import cast

from edi_gateway.channels.as2.algorithms import Digest
from edi_gateway.channels.as2.mdn import (
    AS2_VERSION,
    MdnReport,
    header_safe,
    new_message_id,
    quote_as2_id,
    read_mdn,
)
from edi_gateway.channels.as2.mic import Mic
from edi_gateway.channels.as2.mime import HeaderInput
from edi_gateway.channels.as2.policy import Compression, LocalStation, PartnerProfile
from edi_gateway.channels.as2.smime import (
    compressed_entity,
    enveloped_entity,
    payload_entity,
    signed_entity,
)


@dataclass(frozen=True)
class SentRecord:
    """What must be kept of a sent message to check its MDN, possibly after a restart (an
    asynchronous MDN arrives later): `as_dict()` is plain strings and booleans for storage."""

    message_id: str
    mics: Mapping[Digest, Mic]  # the MIC for every digest the partner may choose
    signed_mdn_requested: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "message_id": self.message_id,
            "mics": [mic.header_value() for mic in self.mics.values()],
            "signed_mdn_requested": self.signed_mdn_requested,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> SentRecord:
        mics = [Mic.parse(str(text)) for text in cast(list[str], data["mics"])]
        return cls(
            message_id=str(data["message_id"]),
            mics={mic.digest: mic for mic in mics},
            signed_mdn_requested=bool(data["signed_mdn_requested"]),
        )


@dataclass(frozen=True)
class OutgoingMessage:
    """An AS2 message ready to POST, and what we need to check its MDN."""

    message_id: str
    headers: list[tuple[str, str]]
    body: bytes
    mic: Mic  # what the partner's Received-Content-MIC should say
    mics: Mapping[Digest, Mic] = field(repr=False)  # the same, for every digest they may pick
    signed_mdn_requested: bool = False
    mdn_requested: bool = True

    @property
    def record(self) -> SentRecord:
        return SentRecord(self.message_id, self.mics, self.signed_mdn_requested)


def build_message(
    payload: bytes,
    local: LocalStation,
    partner: PartnerProfile,
    *,
    filename: str | None = None,
    content_type: str = "application/edifact",
    subject: str = "AS2 message",
    message_id: str | None = None,
    mdn_to: str | None = None,
) -> OutgoingMessage:
    """Sign, compress and encrypt `payload` as the partner profile says; return headers + body.

    `mdn_to` is the Disposition-Notification-To value (any address; AS2 only checks presence);
    the MDN goes back synchronously unless the profile names an `async_mdn_url`.
    """
    if partner.encrypt and not partner.certificates:
        raise ValueError(f"partner {partner.as2_id} has no certificate to encrypt to")
    entity = payload_entity(payload, content_type, filename)
    mic_input = entity.to_bytes()
    if partner.compression is Compression.BEFORE_SIGNING:
        entity = compressed_entity(entity)
    if partner.sign:
        mic_input = entity.to_bytes()  # the MIC covers exactly what the signature covers
        entity = signed_entity(entity, local.signing_key, partner.digest, partner.signature_padding)
    elif not partner.encrypt and partner.compression is Compression.NONE:
        mic_input = payload  # a bare body: its headers travel as HTTP headers (RFC 4130 §7.3.1)
    if partner.compression is Compression.AFTER_SIGNING:
        entity = compressed_entity(entity)
    if partner.encrypt:
        entity = enveloped_entity(
            entity, partner.certificates[0], partner.cipher, partner.key_transport
        )
    message_id = message_id or new_message_id(local.as2_id)
    headers = [
        ("AS2-Version", AS2_VERSION),
        ("AS2-From", quote_as2_id(local.as2_id)),
        ("AS2-To", quote_as2_id(partner.as2_id)),
        ("Message-ID", message_id),
        ("Subject", header_safe(subject)),
        ("Date", email.utils.format_datetime(dt.datetime.now(dt.UTC))),
        ("MIME-Version", "1.0"),
        ("EDIINT-Features", "multiple-attachments, CEM"),
    ]
    headers += [
        (name, value) for name, value in entity.headers if name != "Content-Transfer-Encoding"
    ]
    if partner.request_mdn:
        headers.append(("Disposition-Notification-To", mdn_to or local.as2_id))
        if partner.request_signed_mdn:
            headers.append(
                (
                    "Disposition-Notification-Options",
                    "signed-receipt-protocol=optional, pkcs7-signature; "
                    f"signed-receipt-micalg=optional, {partner.digest.micalg}",
                )
            )
        if partner.async_mdn_url:
            headers.append(("Receipt-Delivery-Option", partner.async_mdn_url))
    mics = {digest: Mic.compute([mic_input], digest) for digest in Digest}
    return OutgoingMessage(
        message_id=message_id,
        headers=headers,
        body=entity.body,
        mic=mics[partner.digest],
        mics=mics,
        signed_mdn_requested=partner.request_mdn and partner.request_signed_mdn,
        mdn_requested=partner.request_mdn,
    )


@dataclass(frozen=True)
class MdnOutcome:
    """The verdict on a partner's MDN for a message we sent."""

    report: MdnReport
    mic_matches: bool | None
    problems: tuple[str, ...]

    @property
    def delivered(self) -> bool:
        """The partner processed the message and confirmed the MIC of what we sent."""
        return self.report.processed and self.mic_matches is True and not self.problems


def verify_mdn(
    headers: HeaderInput,
    body: bytes,
    sent: OutgoingMessage | SentRecord,
    partner: PartnerProfile,
    at: dt.datetime | None = None,
) -> MdnOutcome:
    """Check the MDN answering `sent`. Raises IntegrityCheckFailed / AuthenticationFailed when
    it is signed but the signature does not verify with the partner's certificates."""
    if isinstance(sent, OutgoingMessage):
        sent = sent.record
    report = read_mdn(headers, body, partner.certificates, at)
    problems: list[str] = []
    if sent.signed_mdn_requested and not report.signed:
        problems.append("the MDN is not signed although a signed MDN was requested")
    if _bare_id(report.original_message_id) != _bare_id(sent.message_id):
        problems.append(f"the MDN answers {report.original_message_id!r}, not {sent.message_id!r}")
    mic_matches: bool | None = None
    if report.mic is not None:
        expected = sent.mics.get(report.mic.digest)
        mic_matches = expected is not None and expected.matches(report.mic)
        if not mic_matches:
            problems.append("the Received-Content-MIC does not match the message we sent")
    elif report.processed:
        problems.append("the MDN says processed but carries no Received-Content-MIC")
    return MdnOutcome(report, mic_matches, tuple(problems))


def _bare_id(message_id: str | None) -> str:
    return (message_id or "").strip().strip("<>").strip()
