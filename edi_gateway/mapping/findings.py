"""What translation can find wrong, with stable codes an APERAK can carry."""

from __future__ import annotations

from enum import StrEnum

from edi_gateway.formats.edifact.segments import Segment
from edi_gateway.model import Finding, Location, Severity

SOURCE = "mapping"


class MappingCode(StrEnum):
    MISSING = "mapping"  # a mandatory canonical field has no source in the message
    INVALID_VALUE = "mapping-invalid-value"  # a number or date that does not parse
    REFUSED = "mapping-refused"  # the canonical model refuses a translated value
    UNSUPPORTED = "mapping-unsupported"  # no mapping for this message type and directory


class Run:
    """The state of one translation: the decimal mark and the findings so far."""

    __slots__ = ("decimal_mark", "findings", "message_index", "reported")

    def __init__(self, decimal_mark: str, message_index: int | None) -> None:
        self.decimal_mark = decimal_mark
        self.message_index = message_index
        self.findings: list[Finding] = []
        self.reported: set[str] = set()  # canonical fields already explained by a finding

    def add(
        self,
        code: MappingCode,
        text: str,
        field: str,
        segment: Segment | None = None,
        position: tuple[int, int] | None = None,
        severity: Severity = Severity.ERROR,
    ) -> None:
        self.reported.add(field)
        self.findings.append(
            Finding(
                code=code.value,
                severity=severity,
                text=text,
                location=self.location(segment, position, field),
                source=SOURCE,
            )
        )

    def location(
        self, segment: Segment | None, position: tuple[int, int] | None, field: str | None
    ) -> Location:
        return Location(
            message=self.message_index,
            segment=segment.number if segment is not None and segment.number else None,
            segment_tag=segment.tag if segment is not None else None,
            element=position[0] + 1 if position is not None else None,
            component=position[1] + 1 if position is not None else None,
            path=field,
        )
