"""The signed receipt for an EDIFACT tender (QUOTES): an APERAK written the way the tenderer
wrote its interchange (syntax, character set, separators, UNA), by the same writer as the
gateway's other CONTRL and APERAK answers (`contrl.AckWriter`, pydifact's serializer).

    UNH+1+APERAK:D:96A:UN'
    BGM++<receipt id>+29'                    29 accepted; 27 not accepted (late, duplicate)
    DTM+137:<issued>:203'
    DTM+310:<received>:204'                  the intake commit time, CCYYMMDDHHMMSS (UTC)
    DTM+286:<deadline>:204'                  the call's tender submission deadline (UTC)
    FTX+AAI+++<what happened, in words>'
    FTX+ZZZ++SHA::ZZZ+<SHA-256 of the submitted bytes>'
    FTX+ZZZ++STM::ZZZ+<statement>'           repeated until the statement is complete
    FTX+ZZZ++SIG::ZZZ+<Ed25519 signature>'
    FTX+ZZZ++KEY::ZZZ+<SHA-256 fingerprint of the gateway's public key (DER)>'
    RFF+ACW:<UNH reference of the QUOTES>'   the message answered
    RFF+AHU:<procedure id>'                  the call for tenders
    ERC+LATE' / ERC+DUPLIC'                  refused ones only, with FTX+AAO+++<why>'
    UNT+...'

What is signed is the statement of `receipts.statement()`, byte for byte: UTF-8 lines
`edi-gateway tender receipt 1`, `verdict: ...`, `receipt: ...`, `procedure: ...`,
`tenderer: ...`, `received: ...` (microseconds, UTC), `deadline: ...`, `sha256: ...`,
`size: ...`, `issued: ...` (and `duplicate-of: ...`), each ended by a newline. It is the same
statement the JSON and UBL receipts carry. The signature is Ed25519 over those bytes.

Statement and signature travel as upper-case hexadecimal (0-9, A-F) because that fits every
EDIFACT character repertoire, level A included, where base64's lower case letters do not: to
verify, join the 4440 text parts of the STM segments in order (and those of SIG), decode
the hex, and run

    openssl pkeyutl -verify -pubin -inkey gateway.pub.pem -rawin -in statement -sigfile sig
    openssl dgst -sha256 submitted-file      # equals the statement's sha256 line
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydifact.segments import Segment as OutSegment

from edi_gateway.formats.edifact.aperak import ACCEPTED, APERAK, NOT_ACCEPTED
from edi_gateway.formats.edifact.contrl import (
    MEDIA_TYPE,
    AckWriter,
    InterchangeFacts,
    control_reference,
    segment,
)
from edi_gateway.formats.edifact.segments import Delimiters
from edi_gateway.tendering.receipts import ReceiptFacts, SignedReceipt, Verdict, statement
from edi_gateway.tendering.signing import GatewayKey

STATEMENT = "STM"  # FTX C107 4441 (an..3), ours: 3055 agency ZZZ, mutually defined
SIGNATURE = "SIG"
SHA256 = "SHA"
KEY = "KEY"
AGENCY = "ZZZ"  # 3055: mutually defined
PART = 70  # 4440 an..70
PARTS = 5  # per C108
MAX_FTX = 9  # FTX repetitions at message level (D96A)
ERROR_CODES = {Verdict.REFUSED_LATE: "LATE", Verdict.DUPLICATE: "DUPLIC"}


def interchange_facts(envelope: dict[str, Any]) -> InterchangeFacts:
    """Back from the envelope facts the sealer kept (`detect.edifact_envelope`)."""
    sender, recipient = envelope["sender"], envelope["recipient"]
    return InterchangeFacts(
        control_reference=str(envelope["control_reference"]),
        sender=(sender[0], sender[1], sender[2]),
        recipient=(recipient[0], recipient[1], recipient[2]),
        syntax_identifier=str(envelope["syntax_identifier"]),
        syntax_version=str(envelope["syntax_version"]),
        delimiters=Delimiters(**envelope["delimiters"]),
        una=bool(envelope["una"]),
        test=bool(envelope.get("test")),
        ack_requested=False,
    )


def _hex_ftx(code: str, data: bytes) -> list[OutSegment]:
    text = data.hex().upper()
    per_segment = PART * PARTS
    out = []
    for start in range(0, len(text), per_segment):
        chunk = text[start : start + per_segment]
        parts = [chunk[i : i + PART] for i in range(0, len(chunk), PART)]
        out.append(segment("FTX", "ZZZ", "", [code, "", AGENCY], parts))
    return out


def _parts(text: str) -> list[str]:
    return [text[i : i + PART] for i in range(0, len(text), PART)][:PARTS]


def _stamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S")


def build(f: ReceiptFacts, key: GatewayKey, envelope: dict[str, Any]) -> SignedReceipt:
    text = statement(f)
    signature = key.sign(text)
    reference = control_reference(f.interchange_id, "tender-receipt")
    w = AckWriter(interchange_facts(envelope), reference, f.issued_at)
    accepted = f.verdict == Verdict.ACCEPTED
    texts = [
        segment("FTX", "AAI", "", "", _parts(w.text(f.sentence))),
        segment("FTX", "ZZZ", "", [SHA256, "", AGENCY], [f.sha256.upper()]),
        *_hex_ftx(STATEMENT, text),
        *_hex_ftx(SIGNATURE, signature),
        segment("FTX", "ZZZ", "", [KEY, "", AGENCY], [key.fingerprint.upper()]),
    ]
    if len(texts) > MAX_FTX:
        raise ValueError(f"the receipt statement is too long for {MAX_FTX} FTX segments")
    content = [
        segment("BGM", "", w.value(f.interchange_id), ACCEPTED if accepted else NOT_ACCEPTED),
        segment("DTM", ["137", f.issued_at.astimezone(dt.UTC).strftime("%Y%m%d%H%M"), "203"]),
        segment("DTM", ["310", _stamp(f.received_at), "204"]),
        segment("DTM", ["286", _stamp(f.deadline), "204"]),
        *texts,
    ]
    if envelope.get("message_reference"):
        content.append(segment("RFF", ["ACW", w.value(str(envelope["message_reference"]))]))
    content.append(segment("RFF", ["AHU", w.value(f.procedure_id)]))
    if not accepted:
        content.append(segment("ERC", ERROR_CODES.get(f.verdict, "APPL")))
        content.append(segment("FTX", "AAO", "", "", _parts(w.text(f.sentence))))
    body = w.interchange([w.message("1", list(APERAK), content)], "APERAK")
    return SignedReceipt(MEDIA_TYPE, f"tender-receipt-{f.interchange_id}.edi", body)


def signed_parts(aperak: list[tuple[str, list[list[str]]]]) -> tuple[bytes, bytes]:
    """(statement, signature) out of a receipt APERAK's segments, given as (tag, elements)
    the way `formats.edifact.tokenizer` yields them."""
    found: dict[str, str] = {STATEMENT: "", SIGNATURE: ""}
    for tag, elements in aperak:
        if tag == "FTX" and len(elements) > 3 and elements[2][:1] and elements[2][0] in found:
            found[elements[2][0]] += "".join(elements[3])
    return bytes.fromhex(found[STATEMENT]), bytes.fromhex(found[SIGNATURE])
