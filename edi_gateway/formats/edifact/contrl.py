"""CONTRL: the syntax and service report for each received interchange.

One CONTRL per interchange, written back in the partner's own terms: the same syntax identifier
and version, character set and separators (UNA echoed when they sent one), sender and
recipient swapped, serialised by pydifact's `Serializer`.

- UCI answers the interchange: action 7 (acknowledged; the messages too unless a UCM rejects
  them) or 4 (rejected, with the 0085 code of the first interchange-level defect, the service
  segment it concerns and the element); a duplicate interchange is 4 with code 26.
- UCM answers each message: 7 or 4. CONTRL speaks of syntax only, so a message rejected for
  an application reason (unknown buyer, no route, mapping) is 7 here and gets an APERAK.
  Under a rejected UCI only the rejected messages are listed.
- UCS points at a defective segment by its position in the message (UNH is 1), with the 0085
  code when the segment as a whole is wrong; UCD points at a data element (position and
  component) with its 0085 code. A defect outside the message's segments (a missing UNT) is
  the UCM's own 0085 code.
- Messages inside UNG..UNE groups are answered under a UCF per group.

Action 8 (interchange received, not checked) is never sent: the gateway always checks.
A CONTRL is never answered with a CONTRL.

This module also holds what both acknowledgements know about a received interchange
(`InterchangeFacts`, filled in by the reader) and the writer they share (`AckWriter`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from pydifact.control.characters import Characters
from pydifact.segments import Segment as OutSegment
from pydifact.serializer import Serializer

from edi_gateway.formats.base import (
    AckDocument,
    AckOptions,
    AckPolicy,
    Envelope,
    InterchangeOutcome,
    UnitOutcome,
    Verdict,
)
from edi_gateway.formats.edifact.segments import Delimiters
from edi_gateway.formats.edifact.tokenizer import LEVEL_A, charset_for
from edi_gateway.model import Finding

SOURCE = "edifact"  # findings of the syntax checks (tokenizer, envelope, structure)
MEDIA_TYPE = "application/EDIFACT"
ACKNOWLEDGED = "7"
REJECTED = "4"
UNSPECIFIED = "18"
DUPLICATE = "26"
UNKNOWN_SENDER = "23"
MAX_UCS = 999  # SG2 repetitions per message
MAX_UCD = 99  # UCD per UCS
_SERVICE_TAGS = frozenset(("UNA", "UNB", "UNG", "UNE", "UNZ", "UNH", "UNT", "UNO", "UNP"))
# Gateway findings about the interchange as a whole, in 0085 terms.
_GATEWAY_CODES = {
    "duplicate": DUPLICATE,
    "sender-mismatch": UNKNOWN_SENDER,
    "unknown-partner": UNKNOWN_SENDER,
}

Element = str | list[str]


@dataclass(slots=True)
class MessageFacts:
    index: int  # the unit index
    reference: str  # UNH 0062
    identifier: tuple[str, ...]  # UNH S009
    first_segment: int  # UNH's number in the interchange
    last_segment: int  # the last segment's number (UNT when complete)
    group: int | None  # index into InterchangeFacts.groups


@dataclass(slots=True)
class GroupFacts:
    reference: str  # UNG 0048
    sender: tuple[str, str]  # UNG S006: id, qualifier
    recipient: tuple[str, str]  # UNG S007


@dataclass
class InterchangeFacts:
    """What an acknowledgement must know about one received interchange."""

    control_reference: str  # UNB 0020
    sender: tuple[str, str, str]  # UNB S002: id, qualifier, routing address
    recipient: tuple[str, str, str]  # UNB S003
    syntax_identifier: str  # UNOA, UNOC, ...
    syntax_version: str
    delimiters: Delimiters
    una: bool
    test: bool
    ack_requested: bool  # UNB 0031 = 1
    first_unit: int = 0
    messages: list[MessageFacts] = field(default_factory=list)
    groups: list[GroupFacts] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # interchange-level


def interchanges_of(envelope: Envelope) -> list[InterchangeFacts]:
    found = envelope.syntax.get("interchanges")
    if not isinstance(found, list):
        return []
    return [f for f in found if isinstance(f, InterchangeFacts)]


def control_reference(interchange_id: str, purpose: str) -> str:
    """A 14-character interchange reference (UNB 0020) for an acknowledgement, derived from
    what it answers so that reprocessing writes the same one. Digits and capitals only, so
    that it fits every character set."""
    digest = int.from_bytes(hashlib.sha256(f"{interchange_id}/{purpose}".encode()).digest()[:9])
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = []
    for _ in range(14):
        digest, rest = divmod(digest, 36)
        out.append(alphabet[rest])
    return "".join(out)


class _Serializer(Serializer):
    """pydifact's serializer, escaping with the partner's own release character, the syntax 4
    repetition separator included; without a release character, service characters in text
    are replaced (they cannot be written otherwise)."""

    def __init__(self, delimiters: Delimiters, replacement: str) -> None:
        d = delimiters
        super().__init__(
            Characters(
                component_separator=d.component,
                data_separator=d.element,
                decimal_point=d.decimal,
                escape_character=d.release or " ",
                reserved=d.repetition or " ",
                segment_terminator=d.segment,
            )
        )
        service = [d.component, d.element, d.segment, d.release, d.repetition]
        chars = [c for c in service if c]
        if d.release:
            self._table = {ord(c): d.release + c for c in chars}
        else:
            self._table = {ord(c): replacement for c in chars}

    def escape(self, string: str | None) -> str:
        return string.translate(self._table) if string else ""


class AckWriter:
    """Writes one acknowledgement interchange the way the partner wrote the one it answers."""

    def __init__(self, facts: InterchangeFacts, reference: str, now: dt.datetime) -> None:
        self.facts = facts
        self.reference = reference
        self.now = now.astimezone(dt.UTC)
        d = facts.delimiters
        service = {d.component, d.element, d.segment, d.release, d.repetition}
        self.replacement = next(c for c in ". -" if c not in service)
        charset = charset_for(facts.syntax_identifier)
        self.codec = charset.codec if charset is not None and charset.supported else "latin-1"
        repertoire = charset.repertoire if charset is not None else None
        self.repertoire = frozenset(repertoire) if repertoire else None
        self.upper = repertoire is LEVEL_A
        self._serializer = _Serializer(d, self.replacement)

    def value(self, text: str) -> str:
        """A value taken from the received interchange: kept, unless it cannot be encoded."""
        if text.isascii():
            return text
        return self._encodable(text)

    def text(self, text: str) -> str:
        """Free text of ours, fitted to the partner's character repertoire."""
        if self.upper:
            text = text.upper()
        text = "".join(c if c.isprintable() else " " for c in text)
        if self.repertoire is not None:
            return "".join(c if c in self.repertoire else self.replacement for c in text)
        return self._encodable(text)

    def _encodable(self, text: str) -> str:
        out = []
        for char in text:
            try:
                char.encode(self.codec)
            except UnicodeEncodeError:
                char = self.replacement
            out.append(char)
        return "".join(out)

    def interchange(self, messages: list[list[OutSegment]], message_type: str) -> bytes:
        """UNB, each message from UNH to UNT, UNZ, serialised and encoded."""
        f = self.facts
        when = self.now
        date = when.strftime("%Y%m%d" if f.syntax_version == "4" else "%y%m%d")
        unb = segment(
            "UNB",
            [f.syntax_identifier, f.syntax_version],
            [self.value(f.recipient[0]), f.recipient[1], self.value(f.sender[2])],
            [self.value(f.sender[0]), f.sender[1], self.value(f.recipient[2])],
            [date, when.strftime("%H%M")],
            self.reference,
            "",
            message_type,
            "",
            "",
            "",
            "1" if f.test else "",
        )
        body: list[OutSegment] = [unb]
        for message in messages:
            body += message
        body.append(segment("UNZ", str(len(messages)), self.reference))
        text = self._serializer.serialize(body, with_una_header=f.una)
        return text.encode(self.codec, errors="replace")

    def message(
        self, reference: str, identifier: list[str], content: list[OutSegment]
    ) -> list[OutSegment]:
        unh = segment("UNH", reference, identifier)
        unt = segment("UNT", str(len(content) + 2), reference)
        return [unh, *content, unt]


def _position_0098(element: int) -> str:
    """Our findings count data elements from 1 after the tag; CONTRL's 0098 counts the tag
    itself as position 1 (ISO 9735 service directory), so the first data element is 2."""
    return str(element + 1)


def segment(tag: str, *elements: Element) -> OutSegment:
    """A pydifact segment without trailing empty elements and components."""
    cleaned: list[Element] = []
    for element in elements:
        if isinstance(element, list):
            element = list(element)
            while element and not element[-1]:
                element.pop()
            cleaned.append(element if len(element) > 1 else (element[0] if element else ""))
        else:
            cleaned.append(element)
    while cleaned and not cleaned[-1]:
        cleaned.pop()
    return OutSegment(tag, *cleaned)


# -- the report ------------------------------------------------------------------------------


def code_of(finding: Finding) -> str:
    """The 0085 code of a finding: its own when it is one, else the nearest."""
    if finding.code.isdigit():
        return finding.code
    return _GATEWAY_CODES.get(finding.code, UNSPECIFIED)


def is_syntax(finding: Finding) -> bool:
    return finding.source == SOURCE


@dataclass
class _MessageReport:
    facts: MessageFacts
    action: str
    code: str | None  # a defect of the message as a whole
    segments: list[OutSegment]  # UCS/UCD


def _message_report(m: MessageFacts, unit: UnitOutcome, w: AckWriter) -> _MessageReport:
    errors = [f for f in unit.findings if is_syntax(f) and f.rejects]
    message_code: str | None = None
    positions: dict[int, tuple[list[str | None], list[OutSegment]]] = {}
    for f in errors:
        number = f.location.segment
        if number is None or not m.first_segment <= number <= m.last_segment:
            message_code = message_code or code_of(f)
            continue
        position = number - m.first_segment + 1
        whole, details = positions.setdefault(position, ([None], []))
        if f.location.element is None:
            whole[0] = whole[0] or code_of(f)
        elif len(details) < MAX_UCD:
            where = [_position_0098(f.location.element)]
            if f.location.component is not None:
                where.append(str(f.location.component))
            details.append(segment("UCD", code_of(f), where))
    out: list[OutSegment] = []
    for position in sorted(positions)[:MAX_UCS]:
        whole, details = positions[position]
        out.append(segment("UCS", str(position), whole[0] or ""))
        out += details
    if errors and not out and message_code is None:
        message_code = code_of(errors[0])
    return _MessageReport(m, REJECTED if errors else ACKNOWLEDGED, message_code, out)


def _interchange_code(
    facts: InterchangeFacts,
    common: list[Finding],
    verdict: Verdict,
    units: dict[int, UnitOutcome],
) -> tuple[str, Finding | None]:
    """UCI action and the finding that decides it."""
    if verdict == Verdict.DUPLICATE:
        dup = next((f for f in common if f.code == "duplicate"), None)
        return REJECTED, dup
    for m in facts.messages:  # one interchange of several in the payload was received before
        unit = units.get(m.index)
        dup = next((f for f in unit.findings if f.code == "duplicate"), None) if unit else None
        if dup is not None:
            return REJECTED, dup
    for f in [*facts.findings, *common]:
        if f.rejects:
            return REJECTED, f
    return ACKNOWLEDGED, None


def build_contrl(
    facts: InterchangeFacts,
    outcome: InterchangeOutcome,
    reference: str,
    now: dt.datetime,
    units: dict[int, UnitOutcome] | None = None,
) -> tuple[bytes, bool]:
    """The CONTRL interchange answering `facts`, and whether it is wholly positive."""
    units = units if units is not None else {u.index: u for u in outcome.units}
    common = [f for f in outcome.findings if not is_syntax(f)]
    w = AckWriter(facts, reference, now)
    action, cause = _interchange_code(facts, common, outcome.verdict, units)
    uci: list[Element] = [
        w.value(facts.control_reference),
        [w.value(facts.sender[0]), facts.sender[1]],
        [w.value(facts.recipient[0]), facts.recipient[1]],
        action,
    ]
    if outcome.verdict == Verdict.DUPLICATE or (cause is not None and cause.code == "duplicate"):
        uci.append(DUPLICATE)
    elif cause is not None:
        tag = cause.location.segment_tag or ""
        element = cause.location.element
        where = [_position_0098(element) if element else "", str(cause.location.component or "")]
        uci += [
            code_of(cause),
            tag if tag in _SERVICE_TAGS else "",
            where if cause.location.element else "",
        ]
    content = [segment("UCI", *uci)]
    positive = action == ACKNOWLEDGED
    reports = []
    for m in facts.messages:
        unit = units.get(m.index)
        if unit is None:
            continue
        report = _message_report(m, unit, w)
        positive = positive and report.action == ACKNOWLEDGED
        if action == ACKNOWLEDGED or report.action == REJECTED:
            reports.append(report)
    content += _responses(facts, reports, action, w)
    syntax_version = facts.syntax_version
    identifier = ["CONTRL", "4", "1", "UN"] if syntax_version == "4" else ["CONTRL", "D", "3", "UN"]
    message = w.message("1", identifier, content)
    return w.interchange([message], ""), positive


def _ucm(report: _MessageReport, w: AckWriter) -> list[OutSegment]:
    m = report.facts
    identifier = [w.value(part) for part in m.identifier[:5]]
    ucm = segment("UCM", w.value(m.reference), identifier, report.action, report.code or "")
    return [ucm, *report.segments]


def _responses(
    facts: InterchangeFacts, reports: list[_MessageReport], action: str, w: AckWriter
) -> list[OutSegment]:
    """SG1 (messages directly in the interchange), then SG3 (a UCF per group)."""
    out: list[OutSegment] = []
    for report in reports:
        if report.facts.group is None:
            out += _ucm(report, w)
    for index, group in enumerate(facts.groups):
        members = [r for r in reports if r.facts.group == index]
        if not members and action == REJECTED:
            continue
        out.append(
            segment(
                "UCF",
                w.value(group.reference),
                [w.value(group.sender[0]), group.sender[1]],
                [w.value(group.recipient[0]), group.recipient[1]],
                action,
            )
        )
        for report in members:
            out += _ucm(report, w)
    return out


def _answers_contrl(facts: InterchangeFacts) -> bool:
    return bool(facts.messages) and all(m.identifier[:1] == ("CONTRL",) for m in facts.messages)


def contrl_acks(
    outcome: InterchangeOutcome, options: AckOptions, now: dt.datetime
) -> list[AckDocument]:
    """A CONTRL for every interchange of the payload, as the partner's options ask."""
    policy = options.syntax_ack
    if policy == AckPolicy.NEVER:
        return []
    units = {u.index: u for u in outcome.units}
    acks = []
    for number, facts in enumerate(interchanges_of(outcome.envelope), start=1):
        if _answers_contrl(facts):
            continue
        reference = control_reference(outcome.interchange_id, f"contrl/{number}")
        content, positive = build_contrl(facts, outcome, reference, now, units)
        if policy == AckPolicy.ON_ERROR and positive and not facts.ack_requested:
            continue
        acks.append(
            AckDocument(
                kind="contrl",
                media_type=MEDIA_TYPE,
                filename=f"CONTRL-{outcome.interchange_id}-{number}.edi",
                content=content,
                positive=positive,
            )
        )
    return acks
