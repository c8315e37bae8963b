"""The canonical JSON format: a document (or `{"documents": [...]}`) in the canonical model.

Validation is the canonical model itself (pydantic), which is also what `edi-gateway schema`
exports as JSON Schema, so the published schema and the check can never disagree.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, BinaryIO

from pydantic import TypeAdapter, ValidationError

from edi_gateway.formats.base import (
    AckDocument,
    AckOptions,
    AckPolicy,
    Envelope,
    InterchangeOutcome,
    Limits,
    Translation,
    Unit,
    Verdict,
)
from edi_gateway.model import Document, DocumentKind, Finding, Location, Severity

DOCUMENT = TypeAdapter(Document)
MAX_BATCH = 10_000


def _pointer(loc: tuple[int | str, ...]) -> str:
    # pydantic puts the discriminator value ("order") first in the path; it is no JSON key
    if loc and loc[0] in _KINDS:
        loc = loc[1:]
    return "/" + "/".join(str(p) for p in loc)


_KINDS = {k.value for k in DocumentKind}


class JsonReader:
    def __init__(self, data: bytes) -> None:
        self.envelope = Envelope(standard="json")
        self._items: list[Any] = []
        try:
            parsed = json.loads(data)
        except UnicodeDecodeError as exc:
            self.envelope.findings.append(
                Finding(
                    code="json-encoding",
                    severity=Severity.FATAL,
                    source="json",
                    text=f"the payload is not UTF-8 encoded JSON ({exc.reason} at byte {exc.start})",
                    location=Location(offset=exc.start),
                )
            )
            return
        except json.JSONDecodeError as exc:
            self.envelope.findings.append(
                Finding(
                    code="json-syntax",
                    severity=Severity.FATAL,
                    source="json",
                    text=f"the payload is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                    location=Location(line=exc.lineno, offset=exc.pos),
                )
            )
            return
        if isinstance(parsed, dict) and "documents" in parsed and "kind" not in parsed:
            items = parsed["documents"]
            if not isinstance(items, list) or not items:
                self._fatal(
                    "json-schema",
                    "`documents` must be a non-empty array of documents",
                    "/documents",
                )
                return
            self.envelope.control_reference = _str_or_none(parsed.get("submission_id"))
            self._prefix = "/documents/"
        elif isinstance(parsed, dict):
            items = [parsed]
            self._prefix = ""
        else:
            self._fatal("json-schema", 'expected a document object or {"documents": [...]}', "/")
            return
        if len(items) > MAX_BATCH:
            self._fatal(
                "json-too-many",
                f"at most {MAX_BATCH} documents per submission, found {len(items)}",
                "/documents",
            )
            return
        self._items = items
        self.envelope.test = any(isinstance(i, dict) and i.get("test") is True for i in items)

    def _fatal(self, code: str, text: str, path: str) -> None:
        self.envelope.findings.append(
            Finding(
                code=code,
                severity=Severity.FATAL,
                source="json",
                text=text,
                location=Location(path=path),
            )
        )

    def units(self) -> Iterator[Unit]:
        for i, item in enumerate(self._items):
            kind = item.get("kind") if isinstance(item, dict) else None
            ref = item.get("id") if isinstance(item, dict) else None
            yield Unit(
                index=i,
                message_type=f"canonical:{kind}" if isinstance(kind, str) else "canonical",
                reference=_str_or_none(ref),
                kind=DocumentKind(kind)
                if isinstance(kind, str) and kind in set(DocumentKind)
                else None,
                body=item,
            )

    def validate(self, unit: Unit) -> list[Finding]:
        prefix = self._prefix + (str(unit.index) if self._prefix else "")
        try:
            unit.body = DOCUMENT.validate_python(unit.body)
        except ValidationError as exc:
            return [
                Finding(
                    code="json-schema",
                    severity=Severity.ERROR,
                    source="json-schema",
                    text=f"{err['msg']}"
                    + (f" (found {err['input']!r})" if _short(err.get("input")) else ""),
                    location=Location(
                        message=unit.index, path=prefix + _pointer(err["loc"]).rstrip("/")
                    ),
                )
                for err in exc.errors()[:50]
            ]
        return []

    def translate(self, unit: Unit) -> Translation:
        return Translation(
            unit.body if not isinstance(unit.body, dict) else DOCUMENT.validate_python(unit.body)
        )

    def trailer_findings(self) -> list[Finding]:
        return []


def _short(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) and len(str(value)) <= 80


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class JsonFormat:
    name = "json"

    def sniff(self, head: bytes) -> bool:
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        return stripped[:1] in (b"{", b"[")

    def open(self, source: BinaryIO, limits: Limits) -> JsonReader:
        return JsonReader(source.read(limits.max_bytes + 1))

    def acknowledge(self, outcome: InterchangeOutcome, options: AckOptions) -> list[AckDocument]:
        positive = outcome.verdict in (Verdict.ACCEPTED, Verdict.ACCEPTED_WITH_WARNINGS)
        if options.application_ack == AckPolicy.NEVER or (
            options.application_ack == AckPolicy.ON_ERROR and positive
        ):
            return []
        return [
            AckDocument(
                kind="receipt",
                media_type="application/json",
                positive=positive,
                filename=f"{outcome.interchange_id}.receipt.json",
                content=json.dumps(status_document(outcome), indent=1).encode(),
            )
        ]


def status_document(outcome: InterchangeOutcome) -> dict[str, Any]:
    """The JSON receipt: what happened to every document of a submission."""
    return {
        "receipt_id": outcome.interchange_id,
        "received_at": outcome.received_at.isoformat(),
        "sha256": outcome.raw_sha256,
        "verdict": outcome.verdict.value,
        "findings": [f.model_dump(mode="json", exclude_none=True) for f in outcome.findings],
        "documents": [
            {
                "index": u.index,
                "id": u.business_id,
                "document_id": u.document_id,
                "verdict": u.verdict.value,
                "queue": u.queue,
                "findings": [f.model_dump(mode="json", exclude_none=True) for f in u.findings],
            }
            for u in outcome.units
        ],
    }
