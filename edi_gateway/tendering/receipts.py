"""Signed tender receipts.

What is signed is a short UTF-8 statement (`statement()`): the gateway's received time (the
intake commit time), the SHA-256 and size of the bytes the tenderer sent, the procedure and
the verdict. The statement and its Ed25519 signature travel inside the receipt: a UBL 2.2
TenderReceipt (in a UBL extension) for XML tenders, an APERAK for EDIFACT tenders (see
`edifact_receipt`, hex there), a JSON document for the others. To check one, take the
statement and the signature out (base64 here) and run

    openssl pkeyutl -verify -pubin -inkey gateway.pub.pem -rawin -in statement -sigfile sig
    openssl dgst -sha256 submitted-file      # equals the statement's sha256 line
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from enum import StrEnum

from lxml import etree

from edi_gateway.tendering.signing import ALGORITHM, GatewayKey

UBL_NS = "urn:oasis:names:specification:ubl:schema:xsd:TenderReceipt-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
EXT = "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2"
EGW = "urn:edi-gateway:tender-receipt:1"
HEADER = "edi-gateway tender receipt 1"


class Verdict(StrEnum):
    ACCEPTED = "accepted"
    REFUSED_LATE = "refused-late"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class ReceiptFacts:
    interchange_id: str
    procedure_id: str
    tenderer: str | None
    received_at: dt.datetime
    deadline: dt.datetime
    sha256: str
    size: int
    verdict: Verdict
    issued_at: dt.datetime
    duplicate_of: str | None = None

    @property
    def sentence(self) -> str:
        received, deadline = _ts(self.received_at), _ts(self.deadline)
        if self.verdict == Verdict.REFUSED_LATE:
            return (
                f"Tender refused: received {received}, after the submission deadline "
                f"{deadline} of procedure {self.procedure_id}."
            )
        if self.verdict == Verdict.DUPLICATE:
            return (
                f"Received {received} again: the same bytes as submission {self.duplicate_of}; "
                "that submission stands."
            )
        return (
            f"Tender received {received} for procedure {self.procedure_id} (deadline "
            f"{deadline}); it stays sealed until the opening."
        )


def _ts(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def statement(f: ReceiptFacts) -> bytes:
    lines = [
        HEADER,
        f"verdict: {f.verdict.value}",
        f"receipt: {f.interchange_id}",
        f"procedure: {f.procedure_id}",
        f"tenderer: {f.tenderer or '-'}",
        f"received: {_ts(f.received_at)}",
        f"deadline: {_ts(f.deadline)}",
        f"sha256: {f.sha256}",
        f"size: {f.size}",
        f"issued: {_ts(f.issued_at)}",
    ]
    if f.duplicate_of:
        lines.append(f"duplicate-of: {f.duplicate_of}")
    return ("\n".join(lines) + "\n").encode()


@dataclass(frozen=True)
class SignedReceipt:
    media_type: str
    filename: str
    content: bytes


def build(f: ReceiptFacts, key: GatewayKey, xml: bool) -> SignedReceipt:
    text = statement(f)
    sig = key.sign(text)
    name = f"tender-receipt-{f.interchange_id}"
    if xml:
        return SignedReceipt("application/xml", f"{name}.xml", _ubl(f, text, sig, key))
    body = {
        "receipt": {
            "verdict": f.verdict.value,
            "receipt_id": f.interchange_id,
            "procedure_id": f.procedure_id,
            "tenderer": f.tenderer,
            "received_at": _ts(f.received_at),
            "deadline": _ts(f.deadline),
            "sha256": f.sha256,
            "size": f.size,
            "issued_at": _ts(f.issued_at),
            "duplicate_of": f.duplicate_of,
            "text": f.sentence,
        },
        "statement": base64.b64encode(text).decode(),
        "signature": base64.b64encode(sig).decode(),
        "algorithm": ALGORITHM,
        "public_key": key.public_pem().decode(),
        "key_fingerprint": key.fingerprint,
    }
    return SignedReceipt(
        "application/json", f"{name}.json", json.dumps(body, indent=2).encode() + b"\n"
    )


def _ubl(f: ReceiptFacts, text: bytes, sig: bytes, key: GatewayKey) -> bytes:
    def el(parent: etree._Element, ns: str, tag: str, value: str | None = None) -> etree._Element:
        child = etree.SubElement(parent, f"{{{ns}}}{tag}")
        if value is not None:
            child.text = value
        return child

    root = etree.Element(
        f"{{{UBL_NS}}}TenderReceipt", nsmap={None: UBL_NS, "cac": CAC, "cbc": CBC, "ext": EXT}
    )
    extension = el(el(root, EXT, "UBLExtensions"), EXT, "UBLExtension")
    el(extension, EXT, "ExtensionURI", EGW)
    signed = etree.SubElement(
        el(extension, EXT, "ExtensionContent"), f"{{{EGW}}}SignedStatement", nsmap={"egw": EGW}
    )
    el(signed, EGW, "Statement", base64.b64encode(text).decode())
    el(signed, EGW, "Signature", base64.b64encode(sig).decode()).set("algorithm", ALGORITHM)
    el(signed, EGW, "PublicKey", key.public_pem().decode())
    el(root, CBC, "UBLVersionID", "2.2")
    el(root, CBC, "ID", f.interchange_id)
    el(root, CBC, "ContractFolderID", f.procedure_id)
    issued = f.issued_at.astimezone(dt.UTC)
    received = f.received_at.astimezone(dt.UTC)
    el(root, CBC, "IssueDate", issued.date().isoformat())
    el(root, CBC, "IssueTime", issued.time().isoformat(timespec="microseconds") + "Z")
    el(root, CBC, "Note", f.sentence)
    el(root, CBC, "RegisteredDate", received.date().isoformat())
    el(root, CBC, "RegisteredTime", received.time().isoformat(timespec="microseconds") + "Z")
    ref = el(root, CAC, "TenderDocumentReference")
    el(ref, CBC, "ID", f.interchange_id)
    el(ref, CBC, "DocumentStatusCode", f.verdict.value)
    external = el(el(ref, CAC, "Attachment"), CAC, "ExternalReference")
    el(external, CBC, "DocumentHash", f.sha256)
    el(external, CBC, "HashAlgorithmMethod", "http://www.w3.org/2001/04/xmlenc#sha256")
    el(el(el(root, CAC, "SenderParty"), CAC, "PartyName"), CBC, "Name", "edi-gateway")
    receiver = el(root, CAC, "ReceiverParty")
    el(el(receiver, CAC, "PartyName"), CBC, "Name", f.tenderer or "unknown tenderer")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
