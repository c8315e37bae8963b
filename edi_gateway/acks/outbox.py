"""The outbox of acknowledgements and the loop that delivers it.

The worker writes acks in the same transaction as the interchange's outcome; this loop
delivers them afterwards through the partner's return route, with retries and backoff, and a
visible `failed` state an operator can resend from. Senders are small objects keyed by
route name, composed by the app (channels add theirs: as2, sftp, email).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Protocol

import structlog
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from edi_gateway import metrics
from edi_gateway.config import Config, Partner
from edi_gateway.intake import Clock, utcnow
from edi_gateway.loops import Loop
from edi_gateway.store.db import bookkeeping_sessions, read_sessions
from edi_gateway.store.tables import Ack, AckState, Event

log = structlog.get_logger("edi_gateway.acks")


# one delivery attempt's outcome, only while the ack is still pending (a resend may race)
_RECORD_DELIVERY = (
    update(Ack)
    .where(Ack.id == bindparam("ack_id"), Ack.state == AckState.PENDING)
    .values(
        state=bindparam("new_state"),
        attempts=bindparam("new_attempts"),
        last_error=bindparam("new_error"),
        next_attempt_at=bindparam("new_next_attempt_at"),
        delivered_at=bindparam("new_delivered_at"),
    )
)


class AckSender(Protocol):
    def send(self, ack: Ack, partner: Partner | None) -> AckState:
        """Deliver `ack`; return DELIVERED or AVAILABLE (pull routes). Raise to retry."""
        ...


class Outbox(Loop):
    name = "ack-outbox"

    def __init__(
        self,
        config: Config,
        sessions: sessionmaker[Session],
        senders: Mapping[str, AckSender],
        clock: Clock = utcnow,
        max_attempts: int = 8,
        backoff_seconds: float = 5,
    ) -> None:
        super().__init__()
        self.config = config
        self.sessions = sessions
        self.reads = read_sessions(sessions.kw["bind"])
        # a delivery mark lost in a power cut means one more delivery (at least once)
        self.bookkeeping = bookkeeping_sessions(sessions.kw["bind"])
        self.senders = senders
        self.clock = clock
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds

    def step(self) -> bool:
        return self.deliver_due() > 0

    def deliver_due(self, limit: int = 200) -> int:
        """Deliver what is due; record all outcomes in one transaction (one sync, not one per
        ack)."""
        now = self.clock()
        with self.reads() as s:
            due = list(
                s.scalars(
                    select(Ack)
                    .where(Ack.state == AckState.PENDING, Ack.next_attempt_at <= now)
                    .order_by(Ack.next_attempt_at)
                    .limit(limit)
                )
            )
        if not due:
            return 0
        outcomes = [(ack, *self._send(ack)) for ack in due]
        now = self.clock()
        changes: list[dict[str, object]] = []
        events: list[dict[str, object]] = []
        for ack, state, error in outcomes:
            attempts = ack.attempts + 1
            retry_at = ack.next_attempt_at
            if state == AckState.PENDING:
                delay = self.backoff_seconds * 2 ** min(attempts - 1, 10)
                retry_at = now + dt.timedelta(seconds=delay)
            changes.append(
                {
                    "ack_id": ack.id,
                    "new_state": state,
                    "new_attempts": attempts,
                    "new_error": error,
                    "new_next_attempt_at": retry_at,
                    "new_delivered_at": now if state == AckState.DELIVERED else ack.delivered_at,
                }
            )
            detail = {"ack": ack.id, "kind": ack.kind, "route": ack.route}
            events.append(
                {
                    "at": now,
                    "interchange_id": ack.interchange_id,
                    "actor": "outbox",
                    "type": f"ack-{state.value}",
                    "detail": {**detail, **({"error": error} if error else {})},
                }
            )
        # Core, one executemany for the round (the ORM's per-statement cost was ~0.8 ms an ack)
        with self.bookkeeping.begin() as s:
            conn = s.connection()
            conn.execute(_RECORD_DELIVERY, changes)
            conn.execute(insert(Event), events)
        for ack, state, error in outcomes:
            outcome = (
                state.value
                if error is None
                else ("retry" if state == AckState.PENDING else "failed")
            )
            metrics.ACKS.labels(ack.route, outcome).inc()
        return len(due)

    def resend(self, ack_id: str, actor: str) -> None:
        with self.sessions.begin() as s:
            ack = s.get_one(Ack, ack_id)
            ack.state, ack.attempts, ack.next_attempt_at = AckState.PENDING, 0, self.clock()
            s.add(
                Event(
                    at=self.clock(),
                    interchange_id=ack.interchange_id,
                    actor=actor,
                    type="ack-resend",
                    detail={"ack": ack_id, "kind": ack.kind},
                )
            )
        self.wake.set()

    def _send(self, ack: Ack) -> tuple[AckState, str | None]:
        """One delivery attempt: the new state and, when it failed, why."""
        partner = self.config.partners.get(ack.partner_id or "")
        sender = self.senders.get(ack.route)
        try:
            if sender is None:
                raise LookupError(f"no sender for return route {ack.route!r}")
            return sender.send(ack, partner), None
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.warning(
                "acks.delivery_failed",
                interchange_id=ack.interchange_id,
                ack=ack.id,
                route=ack.route,
                error=error,
                attempts=ack.attempts + 1,
            )
            failed = ack.attempts + 1 >= self.max_attempts
            return (AckState.FAILED if failed else AckState.PENDING), error
