"""`EdifactFormat`: UN/EDIFACT interchanges behind the one `Format` interface.

Composition (done once by the app):

    from edi_gateway.mapping import translate_message
    settings = EdifactFormatSettings.from_config(config, translator=translate_message)
    registry.add(EdifactFormat(settings))

The reader streams: `open` reads up to the first UNB (the envelope), `units` yields one unit per
UNH..UNT while the tokenizer reads on, so memory does not depend on the interchange size. A
unit's segments are released when the next unit is read: validate and translate a unit before
asking for the next (the pipeline does exactly that).

Several interchanges in one payload (concatenated files are everyday practice) are all read:
their messages are the payload's units, numbered on across interchanges; every interchange
after the first must come from the same sender, and each one gets its own CONTRL. What each
interchange said (syntax, separators, messages, groups) is kept, small, in
`envelope.syntax["interchanges"]` for the acknowledgements; their control references (UNB 0020)
are also listed, growing as they are read, in `envelope.syntax["control_references"]`, so that
the pipeline can check each one for a resent interchange.

A CONTRL a partner sends (its answer to an interchange of ours, e.g. an APERAK) is not a
business document: `translate` reports it as handled, saying what it acknowledged, and it is
neither routed nor answered.

Translation is not done here: the composition root hands in the mapping engine as a
`TranslateFunction` (formats sit below `mapping` in the layers), and without one every message
gets a `no-mapping` finding.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

from pydantic import ValidationError

from edi_gateway.formats.base import (
    AckDocument,
    AckOptions,
    Envelope,
    InterchangeOutcome,
    Limits,
    Translation,
    Unit,
)
from edi_gateway.formats.edifact import aperak, contrl
from edi_gateway.formats.edifact.contrl import GroupFacts, InterchangeFacts, MessageFacts
from edi_gateway.formats.edifact.directory import DirectoryCatalog
from edi_gateway.formats.edifact.envelope import (
    MAX_MESSAGE_SEGMENTS,
    EnvelopeChecker,
    Event,
    Interchange,
    InterchangeEnd,
    InterchangeStart,
    Message,
)
from edi_gateway.formats.edifact.segments import Segment
from edi_gateway.formats.edifact.structure import MessageValidator, schema_for
from edi_gateway.formats.edifact.tokenizer import Tokenizer
from edi_gateway.model import DocumentKind, Finding, Identifier, Location, Severity

if TYPE_CHECKING:
    from edi_gateway.config import Config

SOURCE = "edifact"
RECIPIENT_NOT_ACTUAL = "7"  # 0085: interchange recipient not actual recipient
VALUE_NOT_SUPPORTED = "14"  # 0085: value not supported in this position
UNKNOWN_SENDER = "23"  # 0085: unknown interchange sender
NO_MAPPING = "no-mapping"

# What a message type becomes once translated (UNH S009 0065).
KINDS = {
    "ORDERS": DocumentKind.ORDER,
    "INVOIC": DocumentKind.INVOICE,
    "QUOTES": DocumentKind.TENDER,
}

# An interchange starts at the very beginning (after a BOM and whitespace) ...
_START = re.compile(rb"\A(?:\xef\xbb\xbf)?[ \t\r\n]*UN[AB]")
# ... or after a foreign header such as SAGE COALA's, at a line or segment boundary.
_LATE_START = re.compile(rb"(?:^|['\r\n])[ \t]*(?:UNA[^\w\s]{2}...[^\w ]|UNB\+[A-Z]{4}[^\w\s])")


# The mapping engine as the format sees it: a message's segments, the decimal mark advised in
# UNA and the unit index in, a canonical document and findings out
# (`edi_gateway.mapping.translate_message` has this shape).
TranslateFunction = Callable[[Sequence[Segment], str, int | None], Translation]


@dataclass(frozen=True)
class EdifactFormatSettings:
    """What the app configures for EDIFACT.

    own_ids: the gateway's interchange ids (UNB S003 must name one); empty: not checked.
    catalog: the directories messages are validated against.
    translator: the mapping engine; None: messages are validated but not translated.
    strict_repertoire: report printable ASCII outside UNOA/UNOB as errors, not warnings.
    clock: the preparation time written into acknowledgements.
    """

    own_ids: tuple[Identifier, ...] = ()
    catalog: DirectoryCatalog = field(default_factory=DirectoryCatalog)
    translator: TranslateFunction | None = None
    strict_repertoire: bool = False
    max_message_segments: int = MAX_MESSAGE_SEGMENTS
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)

    @classmethod
    def from_config(
        cls, config: Config, translator: TranslateFunction | None = None
    ) -> EdifactFormatSettings:
        own = tuple(
            Identifier(value=i.id, scheme=i.qualifier or None)
            for i in config.settings.gateway.edifact_ids
        )
        return cls(own_ids=own, translator=translator)


@dataclass
class _Body:
    """Format-private content of a unit: the message (segments until released)."""

    message: Message
    facts: InterchangeFacts
    released: bool = False

    @property
    def segments(self) -> list[Segment]:
        if self.released:
            raise RuntimeError(
                "this unit's segments were released when the next unit was read; "
                "validate and translate a unit before reading the next one"
            )
        return self.message.segments


def _body(unit: Unit) -> _Body:
    if not isinstance(unit.body, _Body):
        raise TypeError("this unit was not produced by EdifactFormat")
    return unit.body


def _identifier(value: str, qualifier: str | None) -> Identifier | None:
    try:
        return Identifier(value=value, scheme=qualifier or None)
    except ValidationError:
        return None


def _finding(code: str, text: str, severity: Severity, **where: int | str | None) -> Finding:
    return Finding(
        code=code, severity=severity, text=text, location=Location(**where), source=SOURCE
    )


def _facts(ic: Interchange) -> InterchangeFacts:
    unb = ic.header
    return InterchangeFacts(
        control_reference=ic.control_reference,
        sender=(ic.sender_id, ic.sender_qualifier or "", unb.element(2, 3)),
        recipient=(ic.recipient_id, ic.recipient_qualifier or "", unb.element(3, 3)),
        syntax_identifier=ic.syntax_identifier,
        syntax_version=ic.syntax_version,
        delimiters=ic.delimiters,
        una=ic.una,
        test=ic.test,
        ack_requested=unb.element(9) == "1",
    )


class EdifactReader:
    """An open EDIFACT payload: the envelope of its first interchange, then its messages."""

    def __init__(self, source: BinaryIO, settings: EdifactFormatSettings) -> None:
        self._settings = settings
        tokenizer = Tokenizer(source, strict_repertoire=settings.strict_repertoire)
        self._checker = EnvelopeChecker(
            tokenizer, max_message_segments=settings.max_message_segments
        )
        self._events: Iterator[Event] = iter(self._checker)
        self._interchanges: list[InterchangeFacts] = []
        self._references: list[str] = []  # UNB 0020 of each interchange, as read
        self._extra: list[Finding] = []  # interchange-level findings of ours after `open`
        self._next_index = 0
        self._previous: _Body | None = None
        first = self._first_interchange()
        self.envelope = self._envelope(first)
        self._reported = len(self._checker.findings)

    # -- envelope ----------------------------------------------------------------------------

    def _first_interchange(self) -> Interchange | None:
        for event in self._events:
            if isinstance(event, InterchangeStart):
                self._start(event.interchange)
                return event.interchange
        return None

    def _envelope(self, first: Interchange | None) -> Envelope:
        if first is None:
            return Envelope(standard="edifact", findings=list(self._checker.findings))
        facts = self._interchanges[0]
        sender = _identifier(first.sender_id, first.sender_qualifier)
        recipient = _identifier(first.recipient_id, first.recipient_qualifier)
        return Envelope(
            standard="edifact",
            sender=[sender] if sender else [],
            recipient=[recipient] if recipient else [],
            control_reference=first.control_reference or None,
            test=first.test,
            prepared_at=first.prepared_at,
            syntax={
                "syntax_identifier": first.syntax_identifier,
                "syntax_version": first.syntax_version,
                "delimiters": first.delimiters,
                "una": first.una,
                "charset": first.charset,
                "application_reference": first.application_reference,
                "interchanges": self._interchanges,
                "control_references": self._references,
            },
            findings=[*self._checker.findings, *facts.findings],
        )

    def _start(self, ic: Interchange) -> None:
        """A UNB was read: keep its facts and check who it is from and for."""
        facts = _facts(ic)
        facts.first_unit = self._next_index
        self._interchanges.append(facts)
        self._references.append(ic.control_reference)
        facts.findings += self._recipient_findings(ic)
        if len(self._interchanges) > 1:
            facts.findings += self._sender_findings(ic)
            self._extra += facts.findings

    def _recipient_findings(self, ic: Interchange) -> list[Finding]:
        own = self._settings.own_ids
        if not own or not ic.recipient_id:
            return []
        for ident in own:
            if ident.value == ic.recipient_id and (
                not ident.scheme
                or not ic.recipient_qualifier
                or ident.scheme == ic.recipient_qualifier
            ):
                return []
        ours = ", ".join(f"{i.value}" + (f":{i.scheme}" if i.scheme else "") for i in own)
        found = ic.recipient_id + (f":{ic.recipient_qualifier}" if ic.recipient_qualifier else "")
        return [
            _finding(
                RECIPIENT_NOT_ACTUAL,
                f"Expected this gateway ({ours}) as the interchange recipient (UNB S003); "
                f"found {found}.",
                Severity.FATAL,
                segment=1,
                segment_tag="UNB",
                element=3,
                component=1,
                offset=ic.offset,
            )
        ]

    def _sender_findings(self, ic: Interchange) -> list[Finding]:
        first = self._interchanges[0].sender
        if (ic.sender_id, ic.sender_qualifier or "") == first[:2]:
            return []
        return [
            _finding(
                UNKNOWN_SENDER,
                f"Expected every interchange of the payload to come from {first[0]}:{first[1]}; "
                f"interchange {ic.control_reference!r} names sender "
                f"{ic.sender_id}:{ic.sender_qualifier or ''}.",
                Severity.FATAL,
                segment=1,
                segment_tag="UNB",
                element=2,
                component=1,
                offset=ic.offset,
            )
        ]

    # -- units ---------------------------------------------------------------------------------

    def units(self) -> Iterator[Unit]:
        for event in self._events:
            if isinstance(event, Message):
                yield self._hand_out(self._unit(event))
            elif isinstance(event, InterchangeStart):
                self._start(event.interchange)
            elif isinstance(event, InterchangeEnd):
                self._end(event.interchange)

    def _hand_out(self, unit: Unit) -> Unit:
        """The unit goes to the caller: the one before it lets go of its segments."""
        self._release()
        self._previous = _body(unit)
        return unit

    def _unit(self, message: Message) -> Unit:
        facts = self._interchanges[-1]
        index = self._next_index
        self._next_index += 1
        unh = message.segments[0]
        identifier = tuple(message.identifier)
        if facts.messages and facts.messages[-1].identifier == identifier:
            identifier = facts.messages[-1].identifier  # one tuple for a run of the same type
        facts.messages.append(
            MessageFacts(
                index=index,
                reference=message.reference,
                identifier=identifier,
                first_segment=unh.number,
                last_segment=unh.number + message.segment_count - 1,
                group=self._group_index(message, facts),
            )
        )
        findings = message.findings
        if index != message.index:  # a later interchange: number the units on
            findings = [_renumbered(f, index) for f in findings]
        return Unit(
            index=index,
            message_type=message.message_type,
            reference=message.reference or None,
            kind=KINDS.get(message.identifier[0] if message.identifier else ""),
            body=_Body(message, facts),
            findings=findings,
        )

    def _group_index(self, message: Message, facts: InterchangeFacts) -> int | None:
        group = message.group
        if group is None:
            return None
        if not facts.groups or facts.groups[-1].reference != group.reference:
            ung = group.segment
            facts.groups.append(
                GroupFacts(
                    reference=group.reference,
                    sender=(ung.element(2, 1), ung.element(2, 2)),
                    recipient=(ung.element(3, 1), ung.element(3, 2)),
                )
            )
        return len(facts.groups) - 1

    def _release(self) -> None:
        if self._previous is not None:
            self._previous.released = True
            self._previous.message.segments = []
            self._previous = None

    def _end(self, ic: Interchange) -> None:
        facts = self._interchanges[-1]
        known = {id(f) for f in facts.findings}
        facts.findings += [f for f in ic.findings if id(f) not in known]

    def trailer_findings(self) -> list[Finding]:
        for event in self._events:  # a caller that stopped early: read on for the counts
            if isinstance(event, InterchangeStart):
                self._start(event.interchange)
            elif isinstance(event, InterchangeEnd):
                self._end(event.interchange)
        later = self._checker.findings[self._reported :]
        self._reported = len(self._checker.findings)
        extra, self._extra = self._extra, []
        return [*later, *extra]

    # -- validate and translate ----------------------------------------------------------------

    def validate(self, unit: Unit) -> list[Finding]:
        body = _body(unit)
        return check_message(
            body.segments,
            self._settings.catalog,
            body.facts.syntax_version,
            body.facts.delimiters.decimal,
            unit.index,
            body.message.complete,
        )

    def translate(self, unit: Unit) -> Translation:
        body = _body(unit)
        if unit.message_type.startswith("CONTRL"):
            return Translation(None, handled=contrl_received(body.segments))
        return translate_segments(
            self._settings.translator,
            body.segments,
            body.facts.delimiters.decimal,
            unit.index,
            unit.message_type,
        )


# -- validate and translate -------------------------------------------------------------------


def check_message(
    segments: list[Segment],
    catalog: DirectoryCatalog,
    syntax_version: str,
    decimal_mark: str,
    index: int,
    complete: bool,
) -> list[Finding]:
    """Structure findings of one message against the directory its UNH names."""
    unh = segments[0]
    syntax = int(syntax_version) if syntax_version.isdigit() else 3
    schema = schema_for(unh, catalog, syntax)
    if schema is None:
        message_type = ":".join(unh.elements[1][:4]) if len(unh.elements) > 1 else ""
        return [
            _finding(
                VALUE_NOT_SUPPORTED,
                f"Expected a message type and directory this gateway knows; found "
                f"{message_type!r}, which it can neither validate nor translate.",
                Severity.ERROR,
                message=index,
                segment=unh.number,
                segment_tag="UNH",
                element=2,
                component=1,
            )
        ]
    validator = MessageValidator(schema, decimal_mark, index, syntax)
    findings: list[Finding] = []
    for segment in segments:
        findings += validator.feed(segment)
    if complete:  # a truncated message already says its UNT is missing
        findings += validator.finish()
    return findings


def translate_segments(
    translator: TranslateFunction | None,
    segments: list[Segment],
    decimal_mark: str,
    index: int,
    message_type: str,
) -> Translation:
    if translator is None:
        return Translation(
            None,
            [
                Finding(
                    code=NO_MAPPING,
                    severity=Severity.ERROR,
                    text=f"{message_type} messages are validated but not translated: "
                    "no mapping engine is configured",
                    location=Location(message=index),
                    source="mapping",
                )
            ],
        )
    return translator(segments, decimal_mark, index)


def contrl_received(segments: list[Segment]) -> str:
    """What a partner's CONTRL says about our interchange (UCI: reference and action)."""
    uci = next((s for s in segments if s.tag == "UCI"), None)
    if uci is None:
        return "CONTRL without UCI received; nothing to record"
    reference, action, error = uci.element(1), uci.element(4), uci.element(5)
    meaning = {"4": "rejected", "7": "acknowledged", "8": "received"}.get(action, action)
    detail = f" (0085 code {error})" if error else ""
    return f"CONTRL received: our interchange {reference} was {meaning}{detail}"


def _renumbered(finding: Finding, index: int) -> Finding:
    location = finding.location.model_copy(update={"message": index})
    return finding.model_copy(update={"location": location})


class EdifactFormat:
    name = "edifact"

    def __init__(self, settings: EdifactFormatSettings | Config | None = None) -> None:
        if settings is None:
            settings = EdifactFormatSettings()
        elif not isinstance(settings, EdifactFormatSettings):
            settings = EdifactFormatSettings.from_config(settings)
        self.settings = settings

    def sniff(self, head: bytes) -> bool:
        head = head[:4096]
        return _START.match(head) is not None or _LATE_START.search(head) is not None

    def open(self, source: BinaryIO, limits: Limits) -> EdifactReader:
        return EdifactReader(source, self.settings)

    def acknowledge(self, outcome: InterchangeOutcome, options: AckOptions) -> list[AckDocument]:
        now = self.settings.clock()
        return [
            *contrl.contrl_acks(outcome, options, now),
            *aperak.aperak_acks(outcome, options, now),
        ]
