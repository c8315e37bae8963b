"""Operator commands on interchanges (CLI and dashboard call these)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from edi_gateway.store.tables import TERMINAL, Event, Interchange, InterchangeState


def reprocess(
    sessions: sessionmaker[Session], interchange_id: str, actor: str, now: dt.datetime
) -> None:
    """Send a finished interchange through the pipeline again. Documents already queued stay
    queued once (queue items are unique per document)."""
    with sessions.begin() as s:
        ic = s.get(Interchange, interchange_id)
        if ic is None:
            raise LookupError(f"no interchange {interchange_id}")
        before = ic.state
        if InterchangeState(before) not in TERMINAL:
            raise LookupError(
                f"interchange {interchange_id} is {ic.state}, not finished; nothing to do"
            )
        s.execute(
            update(Interchange)
            .where(Interchange.id == interchange_id)
            .values(
                state=InterchangeState.RECEIVED, claimed_by=None, lease_until=None, finished_at=None
            )
        )
        s.add(
            Event(
                at=now,
                interchange_id=interchange_id,
                actor=actor,
                type="reprocess",
                detail={"from": before},
            )
        )
