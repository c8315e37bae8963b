"""Back-office queues: durable, table-backed, with lease semantics like SQS.

`receive` hands out visible items and hides them for a visibility timeout; `ack` finishes an
item (the document is delivered); `nack` makes it visible again after a backoff; an item
received `max_receives` times without an ack goes to the dead letters, from where `requeue`
brings it back. Receipt handles change on every receive, so a consumer whose lease ran out
cannot ack an item another consumer now holds.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from edi_gateway.config import QueueSettings
from edi_gateway.intake import Clock, utcnow
from edi_gateway.store.db import read_sessions
from edi_gateway.store.tables import DocumentRow, DocumentState, Event, QueueItem, QueueItemState


@dataclass(frozen=True)
class Message:
    id: int
    queue: str
    receipt_handle: str
    receive_count: int
    body: dict[str, Any]
    created_at: dt.datetime


@dataclass(frozen=True)
class QueueStats:
    queue: str
    visible: int
    in_flight: int
    dead: int
    done: int
    oldest: dt.datetime | None  # creation time of the oldest unfinished item


class LeaseLost(LookupError):
    """The receipt handle is not (or no longer) the current lease of any item."""


class Queues:
    def __init__(
        self, sessions: sessionmaker[Session], settings: QueueSettings, clock: Clock = utcnow
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.clock = clock
        self.postgres = sessions.kw["bind"].dialect.name == "postgresql"
        self.reads = read_sessions(sessions.kw["bind"])

    def receive(
        self,
        queue: str,
        max_items: int = 1,
        visibility_timeout: float | None = None,
        consumer: str = "api",
    ) -> list[Message]:
        max_items = max(1, min(max_items, 100))
        timeout = dt.timedelta(seconds=visibility_timeout or self.settings.visibility_timeout)
        now = self.clock()
        visible = and_(
            QueueItem.queue == queue,
            QueueItem.state == QueueItemState.READY,
            QueueItem.visible_at <= now,
        )
        with self.sessions.begin() as s:
            q = (
                select(QueueItem.id, QueueItem.receive_count)
                .where(visible)
                .order_by(QueueItem.visible_at, QueueItem.id)
                .limit(max_items)
            )
            if self.postgres:
                q = q.with_for_update(skip_locked=True)
            out: list[Message] = []
            for item_id, count in s.execute(q).all():
                if count >= self.settings.max_receives:
                    self._to_dead(
                        s, item_id, now, f"received {count} times without an ack", consumer
                    )
                    continue
                handle = secrets.token_urlsafe(24)
                # compare-and-set: only one consumer can move an item out of the visible set
                won = s.execute(
                    update(QueueItem)
                    .where(QueueItem.id == item_id, visible)
                    .values(
                        visible_at=now + timeout,
                        receipt_handle=handle,
                        receive_count=QueueItem.receive_count + 1,
                    )
                ).rowcount  # type: ignore[attr-defined]
                if won:
                    item = s.get_one(QueueItem, item_id)
                    out.append(
                        Message(
                            item.id, queue, handle, item.receive_count, item.body, item.created_at
                        )
                    )
        return out

    def ack(self, queue: str, receipt_handle: str, consumer: str = "api") -> None:
        now = self.clock()
        with self.sessions.begin() as s:
            item = self._leased(s, queue, receipt_handle, now)
            item.state = QueueItemState.DONE
            item.finished_at = now
            item.receipt_handle = None
            s.execute(
                update(DocumentRow)
                .where(DocumentRow.id == item.document_id)
                .values(state=DocumentState.DELIVERED)
            )
            s.add(
                Event(
                    at=now,
                    interchange_id=item.body.get("provenance", {}).get("interchange_id"),
                    document_id=item.document_id,
                    actor=consumer,
                    type="delivered",
                    detail={"queue": queue},
                )
            )

    def nack(
        self, queue: str, receipt_handle: str, reason: str = "", consumer: str = "api"
    ) -> None:
        now = self.clock()
        with self.sessions.begin() as s:
            item = self._leased(s, queue, receipt_handle, now)
            item.last_error = reason[:2000] or None
            item.receipt_handle = None
            if item.receive_count >= self.settings.max_receives:
                self._to_dead(s, item.id, now, reason or "negative acknowledgement", consumer)
                return
            backoff = min(
                self.settings.backoff_seconds * 2 ** (item.receive_count - 1),
                self.settings.backoff_max_seconds,
            )
            item.visible_at = now + dt.timedelta(seconds=backoff)

    def requeue(self, queue: str, item_ids: list[int] | None = None, actor: str = "api") -> int:
        """Bring dead letters back (all of the queue's, or the given ones)."""
        now = self.clock()
        cond = and_(QueueItem.queue == queue, QueueItem.state == QueueItemState.DEAD)
        if item_ids is not None:
            cond = and_(cond, QueueItem.id.in_(item_ids))
        with self.sessions.begin() as s:
            n = s.execute(
                update(QueueItem)
                .where(cond)
                .values(
                    state=QueueItemState.READY,
                    visible_at=now,
                    receive_count=0,
                    finished_at=None,
                    receipt_handle=None,
                )
            ).rowcount  # type: ignore[attr-defined]
            s.add(Event(at=now, actor=actor, type="requeued", detail={"queue": queue, "items": n}))
        return int(n or 0)

    def dead_letters(self, queue: str, limit: int = 100) -> list[QueueItem]:
        with self.reads() as s:
            return list(
                s.scalars(
                    select(QueueItem)
                    .where(QueueItem.queue == queue, QueueItem.state == QueueItemState.DEAD)
                    .order_by(QueueItem.id)
                    .limit(limit)
                )
            )

    def stats(self, queue: str | None = None) -> list[QueueStats]:
        now = self.clock()
        ready = QueueItem.state == QueueItemState.READY

        def count(cond: Any) -> Any:
            return func.sum(case((cond, 1), else_=0))

        q = (
            select(
                QueueItem.queue,
                count(ready & (QueueItem.visible_at <= now)),
                count(ready & (QueueItem.visible_at > now)),
                count(QueueItem.state == QueueItemState.DEAD),
                count(QueueItem.state == QueueItemState.DONE),
                func.min(case((ready, QueueItem.created_at))),
            )
            .group_by(QueueItem.queue)
            .order_by(QueueItem.queue)
        )
        if queue is not None:
            q = q.where(QueueItem.queue == queue)
        with self.reads() as s:
            rows = s.execute(q).all()
        return [
            QueueStats(
                r[0], int(r[1] or 0), int(r[2] or 0), int(r[3] or 0), int(r[4] or 0), _aware(r[5])
            )
            for r in rows
        ]

    def _leased(self, s: Session, queue: str, handle: str, now: dt.datetime) -> QueueItem:
        item = s.scalar(
            select(QueueItem).where(
                QueueItem.queue == queue,
                QueueItem.receipt_handle == handle,
                QueueItem.state == QueueItemState.READY,
                QueueItem.visible_at > now,
            )
        )
        if item is None:
            raise LeaseLost("unknown receipt handle, or its visibility timeout has passed")
        return item

    def _to_dead(self, s: Session, item_id: int, now: dt.datetime, reason: str, actor: str) -> None:
        s.execute(
            update(QueueItem)
            .where(QueueItem.id == item_id)
            .values(
                state=QueueItemState.DEAD,
                finished_at=now,
                receipt_handle=None,
                last_error=reason[:2000],
            )
        )
        s.add(
            Event(
                at=now, actor=actor, type="dead-letter", detail={"item": item_id, "reason": reason}
            )
        )


def _aware(value: Any) -> dt.datetime | None:
    """Aggregates bypass the column type; SQLite hands back naive (UTC) datetimes or text."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
