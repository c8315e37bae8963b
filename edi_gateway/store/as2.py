"""AS2 evidence: every MDN we send and every MDN a partner sends us, as sent or received.

One row per MDN, linked to the interchange it answers (an inbound message we accepted) or to
the acknowledgement it confirms (an ack we sent). The row keeps the exact headers and body, so
the signature can be checked again years later (non-repudiation). Rows for asynchronous MDNs
we owe a partner are also the outbox they are delivered from. The schema is owned by
migration 0004; this class must match it.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, LargeBinary, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from edi_gateway.store.tables import ID, Base


class MdnDirection(StrEnum):
    SENT = "sent"  # we answered a partner's message
    RECEIVED = "received"  # a partner answered a message we sent


class MdnState(StrEnum):
    SENT = "sent"  # sent in the HTTP response (synchronous)
    PENDING = "pending"  # an asynchronous MDN waiting for (another) delivery attempt
    DELIVERED = "delivered"  # asynchronous MDN accepted by the partner's URL
    FAILED = "failed"  # asynchronous delivery gave up after retries
    AWAITED = "awaited"  # we sent a message and wait for its asynchronous MDN
    VERIFIED = "verified"  # a partner's MDN: signature, message id and MIC check out
    REJECTED = "rejected"  # a partner's MDN that does not confirm our message


class As2Mdn(Base):
    __tablename__ = "as2_mdns"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    direction: Mapped[str] = mapped_column(String(8))
    interchange_id: Mapped[str | None] = mapped_column(ID)
    ack_id: Mapped[str | None] = mapped_column(ID)
    partner_id: Mapped[str | None] = mapped_column(String(64))
    as2_from: Mapped[str | None] = mapped_column(String(128))
    as2_to: Mapped[str | None] = mapped_column(String(128))
    original_message_id: Mapped[str | None] = mapped_column(String(998))
    mdn_message_id: Mapped[str | None] = mapped_column(String(998))
    disposition: Mapped[str | None] = mapped_column(String(128))
    mic: Mapped[str | None] = mapped_column(String(256))
    signed: Mapped[bool] = mapped_column(Boolean, default=False)
    mode: Mapped[str] = mapped_column(String(8))  # sync | async | none
    state: Mapped[str] = mapped_column(String(16))
    url: Mapped[str | None] = mapped_column(String(2048))  # async MDN target
    headers: Mapped[list[Any]] = mapped_column(JSON, default=list)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    __table_args__ = (
        Index("ix_as2_mdns_interchange", "interchange_id"),
        Index("ix_as2_mdns_ack", "ack_id"),
        Index("ix_as2_mdns_original", "original_message_id"),
        Index("ix_as2_mdns_due", "state", "next_attempt_at"),
    )


def mdns_of_interchange(session: Session, interchange_id: str) -> list[As2Mdn]:
    """The MDNs sent for an interchange and received for the acks sent about it, oldest first."""
    return list(
        session.scalars(
            select(As2Mdn)
            .where(As2Mdn.interchange_id == interchange_id)
            .order_by(As2Mdn.created_at, As2Mdn.id)
        )
    )


def as_evidence(row: As2Mdn) -> dict[str, Any]:
    """A row as the dashboard and the API show it (the body as text: MDNs are 7-bit MIME)."""
    return {
        "id": row.id,
        "direction": row.direction,
        "mode": row.mode,
        "state": row.state,
        "partner_id": row.partner_id,
        "original_message_id": row.original_message_id,
        "mdn_message_id": row.mdn_message_id,
        "disposition": row.disposition,
        "mic": row.mic,
        "signed": row.signed,
        "created_at": row.created_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "headers": row.headers,
        "body": (row.body or b"").decode("ascii", "replace"),
    }
