"""UBL through the whole path: HTTP intake, XSD + EN 16931 rules, translation, routing, and a
UBL ApplicationResponse back to the sender."""

from __future__ import annotations

import httpx
from lxml import etree

from edi_gateway import samples
from tests.conftest import Server
from tests.support import SHARED, wait_for

MOE_GLN = samples.INSTITUTIONS[0].gln
UBL_EXAMPLE = SHARED / "xml/en16931/ubl/examples/ubl-tc434-example1.xml"
OASIS_INVOICE = SHARED / "corpus/xml/ubl-2.1-examples/UBL-Invoice-2.1-Example.xml"
AR = "urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"


def submit_and_wait(server: Server, creds: dict, body: bytes) -> dict:
    headers = {"Authorization": f"Bearer {creds['nordic-paper']['api_token']}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as http:
        rid = http.post("/api/v1/submissions", content=body).json()["receipt_id"]
        status = wait_for(lambda: (lambda s: s if s["terminal"] else None)(
            http.get(f"/api/v1/submissions/{rid}").json()), timeout=60)
        status["ack_bodies"] = [http.get(a["url"]).content for a in status["acks"]]
    return status


def test_valid_ubl_invoice_is_queued_and_answered_with_ap(server: Server, creds: dict) -> None:
    body = UBL_EXAMPLE.read_bytes().replace(b"<cbc:ID>10202</cbc:ID>", f"<cbc:ID>{MOE_GLN}</cbc:ID>".encode())
    st = submit_and_wait(server, creds, body)
    assert st["state"] == "done", st
    [doc] = st["documents"]
    assert doc["kind"] == "invoice" and doc["id"] == "12115118" and doc["queue"] == "moe.finance"
    [ack] = st["acks"]
    assert ack["kind"] == "application-response" and ack["positive"]
    response = etree.fromstring(st["ack_bodies"][0])
    assert response.tag == f"{{{AR}}}ApplicationResponse"
    assert response.findtext(f".//{{{CBC}}}ResponseCode") == "AP"


def test_ubl_invoice_breaking_en16931_rules_is_rejected_with_the_rule_ids(server: Server, creds: dict) -> None:
    body = OASIS_INVOICE.read_bytes().replace(b">345KS5324<", f">{MOE_GLN}<".encode())
    st = submit_and_wait(server, creds, body)
    assert st["state"] == "rejected"
    codes = {f["code"] for f in st["documents"][0]["findings"]}
    assert {"BR-01", "BR-32", "BR-CO-15"} <= codes
    response = etree.fromstring(st["ack_bodies"][0])
    assert response.findtext(f".//{{{CBC}}}ResponseCode") == "RE"
    assert b"BR-01" in st["ack_bodies"][0]
