"""The tamper-evident audit trail: a hash chain over the `events` table.

Events are written by many writers, in bulk, in their own transactions; none of them knows
about the chain. A notary (one loop; on PostgreSQL an advisory lock keeps it single) takes the
events that have no link yet, in id order, and gives each the next sequence number and

    chain_hash = SHA-256(previous chain_hash + canonical JSON of the row and its number)

in the event's own `chain_seq` / `chain_hash` columns. `verify` walks the chain in sequence
order, recomputes every link and names the first row that does not match: an edited, deleted
or reordered row breaks the chain there. (Whoever can rewrite the whole table can rebuild a
chain; publish `head()` now and then, e.g. in the opening records, to pin it.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from edi_gateway.loops import Loop
from edi_gateway.store.db import bookkeeping_sessions
from edi_gateway.store.tendering import EVENTS
from edi_gateway.tendering.common import canonical_json

log = structlog.get_logger("edi_gateway.audit")

GENESIS = "0" * 64
_LOCK_KEY = 0x65646967775F6368  # "edigw_ch": the PostgreSQL advisory lock of the notary
_FIELDS = ("id", "at", "interchange_id", "document_id", "actor", "type", "detail")


def link(previous: str, row: Mapping[Any, Any], seq: int) -> str:
    fields = {name: row[name] for name in _FIELDS}
    at = fields["at"]
    if isinstance(at, dt.datetime):
        fields["at"] = at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    fields["seq"] = seq
    return hashlib.sha256(previous.encode() + canonical_json(fields)).hexdigest()


class Notary(Loop):
    name = "audit-notary"

    def __init__(self, sessions: sessionmaker[Session], batch: int = 2000, poll: float = 1.0):
        super().__init__()
        # a lost chain write is redone identically, so the commit need not be synced
        self.sessions = bookkeeping_sessions(sessions.kw["bind"])
        self.batch = batch
        self.poll_seconds = poll

    def step(self) -> bool:
        return self.run_once() >= self.batch  # a full batch: more may wait

    def run_once(self) -> int:
        """Chain up to `batch` unchained events. Returns how many."""
        e = EVENTS.c
        with self.sessions.begin() as s:
            if s.get_bind().dialect.name == "postgresql":
                s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
            last = s.execute(
                select(e.chain_seq, e.chain_hash)
                .where(e.chain_seq.is_not(None))
                .order_by(e.chain_seq.desc())
                .limit(1)
            ).one_or_none()
            seq, previous = (int(last[0]), str(last[1])) if last else (0, GENESIS)
            rows = s.execute(
                select(*[e[name] for name in _FIELDS])
                .where(e.chain_seq.is_(None))
                .order_by(e.id)
                .limit(self.batch)
            ).mappings()
            links = []
            for row in rows:
                seq += 1
                previous = link(previous, row, seq)
                links.append({"_id": row["id"], "_seq": seq, "_hash": previous})
            if links:
                s.execute(
                    update(EVENTS)
                    .where(e.id == bindparam("_id"))
                    .values(chain_seq=bindparam("_seq"), chain_hash=bindparam("_hash")),
                    links,
                )
        return len(links)

    def run_until_done(self) -> int:
        total = 0
        while n := self.run_once():
            total += n
        return total


@dataclass(frozen=True)
class Verification:
    checked: int
    unchained: int
    head: str
    broken_at: int | None = None  # the id of the first event whose link does not hold
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify(reads: sessionmaker[Session]) -> Verification:
    """Recompute the chain from the first link; stop at the first that does not hold."""
    e = EVENTS.c
    previous, expected, checked = GENESIS, 1, 0
    with reads() as s:
        unchained = s.scalar(select(func.count()).where(e.chain_seq.is_(None))) or 0
        rows = s.execute(
            select(*[e[name] for name in _FIELDS], e.chain_seq, e.chain_hash)
            .where(e.chain_seq.is_not(None))
            .order_by(e.chain_seq)
            .execution_options(yield_per=2000)
        ).mappings()
        for row in rows:
            if row["chain_seq"] != expected:
                reason = (
                    f"link {expected} is missing (the next one is {row['chain_seq']}): "
                    "an event was deleted or renumbered"
                )
                return Verification(checked, unchained, previous, row["id"], reason)
            computed = link(previous, row, expected)
            if computed != row["chain_hash"]:
                reason = (
                    f"event {row['id']} (link {expected}) does not match its hash: it was "
                    "changed after it was chained, or its hash was"
                )
                return Verification(checked, unchained, previous, row["id"], reason)
            previous, expected, checked = computed, expected + 1, checked + 1
    return Verification(checked, unchained, previous)
