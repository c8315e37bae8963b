"""How the tendering parts are composed for one gateway (the app calls `Tendering.build`)."""

from __future__ import annotations

from typing import Any

from edi_gateway.audit import Notary
from edi_gateway.formats.base import Limits
from edi_gateway.formats.xml import XmlFormat
from edi_gateway.formats.xml.call_for_tenders import CallDesk
from edi_gateway.store.db import read_sessions
from edi_gateway.tendering.call_registrar import CallRegistrar
from edi_gateway.tendering.clerk import Clerk
from edi_gateway.tendering.opening import Opening
from edi_gateway.tendering.sealer import TenderSealer
from edi_gateway.tendering.signing import GatewayKey


class Tendering:
    """The sealer for intake, the clerk and notary loops, and the opening."""

    def __init__(self, gateway: Any) -> None:
        config, sessions = gateway.config, gateway.sessions
        limit = config.settings.limits.max_submission_bytes
        self.sessions = sessions
        self.reads = read_sessions(gateway.engine)
        self.clock = gateway.clock
        self.key = GatewayKey.load_or_create(config.data_dir)
        self.sealer = TenderSealer(self.reads, max_bytes=limit)
        self.clerk = Clerk(config, sessions, self.key, clock=gateway.clock)
        self.notary = Notary(sessions)
        xml = next((f for f in gateway.registry if isinstance(f, XmlFormat)), None)
        if xml is not None:  # UBL CallForTenders through the pipeline register calls
            xml.calls = CallDesk(CallRegistrar(config, sessions, gateway.clock))
        self.opening = Opening(
            sessions,
            gateway.spool,
            gateway.registry,
            self.clerk,
            self.key,
            clock=gateway.clock,
            limits=Limits(max_bytes=limit),
            on_unsealed=gateway.worker.wake.set,
        )

    @classmethod
    def build(cls, gateway: Any) -> Tendering:
        return cls(gateway)

    def wake(self) -> None:
        """Call after each intake commit: the clerk files new sealed tenders at once."""
        self.clerk.wake.set()  # the notary chains on its own pace: a batch a second

    def start(self) -> None:
        self.clerk.start()
        self.notary.start()

    def stop(self) -> None:
        self.clerk.stop()
        self.notary.stop()


def tendering_of(gateway: Any) -> Tendering:
    """The gateway's tendering parts (`gateway.tendering`, set by the app), or new ones."""
    found = getattr(gateway, "tendering", None)
    if isinstance(found, Tendering):
        return found
    made = Tendering(gateway)
    gateway.tendering = made
    return made
