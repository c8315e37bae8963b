"""The intake's sealer for tenders: a tender that answers a registered call for tenders is
encrypted to the call's public key before a single byte of it reaches the disk.

Wired as `Intake(..., sealer=TenderSealer(...))`. Intake then spools the envelope, commits
the interchange in state `sealed` with the metadata below, and the pipeline worker leaves it
alone until the opening. A tender citing a procedure that is not registered is not sealed
(the pipeline processes it like any other document); when the register cannot be read the
payload is refused with a temporary failure, never accepted in clear.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from edi_gateway.intake import IntakeUnavailable, Origin, Sealing
from edi_gateway.store.tendering import TenderCall
from edi_gateway.tendering import keys
from edi_gateway.tendering.detect import might_be_tender, tender_reference


def content_aad(call_id: str) -> bytes:
    """Binds a sealed tender to its call: an envelope moved to another call does not open."""
    return f"egw-tender|{call_id}".encode()


class TenderSealer:
    def __init__(self, reads: sessionmaker[Session], max_bytes: int = 50 * 1024 * 1024) -> None:
        self.reads = reads
        self.max_bytes = max_bytes

    def might_seal(self, head: bytes, origin: Origin) -> bool:
        return might_be_tender(head)

    def seal(self, payload: bytes, origin: Origin) -> Sealing | None:
        ref = tender_reference(payload, self.max_bytes)
        if ref is None:
            return None
        try:
            with self.reads() as s:
                call = s.execute(
                    select(TenderCall.id, TenderCall.key_id, TenderCall.public_key).where(
                        TenderCall.procedure_id == ref.procedure_id
                    )
                ).one_or_none()
        except SQLAlchemyError as exc:
            raise IntakeUnavailable("the register of calls for tenders is unavailable") from exc
        if call is None:
            return None
        call_id, kid, public_key = call
        return Sealing(
            ciphertext=keys.seal(payload, public_key, content_aad(call_id)),
            plaintext_sha256=hashlib.sha256(payload).hexdigest(),
            plaintext_size=len(payload),
            facts={
                "call_id": call_id,
                "procedure_id": ref.procedure_id,
                "shape": ref.shape,
                "key_id": kid,
                "scheme": keys.SCHEME,
                "tenderer": origin.partner_id,
                **({"edifact": ref.envelope} if ref.envelope else {}),
            },
        )
