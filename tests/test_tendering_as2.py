"""A tender sent over AS2 is sealed at intake like on every other channel: the sender gets its
`processed` MDN, the gateway keeps only ciphertext, and the tender waits for the opening. The
payload is larger than the AS2 channel's in-memory threshold, so its decrypted layers pass
through the channel's disk spool (encrypted, see `channels.transient`)."""

from __future__ import annotations

from pathlib import Path

from edi_gateway.channels.as2.policy import LocalStation, PartnerProfile
from edi_gateway.channels.as2.sender import build_message, verify_mdn
from edi_gateway.channels.as2.spool import DEFAULT_THRESHOLD
from tests.support import open_call_and_tender
from tests.test_as2_env import OUR_AS2_ID, as2_gateway, pem
from tests.test_as2_support import identity, our_key

MARKER = b"PRICE-MARKER-AS2-0c7d"
ACME = identity("acme")


def test_a_large_tender_over_as2_is_sealed_before_it_reaches_the_disk(tmp_path: Path) -> None:
    with as2_gateway(tmp_path / "gw", {"acme": (pem(ACME), {})}) as env:
        pad = DEFAULT_THRESHOLD // len(MARKER) + 1000
        payload = open_call_and_tender(env.gateway, "CFT-AS2-1", MARKER.decode(), pad)
        assert len(payload) > DEFAULT_THRESHOLD
        gateway_side = PartnerProfile(OUR_AS2_ID, (our_key().certificate,))
        message = build_message(
            payload, LocalStation("acme", (ACME,)), gateway_side, filename="tender.json"
        )
        response = env.post(list(message.headers), message.body)
        assert response.status_code == 200, response.text
        outcome = verify_mdn(
            list(response.headers.items()), response.content, message, gateway_side
        )
        assert outcome.delivered, outcome.problems  # a signed `processed` MDN, MIC matching
        [interchange] = env.interchanges()
        assert interchange.state == "sealed"
        kept = [*env.spool_files(), env.directory / "gateway.db"]
        assert not any(MARKER in path.read_bytes() for path in kept)
