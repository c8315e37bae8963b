"""SQLAlchemy models. The schema is owned by the Alembic migrations in `migrations/`;
these classes must match them (a test compares the two)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

ID = String(26)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


class InterchangeState(StrEnum):
    RECEIVED = "received"
    PROCESSING = "processing"
    DONE = "done"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    DEAD = "dead"
    SEALED = "sealed"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset(
    {
        InterchangeState.DONE,
        InterchangeState.REJECTED,
        InterchangeState.DUPLICATE,
        InterchangeState.DEAD,
    }
)


class DocumentState(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    ROUTED = "routed"
    DELIVERED = "delivered"


class QueueItemState(StrEnum):
    READY = "ready"  # visible when visible_at <= now; in flight otherwise
    DONE = "done"
    DEAD = "dead"


class AckState(StrEnum):
    PENDING = "pending"  # waiting for delivery (or a retry)
    AVAILABLE = "available"  # stored for the partner to fetch (pull routes)
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up after retries; visible, resendable


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UTCDateTime(),
        dict[str, Any]: JSON,
    }


class PartnerRow(Base):
    __tablename__ = "partners"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(32))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    last_seen_at: Mapped[dt.datetime | None]


class Interchange(Base):
    __tablename__ = "interchanges"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    partner_id: Mapped[str | None] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(8), default="in")
    transport_id: Mapped[str | None] = mapped_column(String(998))
    raw_sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    filename: Mapped[str | None] = mapped_column(String(255))
    media_type: Mapped[str | None] = mapped_column(String(255))
    received_at: Mapped[dt.datetime]
    state: Mapped[str] = mapped_column(String(16), default=InterchangeState.RECEIVED)
    duplicate_of: Mapped[str | None] = mapped_column(ID)
    format: Mapped[str | None] = mapped_column(String(32))
    standard: Mapped[str | None] = mapped_column(String(64))
    control_reference: Mapped[str | None] = mapped_column(String(64))
    test: Mapped[bool] = mapped_column(Boolean, default=False)
    origin: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # claims, ever
    runs: Mapped[int] = mapped_column(Integer, default=0)  # claims that reached an outcome
    finished_at: Mapped[dt.datetime | None]
    __table_args__ = (
        Index("ix_interchanges_state_received", "state", "received_at"),
        Index("ix_interchanges_received", "received_at", "id"),
        Index("ix_interchanges_partner_transport", "partner_id", "transport_id"),
        Index("ix_interchanges_control_ref", "control_reference"),
        # the duplicate-interchange look-up (migration 0009)
        Index("ix_interchanges_partner_control_ref", "partner_id", "control_reference"),
        # the dashboard's filters, keyset-paginated on (received_at, id) (migration 0002)
        Index("ix_interchanges_partner_received", "partner_id", "received_at", "id"),
        Index("ix_interchanges_state_received_id", "state", "received_at", "id"),
        Index("ix_interchanges_channel_received", "channel", "received_at", "id"),
        Index("ix_interchanges_standard_received", "standard", "received_at", "id"),
        Index("ix_interchanges_direction_received", "direction", "received_at", "id"),
        Index("ix_interchanges_transport_id", "transport_id"),
    )


class IntakeKey(Base):
    """Idempotent receiver: the first interchange seen under each key wins."""

    __tablename__ = "intake_keys"
    partner_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    interchange_id: Mapped[str] = mapped_column(ID)


class InterchangeReference(Base):
    """Every interchange control reference a payload held (EDIFACT files often concatenate
    several interchanges), so that a resent one is found whatever its place (migration 0006)."""

    __tablename__ = "interchange_references"
    interchange_id: Mapped[str] = mapped_column(ForeignKey("interchanges.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0: the payload's first
    partner_id: Mapped[str | None] = mapped_column(String(64))
    control_reference: Mapped[str] = mapped_column(String(64))
    __table_args__ = (
        Index("ix_interchange_references_partner_ref", "partner_id", "control_reference"),
    )


class DocumentRow(Base):
    __tablename__ = "documents"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    interchange_id: Mapped[str] = mapped_column(ForeignKey("interchanges.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str | None] = mapped_column(String(16))
    message_type: Mapped[str] = mapped_column(String(128))
    reference: Mapped[str | None] = mapped_column(String(64))
    business_id: Mapped[str | None] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(16))
    sender_id: Mapped[str | None] = mapped_column(String(64))
    receiver_id: Mapped[str | None] = mapped_column(String(64))
    queue: Mapped[str | None] = mapped_column(String(128))
    test: Mapped[bool] = mapped_column(Boolean, default=False)
    canonical: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime]


class FindingRow(Base):
    __tablename__ = "findings"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    interchange_id: Mapped[str] = mapped_column(ForeignKey("interchanges.id"), index=True)
    document_id: Mapped[str | None] = mapped_column(String(40))
    code: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    location: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(32))
    run: Mapped[int] = mapped_column(Integer, default=1)  # processing attempt that found it


class Event(Base):
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[dt.datetime]
    interchange_id: Mapped[str | None] = mapped_column(String(26), index=True)
    document_id: Mapped[str | None] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # the tamper-evident chain, filled in by the notary (edi_gateway.audit), migration 0005
    chain_seq: Mapped[int | None] = mapped_column(BigInteger, index=True, unique=True)
    chain_hash: Mapped[str | None] = mapped_column(String(64))


class QueueItem(Base):
    __tablename__ = "queue_items"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    queue: Mapped[str] = mapped_column(String(128))
    document_id: Mapped[str] = mapped_column(String(40), unique=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(8), default=QueueItemState.READY)
    visible_at: Mapped[dt.datetime]
    receive_count: Mapped[int] = mapped_column(Integer, default=0)
    receipt_handle: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (Index("ix_queue_items_ready", "queue", "state", "visible_at", "id"),)


class Ack(Base):
    __tablename__ = "acks"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    interchange_id: Mapped[str] = mapped_column(ForeignKey("interchanges.id"), index=True)
    partner_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    positive: Mapped[bool] = mapped_column(Boolean)
    media_type: Mapped[str] = mapped_column(String(128))
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    route: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default=AckState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    delivered_at: Mapped[dt.datetime | None]
    __table_args__ = (Index("ix_acks_due", "state", "next_attempt_at"),)
