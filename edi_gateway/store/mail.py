"""IMAP bookkeeping: which mails of which account and mailbox were looked at, and with what
outcome, keyed by the mailbox's UIDVALIDITY and the mail's UID (RFC 3501: the pair names one
mail for good; a new UIDVALIDITY means every UID must be looked at again). The schema is owned
by migration 0003; this class must match it.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from edi_gateway.store.tables import Base


class MailOutcome(StrEnum):
    TAKEN = "taken"  # its documents are durable interchanges; moved (or to be moved) away
    REFUSED = "refused"  # left in the mailbox and reported; not looked at again


class MailSeen(Base):
    __tablename__ = "mail_seen"
    account: Mapped[str] = mapped_column(String(128), primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(255), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    uid: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    message_id: Mapped[str | None] = mapped_column(String(998))
    outcome: Mapped[str] = mapped_column(String(16))
    interchanges: Mapped[list[Any]] = mapped_column(JSON, default=list)
    reason: Mapped[str | None] = mapped_column(Text)
    moved: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[dt.datetime]
