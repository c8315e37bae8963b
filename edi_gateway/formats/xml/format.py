"""`XmlFormat`: UBL (2.1, 2.2, Peppol SBDH) and CII behind the one `Format` interface.

Composition (done once by the app, shared by every worker thread of a process):

    fmt = XmlFormat(XmlSettings(data_dir=Path("/var/lib/edi-gateway")))
    registry.add(fmt)

An XML interchange holds one business document, so a reader yields exactly one unit (none
when the payload is refused: the reasons are then in `reader.envelope.findings`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from lxml import etree

from edi_gateway.formats.base import (
    AckDocument,
    AckOptions,
    Envelope,
    InterchangeOutcome,
    Limits,
    Translation,
    Unit,
)
from edi_gateway.formats.xml import ack, call_for_tenders, parse
from edi_gateway.formats.xml.call_for_tenders import CallDesk
from edi_gateway.formats.xml.catalogue import (
    CATALOGUE_FILE,
    Catalogue,
    DocumentType,
    DocumentVersion,
)
from edi_gateway.formats.xml.detect import SBDH_NS, detect
from edi_gateway.formats.xml.mapping import MAPPINGS_DIR, MappingLibrary
from edi_gateway.formats.xml.rules import RuleEngine
from edi_gateway.formats.xml.validate import DocumentValidator, ExtraRuleSet
from edi_gateway.formats.xml.xsd import SchemaCache
from edi_gateway.model import Finding, Identifier, Location, Severity

# Namespaces whose presence in the first bytes marks a payload as ours.
_SNIFF_MARKERS = (
    b"urn:oasis:names:specification:ubl:schema:xsd:",
    b"urn:un:unece:uncefact:data:standard:CrossIndustryInvoice",
    SBDH_NS.encode(),
)

# Where the business number of each syntax lives (for Unit.reference).
_REFERENCE_XPATH = {
    "ubl": "*[local-name()='ID' and namespace-uri()="
    "'urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2'][1]",
    "cii": "*[local-name()='ExchangedDocument']/*[local-name()='ID'][1]",
}


@dataclass(frozen=True)
class XmlSettings:
    """What the app configures for XML.

    data_dir: where `install_schemas` put the operator-installed schema sets
        (`<data_dir>/schemas/<release>/`); None means only the packaged definitions.
    limits: payload size (checked before parsing) and element nesting depth.
    extra_rules: more rule sets per catalogue document name ("ubl-invoice", "cii-invoice"...),
        e.g. a national CIUS or Peppol BIS stylesheet.
    ack_sender: the gateway's own party identifier, written as the ApplicationResponse sender.
    """

    data_dir: Path | None = None
    limits: parse.XmlLimits = field(default_factory=parse.XmlLimits)
    extra_rules: Mapping[str, Sequence[ExtraRuleSet]] = field(default_factory=dict)
    catalogue_file: Path = CATALOGUE_FILE
    mappings_dir: Path = MAPPINGS_DIR
    ack_sender: Identifier | None = None


@dataclass
class _Body:
    """Format-private content of a unit: the document element and what it was detected as."""

    element: etree._Element
    doc_type: DocumentType
    version: DocumentVersion


class XmlReader:
    def __init__(
        self,
        envelope: Envelope,
        unit: Unit | None,
        validator: DocumentValidator,
        mappings: MappingLibrary,
        calls: CallDesk | None = None,
    ) -> None:
        self.envelope = envelope
        self._unit = unit
        self._validator = validator
        self._mappings = mappings
        self._calls = calls

    def units(self) -> Iterator[Unit]:
        if self._unit is not None:
            yield self._unit

    def validate(self, unit: Unit) -> list[Finding]:
        body = _body(unit)
        return self._validator.validate(body.element, body.doc_type, body.version, unit.index)

    def translate(self, unit: Unit) -> Translation:
        body = _body(unit)
        if body.doc_type.name == call_for_tenders.DOCUMENT and self._calls is not None:
            return self._calls.translate(body.element, self.envelope.sender, unit.index)
        if body.version.mapping is None:
            return Translation(
                None,
                [
                    Finding(
                        code="XML-NO-MAPPING",
                        severity=Severity.ERROR,
                        text=f"{body.doc_type.root} documents are recognised but not translated "
                        "to a canonical document",
                        location=Location(message=unit.index),
                        source="mapping",
                    )
                ],
            )
        mapping = self._mappings.get(body.version.mapping)
        document, findings = mapping.translate(body.element, unit.index)
        return Translation(document, findings)

    def trailer_findings(self) -> list[Finding]:
        return []


def _body(unit: Unit) -> _Body:
    if not isinstance(unit.body, _Body):
        raise TypeError("this unit was not produced by XmlFormat")
    return unit.body


class XmlFormat:
    name = "xml"

    def __init__(self, settings: XmlSettings | None = None) -> None:
        self.settings = settings or XmlSettings()
        self.catalogue = Catalogue.load(self.settings.catalogue_file)
        self.validator = DocumentValidator(
            self.catalogue,
            self.settings.data_dir,
            SchemaCache(),
            RuleEngine(),
            self.settings.extra_rules,
        )
        self.mappings = MappingLibrary(self.settings.mappings_dir)
        # set by the composition root when tendering is on (see `tendering.wiring`)
        self.calls: CallDesk | None = None

    def warm_up(self) -> list[Path]:
        """Compile the available schemas and rule sets for the calling thread (see validate)."""
        return self.validator.warm_up()

    def sniff(self, head: bytes) -> bool:
        text = head[:4096]
        if text.startswith((b"\xff\xfe", b"\xfe\xff")):
            text = text.decode("utf-16", errors="ignore").encode("utf-8")
        text = text.removeprefix(b"\xef\xbb\xbf").lstrip()
        return text.startswith(b"<") and any(marker in text for marker in _SNIFF_MARKERS)

    def open(self, source: BinaryIO, limits: Limits) -> XmlReader:
        xml_limits = parse.XmlLimits(
            max_bytes=min(limits.max_bytes, self.settings.limits.max_bytes),
            max_depth=self.settings.limits.max_depth,
        )
        data, findings = parse.read_limited(source, xml_limits.max_bytes)
        parsed = parse.parse_bytes(data, xml_limits) if data is not None else None
        if parsed is None or parsed.root is None:
            envelope = Envelope(
                standard="xml", findings=findings + (parsed.findings if parsed else [])
            )
            return XmlReader(envelope, None, self.validator, self.mappings, self.calls)
        detected = detect(parsed.root, self.catalogue)
        envelope = detected.envelope
        envelope.findings.extend(detected.findings)
        unit = None
        if detected.payload is not None and detected.doc_type and detected.version:
            doc_type, version = detected.doc_type, detected.version
            envelope.syntax.setdefault("root_namespace", doc_type.namespace)
            unit = Unit(
                index=0,
                message_type=doc_type.message_type(version.version),
                reference=_reference(detected.payload, doc_type.syntax),
                kind=doc_type.kind,
                body=_Body(detected.payload, doc_type, version),
            )
            if doc_type.name == call_for_tenders.DOCUMENT and not envelope.sender:
                envelope.sender = call_for_tenders.contracting_party(detected.payload)
        return XmlReader(envelope, unit, self.validator, self.mappings, self.calls)

    def acknowledge(self, outcome: InterchangeOutcome, options: AckOptions) -> list[AckDocument]:
        shares = next((u.reply for u in outcome.units if u.reply), None)
        return ack.application_responses(outcome, options, self.settings.ack_sender, shares)


def _reference(element: etree._Element, syntax: str) -> str | None:
    expression = _REFERENCE_XPATH.get(syntax)
    if expression is None:
        return None
    found = element.xpath(expression)
    if isinstance(found, list) and found and isinstance(found[0], etree._Element):
        return (found[0].text or "").strip() or None
    return None
