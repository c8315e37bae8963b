"""Registers the calls for tenders that institutions send through the pipeline as UBL
CallForTenders documents (the XML format's `CallRegistrar`, attached by `wiring`)."""

from __future__ import annotations

import structlog
from sqlalchemy.orm import Session, sessionmaker

from edi_gateway.config import Config, PartnerRole
from edi_gateway.formats.xml.call_for_tenders import CallRefused, CallRegistration
from edi_gateway.intake import Clock
from edi_gateway.model import Identifier
from edi_gateway.tendering import calls
from edi_gateway.tendering.common import TenderingRefused
from edi_gateway.tendering.officers import certificates

log = structlog.get_logger("edi_gateway.tendering.call_registrar")


class CallRegistrar:
    def __init__(self, config: Config, sessions: sessionmaker[Session], clock: Clock) -> None:
        self.config = config
        self.sessions = sessions
        self.clock = clock

    def register(self, xml: bytes, claimed: list[Identifier]) -> CallRegistration:
        partner = self.config.partner_by_identifier(claimed) if claimed else None
        if partner is None:
            raise CallRefused(
                "the document must name its contracting authority "
                "(cac:ContractingParty/cac:Party/cac:PartyIdentification/cbc:ID) with an "
                "identifier of a registered public institution"
            )
        if partner.role != PartnerRole.INSTITUTION:
            log.warning("tendering.call_refused", partner=partner.id, reason="not an institution")
            raise CallRefused(
                f"partner {partner.id!r} is not a public institution; only institutions "
                "register calls for tenders"
            )
        if partner.acks.route == "none":
            raise CallRefused(
                f"partner {partner.id!r} takes no acknowledgements (return route 'none'), so "
                "the opening officers' shares could not reach it; register the call through "
                "the API or the CLI, or give the partner a return route"
            )
        try:
            certs = certificates(partner, self.config.partners_dir, self.clock())
            made = calls.register_from_ubl(
                self.sessions, self.clock, xml, partner.id, certs, f"partner:{partner.id}"
            )
        except TenderingRefused as exc:
            raise CallRefused(str(exc)) from None
        return CallRegistration(made.procedure_id, made.shares)
