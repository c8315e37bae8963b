"""The one small interface every format implements, and the registry that finds them.

The pipeline never knows which standard it is driving: it asks the registry which format
recognises the first bytes (detect), opens a reader on the raw payload, iterates its units
(split), and calls validate, translate and acknowledge. A format module never opens a socket,
a database or a file it was not handed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, BinaryIO, Protocol

from edi_gateway.model import Document, DocumentKind, Finding, Identifier


@dataclass
class Envelope:
    """What a format read from the interchange envelope (UNB, SBDH, ...)."""

    standard: str  # "edifact", "ubl", "cii", "json"
    sender: list[Identifier] = field(default_factory=list)
    recipient: list[Identifier] = field(default_factory=list)
    control_reference: str | None = None  # UNB 0020, SBDH instance identifier, ...
    test: bool = False
    prepared_at: dt.datetime | None = None
    # Facts an acknowledgement must echo: syntax id/version, separators, UBL version, ...
    syntax: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)


@dataclass
class Unit:
    """One business message inside an interchange (an EDIFACT message, an XML document)."""

    index: int  # 0-based position in the interchange
    message_type: str  # "ORDERS:D:96A:UN", "urn:...:Invoice-2", "order", ...
    reference: str | None = None  # UNH message reference, document id
    kind: DocumentKind | None = None
    body: Any = None  # format-private: segments, an lxml tree, a dict
    findings: list[Finding] = field(default_factory=list)  # found while splitting


@dataclass
class Translation:
    document: Document | None
    findings: list[Finding] = field(default_factory=list)
    # A command message the format acted on instead of translating it (a UBL CallForTenders
    # registers a call): what was done. The unit is then accepted with nothing to route.
    handled: str | None = None
    # What the acknowledgement must carry back for a command message, line by line (a
    # registered call's opening officers' sealed shares): name -> text.
    reply: dict[str, str] | None = None


class Reader(Protocol):
    """An open interchange. `units()` streams; the rest work on one unit at a time."""

    envelope: Envelope

    def units(self) -> Iterator[Unit]: ...

    def validate(self, unit: Unit) -> list[Finding]: ...

    def translate(self, unit: Unit) -> Translation: ...

    def trailer_findings(self) -> list[Finding]:
        """Findings only known after the last unit (UNZ counts, truncation)."""
        ...


class Verdict(StrEnum):
    ACCEPTED = "accepted"
    ACCEPTED_WITH_WARNINGS = "accepted_with_warnings"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"


@dataclass
class UnitOutcome:
    index: int
    message_type: str
    reference: str | None
    verdict: Verdict
    findings: list[Finding]
    business_id: str | None = None  # order / invoice / tender number
    document_id: str | None = None  # our id for the document
    queue: str | None = None
    reply: dict[str, str] | None = None  # see `Translation.reply`


@dataclass
class InterchangeOutcome:
    """Everything an acknowledgement may need to say about one processed interchange."""

    interchange_id: str
    partner_id: str | None
    received_at: dt.datetime
    raw_sha256: str
    envelope: Envelope
    verdict: Verdict
    findings: list[Finding]  # interchange-level (envelope, trailer, partner, duplicate)
    units: list[UnitOutcome]


class AckPolicy(StrEnum):
    ALWAYS = "always"
    ON_ERROR = "on_error"
    NEVER = "never"


@dataclass(frozen=True)
class AckOptions:
    """A partner's choice of acknowledgements (from its partner file)."""

    syntax_ack: AckPolicy = AckPolicy.ALWAYS  # CONTRL
    application_ack: AckPolicy = AckPolicy.ON_ERROR  # APERAK / ApplicationResponse
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AckDocument:
    """An acknowledgement built by a format, ready for the outbox."""

    kind: str  # "contrl", "aperak", "application-response", "receipt", "tender-receipt"
    media_type: str
    filename: str
    content: bytes
    positive: bool


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 100 * 1024 * 1024
    max_units: int = 1_000_000


class Format(Protocol):
    name: str

    def sniff(self, head: bytes) -> bool:
        """True when the first bytes (up to 4 KiB) look like this format."""
        ...

    def open(self, source: BinaryIO, limits: Limits) -> Reader: ...

    def acknowledge(
        self, outcome: InterchangeOutcome, options: AckOptions
    ) -> list[AckDocument]: ...


class Registry:
    """Formats in the order they are asked. Composed explicitly by the app, never global."""

    def __init__(self, formats: list[Format] | None = None) -> None:
        self._formats: list[Format] = list(formats or [])

    def add(self, fmt: Format) -> None:
        self._formats.append(fmt)

    def detect(self, head: bytes) -> Format | None:
        return next((f for f in self._formats if f.sniff(head)), None)

    def get(self, name: str) -> Format:
        for f in self._formats:
            if f.name == name:
                return f
        raise KeyError(name)

    def __iter__(self) -> Iterator[Format]:
        return iter(self._formats)
