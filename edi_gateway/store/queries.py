"""Read-only queries shared by the API, the CLI and the dashboard, and the idempotent
receiver's look-ups (on the driver's own cursor, see `store.driver`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from edi_gateway.store.driver import DriverStatements
from edi_gateway.store.tables import (
    Ack,
    DocumentRow,
    DocumentState,
    Event,
    FindingRow,
    Interchange,
    InterchangeState,
)


def _finding(f: FindingRow) -> dict[str, Any]:
    return {
        "code": f.code,
        "severity": f.severity,
        "text": f.text,
        "location": f.location,
        "source": f.source,
    }


def interchange_status(
    s: Session, interchange_id: str, base_url: str = ""
) -> dict[str, Any] | None:
    """The status document of one interchange: state, documents, findings, acks."""
    ic = s.get(Interchange, interchange_id)
    if ic is None:
        return None
    latest_run = ic.attempts  # findings are numbered by the claim that made them
    findings = list(
        s.scalars(
            select(FindingRow)
            .where(FindingRow.interchange_id == ic.id, FindingRow.run == latest_run)
            .order_by(FindingRow.id)
        )
    )
    docs = list(
        s.scalars(
            select(DocumentRow)
            .where(DocumentRow.interchange_id == ic.id)
            .order_by(DocumentRow.position)
        )
    )
    acks = list(s.scalars(select(Ack).where(Ack.interchange_id == ic.id).order_by(Ack.created_at)))
    return {
        "receipt_id": ic.id,
        "state": ic.state,
        "terminal": InterchangeState(ic.state).terminal,
        "partner_id": ic.partner_id,
        "channel": ic.channel,
        "received_at": ic.received_at.isoformat(),
        "finished_at": ic.finished_at.isoformat() if ic.finished_at else None,
        "sha256": ic.raw_sha256,
        "size": ic.size,
        "filename": ic.filename,
        "format": ic.format,
        "standard": ic.standard,
        "control_reference": ic.control_reference,
        "test": ic.test,
        "duplicate_of": ic.duplicate_of,
        "findings": [_finding(f) for f in findings if f.document_id is None],
        "documents": [
            {
                "document_id": d.id,
                "position": d.position,
                "kind": d.kind,
                "id": d.business_id,
                "message_type": d.message_type,
                "reference": d.reference,
                "state": d.state,
                "receiver_id": d.receiver_id,
                "queue": d.queue,
                "findings": [_finding(f) for f in findings if f.document_id == d.id],
            }
            for d in docs
        ],
        "acks": [
            {
                "id": a.id,
                "kind": a.kind,
                "positive": a.positive,
                "state": a.state,
                "route": a.route,
                "filename": a.filename,
                "media_type": a.media_type,
                "url": f"{base_url}/api/v1/submissions/{ic.id}/acks/{a.id}",
            }
            for a in acks
        ],
    }


def list_interchanges(
    s: Session,
    *,
    state: str | None = None,
    partner: str | None = None,
    before: tuple[dt.datetime, str] | None = None,
    limit: int = 50,
) -> list[Interchange]:
    """Newest first, keyset-paginated on (received_at, id)."""
    q = select(Interchange)
    if state:
        q = q.where(Interchange.state == state)
    if partner:
        q = q.where(Interchange.partner_id == partner)
    if before is not None:
        at, iid = before
        q = q.where(
            (Interchange.received_at < at)
            | ((Interchange.received_at == at) & (Interchange.id < iid))
        )
    return list(
        s.scalars(q.order_by(Interchange.received_at.desc(), Interchange.id.desc()).limit(limit))
    )


def timeline(s: Session, interchange_id: str) -> list[Event]:
    return list(
        s.scalars(select(Event).where(Event.interchange_id == interchange_id).order_by(Event.id))
    )


def state_counts(s: Session) -> dict[str, int]:
    return {
        st: n
        for st, n in s.execute(select(Interchange.state, func.count()).group_by(Interchange.state))
    }


# Asked once per deduplicated document: built once, so a look-up costs only its execution.
_SETTLED = f"('{InterchangeState.DONE}', '{InterchangeState.REJECTED}', '{InterchangeState.DEAD}')"
# No ORDER BY: with one, SQLite walked the partner's interchanges in time order (an index that
# gives the order) instead of finding the few with this reference (migration 0009's index);
# the earliest of those is picked in Python.
_EARLIER_INTERCHANGE_SQL = (
    "SELECT id, received_at FROM interchanges WHERE partner_id = ? AND control_reference = ?"
    f" AND id <> ? AND state IN {_SETTLED}"
)
_EARLIER_LATER_INTERCHANGE_SQL = (  # a later interchange of a payload with several
    "SELECT i.id FROM interchanges i JOIN interchange_references r"
    " ON r.interchange_id = i.id WHERE r.partner_id = ? AND r.control_reference = ?"
    f" AND i.id <> ? AND i.state IN {_SETTLED} ORDER BY i.received_at LIMIT 1"
)
_EARLIER_DOCUMENT_SQL = (
    "SELECT d.id FROM documents d JOIN interchanges i ON i.id = d.interchange_id"
    " WHERE d.business_id = ? AND d.kind = ? AND d.sender_id = ? AND d.receiver_id = ?"
    " AND d.test = ? AND d.interchange_id <> ?"
    f" AND d.state IN ('{DocumentState.ROUTED}', '{DocumentState.DELIVERED}')"
    f" AND i.state = '{InterchangeState.DONE}'"
    " ORDER BY d.created_at, d.id LIMIT 1"
)


class EarlierReceipts:
    """The idempotent receiver's look-ups for one interchange being processed (`own_id`):
    an earlier interchange with the same control reference, an earlier accepted document with
    the same business number (order number, ...) from the same sender to the same receiver.

    They are asked once per interchange and once per order. Through SQLAlchemy each one cost
    about 0.2 to 2 ms (statement building, compilation cache, result objects), more than
    validating the message; on the driver's own cursor with plain SQL (`?` markers, `%s` for
    psycopg) it is a few microseconds. One connection until `close` (or the caller's
    `connection`, which it closes itself, e.g. one for a batch of interchanges); each look-up
    ends its transaction, so no snapshot is kept between them."""

    def __init__(self, engine: Engine, own_id: str, connection: Any = None) -> None:
        self.engine = engine
        self.own_id = own_id
        self._sql = DriverStatements(engine.dialect).sql
        self._conn: Any = connection
        self._owns_connection = connection is None

    def interchange(self, partner_id: str, control_reference: str) -> str | None:
        params = (partner_id, control_reference, self.own_id)
        earlier = self._rows(_EARLIER_INTERCHANGE_SQL, params)
        if earlier:
            return str(min(earlier, key=lambda row: (row[1], row[0]))[0])
        later = self._rows(_EARLIER_LATER_INTERCHANGE_SQL, params)
        return str(later[0][0]) if later else None

    def document(
        self, kind: str, sender_id: str, receiver_id: str, business_id: str, test: bool
    ) -> str | None:
        params = (business_id, kind, sender_id, receiver_id, test, self.own_id)
        found = self._rows(_EARLIER_DOCUMENT_SQL, params)
        return str(found[0][0]) if found else None

    def _rows(self, sql: str, params: tuple[object, ...]) -> list[Any]:
        if self._conn is None:
            self._conn = self.engine.raw_connection()
            self._owns_connection = True
        cursor = self._conn.cursor()
        try:
            cursor.execute(self._sql(sql), params)
            return list(cursor.fetchall())
        finally:
            cursor.close()
            self._conn.rollback()

    def close(self) -> None:
        if self._conn is not None and self._owns_connection:
            self._conn.close()
        self._conn = None
