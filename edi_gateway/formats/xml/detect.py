"""Recognising an XML business document: SBDH envelope, root element, namespace and version.

A Peppol payload may arrive wrapped in a Standard Business Document Header. The header's
sender and receiver identifiers (with their `Authority` scheme) become the envelope's sender
and recipient, its instance identifier the control reference; the document inside is what is
validated and translated.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from lxml import etree
from pydantic import ValidationError

from edi_gateway.formats.base import Envelope
from edi_gateway.formats.xml.catalogue import Catalogue, DocumentType, DocumentVersion
from edi_gateway.model import Finding, Identifier, Location, Severity

SBDH_NS = "http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader"
CBC_NS = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
SOURCE = "xml"

_SBDH = {"sh": SBDH_NS}

# CII has a test flag in the document context; UBL has none.
_CII_TEST_INDICATOR = (
    "string(*[local-name()='ExchangedDocumentContext']/*[local-name()='TestIndicator']"
    "/*[local-name()='Indicator'])"
)


@dataclass
class Detected:
    envelope: Envelope
    payload: etree._Element | None = None
    doc_type: DocumentType | None = None
    version: DocumentVersion | None = None
    findings: list[Finding] = field(default_factory=list)


def _text(element: etree._Element, path: str) -> str | None:
    found = element.find(path, _SBDH)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _identifiers(header: etree._Element, role: str, findings: list[Finding]) -> list[Identifier]:
    result = []
    for node in header.iterfind(f"sh:{role}/sh:Identifier", _SBDH):
        value = (node.text or "").strip()
        if not value:
            continue
        try:
            result.append(Identifier(value=value, scheme=node.get("Authority") or None))
        except ValidationError:
            findings.append(
                Finding(
                    code="SBDH",
                    severity=Severity.WARNING,
                    text=f"{role} identifier {value[:60]!r} is not a usable identifier",
                    location=Location(line=node.sourceline),
                    source=SOURCE,
                )
            )
    return result


def _timestamp(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def unwrap_sbdh(root: etree._Element) -> tuple[Envelope, etree._Element | None, list[Finding]]:
    """Split an SBDH into envelope facts and the business document it carries."""
    findings: list[Finding] = []
    envelope = Envelope(standard="ubl", syntax={"sbdh": True})
    header = root.find("sh:StandardBusinessDocumentHeader", _SBDH)
    if header is None:
        findings.append(_fatal("SBDH", "StandardBusinessDocument without a header"))
    else:
        envelope.sender = _identifiers(header, "Sender", findings)
        envelope.recipient = _identifiers(header, "Receiver", findings)
        ident = "sh:DocumentIdentification/sh:"
        envelope.control_reference = _text(header, ident + "InstanceIdentifier")
        envelope.prepared_at = _timestamp(_text(header, ident + "CreationDateAndTime"))
        envelope.syntax.update(
            {
                k: v
                for k, v in {
                    "sbdh_standard": _text(header, ident + "Standard"),
                    "sbdh_type": _text(header, ident + "Type"),
                    "sbdh_type_version": _text(header, ident + "TypeVersion"),
                }.items()
                if v
            }
        )
    payloads = [c for c in root if isinstance(c.tag, str) and etree.QName(c).namespace != SBDH_NS]
    if len(payloads) != 1:
        findings.append(
            _fatal("SBDH", f"the envelope must carry exactly one document, found {len(payloads)}")
        )
        return envelope, None, findings
    return envelope, payloads[0], findings


def detect(root: etree._Element, catalogue: Catalogue) -> Detected:
    qname = etree.QName(root)
    if qname.namespace == SBDH_NS and qname.localname == "StandardBusinessDocument":
        envelope, payload, findings = unwrap_sbdh(root)
    else:
        envelope, payload, findings = Envelope(standard="xml"), root, []
    detected = Detected(envelope, payload, findings=findings)
    if payload is None:
        return detected
    pname = etree.QName(payload)
    doc_type = catalogue.lookup(pname.namespace, pname.localname)
    if doc_type is None:
        detected.findings.append(
            _fatal(
                "XML-UNKNOWN",
                f"no known document has the root element {pname.localname!r} in namespace "
                f"{pname.namespace!r}",
                payload.sourceline,
            )
        )
        return detected
    detected.doc_type = doc_type
    envelope.standard = doc_type.syntax
    requested = None
    if doc_type.syntax == "ubl":
        requested = (payload.findtext(f"{{{CBC_NS}}}UBLVersionID") or "").strip() or None
    version = doc_type.version(requested)
    if version is None:
        version = doc_type.versions[0]
        detected.findings.append(
            Finding(
                code="XML-VERSION",
                severity=Severity.WARNING,
                text=f"UBL version {requested!r} is not known for {doc_type.root}; "
                f"treated as {version.version}",
                source=SOURCE,
            )
        )
    detected.version = version
    envelope.syntax.update({"document": doc_type.name, "version": version.version})
    if doc_type.syntax == "cii":
        indicator = payload.xpath(_CII_TEST_INDICATOR)
        envelope.test = isinstance(indicator, str) and indicator.strip().lower() in ("true", "1")
    return detected


def _fatal(code: str, text: str, line: int | None = None) -> Finding:
    return Finding(
        code=code, severity=Severity.FATAL, text=text, location=Location(line=line), source=SOURCE
    )
