"""A UBL CallForTenders is a command message, not a document to route: the institution that
sends one asks the gateway to register a call for tenders. The format hands it to a
`CallRegistrar` (the tendering side, attached by the composition root) and answers with the
usual ApplicationResponse: positive with each opening officer's share (sealed to the officer,
see `edi_gateway.tendering.officers`), or negative with the reason.

Who asks is the document's contracting authority
(`cac:ContractingParty/cac:Party/cac:PartyIdentification/cbc:ID` or `cbc:EndpointID`): it
becomes the envelope's sender when no SBDH names one, so the pipeline's sender check ties it to
the partner the channel authenticated before the registrar sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from lxml import etree

from edi_gateway.formats.base import Translation
from edi_gateway.formats.xml.detect import CBC_NS
from edi_gateway.model import Finding, Identifier, Location, Severity

DOCUMENT = "ubl-call-for-tenders"  # the catalogue's name for it
CAC_NS = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
REFUSED = "CFT-REFUSED"
NO_REGISTRAR = "XML-NO-MAPPING"
RESPONSE_KIND = "call-registration-response"  # the ApplicationResponse carrying the shares


class CallRefused(ValueError):
    """The call cannot be registered; the message says why (goes into the response)."""


@dataclass(frozen=True)
class CallRegistration:
    procedure_id: str
    shares: dict[str, str]  # officer -> share sealed to that officer: goes into the response


class CallRegistrar(Protocol):
    def register(self, xml: bytes, claimed: list[Identifier]) -> CallRegistration:
        """Register the call `xml` describes for the institution owning `claimed`, or raise
        `CallRefused`."""
        ...


def contracting_party(document: etree._Element) -> list[Identifier]:
    """The contracting authority's identifiers, as the document states them."""
    party = document.find(f"{{{CAC_NS}}}ContractingParty/{{{CAC_NS}}}Party")
    if party is None:
        return []
    found = [
        *party.iterfind(f"{{{CBC_NS}}}EndpointID"),
        *party.iterfind(f"{{{CAC_NS}}}PartyIdentification/{{{CBC_NS}}}ID"),
    ]
    return [
        Identifier(value=(e.text or "").strip(), scheme=e.get("schemeID") or None)
        for e in found
        if (e.text or "").strip()
    ]


class CallDesk:
    """Turns a CallForTenders unit into a registration; the shares travel in the unit's
    outcome (`Translation.reply`) to the ApplicationResponse."""

    def __init__(self, registrar: CallRegistrar) -> None:
        self.registrar = registrar

    def translate(
        self, document: etree._Element, claimed: list[Identifier], index: int
    ) -> Translation:
        try:
            made = self.registrar.register(etree.tostring(document), claimed)
        except CallRefused as exc:
            return Translation(None, [_refused(str(exc), index)])
        return Translation(
            None,
            handled=f"call for tenders {made.procedure_id} registered "
            f"({len(made.shares)} opening officers)",
            reply=made.shares,
        )


def _refused(text: str, index: int) -> Finding:
    return Finding(
        code=REFUSED,
        severity=Severity.ERROR,
        text=f"the call for tenders was not registered: {text}",
        location=Location(message=index),
        source="tendering",
    )
