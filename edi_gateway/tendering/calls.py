"""Calls for tenders: registration (API, CLI, UBL CallForTenders), withdrawals, and the
metadata views. Registration makes the call's keys and returns each officer's share once. When
the institution has registered its officers' certificates (`tendering.officers`) every share is
sealed to its officer, and the call keeps the sealed shares; otherwise (API and CLI only) they
are handed out in clear and the gateway keeps none.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from cryptography import x509
from lxml import etree
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from edi_gateway.formats.xml.detect import CBC_NS
from edi_gateway.formats.xml.parse import XmlLimits, parse_bytes
from edi_gateway.intake import Clock
from edi_gateway.model import new_id
from edi_gateway.store.tables import Event
from edi_gateway.store.tendering import (
    CallState,
    SubmissionStatus,
    TenderCall,
    TenderSubmission,
    TenderWithdrawal,
)
from edi_gateway.tendering import keys
from edi_gateway.tendering.common import DeadlinePassed, TenderingRefused, UnknownCall
from edi_gateway.tendering.officers import seal_shares, unregistered
from edi_gateway.tendering.standing import Filed, Outcome, Withdrawal, standing

log = structlog.get_logger("edi_gateway.tendering.calls")

CFT_NS = "urn:oasis:names:specification:ubl:schema:xsd:CallForTenders-2"
CAC_NS = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"


@dataclass(frozen=True)
class CallSpec:
    procedure_id: str
    institution_id: str
    deadline: dt.datetime
    opening_at: dt.datetime
    officers: list[str]
    threshold: int
    title: str | None = None
    lots: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Registered:
    call_id: str
    procedure_id: str
    key_id: str
    shares: dict[str, str]  # officer -> share: hand each to its officer, then forget
    sealed: bool = False  # each share is sealed to its officer's certificate


def register_call(
    sessions: sessionmaker[Session],
    clock: Clock,
    spec: CallSpec,
    actor: str,
    certificates: Mapping[str, x509.Certificate] | None = None,
    source_sha256: str | None = None,
) -> Registered:
    """Register the call. With `certificates` (the institution's officers) each share is
    sealed to its officer and the call keeps the sealed shares; `source_sha256` names the
    document that asked (see `register_from_ubl`)."""
    _check(spec, clock(), certificates)
    call_id = new_id()
    made = keys.create_call_keys(call_id, spec.threshold, len(spec.officers))
    shares = dict(zip(spec.officers, made.shares, strict=True))
    if certificates is not None:
        shares = seal_shares(shares, certificates)
    now = clock()
    try:
        with sessions.begin() as s:
            s.add(
                TenderCall(
                    id=call_id,
                    procedure_id=spec.procedure_id,
                    institution_id=spec.institution_id,
                    title=spec.title,
                    lots=list(spec.lots),
                    deadline=spec.deadline,
                    opening_at=spec.opening_at,
                    officers=list(spec.officers),
                    threshold=spec.threshold,
                    key_id=made.key_id,
                    public_key=made.public_key,
                    wrapped_key=made.wrapped_key,
                    state=CallState.OPEN,
                    created_at=now,
                    sealed_shares=shares if certificates is not None else None,
                    source_sha256=source_sha256,
                )
            )
            s.add(
                Event(
                    at=now,
                    actor=actor[:64],
                    type="call-registered",
                    detail={
                        "procedure_id": spec.procedure_id,
                        "institution_id": spec.institution_id,
                        "deadline": spec.deadline.isoformat(),
                        "opening_at": spec.opening_at.isoformat(),
                        "officers": len(spec.officers),
                        "threshold": spec.threshold,
                        "key_id": made.key_id,
                        "shares_sealed": certificates is not None,
                    },
                )
            )
    except IntegrityError:
        raise TenderingRefused(f"procedure {spec.procedure_id!r} is already registered") from None
    log.info("tendering.call_registered", procedure_id=spec.procedure_id, key_id=made.key_id)
    return Registered(call_id, spec.procedure_id, made.key_id, shares, certificates is not None)


def _check(
    spec: CallSpec, now: dt.datetime, certificates: Mapping[str, x509.Certificate] | None
) -> None:
    problems = []
    if not spec.procedure_id.strip() or len(spec.procedure_id) > 64:
        problems.append("the procedure id must have 1 to 64 characters")
    for name, value in (("deadline", spec.deadline), ("opening time", spec.opening_at)):
        if value.tzinfo is None:
            problems.append(f"the {name} needs a time zone (e.g. 2026-12-01T12:00:00Z)")
    if not problems:
        if spec.deadline <= now:
            problems.append(f"the deadline {spec.deadline.isoformat()} is already past")
        if spec.opening_at < spec.deadline:
            problems.append("the opening time must not be before the deadline")
    names = [o.strip() for o in spec.officers]
    if not names or any(not n for n in names) or len(set(names)) != len(names):
        problems.append("name each opening officer once")
    if not 1 <= spec.threshold <= len(names):
        problems.append(f"the quorum must be between 1 and {len(names)} officers")
    missing = unregistered(spec.officers, certificates) if certificates is not None else []
    if missing:
        problems.append(
            "the institution has registered no certificate for opening officer(s) "
            + ", ".join(repr(m) for m in missing)
            + f" (its registered officers: {', '.join(sorted(certificates or {})) or 'none'})"
        )
    if problems:
        raise TenderingRefused("; ".join(problems))


# -- UBL CallForTenders ---------------------------------------------------------------------


def spec_from_ubl(
    xml: bytes, institution_id: str, officers: list[str] | None, threshold: int | None
) -> CallSpec:
    """A call from a UBL 2.x CallForTenders: ContractFolderID, ProcurementProject/Name, the
    lots, TenderingProcess/TenderSubmissionDeadlinePeriod (EndDate, EndTime) and
    TenderingProcess/OpenTenderEvent (OccurrenceDate, OccurrenceTime). Times without a zone
    are UTC. Officers not given (the pipeline) are the document's
    TenderingTerms/TenderEvaluationParty parties (PartyName/Name, else PartyIdentification/ID),
    and the quorum not given is a majority of them."""
    parsed = parse_bytes(xml, XmlLimits())
    root = parsed.root
    if root is None or etree.QName(root).text != f"{{{CFT_NS}}}CallForTenders":
        raise TenderingRefused("not a UBL CallForTenders document")
    ns = {"cbc": CBC_NS, "cac": CAC_NS}

    def text(path: str) -> str | None:
        value = root.findtext(path, namespaces=ns)
        return value.strip() if value and value.strip() else None

    procedure = text("cbc:ContractFolderID")
    process = "cac:TenderingProcess/"
    deadline = _ubl_time(
        text(process + "cac:TenderSubmissionDeadlinePeriod/cbc:EndDate"),
        text(process + "cac:TenderSubmissionDeadlinePeriod/cbc:EndTime"),
    )
    opening = _ubl_time(
        text(process + "cac:OpenTenderEvent/cbc:OccurrenceDate"),
        text(process + "cac:OpenTenderEvent/cbc:OccurrenceTime"),
    )
    if procedure is None or deadline is None:
        raise TenderingRefused(
            "the CallForTenders needs a ContractFolderID and a TenderSubmissionDeadlinePeriod"
        )
    lots = [
        (e.text or "").strip()
        for e in root.iterfind("cac:ProcurementProjectLot/cbc:ID", namespaces=ns)
        if (e.text or "").strip()
    ]
    if officers is None:
        officers = []
        for party in root.iterfind("cac:TenderingTerms/cac:TenderEvaluationParty", namespaces=ns):
            name = party.findtext("cac:PartyName/cbc:Name", namespaces=ns) or party.findtext(
                "cac:PartyIdentification/cbc:ID", namespaces=ns
            )
            if name and name.strip():
                officers.append(name.strip())
        if not officers:
            raise TenderingRefused(
                "name the opening officers as TenderingTerms/TenderEvaluationParty parties"
            )
    if threshold is None:
        threshold = len(officers) // 2 + 1
    return CallSpec(
        procedure_id=procedure,
        institution_id=institution_id,
        deadline=deadline,
        opening_at=opening or deadline,
        officers=officers,
        threshold=threshold,
        title=text("cac:ProcurementProject/cbc:Name"),
        lots=lots,
    )


def register_from_ubl(
    sessions: sessionmaker[Session],
    clock: Clock,
    xml: bytes,
    institution_id: str,
    certificates: Mapping[str, x509.Certificate],
    actor: str,
) -> Registered:
    """For the pipeline: register the call a UBL CallForTenders describes (officers and quorum
    from the document, see `spec_from_ubl`), its shares sealed to the officers' `certificates`:
    the response that carries them travels and is stored like any other.

    The same document again (the worker was killed after registering, and processes it again;
    or the institution sent it twice) is answered with the same call and sealed shares."""
    spec = spec_from_ubl(xml, institution_id, None, None)
    if not certificates:
        raise TenderingRefused(
            "the institution has registered no opening officers' certificates "
            "([[tendering.officers]] in its partner file), and shares sent in a response "
            "must be sealed to their officers"
        )
    digest = hashlib.sha256(xml).hexdigest()
    try:
        return register_call(sessions, clock, spec, actor, certificates, source_sha256=digest)
    except TenderingRefused:
        with sessions() as s:
            call = s.scalar(select(TenderCall).where(TenderCall.procedure_id == spec.procedure_id))
            if (
                call is None
                or call.institution_id != institution_id
                or call.source_sha256 != digest
                or not call.sealed_shares
            ):
                raise
            log.info("tendering.call_registration_repeated", procedure_id=spec.procedure_id)
            return Registered(
                call.id, call.procedure_id, call.key_id, dict(call.sealed_shares), sealed=True
            )


def _ubl_time(date: str | None, time: str | None) -> dt.datetime | None:
    if date is None:
        return None
    try:
        value = dt.datetime.fromisoformat(f"{date}T{(time or '00:00:00').replace('Z', '+00:00')}")
    except ValueError:
        raise TenderingRefused(f"not a date and time: {date} {time or ''}".strip()) from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


# -- withdrawals and views ------------------------------------------------------------------


def find_call(s: Session, procedure_id: str) -> TenderCall:
    call = s.scalar(select(TenderCall).where(TenderCall.procedure_id == procedure_id))
    if call is None:
        raise UnknownCall(f"no call for tenders has the procedure id {procedure_id!r}")
    return call


def withdraw(
    sessions: sessionmaker[Session], clock: Clock, procedure_id: str, tenderer: str, actor: str
) -> dt.datetime:
    """Withdraw the tenderer's tender(s) for the call; allowed up to the deadline."""
    with sessions.begin() as s:
        call = find_call(s, procedure_id)
        now = clock()
        if now > call.deadline:
            raise DeadlinePassed(
                f"the deadline {call.deadline.isoformat()} has passed ({now.isoformat()}); "
                "the tender can no longer be withdrawn"
            )
        s.add(TenderWithdrawal(call_id=call.id, tenderer=tenderer, at=now, actor=actor[:64]))
        s.add(
            Event(
                at=now,
                actor=actor[:64],
                type="tender-withdrawn",
                detail={"procedure_id": procedure_id, "tenderer": tenderer},
            )
        )
    return now


def call_summary(call: TenderCall) -> dict[str, Any]:
    return {
        "procedure_id": call.procedure_id,
        "institution_id": call.institution_id,
        "title": call.title,
        "lots": call.lots,
        "deadline": call.deadline.isoformat(),
        "opening_at": call.opening_at.isoformat(),
        "officers": call.officers,
        "threshold": call.threshold,
        "key_id": call.key_id,
        "shares_sealed": call.sealed_shares is not None,  # to the officers' certificates
        "state": call.state,
        "opened_at": call.opened_at.isoformat() if call.opened_at else None,
    }


def list_calls(reads: sessionmaker[Session]) -> list[dict[str, Any]]:
    with reads() as s:
        return [
            call_summary(c) for c in s.scalars(select(TenderCall).order_by(TenderCall.deadline))
        ]


def submissions(
    reads: sessionmaker[Session], procedure_id: str, tenderer: str | None = None
) -> list[dict[str, Any]]:
    """Metadata only: who, when, how big, which hash, what became of it."""
    with reads() as s:
        call = find_call(s, procedure_id)
        q = select(TenderSubmission).where(TenderSubmission.call_id == call.id)
        if tenderer is not None:
            q = q.where(TenderSubmission.tenderer == tenderer)
        return [
            {
                "receipt_id": t.interchange_id,
                "tenderer": t.tenderer,
                "received_at": t.received_at.isoformat(),
                "size": t.size,
                "sha256": t.sha256,
                "status": t.status,
                "outcome": t.outcome,
            }
            for t in s.scalars(q.order_by(TenderSubmission.received_at))
        ]


def recorded_standing(
    s: Session, call: TenderCall, subs: list[TenderSubmission]
) -> dict[str, Outcome]:
    """Where each of the call's filed tenders `subs` stands, from what is recorded (see
    `standing`): what the dashboard shows before the opening and what the opening unseals."""
    withdrawals = [
        Withdrawal(w.tenderer, w.at)
        for w in s.scalars(select(TenderWithdrawal).where(TenderWithdrawal.call_id == call.id))
    ]
    filed = [
        Filed(
            t.interchange_id,
            t.tenderer,
            t.received_at,
            on_time=t.status != SubmissionStatus.LATE,
            duplicate=t.status == SubmissionStatus.DUPLICATE,
        )
        for t in subs
    ]
    return standing(filed, withdrawals, call.deadline)


def sealed_tenders(reads: sessionmaker[Session], procedure_id: str) -> list[dict[str, Any]]:
    """Metadata of every tender filed for the call, each with where it stands now (counted,
    replaced, withdrawn, late, duplicate): what the opening officers see before opening."""
    with reads() as s:
        call = find_call(s, procedure_id)
        subs = list(
            s.scalars(
                select(TenderSubmission)
                .where(TenderSubmission.call_id == call.id)
                .order_by(TenderSubmission.received_at, TenderSubmission.interchange_id)
            )
        )
        outcomes = recorded_standing(s, call, subs)
        return [
            {
                "receipt_id": t.interchange_id,
                "tenderer": t.tenderer,
                "received_at": t.received_at,
                "size": t.size,
                "sha256": t.sha256,
                "status": t.status,
                "standing": t.outcome or outcomes.get(t.interchange_id),
            }
            for t in subs
        ]


def routes(gateway: Any) -> list[Any]:
    """The REST routes for calls (see `edi_gateway.tendering.api`), to mount under
    /api/v1/calls."""
    from edi_gateway.tendering.api import routes as build

    return build(gateway)
