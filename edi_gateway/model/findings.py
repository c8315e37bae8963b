"""Findings: what a stage found wrong (or worth saying) about an interchange or a document.

A finding is a value, never an exception thrown across layers: one bad segment must not hide
the next nine. The `code` is the standard's own code where there is one (UN/EDIFACT service
code list 0085 for syntax errors, an EN 16931 rule id such as ``BR-01``, an XSD error, ...),
so the same value can go into a CONTRL, an APERAK or an ApplicationResponse unchanged.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Severity(StrEnum):
    FATAL = "fatal"  # the interchange (or document) cannot be accepted
    ERROR = "error"  # the document is invalid
    WARNING = "warning"  # accepted, but the sender should know
    INFO = "info"

    @property
    def rejects(self) -> bool:
        return self in (Severity.FATAL, Severity.ERROR)


class Location(BaseModel):
    """Where a finding points: any of the coordinates the format knows."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    message: int | None = Field(
        default=None, description="index of the document in the interchange"
    )
    segment: int | None = Field(default=None, description="EDIFACT segment number (1-based)")
    segment_tag: str | None = None
    element: int | None = Field(default=None, description="EDIFACT element position (1-based)")
    component: int | None = Field(default=None, description="EDIFACT component position (1-based)")
    xpath: str | None = None
    path: str | None = Field(default=None, description="JSON pointer or dotted path")
    line: int | None = None
    offset: int | None = Field(default=None, description="byte offset in the raw payload")

    def __str__(self) -> str:
        parts = []
        if self.message is not None:
            parts.append(f"message {self.message}")
        if self.segment is not None:
            parts.append(
                f"segment {self.segment}" + (f" ({self.segment_tag})" if self.segment_tag else "")
            )
        if self.element is not None:
            parts.append(f"element {self.element}")
        if self.component is not None:
            parts.append(f"component {self.component}")
        for label, value in (
            ("xpath", self.xpath),
            ("path", self.path),
            ("line", self.line),
            ("offset", self.offset),
        ):
            if value is not None:
                parts.append(f"{label} {value}")
        return ", ".join(parts)


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(description="the standard's code: 0085 syntax error code, rule id, ...")
    severity: Severity = Severity.ERROR
    text: str = Field(description="a plain sentence: what was expected, what was found")
    location: Location = Field(default_factory=Location)
    source: str = Field(
        default="gateway",
        description="which check produced it: edifact, xsd, en16931, json-schema, route, ...",
    )

    @property
    def rejects(self) -> bool:
        return self.severity.rejects

    def __str__(self) -> str:
        where = str(self.location)
        return f"[{self.severity}] {self.code}: {self.text}" + (f" ({where})" if where else "")


def rejects(findings: list[Finding] | tuple[Finding, ...]) -> bool:
    """True when any finding makes the subject unacceptable."""
    return any(f.rejects for f in findings)
