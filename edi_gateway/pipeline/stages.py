"""The stages every interchange goes through, as plain functions.

detect → split → validate → translate → route → acknowledge. Each takes what the previous
one produced (bytes, a reader, a unit, a document) and returns values and findings; none
touches the database. `run_stages` chains them for one interchange; the worker
(`pipeline.worker`) is the only place that records state.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from edi_gateway.config import Config, Partner, PartnerRole
from edi_gateway.formats.base import (
    AckDocument,
    AckOptions,
    AckPolicy,
    Format,
    InterchangeOutcome,
    Limits,
    Reader,
    Registry,
    Translation,
    Unit,
    UnitOutcome,
    Verdict,
)
from edi_gateway.model import (
    BUYER_ROLE,
    Document,
    DocumentKind,
    Finding,
    Location,
    Severity,
    rejects,
)
from edi_gateway.pipeline.routing import Router

HEAD_BYTES = 4096
# Kinds whose business number must not come twice from one sender to one receiver: a resent
# order would otherwise be delivered (and fulfilled) twice. Checked against the store and, for
# batches not yet recorded, against the worker process's numbers in flight; two worker
# *processes* handling the same number at the same moment can still both accept it.
DEDUPLICATED_KINDS = frozenset({DocumentKind.ORDER})
# Envelope.syntax key under which a format lists the control reference of every interchange
# of a payload read so far (EDIFACT: UNB 0020 of concatenated interchanges); the last one is
# the interchange of the unit being processed.
CONTROL_REFERENCES = "control_references"


@dataclass
class ProcessedDocument:
    """A unit after validate/translate/route: what the worker stores and queues."""

    unit: Unit
    outcome: UnitOutcome
    document: Document | None
    receiver_id: str | None = None
    test: bool = False
    handled: str | None = None  # what a command message (or a partner's CONTRL) did


@dataclass
class StageResult:
    verdict: Verdict
    format: str | None
    standard: str | None
    control_reference: str | None
    test: bool
    findings: list[Finding]
    units: list[UnitOutcome] = field(default_factory=list)  # small: no documents in here
    acks: list[AckDocument] = field(default_factory=list)
    dead: bool = False  # a valid document found no route: park it for an operator
    # every interchange control reference of the payload (the first is `control_reference`)
    control_references: list[str] = field(default_factory=list)


DocumentSink = Callable[[ProcessedDocument], None]


@dataclass(frozen=True)
class Context:
    """What the stages know of the world: configuration and read-only lookups."""

    config: Config
    registry: Registry
    router: Router
    partner: Partner | None
    interchange_id: str
    received_at: dt.datetime
    raw_sha256: str
    duplicate_of: str | None = None
    # (partner id, control reference) -> id of an earlier interchange with it, if any
    seen_control_reference: Callable[[str, str], str | None] = lambda _p, _r: None
    # (kind, sender id, receiver id, business id, test) -> id of the same document accepted
    # earlier, if any (see `DEDUPLICATED_KINDS`)
    seen_document: Callable[[str, str, str, str, bool], str | None] = lambda *_: None
    limits: Limits = field(default_factory=Limits)


def _finding(
    code: str,
    text: str,
    severity: Severity = Severity.FATAL,
    source: str = "gateway",
    **loc: int | str | None,
) -> Finding:
    return Finding(
        code=code,
        text=text,
        severity=severity,
        source=source,
        location=Location.model_validate(loc),
    )


# -- the stages -----------------------------------------------------------------------------


def detect(head: bytes, registry: Registry) -> Format | None:
    return registry.detect(head)


def split(reader: Reader) -> Iterator[Unit]:
    return reader.units()


def validate(reader: Reader, unit: Unit) -> list[Finding]:
    return [*unit.findings, *reader.validate(unit)]


def translate(reader: Reader, unit: Unit) -> Translation:
    return reader.translate(unit)


def resolve_receiver(doc: Document, sender: Partner | None, config: Config) -> Partner | None:
    """The institution a document is for: its buyer (or contracting authority), by identifier."""
    party = doc.party(BUYER_ROLE[doc.kind])
    if party is not None:
        found = config.partner_by_identifier([*party.identifiers, *party.tax_ids])
        if found is not None and found.role == PartnerRole.INSTITUTION:
            return found
    if sender is not None and sender.role == PartnerRole.INSTITUTION:
        return sender
    return None


def route(
    doc: Document, sender: Partner | None, ctx: Context, index: int
) -> tuple[str | None, Partner | None, list[Finding]]:
    """Permission, receiver and queue for one valid document."""
    findings: list[Finding] = []
    if sender is not None and doc.kind not in sender.may_send:
        findings.append(
            _finding(
                "kind-not-permitted",
                f"partner {sender.id!r} may not send documents of kind {doc.kind.value!r} "
                f"(allowed: {', '.join(k.value for k in sender.may_send) or 'none'})",
                Severity.ERROR,
                "route",
                message=index,
            )
        )
        return None, None, findings
    receiver = resolve_receiver(doc, sender, ctx.config)
    if receiver is None:
        party = doc.party(BUYER_ROLE[doc.kind])
        ids = ", ".join(
            f"{i.scheme or '?'}:{i.value}" for i in (party.identifiers if party else [])
        )
        findings.append(
            _finding(
                "unknown-buyer",
                f"no public institution is registered with the buyer's identifiers ({ids or 'none given'})",
                Severity.ERROR,
                "route",
                message=index,
            )
        )
        return None, None, findings
    queue = ctx.router.queue_for(doc.kind, sender.id if sender else None, receiver.id, doc.test)
    if queue is None:
        findings.append(
            _finding(
                "no-route",
                f"no route matches kind={doc.kind.value} sender={sender.id if sender else '-'} "
                f"receiver={receiver.id} test={doc.test}",
                Severity.ERROR,
                "route",
                message=index,
            )
        )
    return queue, receiver, findings


def acknowledge(
    fmt: Format, outcome: InterchangeOutcome, partner: Partner | None
) -> list[AckDocument]:
    return fmt.acknowledge(outcome, ack_options(partner, fmt.name))


def ack_options(partner: Partner | None, format_name: str) -> AckOptions:
    if partner is None:
        return AckOptions()
    a = partner.acks
    application = a.aperak if format_name == "edifact" else a.application_response
    return AckOptions(syntax_ack=AckPolicy(a.contrl), application_ack=AckPolicy(application))


# -- the chain ------------------------------------------------------------------------------


def run_stages(source: BinaryIO, ctx: Context, sink: DocumentSink) -> StageResult:
    """Drive one interchange through all stages. Never raises for bad input. Each processed
    document goes to `sink` as soon as it is ready, so memory does not grow with the number
    of documents in the interchange; the result keeps only their outcomes."""
    head = source.read(HEAD_BYTES)
    source.seek(0)
    fmt = detect(head, ctx.registry)
    if fmt is None:
        return StageResult(
            Verdict.REJECTED,
            None,
            None,
            None,
            False,
            [
                _finding(
                    "unknown-format",
                    "the payload is neither EDIFACT, XML nor canonical JSON "
                    f"(it starts with {head[:16]!r})",
                    offset=0,
                )
            ],
        )
    reader = fmt.open(source, ctx.limits)
    env = reader.envelope
    findings = list(env.findings)
    partner = ctx.partner
    findings += _check_sender(env.sender, partner, ctx)
    duplicate_of = ctx.duplicate_of
    if (
        duplicate_of is None
        and env.control_reference
        and partner is not None
        and fmt.name != "json"
    ):
        duplicate_of = ctx.seen_control_reference(partner.id, env.control_reference)
    if duplicate_of is not None:
        findings.append(
            _finding(
                "duplicate",
                f"this interchange was already received as {duplicate_of}",
                Severity.FATAL,
                "intake",
            )
        )
    units: list[UnitOutcome] = []
    fatal = rejects(findings)
    references = _references(env.syntax, env.control_reference)
    checked = DuplicateChecks(ctx, partner, references)
    if duplicate_of is None and not fatal:
        for unit in split(reader):
            repeated = checked.interchange()
            if repeated is not None:
                processed = _duplicate_unit(unit, ctx, repeated)
            else:
                processed = _process_unit(reader, unit, ctx, env.test, checked)
            sink(processed)
            units.append(processed.outcome)
            if len(units) > ctx.config.settings.limits.max_documents:
                findings.append(
                    _finding(
                        "too-many-documents",
                        "the interchange holds more documents "
                        f"than the limit of {ctx.config.settings.limits.max_documents}",
                    )
                )
                break
        findings += reader.trailer_findings()
    verdict = _verdict(duplicate_of, findings, units)
    dead = any(f.code == "no-route" for u in units for f in u.findings)
    outcome = InterchangeOutcome(
        interchange_id=ctx.interchange_id,
        partner_id=partner.id if partner else None,
        received_at=ctx.received_at,
        raw_sha256=ctx.raw_sha256,
        envelope=env,
        verdict=verdict,
        findings=findings,
        units=units,
    )
    # a dead interchange waits for an operator; the sender hears from us once it is settled
    acks = [] if dead else acknowledge(fmt, outcome, partner)
    return StageResult(
        verdict,
        fmt.name,
        env.standard,
        env.control_reference,
        env.test,
        findings,
        units,
        acks,
        dead,
        list(references),
    )


def _references(syntax: dict, first: str | None) -> list[str]:
    found = syntax.get(CONTROL_REFERENCES)
    if isinstance(found, list):
        return found  # the format's own list: it grows while the units are read
    return [first] if first else []


class DuplicateChecks:
    """The idempotent receiver's checks inside one payload: each further interchange's control
    reference (the first one is checked before splitting) and each deduplicated document's
    business number, against the store and against what came earlier in the same payload."""

    def __init__(self, ctx: Context, partner: Partner | None, references: list[str]) -> None:
        self.ctx = ctx
        self.partner = partner
        self.references = references
        self._verdicts: list[str | None] = [None]  # the first interchange passed already
        self._numbers: dict[tuple[str, str, str, bool], str] = {}

    def interchange(self) -> str | None:
        """Where the current unit's interchange was received before, if it was."""
        while len(self._verdicts) < len(self.references):
            index = len(self._verdicts)
            reference = self.references[index]
            earlier = (
                f"interchange {self.references.index(reference) + 1} of this payload"
                if reference in self.references[:index]
                else None
            )
            if earlier is None and self.partner is not None and reference:
                earlier = self.ctx.seen_control_reference(self.partner.id, reference)
            self._verdicts.append(earlier)
        return self._verdicts[len(self.references) - 1] if self.references else None

    def document(self, doc: Document, receiver: Partner, document_id: str) -> str | None:
        """Where the same document (kind, number, sender, receiver) was accepted before."""
        if doc.kind not in DEDUPLICATED_KINDS or self.partner is None:
            return None
        key = (doc.kind.value, receiver.id, doc.id, doc.test)
        earlier = self._numbers.get(key)
        if earlier is None:
            earlier = self.ctx.seen_document(
                doc.kind.value, self.partner.id, receiver.id, doc.id, doc.test
            )
        if earlier is None:
            self._numbers[key] = document_id
        return earlier


def _duplicate_unit(unit: Unit, ctx: Context, earlier: str) -> ProcessedDocument:
    """A message of a further interchange that was received before: not processed again."""
    finding = _finding(
        "duplicate",
        f"this message's interchange was already received as {earlier}",
        Severity.FATAL,
        "intake",
        message=unit.index,
    )
    outcome = UnitOutcome(
        index=unit.index,
        message_type=unit.message_type,
        reference=unit.reference,
        verdict=Verdict.REJECTED,
        findings=[finding],
        business_id=unit.reference,
        document_id=f"{ctx.interchange_id}-{unit.index}",
    )
    return ProcessedDocument(unit, outcome, None)


def _check_sender(claimed: list, partner: Partner | None, ctx: Context) -> list[Finding]:
    """The envelope's sender must be the partner the channel authenticated."""
    if partner is None:
        return [_finding("unknown-partner", "the channel did not identify a known partner")]
    if not claimed:
        return []
    for ident in claimed:
        if ctx.config.partner_by_edifact_id(ident.value, ident.scheme or "") is partner:
            return []
        if ctx.config.partner_by_identifier([ident]) is partner:
            return []
    shown = ", ".join(f"{i.value}" + (f" ({i.scheme})" if i.scheme else "") for i in claimed)
    return [
        _finding(
            "sender-mismatch",
            f"the envelope names sender {shown}, which is not an "
            f"identifier of the authenticated partner {partner.id!r}",
            source="envelope",
        )
    ]


def _process_unit(
    reader: Reader, unit: Unit, ctx: Context, test: bool, checks: DuplicateChecks
) -> ProcessedDocument:
    findings = validate(reader, unit)
    doc: Document | None = None
    queue: str | None = None
    receiver: Partner | None = None
    handled: str | None = None
    reply: dict[str, str] | None = None
    if not rejects(findings):
        translation = translate(reader, unit)
        doc, handled, reply = translation.document, translation.handled, translation.reply
        findings += translation.findings
        if doc is not None and not rejects(findings):
            if test:
                doc.test = True
            queue, receiver, more = route(doc, ctx.partner, ctx, unit.index)
            findings += more
            document_id = f"{ctx.interchange_id}-{unit.index}"
            earlier = checks.document(doc, receiver, document_id) if receiver else None
            if earlier is not None and queue is not None:
                queue = None
                findings.append(
                    _finding(
                        "duplicate-document",
                        f"{doc.kind.value} {doc.id!r} from {ctx.partner.id if ctx.partner else '-'}"
                        f" to {receiver.id if receiver else '-'} was already accepted "
                        f"(document {earlier})",
                        Severity.ERROR,
                        "route",
                        message=unit.index,
                    )
                )
    ok = (queue is not None or handled is not None) and not rejects(findings)
    verdict = (
        (Verdict.ACCEPTED if not findings else Verdict.ACCEPTED_WITH_WARNINGS)
        if ok
        else Verdict.REJECTED
    )
    outcome = UnitOutcome(
        index=unit.index,
        message_type=unit.message_type,
        reference=unit.reference,
        verdict=verdict,
        findings=findings,
        business_id=doc.id if doc else unit.reference,
        document_id=f"{ctx.interchange_id}-{unit.index}",
        queue=queue if ok else None,
        reply=reply if ok else None,
    )
    return ProcessedDocument(
        unit, outcome, doc, receiver.id if receiver else None, bool(doc and doc.test), handled
    )


def _verdict(
    duplicate_of: str | None, findings: list[Finding], units: list[UnitOutcome]
) -> Verdict:
    if duplicate_of is not None:
        return Verdict.DUPLICATE
    if rejects(findings) or not units or all(u.verdict == Verdict.REJECTED for u in units):
        return Verdict.REJECTED
    if findings or any(u.verdict != Verdict.ACCEPTED for u in units):
        return Verdict.ACCEPTED_WITH_WARNINGS
    return Verdict.ACCEPTED
