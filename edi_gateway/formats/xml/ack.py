"""UBL ApplicationResponse in the style of the Peppol Message Level Response (MLR).

The response code says what happened to the interchange: AP (accepted), RE (rejected) or AB
(received, nothing more to say: a duplicate). Each finding becomes one LineResponse whose
LineID is the XPath it points at ("NA" when it points nowhere), whose description names the
rule, and whose status reason code is SV (syntax: well-formedness, XSD), BV (business rule
violation) or BW (business rule warning).
"""

from __future__ import annotations

import datetime as dt

from lxml import etree

from edi_gateway.formats.base import (
    AckDocument,
    AckOptions,
    AckPolicy,
    InterchangeOutcome,
    UnitOutcome,
    Verdict,
)
from edi_gateway.formats.xml import call_for_tenders
from edi_gateway.model import Finding, Identifier, Severity, new_id

AR_NS = "urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2"
CAC_NS = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC_NS = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
MLR_CUSTOMIZATION = "urn:fdc:peppol.eu:poacc:trns:mlr:3"
MLR_PROFILE = "urn:fdc:peppol.eu:poacc:bis:mlr:3"
PEPPOL_AUTHORITY = "iso6523-actorid-upis"

_SYNTAX_SOURCES = {"xml", "xsd"}
_RESPONSE_TEXT = {
    "AP": "Accepted",
    "RE": "Rejected",
    "AB": "Received",
}


def _cac(parent: etree._Element, name: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{CAC_NS}}}{name}")


def _cbc(parent: etree._Element, name: str, text: str, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{CBC_NS}}}{name}", attrs)
    element.text = text
    return element


def response_code(verdict: Verdict) -> str:
    if verdict == Verdict.REJECTED:
        return "RE"
    if verdict == Verdict.DUPLICATE:
        return "AB"
    return "AP"


def status_reason(finding: Finding) -> str:
    if finding.source in _SYNTAX_SOURCES:
        return "SV"
    return "BV" if finding.rejects else "BW"


def _party(parent: etree._Element, name: str, ids: list[Identifier], fallback: str | None) -> None:
    party = _cac(parent, name)
    if ids:
        ident = ids[0]
        value, scheme = ident.value, ident.scheme
        if scheme == PEPPOL_AUTHORITY and ":" in value:
            scheme, value = value.split(":", 1)
        _cbc(party, "EndpointID", value, **({"schemeID": scheme} if scheme else {}))
    elif fallback:
        identification = _cac(party, "PartyIdentification")
        _cbc(identification, "ID", fallback)


def _line(parent: etree._Element, finding: Finding) -> None:
    line = _cac(parent, "LineResponse")
    reference = _cac(line, "LineReference")
    _cbc(reference, "LineID", finding.location.xpath or "NA")
    response = _cac(line, "Response")
    _cbc(response, "ResponseCode", "RE" if finding.rejects else "AB", listID="UNCL4343OpSubset")
    _cbc(response, "Description", f"[{finding.code}] {finding.text}"[:1000])
    status = _cac(response, "Status")
    _cbc(status, "StatusReasonCode", status_reason(finding), listID="PEPPOLSTATUS")
    _cbc(status, "StatusReason", finding.code)


def _document_response(
    parent: etree._Element,
    code: str,
    reference: str,
    findings: list[Finding],
    unit: UnitOutcome | None,
) -> None:
    document = _cac(parent, "DocumentResponse")
    response = _cac(document, "Response")
    _cbc(response, "ResponseCode", code, listID="UNCL4343OpSubset")
    summary = _RESPONSE_TEXT[code]
    if unit is not None and unit.business_id:
        summary += f": document {unit.business_id}"
    _cbc(response, "Description", summary)
    doc_ref = _cac(document, "DocumentReference")
    _cbc(doc_ref, "ID", reference)
    if unit is not None:
        root_name = unit.message_type.split("::")[1] if "::" in unit.message_type else None
        if root_name:
            _cbc(doc_ref, "DocumentType", root_name)
    for finding in findings:
        if finding.severity != Severity.INFO:
            _line(document, finding)


def _share_line(parent: etree._Element, officer: str, share: str) -> None:
    line = _cac(parent, "LineResponse")
    _cbc(_cac(line, "LineReference"), "LineID", f"officer:{officer}")
    response = _cac(line, "Response")
    _cbc(response, "ResponseCode", "AP", listID="UNCL4343OpSubset")
    _cbc(response, "Description", share)


def build_application_response(
    outcome: InterchangeOutcome,
    sender: Identifier | None = None,
    now: dt.datetime | None = None,
    response_id: str | None = None,
    shares: dict[str, str] | None = None,
) -> bytes:
    """The ApplicationResponse for one interchange, serialised as UTF-8 XML. `shares` (a call
    for tenders just registered) become one LineResponse per opening officer: LineID
    `officer:<name>`, the share sealed to that officer (PEM) as the description."""
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    code = response_code(outcome.verdict)
    root = etree.Element(
        f"{{{AR_NS}}}ApplicationResponse", nsmap={None: AR_NS, "cac": CAC_NS, "cbc": CBC_NS}
    )
    _cbc(root, "CustomizationID", MLR_CUSTOMIZATION)
    _cbc(root, "ProfileID", MLR_PROFILE)
    _cbc(root, "ID", response_id or new_id())
    _cbc(root, "IssueDate", moment.date().isoformat())
    _cbc(root, "IssueTime", moment.time().replace(microsecond=0).isoformat() + "Z")
    envelope = outcome.envelope
    own = [sender] if sender else envelope.recipient
    _party(root, "SenderParty", own, None)
    _party(root, "ReceiverParty", envelope.sender, outcome.partner_id)
    reference = envelope.control_reference or outcome.raw_sha256
    if not outcome.units:
        _document_response(root, code, reference, list(outcome.findings), None)
    for position, unit in enumerate(outcome.units):
        findings = (list(outcome.findings) if position == 0 else []) + list(unit.findings)
        unit_code = response_code(unit.verdict) if code != "RE" else "RE"
        _document_response(root, unit_code, reference, findings, unit)
    for officer, share in (shares or {}).items():
        _share_line(root.findall(f"{{{CAC_NS}}}DocumentResponse")[-1], officer, share)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def application_responses(
    outcome: InterchangeOutcome,
    options: AckOptions,
    sender: Identifier | None = None,
    shares: dict[str, str] | None = None,
) -> list[AckDocument]:
    """The acknowledgements the partner's options ask for (none, or one ApplicationResponse).
    A response carrying officers' shares is always sent: it is how they reach them."""
    policy = options.application_ack
    if policy == AckPolicy.NEVER and not shares:
        return []
    if policy == AckPolicy.ON_ERROR and outcome.verdict != Verdict.REJECTED and not shares:
        return []
    content = build_application_response(outcome, sender, shares=shares)
    return [
        AckDocument(
            kind=call_for_tenders.RESPONSE_KIND if shares else "application-response",
            media_type="application/xml",
            filename=f"ApplicationResponse-{outcome.interchange_id}.xml",
            content=content,
            positive=outcome.verdict != Verdict.REJECTED,
        )
    ]
