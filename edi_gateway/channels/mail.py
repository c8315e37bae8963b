"""What the mail channels share: reading a received mail with the standard `email` package
(which attachments are business documents, the facts that link them to the mail), handing
them to intake, and building the reply that carries our acknowledgements back.

SMTP (`channels/smtp.py`) and IMAP (`channels/imap.py`) both end in `MailIntake.take`; their
interchanges carry the channel name `email`, so acks go back by the `email` return route.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import email.utils
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage, Message
from typing import Any

import structlog
from sqlalchemy.orm import Session, sessionmaker

from edi_gateway.channel_settings import Mailbox
from edi_gateway.config import Config, Partner
from edi_gateway.intake import Intake, IntakeUnavailable, Origin, Receipt, Sealing
from edi_gateway.spool import SpoolFull, Staged
from edi_gateway.store.tables import Event

log = structlog.get_logger("edi_gateway.channels.mail")

CHANNEL = "email"

_TYPES = {
    "application/edifact": "edifact",
    "application/edi-edifact": "edifact",
    "application/edi-consent": "edifact",
    "application/xml": "xml",
    "text/xml": "xml",
    "application/json": "json",
    "text/json": "json",
}
_SUFFIXES = {
    ".edi": "edifact",
    ".edifact": "edifact",
    ".edf": "edifact",
    ".xml": "xml",
    ".json": "json",
}
_MEDIA = {"edifact": "application/edifact", "xml": "application/xml", "json": "application/json"}


@dataclass(frozen=True)
class Attachment:
    index: int  # position among the mail's parts, stable across deliveries of the same mail
    filename: str | None
    format: str  # edifact | xml | json
    content: bytes

    @property
    def media_type(self) -> str:
        return _MEDIA[self.format]


class NoSpace(IntakeUnavailable):
    """The spool ran out of space while the mail was written (SMTP 452)."""


class MailRefused(Exception):
    """A permanent refusal of a mail (SMTP 5xx; IMAP: left in place and reported)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


# ----------------------------------------------------------------------------- reading


def parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def sniff(content: bytes) -> str | None:
    head = content[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"UNA", b"UNB")):
        return "edifact"
    if head.startswith(b"<"):
        return "xml"
    if head.startswith((b"{", b"[")):
        return "json"
    return None


def classify(media_type: str, filename: str | None, content: bytes) -> str | None:
    """EDIFACT, XML or JSON by content type, else by file name, else by the first bytes."""
    media_type = media_type.lower()
    if media_type in _TYPES:
        return _TYPES[media_type]
    if media_type.endswith("+xml"):
        return "xml"
    if media_type.endswith("+json"):
        return "json"
    if filename:
        dot = filename.rfind(".")
        found = _SUFFIXES.get(filename[dot:].lower()) if dot >= 0 else None
        if found:
            return found
    return sniff(content)


def attachments(msg: Message) -> list[Attachment]:
    """The business documents a mail carries. The text of the mail itself (an inline body
    without a file name) is never one."""
    found: list[Attachment] = []
    for index, part in enumerate(msg.walk()):
        if part.is_multipart():
            continue
        filename = part.get_filename()
        inline = part.get_content_disposition() != "attachment" and not filename
        if inline and part.get_content_type() in ("text/plain", "text/html"):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes) or not payload:
            continue
        fmt = classify(part.get_content_type(), filename, payload)
        if fmt is not None:
            found.append(Attachment(index, _safe_name(filename), fmt, payload))
    return found


def _safe_name(filename: str | None) -> str | None:
    if not filename:
        return None
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return name[:255] or None


def message_id(msg: Message, raw: bytes) -> str:
    """The mail's Message-ID, or one derived from its bytes when the sender set none (so a
    re-delivery of the same bytes is still recognised)."""
    found = str(msg.get("Message-ID") or "").strip()
    return found or f"<sha256-{hashlib.sha256(raw).hexdigest()}@edi-gateway.invalid>"


def sender_address(msg: Message, envelope_from: str | None = None) -> str:
    _, addr = email.utils.parseaddr(str(msg.get("From") or ""))
    return (addr or envelope_from or "").lower()


def mail_facts(msg: Message, mid: str, raw_sha256: str, transport: str) -> dict[str, Any]:
    """What links an interchange to the mail it came in (Origin.facts)."""
    return {
        "transport": transport,
        "message_id": mid,
        "from": str(msg.get("From") or ""),
        "to": str(msg.get("To") or ""),
        "cc": str(msg.get("Cc") or ""),
        "subject": str(msg.get("Subject") or ""),
        "date": str(msg.get("Date") or ""),
        "reply_to": str(msg.get("Reply-To") or ""),
        "raw_mail_sha256": raw_sha256,
    }


def partner_by_sender(config: Config, address: str) -> Partner | None:
    """The partner whose allow-list holds `address` (only partners that do not submit with
    credentials: for those, AUTH is the proof, not a From line anyone can write)."""
    address = address.lower()
    for p in config.partners.values():
        if p.enabled and p.email is not None and p.email.smtp_user is None:  # noqa: SIM102
            if address in (a.lower() for a in p.email.addresses):
                return p
    return None


# ----------------------------------------------------------------------------- intake


@dataclass(frozen=True)
class Taken:
    message_id: str
    raw_sha256: str
    receipts: list[Receipt]


class MailIntake:
    """Keeps the raw mail in the spool (unless it carries a sealed tender) and submits each
    attachment as an interchange (a tender sealed first), all of it durable before the caller
    answers. Temporary failures raise `IntakeUnavailable`
    (`staging` tells whether space ran out while writing: SMTP 452, else 451)."""

    def __init__(self, config: Config, intake: Intake, sessions: sessionmaker[Session]) -> None:
        self.config = config
        self.intake = intake
        self.sessions = sessions

    def take(
        self,
        raw: bytes,
        partner: Partner,
        mailboxes: Sequence[Mailbox],
        transport: str,
        extra: dict[str, Any] | None = None,
    ) -> Taken:
        msg = parse(raw)
        found = attachments(msg)
        if not found:
            raise MailRefused("554 5.6.0", "the mail has no EDIFACT, XML or JSON attachment")
        mid = message_id(msg, raw)
        mail_origin = Origin(channel=CHANNEL, partner_id=partner.id)
        raw_sha256 = hashlib.sha256(raw).hexdigest()
        facts = mail_facts(msg, mid, raw_sha256, transport)
        facts["mailboxes"] = [m.describe() for m in mailboxes]
        facts.update(extra or {})
        staged: list[tuple[Staged, Sealing | None, Origin]] = []
        try:
            for a in found:
                origin = Origin(
                    channel=CHANNEL,
                    partner_id=partner.id,
                    transport_id=f"{mid}#{a.index}",
                    filename=a.filename,
                    media_type=a.media_type,
                    facts={**facts, "attachment": a.index, "format": a.format},
                )
                staged.append((*self.intake.stage_or_seal(a.content, origin, None), origin))
            # the mail as received, by content; but not a mail carrying a sealed tender, whose
            # content must not reach the disk in clear (its hash stays in the facts)
            if not any(sealing for _, sealing, _ in staged):
                raw_staged = self.intake.stage(raw, mail_origin)
                try:
                    self.intake.spool.commit([raw_staged])
                except SpoolFull as exc:
                    self.intake.spool.discard(raw_staged)
                    raise NoSpace("the spool could not keep the mail") from exc
        except IntakeUnavailable as exc:
            for s, _, _ in staged:
                self.intake.spool.discard(s)
            raise NoSpace(exc.reason, exc.retry_after) from exc
        except BaseException:
            for s, _, _ in staged:
                self.intake.spool.discard(s)
            raise
        futures = [self.intake.submit(s, o, sealing) for s, sealing, o in staged]
        receipts = [f.result() for f in futures]
        return Taken(mid, raw_sha256, receipts)

    async def take_async(
        self,
        raw: bytes,
        partner: Partner,
        mailboxes: Sequence[Mailbox],
        transport: str,
        extra: dict[str, Any] | None = None,
    ) -> Taken:
        return await asyncio.to_thread(self.take, raw, partner, mailboxes, transport, extra)

    def event(
        self, type_: str, partner_id: str | None, interchange_id: str | None = None, **detail: Any
    ) -> None:
        try:
            with self.sessions.begin() as s:
                s.add(
                    Event(
                        at=dt.datetime.now(dt.UTC),
                        interchange_id=interchange_id,
                        actor=f"{CHANNEL}:{partner_id or '-'}",
                        type=type_,
                        detail=detail,
                    )
                )
        except Exception as exc:  # an event must never turn an answer into a crash
            log.warning("mail.event_not_recorded", type=type_, error=str(exc))


# ----------------------------------------------------------------------------- replies


@dataclass(frozen=True)
class ReplyPart:
    filename: str
    media_type: str
    content: bytes


def build_reply(
    original: dict[str, Any],
    parts: Sequence[ReplyPart],
    summary: str,
    sender: str,
    recipient: str,
    domain: str,
) -> EmailMessage:
    """A reply to the mail described by `original` (its facts): In-Reply-To and References
    point at it, the acks ride as attachments, the body says in a few lines what they say."""
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = recipient
    subject = str(original.get("subject") or "your submission")
    reply["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    reply["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
    reply["Message-ID"] = email.utils.make_msgid(domain=domain)
    mid = original.get("message_id")
    if mid and not str(mid).endswith("@edi-gateway.invalid>"):
        reply["In-Reply-To"] = mid
        reply["References"] = mid
    reply["Auto-Submitted"] = "auto-replied"
    reply.set_content(summary)
    for p in parts:
        maintype, _, subtype = p.media_type.partition("/")
        reply.add_attachment(
            p.content, maintype=maintype, subtype=subtype or "octet-stream", filename=p.filename
        )
    return reply
