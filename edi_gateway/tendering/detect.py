"""Is this payload a tender, and which call for tenders does it answer?

Three shapes arrive: a canonical JSON tender (`kind: tender`, reference `call_for_tenders`),
a UBL Tender (`cbc:ContractFolderID`, possibly inside an SBDH), and an EDIFACT QUOTES
(`RFF+AHU`). Only the procedure id is looked at; nothing here keeps or logs the content.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from edi_gateway.formats.edifact.segments import Delimiters, Segment
from edi_gateway.formats.edifact.tokenizer import Tokenizer
from edi_gateway.formats.xml.detect import CBC_NS, SBDH_NS
from edi_gateway.formats.xml.parse import XmlLimits, parse_bytes

TENDER_NS = "urn:oasis:names:specification:ubl:schema:xsd:Tender-2"


class Shape:
    JSON = "json"
    UBL = "ubl"
    EDIFACT = "edifact"


@dataclass(frozen=True)
class TenderRef:
    procedure_id: str
    shape: str  # Shape.*
    # EDIFACT only: the envelope facts the APERAK receipt answers in (see `edifact_envelope`)
    envelope: dict[str, Any] | None = field(default=None, compare=False)


def might_be_tender(head: bytes) -> bool:
    """A cheap look at the first bytes (no parsing)."""
    return b'"tender"' in head or b"Tender-2" in head or b"QUOTES" in head


def tender_reference(payload: bytes, max_bytes: int = 50 * 1024 * 1024) -> TenderRef | None:
    start = payload.lstrip()[:3]
    if start.startswith(b"{"):
        return _json(payload)
    if start.startswith(b"<") or start.startswith(b"\xef\xbb\xbf"):
        return _ubl(payload, max_bytes)
    if start in (b"UNA", b"UNB"):
        return _edifact(payload)
    return None


def _json(payload: bytes) -> TenderRef | None:
    try:
        parsed = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    if (
        isinstance(parsed, dict)
        and "kind" not in parsed
        and isinstance(parsed.get("documents"), list)
    ):
        items: list[Any] = parsed["documents"]
    else:
        items = [parsed]
    ids = {_json_call(item) for item in items}
    ids.discard(None)
    if len(ids) != 1:  # no tender, or tenders for different calls: not ours to seal
        return None
    (procedure,) = ids
    assert procedure is not None
    return TenderRef(procedure, Shape.JSON)


def _json_call(item: Any) -> str | None:
    if not isinstance(item, dict) or item.get("kind") != "tender":
        return None
    for ref in item.get("references") or []:
        if isinstance(ref, dict) and ref.get("type") == "call_for_tenders":
            value = ref.get("id")
            return value.strip() if isinstance(value, str) and value.strip() else None
    return None


def _ubl(payload: bytes, max_bytes: int) -> TenderRef | None:
    parsed = parse_bytes(payload, XmlLimits(max_bytes=max_bytes))
    root = parsed.root
    if root is None:
        return None
    if etree.QName(root).namespace == SBDH_NS:
        inner = [c for c in root if isinstance(c.tag, str) and etree.QName(c).namespace != SBDH_NS]
        if len(inner) != 1:
            return None
        root = inner[0]
    if etree.QName(root).text != f"{{{TENDER_NS}}}Tender":
        return None
    folder = (root.findtext(f"{{{CBC_NS}}}ContractFolderID") or "").strip()
    return TenderRef(folder, Shape.UBL) if folder else None


def _edifact(payload: bytes) -> TenderRef | None:
    tokens = Tokenizer.from_bytes(payload)
    envelope: dict[str, Any] | None = field(default=None, compare=False)
    in_quotes = False
    message = ""
    for seg in tokens:
        if seg.tag == "UNB":
            envelope = edifact_envelope(seg, tokens.delimiters, tokens.una)
        elif seg.tag == "UNH":
            in_quotes = seg.element(2, 1) == "QUOTES"
            message = seg.element(1)
        elif in_quotes and seg.tag == "RFF" and seg.element(1, 1) == "AHU":
            value = seg.element(1, 2).strip()
            if value:
                if envelope is not None:
                    envelope["message_reference"] = message
                return TenderRef(value, Shape.EDIFACT, envelope)
        elif seg.tag in ("LIN", "UNT"):
            in_quotes = False  # the header references come before the lines
    return None


def edifact_envelope(unb: Segment, delimiters: Delimiters, una: bool) -> dict[str, Any]:
    """What an APERAK needs to answer in the sender's own terms: UNB and the separators.
    Envelope data only (who, which syntax, which reference), never the tender's content."""
    return {
        "control_reference": unb.element(5),
        "sender": [unb.element(2, 1), unb.element(2, 2), unb.element(2, 3)],
        "recipient": [unb.element(3, 1), unb.element(3, 2), unb.element(3, 3)],
        "syntax_identifier": unb.element(1, 1),
        "syntax_version": unb.element(1, 2),
        "delimiters": {
            "component": delimiters.component,
            "element": delimiters.element,
            "decimal": delimiters.decimal,
            "release": delimiters.release,
            "repetition": delimiters.repetition,
            "segment": delimiters.segment,
        },
        "una": una,
        "test": unb.element(11) == "1",
    }
