"""CallDesk hands each registration's shares to the outcome of the document that made it (in
`Translation.reply`), also when several workers translate calls of the same institution, with
the same document id, at the same moment."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from lxml import etree

from edi_gateway.formats.base import Translation
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
    owner = [Identifier(value="5790000000001", scheme="0088")]  # one institution for both

    def translate(procedure: str) -> Translation:
        document = etree.fromstring(f"<call><procedure>{procedure}</procedure></call>")
        return desk.translate(document, owner, 0)

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(translate, ["P-1", "P-2"])
    assert first.reply == {"kim": "share-of-P-1"} and "P-1 registered" in (first.handled or "")
    assert second.reply == {"kim": "share-of-P-2"} and "P-2 registered" in (second.handled or "")
