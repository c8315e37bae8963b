"""Sealed e-tendering: calls for tenders, the tenders filed against them, withdrawals, and the
audit chain columns of `events`. The schema is owned by migration 0005; these classes must
match it.

Nothing here holds a tender's content: a call keeps its public key and its private key
wrapped under a key that only a quorum of opening officers can rebuild; a submission keeps
the metadata the clerk and the opening need (tenderer, time, size, SHA-256).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
)
from sqlalchemy.orm import Mapped, mapped_column

from edi_gateway.store.tables import ID, Base, Event


class CallState(StrEnum):
    OPEN = "open"  # taking tenders (until the deadline) and waiting for the opening
    OPENING = "opening"  # the officers started the opening; tenders are being unsealed
    OPENED = "opened"  # every counted tender is unsealed; the opening record exists


class SubmissionStatus(StrEnum):
    """What the clerk decided when it filed a sealed interchange."""

    ON_TIME = "on_time"  # committed at or before the deadline
    LATE = "late"  # committed after the deadline: refused, never opened
    DUPLICATE = "duplicate"  # the same bytes as an earlier submission


class TenderCall(Base):
    __tablename__ = "tender_calls"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    procedure_id: Mapped[str] = mapped_column(String(64), unique=True)
    institution_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(512))
    lots: Mapped[list[str]] = mapped_column(JSON, default=list)
    deadline: Mapped[dt.datetime]
    opening_at: Mapped[dt.datetime]
    officers: Mapped[list[str]] = mapped_column(JSON, default=list)
    threshold: Mapped[int] = mapped_column(Integer)
    key_id: Mapped[str] = mapped_column(String(16))
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(16), default=CallState.OPEN)
    created_at: Mapped[dt.datetime]
    opened_at: Mapped[dt.datetime | None]
    opening_record: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # officer -> share sealed to the officer's certificate (`tendering.officers`; migration
    # 0008): none is ever kept in clear. A call registered from a UBL CallForTenders also keeps
    # the SHA-256 of that document, so the same document processed again (a worker killed
    # between registering and recording) is answered with the same call and shares.
    sealed_shares: Mapped[dict[str, str] | None] = mapped_column(JSON)
    source_sha256: Mapped[str | None] = mapped_column(String(64))


class TenderSubmission(Base):
    """One sealed interchange, as filed by the clerk (its receipt is an `acks` row)."""

    __tablename__ = "tender_submissions"
    interchange_id: Mapped[str] = mapped_column(ForeignKey("interchanges.id"), primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("tender_calls.id"), index=True)
    tenderer: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[dt.datetime]
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    ack_id: Mapped[str | None] = mapped_column(ID)
    outcome: Mapped[str | None] = mapped_column(String(16))  # at opening: unsealed, replaced...
    opened_at: Mapped[dt.datetime | None]
    price: Mapped[str | None] = mapped_column(String(64))
    currency: Mapped[str | None] = mapped_column(String(3))


class TenderWithdrawal(Base):
    __tablename__ = "tender_withdrawals"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    call_id: Mapped[str] = mapped_column(ForeignKey("tender_calls.id"), index=True)
    tenderer: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(64))


EVENTS: Table = Event.__table__  # type: ignore[assignment]
