"""Figures for the overview page. Each is one bounded query (index range over the last day,
or a capped sample), so the page stays quick on a store with millions of interchanges."""

from __future__ import annotations

import datetime as dt
import itertools
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from edi_gateway.config import Config
from edi_gateway.store.tables import (
    Ack,
    AckState,
    DocumentRow,
    Interchange,
    InterchangeState,
    QueueItem,
    QueueItemState,
)

ACK_OVERDUE_AFTER = dt.timedelta(minutes=15)
LATENCY_SAMPLE = 5000
HOURS = 24


@dataclass(frozen=True)
class Series:
    labels: list[str]
    throughput: list[float]
    latency_p50: list[float | None]
    latency_p95: list[float | None]


@dataclass(frozen=True)
class OverdueAck:
    id: str
    interchange_id: str
    partner_id: str | None
    kind: str
    state: str
    created_at: dt.datetime
    last_error: str | None


@dataclass(frozen=True)
class Certificate:
    partner_id: str
    path: str | None
    expires: dt.datetime | None
    problem: str | None


def _aware(value: Any) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def state_counts(s: Session, since: dt.datetime) -> dict[str, int]:
    q = (
        select(Interchange.state, func.count())
        .where(Interchange.received_at >= since)
        .group_by(Interchange.state)
    )
    return {state: int(n) for state, n in s.execute(q)}


def series(s: Session, now: dt.datetime) -> Series:
    """Per hour over the last day: interchanges received, and the time from receipt to the
    document's queue item (median and 95th percentile of a capped recent sample)."""
    start = now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=HOURS - 1)
    edges = [start + dt.timedelta(hours=i) for i in range(HOURS + 1)]
    throughput = [
        float(
            s.scalar(
                select(func.count())
                .select_from(Interchange)
                .where(Interchange.received_at >= lo, Interchange.received_at < hi)
            )
            or 0
        )
        for lo, hi in itertools.pairwise(edges)
    ]
    sample = s.execute(
        select(QueueItem.created_at, Interchange.received_at)
        .join(DocumentRow, DocumentRow.id == QueueItem.document_id)
        .join(Interchange, Interchange.id == DocumentRow.interchange_id)
        .where(QueueItem.created_at >= start)
        .order_by(QueueItem.id.desc())
        .limit(LATENCY_SAMPLE)
    ).all()
    buckets: list[list[float]] = [[] for _ in range(HOURS)]
    for queued, received in sample:
        queued, received = _aware(queued), _aware(received)
        i = int((queued - start).total_seconds() // 3600)
        if 0 <= i < HOURS:
            buckets[i].append(max(0.0, (queued - received).total_seconds()))
    p50 = [statistics.median(b) if b else None for b in buckets]
    p95 = [_percentile(b, 0.95) if b else None for b in buckets]
    labels = [f"{e:%H}" for e in edges[:-1]]
    return Series(labels, throughput, p50, p95)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def errors_by_partner(s: Session, since: dt.datetime) -> list[tuple[str, int]]:
    q = (
        select(Interchange.partner_id, func.count())
        .where(
            Interchange.received_at >= since,
            Interchange.state.in_([InterchangeState.REJECTED, InterchangeState.DEAD]),
        )
        .group_by(Interchange.partner_id)
        .order_by(func.count().desc())
        .limit(10)
    )
    return [(p or "-", int(n)) for p, n in s.execute(q)]


def overdue_acks(s: Session, now: dt.datetime, limit: int = 10) -> tuple[int, list[OverdueAck]]:
    cond = or_(
        Ack.state == AckState.FAILED,
        (Ack.state == AckState.PENDING) & (Ack.created_at < now - ACK_OVERDUE_AFTER),
    )
    total = int(s.scalar(select(func.count()).select_from(Ack).where(cond)) or 0)
    rows = s.execute(
        select(
            Ack.id,
            Ack.interchange_id,
            Ack.partner_id,
            Ack.kind,
            Ack.state,
            Ack.created_at,
            Ack.last_error,
        )
        .where(cond)
        .order_by(Ack.created_at)
        .limit(limit)
    ).all()
    return total, [OverdueAck(*r) for r in rows]


def dead_counts(s: Session) -> tuple[int, int]:
    """(interchanges in the dead state, queue items in dead letters)."""
    messages = s.scalar(
        select(func.count())
        .select_from(Interchange)
        .where(Interchange.state == InterchangeState.DEAD)
    )
    items = s.scalar(
        select(func.count()).select_from(QueueItem).where(QueueItem.state == QueueItemState.DEAD)
    )
    return int(messages or 0), int(items or 0)


def certificates(config: Config) -> list[Certificate]:
    """The AS2 certificates named in the partner files and when they expire."""
    from cryptography import x509

    out = []
    base = config.path.parent / "partners"
    for p in config.partners.values():
        if p.as2 is None:
            continue
        for name in (p.as2.certificate, p.as2.certificate_next):
            if not name:
                continue
            path = Path(name) if Path(name).is_absolute() else base / name
            try:
                cert = x509.load_pem_x509_certificate(path.read_bytes())
                out.append(Certificate(p.id, name, cert.not_valid_after_utc, None))
            except (OSError, ValueError) as exc:
                out.append(Certificate(p.id, name, None, type(exc).__name__))
    return sorted(
        out, key=lambda c: (c.expires is None, c.expires or dt.datetime.max.replace(tzinfo=dt.UTC))
    )
