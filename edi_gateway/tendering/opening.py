"""The opening of a call for tenders: k officers' shares in, every counted tender unsealed and
handed to the pipeline, a signed opening record out.

Each step is idempotent and recorded, so an opening killed at any point is resumed by running
it again with the shares:

1. the shares rebuild the call's private key (nothing is written when they do not);
2. sealed interchanges not filed yet are filed by the clerk (a late one is refused);
3. the call goes to `opening`;
4. per counted tender: decrypt the envelope from the spool, check its SHA-256 against the
   receipt, spool the plaintext (content-addressed: writing it twice is harmless), then in one
   transaction point the interchange at the plaintext and move it `sealed → received`
   (guarded by `state = sealed`, so a rerun never hands it to the worker twice) and mark the
   submission opened; the worker validates, translates and routes it as usual, and queue
   items are unique per document, so nothing is routed twice;
5. replaced and withdrawn tenders are closed (`done`) without being decrypted;
6. the opening record (tenderers, prices, hashes) is signed with the gateway key and stored.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from typing import Any

import structlog
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from edi_gateway.formats.base import Limits, Registry
from edi_gateway.intake import Clock, utcnow
from edi_gateway.model import Tender
from edi_gateway.spool import Spool
from edi_gateway.store.tables import Event, Interchange, InterchangeState
from edi_gateway.store.tendering import (
    CallState,
    TenderCall,
    TenderSubmission,
)
from edi_gateway.tendering import keys
from edi_gateway.tendering.calls import recorded_standing
from edi_gateway.tendering.clerk import Clerk
from edi_gateway.tendering.common import UnknownCall, canonical_json
from edi_gateway.tendering.sealer import content_aad
from edi_gateway.tendering.signing import ALGORITHM, GatewayKey
from edi_gateway.tendering.standing import Outcome

log = structlog.get_logger("edi_gateway.tendering.opening")

Step = Callable[[str, str], None]  # (step name, interchange id): a hook for crash tests


class OpeningError(Exception):
    """The opening cannot go on; the message says why."""


class NotYetOpen(OpeningError):
    pass


class Opening:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        spool: Spool,
        registry: Registry,
        clerk: Clerk,
        key: GatewayKey,
        clock: Clock = utcnow,
        limits: Limits | None = None,
        on_unsealed: Callable[[], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.spool = spool
        self.registry = registry
        self.clerk = clerk
        self.key = key
        self.clock = clock
        self.limits = limits or Limits()
        self.on_unsealed = on_unsealed  # e.g. wake the pipeline worker

    def open(
        self, procedure_id: str, shares: list[str], actor: str, after: Step | None = None
    ) -> dict[str, Any]:
        """Open the call (or finish an opening that was cut short). Returns the record."""
        step = after or (lambda _name, _iid: None)
        call = self._call(procedure_id)
        if call.state == CallState.OPENED and call.opening_record is not None:
            return call.opening_record
        if self.clock() < call.opening_at:
            raise NotYetOpen(
                f"procedure {procedure_id} opens at {call.opening_at.isoformat()}; "
                f"it is {self.clock().isoformat()}"
            )
        private = keys.unwrap_private_key(
            call.id, call.key_id, call.wrapped_key, call.threshold, shares
        )
        self.clerk.run_once()
        self._start(call, actor, len(shares))
        outcomes = self._standing(call)
        for sub in self._submissions(call.id):
            outcome = outcomes.get(sub.interchange_id)
            if sub.outcome is not None or outcome is None:
                continue  # done in an earlier run, or decided by the clerk
            if outcome == Outcome.COUNTED:
                self._unseal(call, sub, private, actor, step)
            else:
                self._close(sub, outcome, actor)
        return self._finish(call, actor)

    # -- steps ---------------------------------------------------------------------------

    def _call(self, procedure_id: str) -> TenderCall:
        with self.sessions() as s:
            call = s.scalar(select(TenderCall).where(TenderCall.procedure_id == procedure_id))
        if call is None:
            raise UnknownCall(f"no call for tenders has the procedure id {procedure_id!r}")
        return call

    def _start(self, call: TenderCall, actor: str, shares: int) -> None:
        with self.sessions.begin() as s:
            started = s.execute(
                update(TenderCall)
                .where(TenderCall.id == call.id, TenderCall.state == CallState.OPEN)
                .values(state=CallState.OPENING)
            ).rowcount  # type: ignore[attr-defined]
            detail = {"procedure_id": call.procedure_id, "shares": shares}
            kind = "opening-started" if started else "opening-resumed"
            s.add(Event(at=self.clock(), actor=actor[:64], type=kind, detail=detail))
        log.info("tendering.opening", procedure_id=call.procedure_id, step=kind)

    def _standing(self, call: TenderCall) -> dict[str, Outcome]:
        with self.sessions() as s:
            subs = s.scalars(select(TenderSubmission).where(TenderSubmission.call_id == call.id))
            return recorded_standing(s, call, list(subs))

    def _submissions(self, call_id: str) -> list[TenderSubmission]:
        with self.sessions() as s:
            return list(
                s.scalars(
                    select(TenderSubmission)
                    .where(TenderSubmission.call_id == call_id)
                    .order_by(TenderSubmission.received_at, TenderSubmission.interchange_id)
                )
            )

    def _unseal(
        self,
        call: TenderCall,
        sub: TenderSubmission,
        private: X25519PrivateKey,
        actor: str,
        step: Step,
    ) -> None:
        iid = sub.interchange_id
        with self.sessions() as s:
            ic = s.get_one(Interchange, iid)
            sealed_sha = ic.raw_sha256
        try:
            plain = keys.unseal(self.spool.read(sealed_sha), private, content_aad(call.id))
        except (OSError, keys.NotSealed) as exc:
            raise OpeningError(f"tender {iid} cannot be unsealed: {exc}") from exc
        digest = hashlib.sha256(plain).hexdigest()
        if digest != sub.sha256:
            raise OpeningError(
                f"tender {iid} decrypts to SHA-256 {digest}, not the {sub.sha256} of its receipt"
            )
        staged = self.spool.stage(plain)
        self.spool.commit([staged])
        step("spooled", iid)
        price, currency = self.quoted_price(plain)
        now = self.clock()
        with self.sessions.begin() as s:
            moved = s.execute(
                update(Interchange)
                .where(Interchange.id == iid, Interchange.state == InterchangeState.SEALED)
                .values(
                    state=InterchangeState.RECEIVED,
                    raw_sha256=digest,
                    size=len(plain),
                    claimed_by=None,
                    lease_until=None,
                )
            ).rowcount  # type: ignore[attr-defined]
            s.execute(
                update(TenderSubmission)
                .where(TenderSubmission.interchange_id == iid, TenderSubmission.outcome.is_(None))
                .values(
                    outcome=Outcome.COUNTED.value, opened_at=now, price=price, currency=currency
                )
            )
            if moved:
                s.add(
                    Event(
                        at=now,
                        interchange_id=iid,
                        actor=actor[:64],
                        type="unsealed",
                        detail={"sha256": digest, "sealed_sha256": sealed_sha},
                    )
                )
        step("unsealed", iid)
        if self.on_unsealed is not None:
            self.on_unsealed()

    def _close(self, sub: TenderSubmission, outcome: Outcome, actor: str) -> None:
        """A replaced or withdrawn tender: recorded, never decrypted, finished."""
        now = self.clock()
        with self.sessions.begin() as s:
            s.execute(
                update(TenderSubmission)
                .where(
                    TenderSubmission.interchange_id == sub.interchange_id,
                    TenderSubmission.outcome.is_(None),
                )
                .values(outcome=outcome.value)
            )
            closed = s.execute(
                update(Interchange)
                .where(
                    Interchange.id == sub.interchange_id,
                    Interchange.state == InterchangeState.SEALED,
                )
                .values(state=InterchangeState.DONE, finished_at=now)
            ).rowcount  # type: ignore[attr-defined]
            if closed:
                s.add(
                    Event(
                        at=now,
                        interchange_id=sub.interchange_id,
                        actor=actor[:64],
                        type=InterchangeState.DONE.value,
                        detail={"tender": outcome.value, "opened": False},
                    )
                )

    def _finish(self, call: TenderCall, actor: str) -> dict[str, Any]:
        now = self.clock()
        subs = self._submissions(call.id)
        record: dict[str, Any] = {
            "procedure_id": call.procedure_id,
            "title": call.title,
            "institution_id": call.institution_id,
            "lots": call.lots,
            "deadline": call.deadline.isoformat(),
            "opening_at": call.opening_at.isoformat(),
            "opened_at": now.isoformat(),
            "opened_by": actor,
            "tenders": [
                {
                    "receipt_id": t.interchange_id,
                    "tenderer": t.tenderer,
                    "received_at": t.received_at.isoformat(),
                    "sha256": t.sha256,
                    "size": t.size,
                    "price": t.price,
                    "currency": t.currency,
                }
                for t in subs
                if t.outcome == Outcome.COUNTED
            ],
            "not_opened": [
                {
                    "receipt_id": t.interchange_id,
                    "tenderer": t.tenderer,
                    "received_at": t.received_at.isoformat(),
                    "sha256": t.sha256,
                    "reason": t.outcome,
                }
                for t in subs
                if t.outcome != Outcome.COUNTED
            ],
        }
        signature = self.key.sign(canonical_json(record))
        record["signature"] = {
            "algorithm": ALGORITHM,
            "over": "canonical JSON of the record without this member",
            "value": signature.hex(),
            "public_key_fingerprint": self.key.fingerprint,
        }
        with self.sessions.begin() as s:
            done = s.execute(
                update(TenderCall)
                .where(TenderCall.id == call.id, TenderCall.state != CallState.OPENED)
                .values(state=CallState.OPENED, opened_at=now, opening_record=record)
            ).rowcount  # type: ignore[attr-defined]
            if done:
                s.add(
                    Event(
                        at=now,
                        actor=actor[:64],
                        type="opened",
                        detail={
                            "procedure_id": call.procedure_id,
                            "tenders": len(record["tenders"]),
                            "not_opened": len(record["not_opened"]),
                        },
                    )
                )
        if not done:  # another opener finished first: theirs is the record
            return self._call(call.procedure_id).opening_record or record
        log.info("tendering.opened", procedure_id=call.procedure_id, tenders=len(record["tenders"]))
        return record

    def quoted_price(self, plain: bytes) -> tuple[str | None, str | None]:
        """The tender's total as the pipeline's own translation reads it (None when it
        cannot: the pipeline will report why)."""
        fmt = self.registry.detect(plain[:4096])
        if fmt is None:
            return None, None
        try:
            reader = fmt.open(io.BytesIO(plain), self.limits)
            for unit in reader.units():
                doc = reader.translate(unit).document
                if isinstance(doc, Tender):
                    t = doc.totals
                    amount = t.payable or t.tax_inclusive or t.tax_exclusive or t.line_total
                    return (str(amount) if amount is not None else None), doc.currency
        except Exception:  # a defect of the tender, reported by the pipeline
            log.warning("tendering.price_unreadable", exc_info=False)
        return None, None
