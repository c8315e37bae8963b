"""Streaming envelope checks around the segment stream: UNB/UNZ, UNG/UNE, UNH/UNT.

`EnvelopeChecker` pulls segments from a `Tokenizer` and yields, lazily and in order:

- `InterchangeStart(interchange)` when a UNB is read (the parsed header is complete),
- `Message` for every UNH..UNT (or UNH..wherever it was cut off), with its segments,
- `InterchangeEnd(interchange)` after UNZ, or when the stream or the next UNB cuts it off;
  `interchange.findings` is complete at that point.

Only one message is held at a time, so memory stays bounded whatever the interchange size.
Every defect is a `Finding` with its UN/EDIFACT service code list 0085 code: interchange and
group defects in `Interchange.findings` (and `EnvelopeChecker.findings`), message defects in
`Message.findings`. Character-set findings of the tokenizer land in the message (or
interchange) whose segment they concern.

Locations: `segment` is the segment number in the interchange (UNB is 1), `element` the
1-based position of the data element after the tag (as `Segment.element`), `message` the
0-based index of the message in its interchange (as `Unit.index`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

from edi_gateway.formats.base import Envelope
from edi_gateway.formats.edifact.segments import Delimiters, Segment
from edi_gateway.formats.edifact.tokenizer import ByteSource, Tokenizer
from edi_gateway.model import Finding, Identifier, Location, Severity

SOURCE = "edifact"
MAX_FINDINGS = 1000
MAX_MESSAGE_SEGMENTS = 100_000
MAX_TRACKED_REFERENCES = 100_000

# UN/EDIFACT service code list 0085, as in the V4 service directory.
SYNTAX_NOT_SUPPORTED = "2"
INVALID_VALUE = "12"
MISSING = "13"
TOO_MANY_CONSTITUENTS = "16"
UNSPECIFIED = "18"
DUPLICATE = "26"
REFERENCES_DO_NOT_MATCH = "28"
COUNT_DOES_NOT_MATCH = "29"
GROUPS_AND_MESSAGES_MIXED = "30"
LOWER_LEVEL_EMPTY = "32"
INVALID_OCCURRENCE = "33"

# The most data elements each service segment may have.
_MAX_ELEMENTS = {"UNB": 11, "UNZ": 2, "UNG": 8, "UNE": 2, "UNH": 7, "UNT": 2, "UNP": 2}


@dataclass
class Group:
    """A functional group (UNG..UNE)."""

    reference: str  # UNG 0048
    message_group: str  # UNG 0038 (syntax 1-3) / the group's message type
    segment: Segment
    message_count: int = 0  # messages and packages: what UNE 0060 counts
    trailer: Segment | None = None


@dataclass
class Interchange:
    """What UNB says, plus what the rest of the interchange told us."""

    index: int  # 0-based position of the interchange in the stream
    offset: int  # byte offset of UNB
    syntax_identifier: str  # UNB S001/0001, e.g. UNOC
    syntax_version: str  # UNB S001/0002, "1".."4"
    charset: str  # Python codec the data was decoded with
    sender_id: str
    sender_qualifier: str | None
    recipient_id: str
    recipient_qualifier: str | None
    control_reference: str  # UNB 0020
    prepared_at: dt.datetime | None
    test: bool  # UNB 0035 = 1
    application_reference: str | None  # UNB 0026
    delimiters: Delimiters
    una: bool  # announced by a UNA segment
    header: Segment
    trailer: Segment | None = None  # UNZ, None while open or when missing
    message_count: int = 0
    package_count: int = 0  # syntax 4 UNO..UNP objects directly in the interchange or its groups
    group_count: int = 0
    findings: list[Finding] = field(default_factory=list)

    def to_envelope(self) -> Envelope:
        """The format-neutral view the pipeline and the acknowledgements use."""
        return Envelope(
            standard="edifact",
            sender=[Identifier(value=self.sender_id, scheme=self.sender_qualifier)],
            recipient=[Identifier(value=self.recipient_id, scheme=self.recipient_qualifier)],
            control_reference=self.control_reference,
            test=self.test,
            prepared_at=self.prepared_at,
            syntax={
                "syntax_identifier": self.syntax_identifier,
                "syntax_version": self.syntax_version,
                "delimiters": self.delimiters,
                "una": self.una,
                "application_reference": self.application_reference,
            },
            findings=list(self.findings),
        )


@dataclass
class Message:
    """One message: UNH, its body, UNT (when present)."""

    index: int  # 0-based position in the interchange
    reference: str  # UNH 0062
    identifier: list[str]  # UNH S009 components: type, version, release, agency, association...
    segments: list[Segment]
    interchange: Interchange
    group: Group | None = None
    complete: bool = False  # closed by its UNT
    dropped: int = 0  # segments beyond the kept maximum: counted, not kept
    findings: list[Finding] = field(default_factory=list)

    @property
    def segment_count(self) -> int:
        """Segments seen, UNH and UNT included (also those beyond the kept maximum)."""
        return len(self.segments) + self.dropped

    @property
    def message_type(self) -> str:
        """S009 type:version:release:agency, e.g. ORDERS:D:96A:UN."""
        return ":".join(self.identifier[:4])

    @property
    def association_code(self) -> str | None:
        return self.identifier[4] if len(self.identifier) > 4 and self.identifier[4] else None


@dataclass
class Package:
    """A syntax 4 package: UNO, the object's raw bytes, UNP."""

    reference: str  # UNO 0800
    object_type: list[str]  # UNO S021 components, e.g. ["13", "application/pdf"]
    data: bytes
    segment: Segment  # the UNO
    interchange: Interchange
    group: Group | None = None


@dataclass
class InterchangeStart:
    interchange: Interchange


@dataclass
class InterchangeEnd:
    interchange: Interchange


Event = InterchangeStart | Message | Package | InterchangeEnd


def _value(segment: Segment, element: int, component: int = 1) -> str:
    return segment.element(element, component)


def parse_date_time(date: str, time: str, version: str) -> tuple[dt.datetime | None, str | None]:
    """UNB S004: (datetime, problem). YYMMDD before syntax 4, CCYYMMDD in syntax 4; HHMM."""
    if not (date.isdigit() and len(date) in (6, 8)):
        return None, f"a date YYMMDD or CCYYMMDD, found {date!r}"
    if not (time.isdigit() and len(time) == 4):
        return None, f"a time HHMM, found {time!r}"
    if len(date) == 6:
        year = int(date[:2])
        year += 2000 if year < 70 else 1900  # a sliding century window, as most translators do
        month, day = int(date[2:4]), int(date[4:6])
    else:
        year, month, day = int(date[:4]), int(date[4:6]), int(date[6:8])
    try:
        value = dt.datetime(year, month, day, int(time[:2]), int(time[2:]))
    except ValueError:
        return None, f"a real calendar date and time, found {date}:{time}"
    expected = 8 if version == "4" else 6
    if len(date) != expected:
        form = "CCYYMMDD" if expected == 8 else "YYMMDD"
        return value, f"the date as {form} for syntax version {version}, found {date!r}"
    return value, None


class EnvelopeChecker:
    """Check the envelopes of every interchange in a stream, yielding events lazily.

    >>> checker = EnvelopeChecker(io.BytesIO(payload))
    >>> for event in checker:
    ...     if isinstance(event, Message): ...
    """

    def __init__(
        self,
        source: ByteSource | Tokenizer,
        *,
        max_findings: int = MAX_FINDINGS,
        max_message_segments: int = MAX_MESSAGE_SEGMENTS,
    ) -> None:
        self.tokenizer = source if isinstance(source, Tokenizer) else Tokenizer(source)
        self.findings: list[Finding] = []  # interchange-level findings of the whole stream
        self.interchange: Interchange | None = None  # the one being read
        self.interchanges = 0
        self._max_findings = max_findings
        self._max_segments = max_message_segments
        self._seen = 0  # tokenizer findings already distributed
        self._message: Message | None = None
        self._group: Group | None = None
        self._references: set[str] = set()
        self._outside_reported = False
        self._mixed_reported = False
        self._package: tuple[str, int] | None = None  # the open UNO: reference, object length

    # -- public iteration -------------------------------------------------------------------

    def __iter__(self) -> Iterator[Event]:
        tokenizer = self.tokenizer
        found = tokenizer.findings
        limit = self._max_segments
        body: list[Segment] | None = None  # the open message's segments, kept in a local
        for segment in tokenizer:
            tag = segment.tag
            if body is not None and (tag[0] != "U" or tag[1] != "N"):  # message body: keep it
                if len(body) < limit:
                    body.append(segment)
                else:
                    self._overflow(segment)
                if len(found) != self._seen:
                    self._drain(self._message)
                continue
            yield from self._service(segment)
            body = self._message.segments if self._message is not None else None
        self._drain(self._message)
        yield from self._close_interchange(None)
        self._drain(None)  # what the tokenizer found after the last interchange

    def messages(self) -> Iterator[Message]:
        """Only the messages (each knows its interchange); findings still accumulate."""
        for event in self:
            if isinstance(event, Message):
                yield event

    # -- service segments -------------------------------------------------------------------

    def _service(self, segment: Segment) -> Iterator[Event]:
        tag = segment.tag
        if tag == "UNB":
            yield from self._close_interchange(segment)
            yield self._open_interchange(segment)
            return
        interchange = self.interchange
        if interchange is None:
            self._outside(segment)
            return
        self._check_constituents(segment)
        if tag == "UNH":
            yield from self._close_message(segment)
            self._open_message(segment, interchange)
        elif tag == "UNT":
            yield from self._end_message(segment)
        elif tag == "UNG":
            yield from self._close_message(segment)
            self._close_group(segment)
            self._open_group(segment, interchange)
        elif tag == "UNE":
            yield from self._close_message(segment)
            self._end_group(segment)
        elif tag == "UNO":
            yield from self._close_message(segment)
            yield self._open_package(segment, interchange)
        elif tag == "UNP":
            self._end_package(segment)
        elif tag == "UNZ":
            self._drain(None)
            yield from self._close_message(segment)
            self._close_group(segment)
            interchange.trailer = segment
            yield from self._close_interchange(None)
        elif self._message is not None:  # a user segment whose tag starts with UN (UNS)
            self._keep(self._message, segment)
            self._drain(self._message)
        else:
            self._drain(None)
            self._interchange_finding(
                INVALID_OCCURRENCE,
                f"Expected UNH, UNG or UNZ between messages; found segment {tag}.",
                segment,
            )

    def _outside(self, segment: Segment) -> None:
        """A segment before any UNB (after a UNA that is not followed by UNB)."""
        self._drain(None)
        if not self._outside_reported:
            self._outside_reported = True
            self._add(
                self.findings,
                MISSING,
                f"Expected UNB to open the interchange; found segment {segment.tag}, and "
                "everything up to the next UNB is ignored.",
                Severity.FATAL,
                Location(segment=segment.number, segment_tag=segment.tag, offset=segment.offset),
            )

    # -- interchange ------------------------------------------------------------------------

    def _open_interchange(self, unb: Segment) -> InterchangeStart:
        tok = self.tokenizer
        version = _value(unb, 1, 2)
        date, time = _value(unb, 4, 1), _value(unb, 4, 2)
        prepared, _ = parse_date_time(date, time, version)
        interchange = Interchange(
            index=self.interchanges,
            offset=unb.offset,
            syntax_identifier=_value(unb, 1, 1),
            syntax_version=version,
            charset=tok.charset.codec,
            sender_id=_value(unb, 2, 1),
            sender_qualifier=_value(unb, 2, 2) or None,
            recipient_id=_value(unb, 3, 1),
            recipient_qualifier=_value(unb, 3, 2) or None,
            control_reference=_value(unb, 5),
            prepared_at=prepared,
            test=_value(unb, 11) == "1",
            application_reference=_value(unb, 7) or None,
            delimiters=tok.delimiters,
            una=tok.una,
            header=unb,
        )
        self.interchanges += 1
        self.interchange = interchange
        self._group = None
        self._references = set()
        self._mixed_reported = False
        self._drain(None)
        self._check_unb(unb, interchange)
        self._check_constituents(unb)
        return InterchangeStart(interchange)

    def _check_unb(self, unb: Segment, ic: Interchange) -> None:
        required = (
            (1, 1, "the syntax identifier (S001/0001)"),
            (1, 2, "the syntax version number (S001/0002)"),
            (2, 1, "the interchange sender (S002/0004)"),
            (3, 1, "the interchange recipient (S003/0010)"),
            (4, 1, "the date of preparation (S004/0017)"),
            (4, 2, "the time of preparation (S004/0019)"),
            (5, 1, "the interchange control reference (0020)"),
        )
        for element, component, what in required:
            if not _value(unb, element, component):
                self._interchange_finding(
                    MISSING, f"Expected {what} in UNB; it is empty.", unb, element, component
                )
        if ic.syntax_version and ic.syntax_version not in ("1", "2", "3", "4"):
            self._interchange_finding(
                SYNTAX_NOT_SUPPORTED,
                f"Expected syntax version 1, 2, 3 or 4 in UNB; found {ic.syntax_version!r}.",
                unb,
                1,
                2,
            )
        date, time = _value(unb, 4, 1), _value(unb, 4, 2)
        if date and time:
            value, problem = parse_date_time(date, time, ic.syntax_version)
            if problem:
                self._interchange_finding(
                    INVALID_VALUE,
                    f"Expected {problem} in UNB S004.",
                    unb,
                    4,
                    1 if "date" in problem else 2,
                    # A 6-digit date in syntax 4 is everyday practice: readable, so a warning.
                    Severity.WARNING if value is not None else Severity.ERROR,
                )
        test = _value(unb, 11)
        if test not in ("", "1"):
            self._interchange_finding(
                INVALID_VALUE,
                f"Expected the test indicator (UNB 0035) to be 1 or absent; found {test!r}.",
                unb,
                11,
                1,
                Severity.ERROR,
            )

    def _close_interchange(self, cut_by: Segment | None) -> Iterator[Event]:
        """End the current interchange: at its UNZ, or cut off by `cut_by` (a new UNB) or EOF."""
        ic = self.interchange
        if ic is None:
            return
        yield from self._close_message(cut_by)
        self._close_group(cut_by)
        unz = ic.trailer
        if unz is None:
            found = (
                f"segment {cut_by.tag} of the next interchange" if cut_by else "the end of the data"
            )
            self._interchange_finding(
                MISSING,
                f"Expected UNZ to close interchange {ic.control_reference!r}; found {found}. "
                "The interchange is truncated.",
                cut_by,
            )
        else:
            self._check_unz(unz, ic)
        self.interchange = None
        yield InterchangeEnd(ic)

    def _check_unz(self, unz: Segment, ic: Interchange) -> None:
        if ic.group_count:
            counted, what = ic.group_count, "group(s)"
        else:
            counted, what = ic.message_count + ic.package_count, "message(s) and package(s)"
        self._check_count(unz, counted, what, f"interchange {ic.control_reference!r}", None)
        self._check_reference(unz, 2, ic.control_reference, "UNB 0020", None)
        if counted == 0:
            self._interchange_finding(
                LOWER_LEVEL_EMPTY,
                f"Expected at least one message or group in interchange {ic.control_reference!r}; "
                "found none.",
                unz,
            )

    # -- groups -----------------------------------------------------------------------------

    def _open_group(self, ung: Segment, ic: Interchange) -> None:
        self._drain(None)
        if ic.message_count and not ic.group_count:
            self._groups_and_messages_mixed(ung)
        ic.group_count += 1
        self._group = Group(reference=_value(ung, 5), message_group=_value(ung, 1), segment=ung)
        if not self._group.reference:
            self._interchange_finding(
                MISSING, "Expected the group reference number (UNG 0048); it is empty.", ung, 5, 1
            )

    def _end_group(self, une: Segment) -> None:
        self._drain(None)
        group = self._group
        if group is None:
            self._interchange_finding(
                INVALID_OCCURRENCE, "Expected UNE only after a UNG; found UNE outside a group.", une
            )
            return
        group.trailer = une
        label = f"group {group.reference!r}"
        self._check_count(une, group.message_count, "message(s)", label, None)
        self._check_reference(une, 2, group.reference, "UNG 0048", None)
        if group.message_count == 0:
            self._interchange_finding(
                LOWER_LEVEL_EMPTY, f"Expected at least one message in {label}; found none.", une
            )
        self._group = None

    def _close_group(self, cut_by: Segment | None) -> None:
        """A group still open when UNG, UNZ, UNB or the end of data arrives misses its UNE."""
        group = self._group
        if group is None:
            return
        found = f"segment {cut_by.tag}" if cut_by else "the end of the data"
        self._interchange_finding(
            MISSING, f"Expected UNE to close group {group.reference!r}; found {found}.", cut_by
        )
        self._group = None

    def _groups_and_messages_mixed(self, segment: Segment) -> None:
        if not self._mixed_reported:
            self._mixed_reported = True
            self._interchange_finding(
                GROUPS_AND_MESSAGES_MIXED,
                "Expected either only groups or only messages directly in the interchange; "
                f"found segment {segment.tag} mixing them.",
                segment,
            )

    # -- packages (syntax 4 objects) --------------------------------------------------------

    def _open_package(self, uno: Segment, ic: Interchange) -> Package:
        self._drain(None)
        group = self._group
        if group is None and ic.group_count:
            self._groups_and_messages_mixed(uno)
        ic.package_count += 1
        if group is not None:
            group.message_count += 1
        package = Package(
            reference=_value(uno, 1),
            object_type=list(uno.elements[2]) if len(uno.elements) > 2 else [],
            data=uno.data or b"",
            segment=uno,
            interchange=ic,
            group=group,
        )
        self._package = (package.reference, len(package.data))
        return package

    def _end_package(self, unp: Segment) -> None:
        self._drain(None)
        if self._package is None:
            self._interchange_finding(
                INVALID_OCCURRENCE, "Expected UNP only after a UNO; found UNP without one.", unp
            )
            return
        reference, length = self._package
        self._package = None
        declared = _value(unp, 1)
        if declared != str(length):
            self._interchange_finding(
                COUNT_DOES_NOT_MATCH,
                f"Expected UNP to state the object length {length}; it says {declared!r}.",
                unp,
                1,
                1,
            )
        self._check_reference(unp, 2, reference, "UNO 0800", None)

    # -- messages ---------------------------------------------------------------------------

    def _open_message(self, unh: Segment, ic: Interchange) -> None:
        group = self._group
        if group is None and ic.group_count:
            self._groups_and_messages_mixed(unh)
        message = Message(
            index=ic.message_count,
            reference=_value(unh, 1),
            identifier=list(unh.elements[1]) if len(unh.elements) > 1 else [],
            segments=[unh],
            interchange=ic,
            group=group,
        )
        ic.message_count += 1
        if group is not None:
            group.message_count += 1
        self._message = message
        self._drain(message)
        self._check_unh(unh, message)

    def _check_unh(self, unh: Segment, message: Message) -> None:
        if not message.reference:
            self._message_finding(
                message,
                MISSING,
                "Expected the message reference number (UNH 0062); it is empty.",
                unh,
                1,
                1,
            )
        names = (
            "message type (0065)",
            "version (0052)",
            "release (0054)",
            "controlling agency (0051)",
        )
        for component, name in enumerate(names, start=1):
            if not _value(unh, 2, component):
                self._message_finding(
                    message,
                    MISSING,
                    f"Expected the {name} in UNH S009; it is empty.",
                    unh,
                    2,
                    component,
                )
        ref = message.reference
        if ref:
            if ref in self._references:
                self._message_finding(
                    message,
                    DUPLICATE,
                    f"Expected a message reference unique in the interchange; {ref!r} repeats.",
                    unh,
                    1,
                    1,
                )
            elif len(self._references) < MAX_TRACKED_REFERENCES:
                self._references.add(ref)

    def _end_message(self, unt: Segment) -> Iterator[Message]:
        message = self._message
        if message is None:
            self._drain(None)
            self._interchange_finding(
                INVALID_OCCURRENCE,
                "Expected UNT only after a UNH; found UNT outside a message.",
                unt,
            )
            return
        self._keep(message, unt)
        message.complete = True
        self._drain(message)
        label = f"message {message.reference!r}"
        self._check_count(
            unt, message.segment_count, "segment(s) (UNH and UNT included)", label, message
        )
        self._check_reference(unt, 2, message.reference, "UNH 0062", message)
        self._message = None
        yield message

    def _close_message(self, cut_by: Segment | None) -> Iterator[Message]:
        """A message still open when UNH, UNG, UNE, UNZ, UNB or the end arrives misses its UNT."""
        message = self._message
        if message is None:
            return
        found = f"segment {cut_by.tag}" if cut_by else "the end of the data"
        self._message_finding(
            message,
            MISSING,
            f"Expected UNT to close message {message.reference!r}; found {found}. "
            "The message is truncated.",
            cut_by,
        )
        self._message = None
        yield message

    def _overflow(self, segment: Segment) -> None:
        if self._message is not None:
            self._keep(self._message, segment)

    def _keep(self, message: Message, segment: Segment) -> None:
        """Add a segment to its message, or only count it beyond the kept maximum."""
        if len(message.segments) < self._max_segments:
            message.segments.append(segment)
            return
        message.dropped += 1
        if message.dropped == 1:
            self._message_finding(
                message,
                UNSPECIFIED,
                f"Expected at most {self._max_segments} segments in one message; the rest of "
                f"message {message.reference!r} is counted but not kept.",
                segment,
                severity=Severity.FATAL,
            )

    # -- shared checks ----------------------------------------------------------------------

    def _check_count(
        self, trailer: Segment, counted: int, what: str, label: str, message: Message | None
    ) -> None:
        value = _value(trailer, 1)
        if not value:
            text, code = f"Expected the count of {what} in {trailer.tag}; it is empty.", MISSING
        elif not value.isdigit():
            text, code = (
                f"Expected a number of {what} in {trailer.tag}; found {value!r}.",
                INVALID_VALUE,
            )
        elif int(value) != counted:
            text = f"Expected {trailer.tag} of {label} to count {counted} {what}; it says {value}."
            code = COUNT_DOES_NOT_MATCH
        else:
            return
        self._finding(message, code, text, trailer, 1, 1)

    def _check_reference(
        self, trailer: Segment, element: int, expected: str, where: str, message: Message | None
    ) -> None:
        found = _value(trailer, element)
        if found != expected:
            self._finding(
                message,
                REFERENCES_DO_NOT_MATCH if found else MISSING,
                f"Expected {trailer.tag} to repeat the reference {expected!r} of {where}; "
                f"found {found!r}.",
                trailer,
                element,
                1,
            )

    def _check_constituents(self, segment: Segment) -> None:
        limit = _MAX_ELEMENTS.get(segment.tag)
        if limit is not None and len(segment.elements) > limit:
            self._finding(
                self._message if segment.tag in ("UNH", "UNT") else None,
                TOO_MANY_CONSTITUENTS,
                f"Expected at most {limit} data elements in {segment.tag}; "
                f"found {len(segment.elements)}.",
                segment,
                limit + 1,
            )

    # -- findings ---------------------------------------------------------------------------

    def _finding(
        self,
        message: Message | None,
        code: str,
        text: str,
        segment: Segment | None,
        element: int | None = None,
        component: int | None = None,
    ) -> None:
        if message is not None:
            self._message_finding(message, code, text, segment, element, component)
        else:
            self._interchange_finding(code, text, segment, element, component)

    def _interchange_finding(
        self,
        code: str,
        text: str,
        segment: Segment | None,
        element: int | None = None,
        component: int | None = None,
        severity: Severity = Severity.FATAL,
    ) -> None:
        location = self._location(segment, element, component, None)
        finding = self._add(self.findings, code, text, severity, location)
        if finding is not None and self.interchange is not None:
            self.interchange.findings.append(finding)

    def _message_finding(
        self,
        message: Message,
        code: str,
        text: str,
        segment: Segment | None,
        element: int | None = None,
        component: int | None = None,
        severity: Severity = Severity.ERROR,
    ) -> None:
        location = self._location(segment, element, component, message.index)
        self._add(message.findings, code, text, severity, location)

    @staticmethod
    def _location(
        segment: Segment | None, element: int | None, component: int | None, message: int | None
    ) -> Location:
        if segment is None:
            return Location(message=message)
        return Location(
            message=message,
            segment=segment.number,
            segment_tag=segment.tag,
            element=element,
            component=component,
            offset=segment.offset,
        )

    def _add(
        self, target: list[Finding], code: str, text: str, severity: Severity, location: Location
    ) -> Finding | None:
        if len(target) >= self._max_findings:
            return None
        finding = Finding(code=code, severity=severity, text=text, location=location, source=SOURCE)
        target.append(finding)
        return finding

    def _drain(self, message: Message | None) -> None:
        """Hand the tokenizer's new findings to the message (or interchange) they concern."""
        found = self.tokenizer.findings
        if len(found) == self._seen:
            return
        new = found[self._seen :]
        self._seen = len(found)
        for finding in new:
            if message is not None:
                located = finding.model_copy(
                    update={
                        "location": finding.location.model_copy(update={"message": message.index})
                    }
                )
                if len(message.findings) < self._max_findings:
                    message.findings.append(located)
            else:
                if len(self.findings) < self._max_findings:
                    self.findings.append(finding)
                if self.interchange is not None:
                    self.interchange.findings.append(finding)


def check(source: ByteSource) -> Iterator[Event]:
    """Shorthand for `iter(EnvelopeChecker(source))`."""
    return iter(EnvelopeChecker(source))
