"""Tables of the operators' dashboard: the people who sign in, and the audit trail of what
they did. The schema is owned by migration 0002; these classes must match it."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from edi_gateway.store.tables import Base


class Role(StrEnum):
    VIEWER = "viewer"  # reads everything, changes nothing
    OPERATOR = "operator"  # reprocess, resend acknowledgements, requeue dead letters
    ADMIN = "admin"  # and manages operators

    def allows(self, needed: Role) -> bool:
        return _RANK[self] >= _RANK[needed]


_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


class Operator(Base):
    __tablename__ = "operators"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id, PHC string
    role: Mapped[str] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime]
    password_changed_at: Mapped[dt.datetime]
    last_sign_in_at: Mapped[dt.datetime | None]


class AuditEntry(Base):
    """Who did what, when, to which thing. Written by the dashboard and the `users` commands;
    never updated or deleted by the gateway."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(64))  # operator username, or cli:<user>
    action: Mapped[str] = mapped_column(String(48))
    target: Mapped[str | None] = mapped_column(String(256))
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    remote: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    __table_args__ = (
        Index("ix_audit_log_at", "at", "id"),
        Index("ix_audit_log_actor_at", "actor", "at"),
        Index("ix_audit_log_target", "target"),
    )
