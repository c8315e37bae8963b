"""Acknowledgements that carry a secret meant for one delivery only.

The ApplicationResponse to a UBL CallForTenders carries each opening officer's share of the
call's key: the gateway must hand them over, and must not keep them. Until the response is
delivered it is an ack row like any other (it has to survive a restart); the moment it is
delivered (pushed by a sender, or pulled by the institution) its stored content is replaced by
the same response with the shares blanked out, and the copy kept on the call itself (for a
worker that was killed between registering the call and recording the response, see
`tendering.calls.register_from_ubl`) is dropped. A resend then sends the blanked copy.
"""

from __future__ import annotations

import re

from lxml import etree
from sqlalchemy import Connection, update

from edi_gateway.formats.xml.call_for_tenders import RESPONSE_KIND as CALL_REGISTRATION
from edi_gateway.store.tendering import TenderCall

OFFICER_LINE = "officer:"  # LineID prefix of a share's LineResponse
BLANKED = "(delivered once; not kept by the gateway)"
_SHARE_KEY = re.compile(r"^egw-share-([0-9a-f]{16})-")  # a share names its call's key id

_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"


def after_delivery(conn: Connection, kind: str, content: bytes) -> bytes | None:
    """In the transaction that marks an ack of `kind` delivered: the content to keep instead,
    or None to keep it as it is."""
    if kind != CALL_REGISTRATION:
        return None
    # our own output, but parsed as strictly as anything else
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(content, parser)
    keys: set[str] = set()
    for line in root.iter(f"{{{_CAC}}}LineResponse"):
        line_id = line.findtext(f"{{{_CAC}}}LineReference/{{{_CBC}}}LineID") or ""
        if line_id.startswith(OFFICER_LINE):
            for description in line.iter(f"{{{_CBC}}}Description"):
                found = _SHARE_KEY.match(description.text or "")
                if found:
                    keys.add(found.group(1))
                description.text = BLANKED
    for key_id in keys:
        conn.execute(
            update(TenderCall).where(TenderCall.key_id == key_id).values(pending_shares=None)
        )
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
