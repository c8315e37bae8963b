"""The message list: filters, search and keyset pagination on (received_at, id), newest first.

Every filter is a predicate on `interchanges` (document kind through an EXISTS on
`documents`), and each selective one has an index that starts with its column (migration
0002), so a page costs an index range scan of about one page of rows whatever the store's
size. Search resolves to interchange ids first through exact, indexed lookups: business
number (documents.business_id), control reference, transport id (AS2 / mail Message-ID).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Select, and_, exists, func, or_, select, union
from sqlalchemy.orm import Session

from edi_gateway.store.tables import DocumentRow, FindingRow, Interchange, InterchangeState

PAGE = 50
STATES = [s.value for s in InterchangeState]
DIRECTIONS = ["in", "out"]
KINDS = ["order", "invoice", "tender"]
STANDARDS = ["edifact", "ubl", "cii", "xml", "json"]
CHANNELS = ["as2", "sftp", "email", "http", "folder", "cli"]


def _time(value: str | None) -> dt.datetime | None:
    """`2026-11-26T09:00` from a datetime-local input (UTC), or a full ISO time."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _cursor(value: str | None) -> tuple[dt.datetime, str] | None:
    if not value or "~" not in value:
        return None
    at, _, iid = value.rpartition("~")
    when = _time(at)
    return (when, iid) if when is not None and iid else None


@dataclass(frozen=True)
class MessageFilter:
    since: str = ""
    until: str = ""
    partner: str = ""
    channel: str = ""
    direction: str = ""
    kind: str = ""
    standard: str = ""
    state: str = ""
    q: str = ""
    before: str = ""  # keyset cursor "<received_at iso>~<id>"

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> MessageFilter:
        values = {f.name: (params.get(f.name) or "").strip()[:200] for f in fields(cls)}
        return cls(**values)

    def query(self, **changes: str) -> str:
        """The query string of this filter with `changes` applied (empty values left out)."""
        data = {k: v for k, v in vars(replace(self, **changes)).items() if v}
        return urlencode(data)

    @property
    def active(self) -> bool:
        return any(v for k, v in vars(self).items() if k != "before")


@dataclass(frozen=True)
class Row:
    id: str
    received_at: dt.datetime
    partner_id: str | None
    channel: str
    direction: str
    standard: str | None
    state: str
    filename: str | None
    control_reference: str | None
    documents: list[tuple[str | None, str | None]]  # (kind, business number)
    problems: int  # error and fatal findings of the latest run


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    next_cursor: str | None


def search_ids(s: Session, text: str) -> Select[Any]:
    """Ids of interchanges whose business number, control reference, transport id or own id
    is exactly `text`."""
    return (
        union(
            select(DocumentRow.interchange_id).where(DocumentRow.business_id == text),
            select(Interchange.id).where(Interchange.control_reference == text),
            select(Interchange.id).where(Interchange.transport_id == text),
            select(Interchange.id).where(Interchange.id == text),
        )
        .subquery()
        .select()
    )


def conditions(f: MessageFilter) -> list[Any]:
    where: list[Any] = []
    if since := _time(f.since):
        where.append(Interchange.received_at >= since)
    if until := _time(f.until):
        where.append(Interchange.received_at < until)
    for column, value in (
        (Interchange.partner_id, f.partner),
        (Interchange.channel, f.channel),
        (Interchange.direction, f.direction),
        (Interchange.standard, f.standard),
        (Interchange.state, f.state),
    ):
        if value:
            where.append(column == value)
    if f.kind:
        where.append(
            exists().where(DocumentRow.interchange_id == Interchange.id, DocumentRow.kind == f.kind)
        )
    if cursor := _cursor(f.before):
        at, iid = cursor
        where.append(
            or_(
                Interchange.received_at < at,
                and_(Interchange.received_at == at, Interchange.id < iid),
            )
        )
    return where


def page(s: Session, f: MessageFilter, limit: int = PAGE) -> Page:
    q = select(Interchange).where(*conditions(f))
    if f.q:
        q = q.where(Interchange.id.in_(search_ids(s, f.q)))
    q = q.order_by(Interchange.received_at.desc(), Interchange.id.desc()).limit(limit + 1)
    found = list(s.scalars(q))
    more = len(found) > limit
    found = found[:limit]
    ids = [ic.id for ic in found]
    docs: dict[str, list[tuple[str | None, str | None]]] = {}
    problems: dict[str, int] = {}
    if ids:
        for iid, kind, number in s.execute(
            select(DocumentRow.interchange_id, DocumentRow.kind, DocumentRow.business_id)
            .where(DocumentRow.interchange_id.in_(ids))
            .order_by(DocumentRow.position)
        ):
            docs.setdefault(iid, []).append((kind, number))
        runs = {ic.id: ic.attempts for ic in found}
        for iid, run, count in s.execute(
            select(FindingRow.interchange_id, FindingRow.run, func.count())
            .where(FindingRow.interchange_id.in_(ids), FindingRow.severity.in_(["error", "fatal"]))
            .group_by(FindingRow.interchange_id, FindingRow.run)
        ):
            if run == runs.get(iid):
                problems[iid] = int(count)
    rows = [
        Row(
            ic.id,
            ic.received_at,
            ic.partner_id,
            ic.channel,
            ic.direction,
            ic.standard,
            ic.state,
            ic.filename,
            ic.control_reference,
            docs.get(ic.id, []),
            problems.get(ic.id, 0),
        )
        for ic in found
    ]
    last = found[-1] if more and found else None
    return Page(rows, f"{last.received_at.isoformat()}~{last.id}" if last else None)
