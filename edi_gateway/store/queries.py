"""Read-only queries shared by the API, the CLI and the dashboard."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.orm import Session

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
_EARLIER_DOCUMENT = (
    select(DocumentRow.id)
    .join(Interchange, Interchange.id == DocumentRow.interchange_id)
    .where(
        DocumentRow.business_id == bindparam("business_id"),
        DocumentRow.kind == bindparam("kind"),
        DocumentRow.sender_id == bindparam("sender_id"),
        DocumentRow.receiver_id == bindparam("receiver_id"),
        DocumentRow.test == bindparam("test"),
        DocumentRow.interchange_id != bindparam("other_than"),
        DocumentRow.state.in_([DocumentState.ROUTED, DocumentState.DELIVERED]),
        Interchange.state == InterchangeState.DONE,
    )
    .order_by(DocumentRow.created_at, DocumentRow.id)
    .limit(1)
)


def earlier_document(
    s: Session | Connection,
    *,
    kind: str,
    sender_id: str,
    receiver_id: str,
    business_id: str,
    test: bool,
    other_than: str,
) -> str | None:
    """The id of a document of `kind` with this business number (order number, ...) that the
    same sender already sent to the same receiver in another, accepted interchange (one that
    ended `done` with the document queued), or None."""
    return s.scalar(
        _EARLIER_DOCUMENT,
        {
            "business_id": business_id,
            "kind": kind,
            "sender_id": sender_id,
            "receiver_id": receiver_id,
            "test": test,
            "other_than": other_than,
        },
    )
