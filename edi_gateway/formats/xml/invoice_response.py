"""The business-level answer to an invoice: a Peppol Invoice Response (UBL ApplicationResponse).

Where the Message Level Response (`ack`) says whether the gateway could read and validate a
message, the Invoice Response carries the buyer's decision once the back office has looked at
the invoice: received, in process, under query, conditionally accepted, rejected, accepted,
paid (UNCL 4343 subset), with reasons from the OpenPeppol status reason list (REF, PRI, QTY…).
The buyer is the sender of the response and the seller its receiver.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from lxml import etree

from edi_gateway.formats.xml.ack import AR_NS, CAC_NS, CBC_NS, PEPPOL_AUTHORITY
from edi_gateway.model import Invoice, InvoiceType, Party, PartyRole, new_id

CUSTOMIZATION = "urn:fdc:peppol.eu:poacc:trns:invoice_response:3"
PROFILE = "urn:fdc:peppol.eu:poacc:bis:invoice_response:3"


class InvoiceStatus(StrEnum):
    RECEIVED = "AB"
    IN_PROCESS = "IP"
    UNDER_QUERY = "UQ"
    CONDITIONALLY_ACCEPTED = "CA"
    REJECTED = "RE"
    ACCEPTED = "AP"
    PAID = "PD"


@dataclass(frozen=True)
class StatusReason:
    code: str  # OpenPeppol status reason: NON, REF, LEG, REC, QUA, DEL, PRI, QTY, ITM, PAY, ...
    text: str | None = None


def _element(
    parent: etree._Element, ns: str, name: str, text: str | None = None, **attrs: str
) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{name}", attrs)
    if text is not None:
        element.text = text
    return element


def _party(parent: etree._Element, name: str, party: Party | None) -> None:
    element = _element(parent, CAC_NS, name)
    if party is None:
        return
    if party.identifiers:
        ident = party.identifiers[0]
        value, scheme = ident.value, ident.scheme
        if scheme == PEPPOL_AUTHORITY and ":" in value:
            scheme, value = value.split(":", 1)
        _element(element, CBC_NS, "EndpointID", value, **({"schemeID": scheme} if scheme else {}))
    if party.names:
        legal = _element(element, CAC_NS, "PartyLegalEntity")
        _element(legal, CBC_NS, "RegistrationName", party.names[0])


def build_invoice_response(
    invoice: Invoice,
    status: InvoiceStatus,
    reasons: Sequence[StatusReason] = (),
    note: str | None = None,
    now: dt.datetime | None = None,
    response_id: str | None = None,
) -> bytes:
    """The Invoice Response for `invoice` (a canonical Invoice), serialised as UTF-8 XML."""
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    root = etree.Element(
        f"{{{AR_NS}}}ApplicationResponse", nsmap={None: AR_NS, "cac": CAC_NS, "cbc": CBC_NS}
    )
    _element(root, CBC_NS, "CustomizationID", CUSTOMIZATION)
    _element(root, CBC_NS, "ProfileID", PROFILE)
    _element(root, CBC_NS, "ID", response_id or new_id())
    _element(root, CBC_NS, "IssueDate", moment.date().isoformat())
    _element(root, CBC_NS, "IssueTime", moment.time().replace(microsecond=0).isoformat() + "Z")
    if note:
        _element(root, CBC_NS, "Note", note)
    _party(root, "SenderParty", invoice.party(PartyRole.BUYER))
    _party(root, "ReceiverParty", invoice.party(PartyRole.SELLER))
    document = _element(root, CAC_NS, "DocumentResponse")
    response = _element(document, CAC_NS, "Response")
    _element(response, CBC_NS, "ResponseCode", status.value, listID="UNCL4343OpSubset")
    _element(response, CBC_NS, "EffectiveDate", moment.date().isoformat())
    for reason in reasons:
        entry = _element(response, CAC_NS, "Status")
        _element(entry, CBC_NS, "StatusReasonCode", reason.code, listID="OPStatusReason")
        if reason.text:
            _element(entry, CBC_NS, "StatusReason", reason.text)
    reference = _element(document, CAC_NS, "DocumentReference")
    _element(reference, CBC_NS, "ID", invoice.id)
    _element(reference, CBC_NS, "IssueDate", invoice.issue_date.isoformat())
    type_code = "381" if invoice.invoice_type == InvoiceType.CREDIT_NOTE else "380"
    _element(reference, CBC_NS, "DocumentTypeCode", type_code, listID="UNCL1001")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
