"""The audit trail: one row per operator action (who, when, what, on which thing, outcome)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from edi_gateway.store.operators import AuditEntry


def record(
    sessions: sessionmaker[Session],
    *,
    at: dt.datetime,
    actor: str,
    action: str,
    target: str | None = None,
    outcome: str = "ok",
    remote: str | None = None,
    **detail: Any,
) -> None:
    with sessions.begin() as s:
        s.add(
            AuditEntry(
                at=at,
                actor=actor[:64],
                action=action,
                target=target[:256] if target else None,
                outcome=outcome,
                remote=remote,
                detail=detail,
            )
        )


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    next_before: int | None  # id to continue from (older entries)


def search(
    s: Session,
    *,
    text: str = "",
    actor: str = "",
    action: str = "",
    before: int | None = None,
    limit: int = 100,
) -> AuditPage:
    """Newest first; `text` matches the target or the actor, `before` continues a page."""
    q = select(AuditEntry)
    if text:
        like = f"%{text}%"
        q = q.where(or_(AuditEntry.target.like(like), AuditEntry.actor.like(like)))
    if actor:
        q = q.where(AuditEntry.actor == actor)
    if action:
        q = q.where(AuditEntry.action == action)
    if before is not None:
        q = q.where(AuditEntry.id < before)
    rows = list(s.scalars(q.order_by(AuditEntry.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(rows, rows[-1].id if more and rows else None)
