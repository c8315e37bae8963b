"""Return route `email`: an acknowledgement goes back as a reply to the mail that brought the
interchange (In-Reply-To its Message-ID), with the ack attached and a short summary a person
can read, through the configured outbound SMTP relay.

A failed attempt raises; the outbox retries with backoff and shows `failed` after its last
attempt, from where an operator can resend.
"""

from __future__ import annotations

import email.utils
import os
import smtplib
import ssl
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edi_gateway.channel_settings import MailRelay
from edi_gateway.channels.mail import ReplyPart, build_reply
from edi_gateway.config import Partner
from edi_gateway.store.tables import Ack, AckState, Interchange


class MailSender:
    def __init__(self, sessions: sessionmaker[Session], relay: MailRelay) -> None:
        self.sessions = sessions
        self.relay = relay

    def send(self, ack: Ack, partner: Partner | None) -> AckState:
        facts = self._origin(ack.interchange_id)
        recipient = reply_address(facts, partner)
        if recipient is None:
            raise LookupError("no address to send the acknowledgement to")
        reply = build_reply(
            facts,
            [ReplyPart(ack.filename, ack.media_type, ack.content)],
            summary(ack, facts),
            self.relay.sender,
            recipient,
            self.relay.domain,
        )
        with self._connect() as smtp:
            smtp.send_message(reply, from_addr=self.relay.sender, to_addrs=[recipient])
        return AckState.DELIVERED

    def _origin(self, interchange_id: str) -> dict[str, Any]:
        with self.sessions() as s:
            row = s.execute(
                select(Interchange.origin, Interchange.filename).where(
                    Interchange.id == interchange_id
                )
            ).one_or_none()
        if row is None:
            return {}
        return {**(row.origin or {}), "filename": row.filename, "interchange_id": interchange_id}

    def _connect(self) -> smtplib.SMTP:
        r = self.relay
        context = ssl.create_default_context(cafile=r.ca_file)
        smtp: smtplib.SMTP
        if r.security == "tls":
            smtp = smtplib.SMTP_SSL(r.host, r.port, timeout=r.timeout_seconds, context=context)
        else:
            smtp = smtplib.SMTP(r.host, r.port, timeout=r.timeout_seconds)
        try:
            smtp.ehlo(r.domain)
            if r.security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo(r.domain)
            if r.username:
                password = os.environ.get(r.password_env or "", "")
                smtp.login(r.username, password)
        except BaseException:
            smtp.close()
            raise
        return smtp


def reply_address(facts: dict[str, Any], partner: Partner | None) -> str | None:
    """The partner's configured reply address, else the mail's Reply-To, else its From, else
    the first address the partner sends from."""
    if partner is not None and partner.email is not None and partner.email.reply_to:
        return partner.email.reply_to
    for key in ("reply_to", "from"):
        _, address = email.utils.parseaddr(str(facts.get(key) or ""))
        if address:
            return address
    if partner is not None and partner.email is not None and partner.email.addresses:
        return partner.email.addresses[0]
    return None


def summary(ack: Ack, facts: dict[str, Any]) -> str:
    verdict = "accepted" if ack.positive else "NOT accepted (see the attached acknowledgement)"
    lines = [
        "This is an automatic answer from the EDI gateway.",
        "",
        f"Your mail:      {facts.get('subject') or '(no subject)'}",
        f"Message-ID:     {facts.get('message_id') or '-'}",
        f"Document file:  {facts.get('filename') or '-'}",
        f"Interchange:    {ack.interchange_id}",
        f"Result:         {verdict}",
        f"Attached:       {ack.filename} ({ack.kind})",
        "",
        "Please keep the interchange number when you contact us about this submission.",
    ]
    return "\n".join(lines) + "\n"
