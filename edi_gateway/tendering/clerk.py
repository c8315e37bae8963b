"""The tender clerk: files each sealed interchange against its call and answers the tenderer
with a signed receipt.

The time that counts is the intake commit time (`interchanges.received_at`). A tender
committed after the call's deadline is refused: a negative receipt states the deadline and the
time received, and the interchange goes to `rejected` (its content stays sealed for good).
On-time tenders stay `sealed` until the opening. Filing, receipt and state change are one
transaction, guarded by the interchange still being `sealed` and not yet filed, so several
clerks (or a clerk restarted after a crash) never file twice.
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from edi_gateway.config import Config
from edi_gateway.intake import Clock, utcnow
from edi_gateway.loops import Loop
from edi_gateway.model import new_id
from edi_gateway.store.db import read_sessions
from edi_gateway.store.tables import Ack, AckState, Event, Interchange, InterchangeState
from edi_gateway.store.tendering import SubmissionStatus, TenderCall, TenderSubmission
from edi_gateway.tendering import edifact_receipt, receipts
from edi_gateway.tendering.detect import Shape
from edi_gateway.tendering.signing import GatewayKey

log = structlog.get_logger("edi_gateway.tendering.clerk")

ACK_KIND = "tender-receipt"


class Clerk(Loop):
    name = "tender-clerk"

    def __init__(
        self,
        config: Config,
        sessions: sessionmaker[Session],
        key: GatewayKey,
        clock: Clock = utcnow,
        poll_seconds: float = 1.0,
        batch: int = 100,
    ) -> None:
        super().__init__()
        self.config = config
        self.sessions = sessions
        self.reads = read_sessions(sessions.kw["bind"])
        self.key = key
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.batch = batch

    def step(self) -> bool:
        return self.run_once() > 0

    def run_once(self) -> int:
        """File every sealed interchange not filed yet (oldest first). Returns how many."""
        total = 0
        while True:
            seen, filed = self._file_batch()
            total += filed
            if seen < self.batch or not filed:
                return total

    def _file_batch(self) -> tuple[int, int]:
        filed = 0
        q = (
            select(Interchange)
            .outerjoin(TenderSubmission, TenderSubmission.interchange_id == Interchange.id)
            .where(
                Interchange.state == InterchangeState.SEALED,
                TenderSubmission.interchange_id.is_(None),
            )
            .order_by(Interchange.received_at, Interchange.id)
            .limit(self.batch)
        )
        # woken after every intake commit: look without the store's write lock first
        with self.reads() as s:
            if s.scalar(q.with_only_columns(Interchange.id).limit(1)) is None:
                return 0, 0
        with self.sessions.begin() as s:
            if s.get_bind().dialect.name == "postgresql":  # clerks in other processes
                q = q.with_for_update(of=Interchange, skip_locked=True)
            pending = list(s.scalars(q))
            calls = {
                c.id: c
                for c in s.scalars(
                    select(TenderCall).where(
                        TenderCall.id.in_({_sealed(ic).get("call_id") for ic in pending})
                    )
                )
            }
            now = self.clock()
            for ic in pending:
                call = calls.get(_sealed(ic).get("call_id", ""))
                if call is None:  # the register lost the call: keep it sealed, say so
                    log.error("tendering.unknown_call", interchange_id=ic.id)
                    continue
                self._file(s, ic, call, now)
                filed += 1
        return len(pending), filed

    def _file(self, s: Session, ic: Interchange, call: TenderCall, now: Any) -> None:
        sealed = _sealed(ic)
        sha256 = str(ic.origin.get("plaintext_sha256", ""))
        size = int(ic.origin.get("plaintext_size", 0))
        late = ic.received_at > call.deadline
        if late:
            status, verdict = SubmissionStatus.LATE, receipts.Verdict.REFUSED_LATE
        elif ic.duplicate_of:
            status, verdict = SubmissionStatus.DUPLICATE, receipts.Verdict.DUPLICATE
        else:
            status, verdict = SubmissionStatus.ON_TIME, receipts.Verdict.ACCEPTED
        facts = receipts.ReceiptFacts(
            interchange_id=ic.id,
            procedure_id=call.procedure_id,
            tenderer=ic.partner_id,
            received_at=ic.received_at,
            deadline=call.deadline,
            sha256=sha256,
            size=size,
            verdict=verdict,
            issued_at=now,
            duplicate_of=ic.duplicate_of,
        )
        receipt = _receipt(facts, self.key, sealed)
        ack_id = new_id()
        s.execute(
            insert(Ack).values(
                id=ack_id,
                interchange_id=ic.id,
                partner_id=ic.partner_id,
                kind=ACK_KIND,
                positive=verdict == receipts.Verdict.ACCEPTED,
                media_type=receipt.media_type,
                filename=receipt.filename,
                content=receipt.content,
                route=self._route(ic),
                state=AckState.PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
        s.add(
            TenderSubmission(
                interchange_id=ic.id,
                call_id=call.id,
                tenderer=ic.partner_id,
                received_at=ic.received_at,
                sha256=sha256,
                size=size,
                status=status,
                ack_id=ack_id,
                outcome=None if status == SubmissionStatus.ON_TIME else status.value,
            )
        )
        detail = {
            "procedure_id": call.procedure_id,
            "status": status.value,
            "ack": ack_id,
            "received_at": ic.received_at.isoformat(),
            "deadline": call.deadline.isoformat(),
        }
        s.add(
            Event(at=now, interchange_id=ic.id, actor="tender-clerk", type="filed", detail=detail)
        )
        if status != SubmissionStatus.ON_TIME:
            final = InterchangeState.REJECTED if late else InterchangeState.DUPLICATE
            s.execute(
                update(Interchange)
                .where(Interchange.id == ic.id, Interchange.state == InterchangeState.SEALED)
                .values(state=final, finished_at=now)
            )
            s.add(
                Event(
                    at=now,
                    interchange_id=ic.id,
                    actor="tender-clerk",
                    type=final.value,
                    detail=detail,
                )
            )
        log.info(
            "tendering.filed",
            interchange_id=ic.id,
            procedure_id=call.procedure_id,
            status=status.value,
        )

    def _route(self, ic: Interchange) -> str:
        partner = self.config.partners.get(ic.partner_id or "")
        route = partner.acks.route if partner is not None else "channel"
        return ic.channel if route == "channel" else route


def _receipt(
    facts: receipts.ReceiptFacts, key: GatewayKey, sealed: dict[str, Any]
) -> receipts.SignedReceipt:
    """In the tenderer's own standard: an APERAK for EDIFACT, a UBL TenderReceipt for UBL,
    JSON for the rest (and for EDIFACT tenders sealed before the envelope facts were kept)."""
    envelope = sealed.get("edifact")
    if sealed.get("shape") == Shape.EDIFACT and isinstance(envelope, dict):
        return edifact_receipt.build(facts, key, envelope)
    return receipts.build(facts, key, xml=sealed.get("shape") == Shape.UBL)


def _sealed(ic: Interchange) -> dict[str, Any]:
    facts = ic.origin.get("sealed") if isinstance(ic.origin, dict) else None
    return facts if isinstance(facts, dict) else {}
