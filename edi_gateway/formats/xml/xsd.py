"""XSD validation with lxml: compiled schemas cached per process, errors as findings.

Compiling the UBL schemas takes a fraction of a second; validating a 50 KB invoice about a
millisecond, so each schema file is compiled once and reused. An lxml `XMLSchema` keeps the
error log of its last run on the object, so one object must not validate in two threads at
once: the cache holds one compiled schema per (thread, file).
"""

from __future__ import annotations

import threading
from pathlib import Path

from lxml import etree

from edi_gateway.model import Finding, Location, Severity

SOURCE = "xsd"
MAX_FINDINGS = 200


class SchemaLoadError(Exception):
    """An installed or packaged XSD could not be compiled (a deployment defect)."""


class SchemaCache:
    """Compiled `XMLSchema` objects keyed by file, one set per thread."""

    def __init__(self) -> None:
        self._local = threading.local()

    def get(self, path: Path) -> etree.XMLSchema:
        schemas: dict[Path, etree.XMLSchema] | None = getattr(self._local, "schemas", None)
        if schemas is None:
            schemas = self._local.schemas = {}
        schema = schemas.get(path)
        if schema is None:
            schema = schemas[path] = _compile(path)
        return schema


def _compile(path: Path) -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        return etree.XMLSchema(etree.parse(str(path), parser))
    except (etree.XMLSchemaParseError, etree.XMLSyntaxError, OSError) as exc:
        raise SchemaLoadError(f"cannot compile XML schema {path}: {exc}") from exc


def validate(
    schema: etree.XMLSchema, element: etree._Element, message: int | None = None
) -> list[Finding]:
    """Validate `element` (a document root, or the payload inside an SBDH) against `schema`."""
    if schema.validate(element):
        return []
    findings: list[Finding] = []
    for entry in schema.error_log:
        if len(findings) == MAX_FINDINGS:
            findings.append(
                Finding(
                    code="XSD",
                    severity=Severity.ERROR,
                    text=f"more than {MAX_FINDINGS} schema errors; the rest are not listed",
                    source=SOURCE,
                )
            )
            break
        findings.append(
            Finding(
                code="XSD",
                severity=Severity.ERROR,
                text=entry.message,
                location=Location(
                    message=message,
                    line=entry.line or None,
                    xpath=getattr(entry, "path", None) or None,
                ),
                source=SOURCE,
            )
        )
    return findings
