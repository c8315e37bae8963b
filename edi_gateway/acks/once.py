"""Acknowledgements that carry a secret meant for one delivery only.

The ApplicationResponse to a UBL CallForTenders carries each opening officer's share of the
call's key: the gateway must hand them over, and must not keep them. Until the response is
delivered it is an ack row like any other (it has to survive a restart); the moment it is
delivered (pushed by a sender, or pulled by the institution) its stored content is replaced by
the same response with the shares blanked out. A resend then sends the blanked copy.
"""

from __future__ import annotations

from lxml import etree

CALL_REGISTRATION = "call-registration-response"  # AckDocument kind of such a response
OFFICER_LINE = "officer:"  # LineID prefix of a share's LineResponse
BLANKED = "(delivered once; not kept by the gateway)"

_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"


def after_delivery(kind: str, content: bytes) -> bytes | None:
    """The content to keep once an ack of `kind` is delivered, or None to keep it as it is."""
    if kind != CALL_REGISTRATION:
        return None
    # our own output, but parsed as strictly as anything else
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(content, parser)
    for line in root.iter(f"{{{_CAC}}}LineResponse"):
        line_id = line.findtext(f"{{{_CAC}}}LineReference/{{{_CBC}}}LineID") or ""
        if line_id.startswith(OFFICER_LINE):
            for description in line.iter(f"{{{_CBC}}}Description"):
                description.text = BLANKED
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
