"""CallDesk hands each registration's shares to the response of the document that made it,
also when several workers translate calls at the same moment."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from lxml import etree

from edi_gateway.formats.xml.call_for_tenders import CallDesk, CallRegistration
from edi_gateway.model import Identifier


class SlowRegistrar:
    """Registers one call per document; both registrations overlap (the barrier)."""

    def __init__(self) -> None:
        self.barrier = threading.Barrier(2)

    def register(self, xml: bytes, claimed: list[Identifier]) -> CallRegistration:
        procedure = etree.fromstring(xml).findtext("procedure") or ""
        self.barrier.wait(timeout=10)
        return CallRegistration(procedure, {"kim": f"share-of-{procedure}"})


def test_two_concurrent_registrations_each_get_their_own_shares() -> None:
    desk = CallDesk(SlowRegistrar())
    owners = {
        "P-1": [Identifier(value="5790000000001", scheme="0088")],
        "P-2": [Identifier(value="5790000000002", scheme="0088")],
    }

    def translate(procedure: str) -> None:
        document = etree.fromstring(f"<call><procedure>{procedure}</procedure></call>")
        desk.translate(document, owners[procedure], 0, "DOC-1")  # same document id for both

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(translate, ["P-1", "P-2"]))
    assert desk.take_shares(owners["P-2"], "DOC-1") == {"kim": "share-of-P-2"}
    assert desk.take_shares(owners["P-1"], "DOC-1") == {"kim": "share-of-P-1"}
    assert desk.take_shares(owners["P-1"], "DOC-1") is None  # once
