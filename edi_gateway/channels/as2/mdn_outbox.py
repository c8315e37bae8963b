"""Delivery of asynchronous MDNs: POST each pending MDN to the Receipt-Delivery-Option URL the
partner gave, retrying with exponential backoff, until delivered or `failed` (visible on the
interchange's timeline, like a failed acknowledgement).

The MDN row was committed before the partner got its HTTP 200, so a crash in between only
delays the MDN: the loop picks it up again after a restart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import httpx
import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from edi_gateway.loops import Loop
from edi_gateway.store.as2 import As2Mdn, MdnState
from edi_gateway.store.db import read_sessions
from edi_gateway.store.tables import Event

log = structlog.get_logger("edi_gateway.as2")


class MdnDelivery(Loop):
    name = "as2-mdn-delivery"

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Callable[[], dt.datetime],
        client: httpx.Client,
        max_attempts: int = 8,
        backoff_seconds: float = 5,
    ) -> None:
        super().__init__()
        self.sessions = sessions
        self.reads = read_sessions(sessions.kw["bind"])
        self.clock = clock
        self.client = client
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds

    def step(self) -> bool:
        return self.deliver_due() > 0

    def deliver_due(self, limit: int = 100) -> int:
        """One attempt for every MDN that is due; returns how many were attempted."""
        with self.reads() as session:
            due = list(
                session.scalars(
                    select(As2Mdn)
                    .where(As2Mdn.state == MdnState.PENDING, As2Mdn.next_attempt_at <= self.clock())
                    .order_by(As2Mdn.next_attempt_at)
                    .limit(limit)
                )
            )
        for row in due:
            self._attempt(row)
        return len(due)

    def _attempt(self, row: As2Mdn) -> None:
        error = self._post(row)
        now = self.clock()
        attempts = row.attempts + 1
        values: dict[str, object] = {"attempts": attempts, "last_error": error}
        if error is None:
            values.update(state=MdnState.DELIVERED, finished_at=now)
        elif attempts >= self.max_attempts:
            values.update(state=MdnState.FAILED, finished_at=now)
        else:
            delay = self.backoff_seconds * 2 ** min(attempts - 1, 10)
            values["next_attempt_at"] = now + dt.timedelta(seconds=delay)
        with self.sessions.begin() as session:
            session.execute(
                update(As2Mdn)
                .where(As2Mdn.id == row.id, As2Mdn.state == MdnState.PENDING)
                .values(**values)
            )
            if row.interchange_id and values.get("state"):
                session.add(
                    Event(
                        at=now,
                        interchange_id=row.interchange_id,
                        actor="channel:as2",
                        type=f"as2-mdn-{values['state']}",
                        detail={"mdn": row.id, "url": row.url, "attempts": attempts}
                        | ({"error": error} if error else {}),
                    )
                )
        if error is not None:
            log.warning(
                "as2.mdn_delivery_failed", mdn=row.id, attempts=attempts, url=row.url, error=error
            )

    def _post(self, row: As2Mdn) -> str | None:
        """POST the stored MDN as it was recorded; the error text, or None when accepted."""
        if not row.url:
            return "no Receipt-Delivery-Option URL"
        try:
            response = self.client.post(
                row.url,
                content=row.body or b"",
                headers=[(str(name), str(value)) for name, value in row.headers],
            )
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if not response.is_success:
            return f"HTTP {response.status_code}"
        return None
