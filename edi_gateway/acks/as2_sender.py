"""Return route `as2`: our acknowledgements (CONTRL, APERAK, ApplicationResponse) sent to the
partner's AS2 URL, signed and encrypted as its profile says, and confirmed by its MDN.

A synchronous MDN is verified on the spot (signature, Original-Message-ID, disposition, and
the MIC of what we sent); anything short of a confirmed `processed` raises, so the outbox
retries and finally shows the ack as `failed`. Retries reuse the ack's Message-ID, so a
partner that did process an earlier attempt answers `duplicate-document` instead of taking it
twice. With `mdn = "async"` the POST's 2xx delivers the ack and the MDN is awaited: when it
reaches our listener it is verified and stored, and an MDN that does not confirm the message
turns the ack to `failed`. Every MDN received is stored as evidence (`as2_mdns`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from edi_gateway.channels.as2.errors import As2Error
from edi_gateway.channels.as2.evidence import EvidenceWriter, mdn_row
from edi_gateway.channels.as2.partners import Directory
from edi_gateway.channels.as2.sender import (
    MdnOutcome,
    OutgoingMessage,
    SentRecord,
    build_message,
    verify_mdn,
)
from edi_gateway.config import Partner
from edi_gateway.store.as2 import As2Mdn, MdnDirection, MdnState
from edi_gateway.store.db import read_sessions
from edi_gateway.store.tables import Ack, AckState, Event

log = structlog.get_logger("edi_gateway.as2")


class As2DeliveryError(Exception):
    """The partner did not confirm the message (HTTP error, bad or negative MDN)."""


class As2Sender:
    def __init__(
        self,
        directory: Directory,
        sessions: sessionmaker[Session],
        evidence: EvidenceWriter,
        clock: Callable[[], dt.datetime],
        client: httpx.Client | None = None,
        timeout: float = 60,
    ) -> None:
        self.directory = directory
        self.sessions = sessions
        self.reads = read_sessions(sessions.kw["bind"])
        self.evidence = evidence
        self.clock = clock
        self.client = client or httpx.Client(timeout=timeout)

    # -- the AckSender protocol ------------------------------------------------------------

    def send(self, ack: Ack, partner: Partner | None) -> AckState:
        profile = self.directory.profiles.get(partner.id) if partner else None
        if partner is None or profile is None:
            raise LookupError("the partner has no [as2] section to send acknowledgements to")
        if not profile.url:
            raise LookupError(f"partner {partner.id} has no as2.url")
        station = self.directory.station
        message = build_message(
            ack.content,
            station,
            profile,
            filename=ack.filename,
            content_type=ack.media_type,
            subject=f"{ack.kind} {ack.id}",
            message_id=ack_message_id(ack.id, station.as2_id),
        )
        response = self.client.post(profile.url, content=message.body, headers=message.headers)
        if not response.is_success:
            raise As2DeliveryError(f"the partner answered HTTP {response.status_code}")
        base = {
            "direction": MdnDirection.RECEIVED,
            "interchange_id": ack.interchange_id,
            "ack_id": ack.id,
            "partner_id": partner.id,
            "as2_from": profile.as2_id,
            "as2_to": station.as2_id,
            "original_message_id": message.message_id,
        }
        if not message.mdn_requested:
            self.evidence.record(mdn_row(**base, mode="none", state=MdnState.SENT))
            return AckState.DELIVERED
        if profile.async_mdn_url:
            self.evidence.record(
                mdn_row(
                    **base,
                    mode="async",
                    state=MdnState.AWAITED,
                    detail={"sent": message.record.as_dict()},
                )
            )
            return AckState.DELIVERED
        headers = list(response.headers.items())
        outcome = self._verify(headers, response.content, message, partner.id)
        self.evidence.record(
            *_received_evidence(base, headers, response.content, outcome, self.clock())
        )
        if not outcome.delivered:
            raise As2DeliveryError(_why(outcome))
        return AckState.DELIVERED

    # -- asynchronous MDNs (called by the listener) ----------------------------------------

    def accept_async_mdn(self, headers: Sequence[tuple[str, str]], body: bytes) -> bool:
        """Match an MDN posted to our listener with the message it answers, verify and store
        it; False when it answers nothing we wait for (or does not parse)."""
        original = _original_id(body)  # verified below, with the partner's certificates
        if not original:
            return False
        with self.reads() as session:
            row = session.scalar(
                select(As2Mdn).where(
                    As2Mdn.original_message_id == original.strip(),
                    As2Mdn.state == MdnState.AWAITED,
                )
            )
        if row is None or row.partner_id is None:
            log.warning("as2.unexpected_mdn", original_message_id=original)
            return False
        sent = SentRecord.from_dict(row.detail["sent"])
        outcome = self._verify(list(headers), body, sent, row.partner_id)
        self._settle(row, list(headers), body, outcome)
        return True

    def _verify(
        self,
        headers: list[tuple[str, str]],
        body: bytes,
        sent: OutgoingMessage | SentRecord,
        partner_id: str,
    ) -> MdnOutcome:
        profile = self.directory.profiles[partner_id]
        try:
            return verify_mdn(headers, body, sent, profile, self.clock())
        except As2Error as exc:
            raise As2DeliveryError(f"the MDN does not verify: {exc}") from exc

    def _settle(
        self, row: As2Mdn, headers: list[tuple[str, str]], body: bytes, outcome: MdnOutcome
    ) -> None:
        now = self.clock()
        state = MdnState.VERIFIED if outcome.delivered else MdnState.REJECTED
        with self.sessions.begin() as session:
            session.execute(
                update(As2Mdn)
                .where(As2Mdn.id == row.id, As2Mdn.state == MdnState.AWAITED)
                .values(_settled_values(headers, body, outcome, state, now))
            )
            if not outcome.delivered and row.ack_id:
                session.execute(
                    update(Ack)
                    .where(Ack.id == row.ack_id)
                    .values(state=AckState.FAILED, last_error=_why(outcome))
                )
            if row.interchange_id:
                session.add(
                    Event(
                        at=now,
                        interchange_id=row.interchange_id,
                        actor="channel:as2",
                        type=f"as2-mdn-{state.value}",
                        detail={
                            "mdn": row.id,
                            "ack": row.ack_id,
                            "disposition": outcome.report.disposition_text,
                        },
                    )
                )


def ack_message_id(ack_id: str, as2_id: str) -> str:
    host = re.sub(r"[^A-Za-z0-9.-]", "_", as2_id) or "as2"
    return f"<edi-gateway-ack-{ack_id}@{host}>"


def _why(outcome: MdnOutcome) -> str:
    if not outcome.report.processed:
        return f"the partner's MDN says {outcome.report.disposition_text!r}"
    return "; ".join(outcome.problems) or "the MDN does not confirm the message"


def _settled_values(
    headers: list[tuple[str, str]],
    body: bytes,
    outcome: MdnOutcome,
    state: MdnState,
    now: dt.datetime,
) -> dict[str, Any]:
    report = outcome.report
    return {
        "state": state,
        "mdn_message_id": _header(headers, "message-id"),
        "disposition": report.disposition_text[:128],
        "mic": report.mic.header_value() if report.mic else None,
        "signed": report.signed,
        "headers": [list(pair) for pair in headers],
        "body": body,
        "detail": {"problems": list(outcome.problems), "mic_matches": outcome.mic_matches},
        "finished_at": now,
    }


def _received_evidence(
    base: dict[str, Any],
    headers: list[tuple[str, str]],
    body: bytes,
    outcome: MdnOutcome,
    now: dt.datetime,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    state = MdnState.VERIFIED if outcome.delivered else MdnState.REJECTED
    row = mdn_row(**base, mode="sync", **_settled_values(headers, body, outcome, state, now))
    event = {
        "interchange_id": base["interchange_id"],
        "document_id": None,
        "actor": "channel:as2",
        "type": f"as2-mdn-{state.value}",
        "detail": {"mdn": row["id"], "ack": base["ack_id"], "disposition": row["disposition"]},
    }
    return row, event


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((v for n, v in headers if n.lower() == name), None)


def _original_id(body: bytes) -> str | None:
    found = re.search(rb"(?im)^original-message-id:\s*(.+?)\s*$", body)
    return found.group(1).decode("latin-1") if found else None
