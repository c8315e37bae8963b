"""A UBL CallForTenders sent through the pipeline registers the call when an institution sends
it, and is refused otherwise; the sender gets an ApplicationResponse either way. Runs on SQLite
and PostgreSQL (the `database_url` fixture behind `server`)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest
import tomli_w
from lxml import etree
from sqlalchemy import select

from edi_gateway import samples
from edi_gateway.app import Gateway
from edi_gateway.formats.xml import call_for_tenders as call_for_tenders_format
from edi_gateway.intake import Origin
from edi_gateway.pipeline.worker import wait_idle
from edi_gateway.store.tables import Ack, Interchange
from edi_gateway.store.tendering import TenderCall
from edi_gateway.tendering import calls, keys
from edi_gateway.tendering.officers import make_key_pair, unseal
from edi_gateway.tendering.wiring import tendering_of
from tests.conftest import Server
from tests.support import wait_for

MOE = samples.INSTITUTIONS[0]
HANIL = samples.SUPPLIERS[0]
AR = "urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"


def call_for_tenders(
    procedure: str, authority_gln: str, officers: list[str], document: str = "1"
) -> bytes:
    deadline = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=7)
    opening = deadline + dt.timedelta(hours=2)
    evaluators = "".join(
        f"<cac:TenderEvaluationParty><cac:PartyName><cbc:Name>{o}</cbc:Name></cac:PartyName>"
        "</cac:TenderEvaluationParty>"
        for o in officers
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<CallForTenders xmlns="urn:oasis:names:specification:ubl:schema:xsd:CallForTenders-2"
    xmlns:cbc="{CBC}" xmlns:cac="{CAC}">
  <cbc:UBLVersionID>2.2</cbc:UBLVersionID>
  <cbc:ID>CFT-DOC-{procedure}-{document}</cbc:ID>
  <cbc:ContractFolderID>{procedure}</cbc:ContractFolderID>
  <cbc:IssueDate>{deadline.date().isoformat()}</cbc:IssueDate>
  <cac:ContractingParty><cac:Party>
    <cac:PartyIdentification><cbc:ID schemeID="0088">{authority_gln}</cbc:ID></cac:PartyIdentification>
  </cac:Party></cac:ContractingParty>
  <cac:TenderingTerms>{evaluators}</cac:TenderingTerms>
  <cac:TenderingProcess>
    <cac:TenderSubmissionDeadlinePeriod>
      <cbc:EndDate>{deadline.date().isoformat()}</cbc:EndDate>
      <cbc:EndTime>{deadline.time().isoformat()}Z</cbc:EndTime>
    </cac:TenderSubmissionDeadlinePeriod>
    <cac:OpenTenderEvent>
      <cbc:OccurrenceDate>{opening.date().isoformat()}</cbc:OccurrenceDate>
      <cbc:OccurrenceTime>{opening.time().isoformat()}Z</cbc:OccurrenceTime>
    </cac:OpenTenderEvent>
  </cac:TenderingProcess>
  <cac:ProcurementProject><cbc:Name>School desks</cbc:Name></cac:ProcurementProject>
</CallForTenders>
""".encode()


def submit_and_wait(server: Server, token: str, body: bytes) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as http:
        posted = http.post("/api/v1/submissions", content=body)
        assert posted.status_code in (200, 201, 202), posted.text
        rid = posted.json()["receipt_id"]

        def terminal() -> dict[str, Any] | None:
            status = http.get(f"/api/v1/submissions/{rid}").json()
            return status if status["terminal"] and status["acks"] else None

        status = wait_for(terminal, timeout=60)
        status["ack_bodies"] = [http.get(a["url"]).content for a in status["acks"]]
    return status


def officer_lines(root: etree._Element) -> dict[str, str]:
    lines = {
        line.findtext(f"{{{CAC}}}LineReference/{{{CBC}}}LineID") or "": line.findtext(
            f"{{{CAC}}}Response/{{{CBC}}}Description"
        )
        or ""
        for line in root.iter(f"{{{CAC}}}LineResponse")
    }
    return {k: v for k, v in lines.items() if k.startswith("officer:")}


def registered(server: Server) -> list[dict[str, Any]]:
    return calls.list_calls(tendering_of(server.gateway).reads)


def response(status: dict[str, Any], kind: str = "application-response") -> etree._Element:
    [ack] = status["acks"]
    assert ack["kind"] == kind
    root = etree.fromstring(status["ack_bodies"][0])
    assert root.tag == f"{{{AR}}}ApplicationResponse"
    return root


@pytest.fixture(scope="module")
def officer_keys() -> dict[str, tuple[bytes, bytes]]:
    """Opening officers' keys and certificates (PEM), made once for the module."""
    return {name: make_key_pair(name, 30, None) for name in ("kim", "lee", "park")}


def register_officers(
    gateway: Gateway, officer_keys: dict[str, tuple[bytes, bytes]], names: list[str]
) -> None:
    """List `names` as MOE's opening officers, each with its certificate, in its partner file."""
    files = gateway.config.partner_files
    folder = files.directory / "officers"
    folder.mkdir(exist_ok=True)
    for name in names:
        (folder / f"{name}.pem").write_bytes(officer_keys[name][1])
    path = files.directory / f"{MOE.id}.toml"
    data = tomllib.loads(path.read_text())
    data["tendering"] = {
        "officers": [{"name": n, "certificate": f"officers/{n}.pem"} for n in names]
    }
    path.write_text(tomli_w.dumps(data))
    assert files.reload()


def openssl_unseal(sealed: str, keypair: tuple[bytes, bytes], tmp_path: Path) -> str:
    """What the officer does with its sealed share: `openssl cms -decrypt`."""
    key, cert = tmp_path / "officer.key", tmp_path / "officer.pem"
    key.write_bytes(keypair[0])
    cert.write_bytes(keypair[1])
    done = subprocess.run(
        ["openssl", "cms", "-decrypt", "-inform", "PEM", "-recip", str(cert), "-inkey", str(key)],
        input=sealed.encode(),
        capture_output=True,
        check=True,
    )
    return done.stdout.decode()


def test_an_institutions_call_for_tenders_registers_the_call(
    server: Server,
    creds: dict[str, dict[str, str]],
    officer_keys: dict[str, tuple[bytes, bytes]],
    tmp_path: Path,
) -> None:
    register_officers(server.gateway, officer_keys, ["kim", "lee", "park"])
    body = call_for_tenders("CFT-PIPE-1", MOE.gln, ["kim", "lee", "park"])
    status = submit_and_wait(server, creds[MOE.id]["api_token"], body)
    assert status["state"] == "done", status
    root = response(status, call_for_tenders_format.RESPONSE_KIND)
    assert root.findtext(f".//{{{CBC}}}ResponseCode") == "AP"
    sealed = officer_lines(root)
    assert set(sealed) == {"officer:kim", "officer:lee", "officer:park"}
    assert all(v.startswith("-----BEGIN PKCS7-----") for v in sealed.values())
    # each officer, and only that officer, unseals its share
    shares = {
        line: openssl_unseal(v, officer_keys[line.removeprefix("officer:")], tmp_path)
        for line, v in sealed.items()
    }
    assert all(share.startswith("egw-share-") for share in shares.values())
    with pytest.raises(subprocess.CalledProcessError):
        openssl_unseal(sealed["officer:kim"], officer_keys["lee"], tmp_path)
    # no share in clear anywhere the gateway keeps things: the stored response, the call row
    with tendering_of(server.gateway).reads() as s:
        stored = s.scalars(
            select(Ack.content).where(Ack.kind == call_for_tenders_format.RESPONSE_KIND)
        ).one()
        row = s.get_one(TenderCall, calls.find_call(s, "CFT-PIPE-1").id)
        kept = json.dumps(row.sealed_shares).encode() + bytes(row.wrapped_key)
    assert not any(share.encode() in stored + kept for share in shares.values())
    [call] = registered(server)
    assert call["procedure_id"] == "CFT-PIPE-1" and call["institution_id"] == MOE.id
    assert call["officers"] == ["kim", "lee", "park"] and call["threshold"] == 2  # a majority
    assert call["title"] == "School desks"
    # the unsealed shares are the call's: two of them rebuild its key, one does not
    two, one = list(shares.values())[:2], list(shares.values())[:1]
    keys.unwrap_private_key(row.id, row.key_id, row.wrapped_key, row.threshold, two)
    with pytest.raises(keys.SharesRejected):
        keys.unwrap_private_key(row.id, row.key_id, row.wrapped_key, row.threshold, one)
    # the same document again is a duplicate interchange, not processed again
    assert submit_and_wait(server, creds[MOE.id]["api_token"], body)["state"] == "duplicate"
    # another document for the same procedure is refused with the reason
    body = call_for_tenders("CFT-PIPE-1", MOE.gln, ["kim", "lee", "park"], document="2")
    other = submit_and_wait(server, creds[MOE.id]["api_token"], body)
    assert other["state"] == "rejected"
    assert response(other).findtext(f".//{{{CBC}}}ResponseCode") == "RE"
    assert b"already registered" in other["ack_bodies"][0]
    assert len(registered(server)) == 1


def test_a_call_whose_officers_have_no_certificates_is_refused(
    server: Server, creds: dict[str, dict[str, str]], officer_keys: dict[str, tuple[bytes, bytes]]
) -> None:
    # shares sent in clear would sit in the store until delivered, readable by an administrator
    body = call_for_tenders("CFT-PIPE-7", MOE.gln, ["kim", "lee", "park"])
    status = submit_and_wait(server, creds[MOE.id]["api_token"], body)
    assert status["state"] == "rejected"
    assert b"[[tendering.officers]]" in status["ack_bodies"][0]
    # an officer the institution has not registered is named in the refusal
    register_officers(server.gateway, officer_keys, ["kim", "lee"])
    body = call_for_tenders("CFT-PIPE-7", MOE.gln, ["kim", "lee", "park"], document="2")
    status = submit_and_wait(server, creds[MOE.id]["api_token"], body)
    assert status["state"] == "rejected"
    assert b"opening officer(s) 'park'" in status["ack_bodies"][0]
    assert registered(server) == []


def test_the_api_seals_the_shares_of_an_institution_with_officer_certificates(
    server: Server, creds: dict[str, dict[str, str]], officer_keys: dict[str, tuple[bytes, bytes]]
) -> None:
    register_officers(server.gateway, officer_keys, ["kim", "lee", "park"])
    deadline = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    spec = {
        "procedure_id": "CFT-API-1",
        "deadline": deadline.isoformat(),
        "opening_at": (deadline + dt.timedelta(hours=1)).isoformat(),
        "officers": ["kim", "park"],
        "threshold": 2,
    }
    token = {"Authorization": f"Bearer {creds[MOE.id]['api_token']}"}
    with httpx.Client(base_url=server.url, headers=token, timeout=30) as http:
        made = http.post("/api/v1/calls", json=spec)
        assert made.status_code == 201, made.text
        refused = http.post("/api/v1/calls", json={**spec, "procedure_id": "CFT-API-2",
                                                   "officers": ["kim", "choi"]})  # fmt: skip
    assert made.json()["shares_sealed"] is True
    key, cert = officer_keys["park"]
    share = unseal(made.json()["shares"]["park"].encode(), cert, key, None)
    assert share.startswith("egw-share-")
    assert refused.status_code == 422 and "'choi'" in refused.json()["detail"]


def test_a_supplier_cannot_register_a_call(
    server: Server, creds: dict[str, dict[str, str]]
) -> None:
    token = creds[HANIL.id]["api_token"]
    own = submit_and_wait(server, token, call_for_tenders("CFT-PIPE-2", HANIL.gln, ["a"]))
    assert own["state"] == "rejected"
    assert response(own).findtext(f".//{{{CBC}}}ResponseCode") == "RE"
    assert b"only institutions register calls" in own["ack_bodies"][0]
    assert b"CFT-REFUSED" in own["ack_bodies"][0]
    # naming an institution as the contracting authority does not help: the sender must be it
    posing = submit_and_wait(server, token, call_for_tenders("CFT-PIPE-3", MOE.gln, ["a"]))
    assert posing["state"] == "rejected"
    assert b"sender-mismatch" in posing["ack_bodies"][0]
    assert registered(server) == []


def test_a_call_without_officers_is_refused(
    server: Server, creds: dict[str, dict[str, str]]
) -> None:
    body = call_for_tenders("CFT-PIPE-4", MOE.gln, [])
    status = submit_and_wait(server, creds[MOE.id]["api_token"], body)
    assert status["state"] == "rejected"
    assert b"TenderEvaluationParty" in status["ack_bodies"][0]
    assert registered(server) == []


def test_a_call_from_an_institution_without_a_return_route_is_refused(
    server: Server, creds: dict[str, dict[str, str]]
) -> None:
    # the shares exist only in the response: with nowhere to send it they would be lost
    files = server.gateway.config.partner_files
    path = files.directory / f"{MOE.id}.toml"
    data = tomllib.loads(path.read_text())
    data.setdefault("acks", {})["route"] = "none"
    path.write_text(tomli_w.dumps(data))
    assert files.reload()
    body = call_for_tenders("CFT-PIPE-5", MOE.gln, ["kim", "lee", "park"])
    status = submit_and_wait(server, creds[MOE.id]["api_token"], body)
    assert status["state"] == "rejected"
    assert b"return route 'none'" in status["ack_bodies"][0]
    assert registered(server) == []


def test_a_worker_killed_after_registering_answers_the_rerun_with_the_same_call(
    gateway: Gateway,
    creds: dict[str, dict[str, str]],
    officer_keys: dict[str, tuple[bytes, bytes]],
) -> None:
    register_officers(gateway, officer_keys, ["kim", "lee", "park"])
    body = call_for_tenders("CFT-PIPE-6", MOE.gln, ["kim", "lee", "park"])
    rid = gateway.intake.receive(body, Origin(channel="http", partner_id=MOE.id)).interchange_id
    # the worker registers the call, then dies before recording the outcome (and the shares)
    claimed = gateway.worker.claim("doomed-worker")
    [(c, *_)] = [(c, *gateway.worker._process(c)) for c in claimed]
    assert c.id == rid and len(registered_on(gateway)) == 1
    gateway.worker.recover()
    wait_idle(gateway.worker)  # the rerun: the call exists already, its shares are answered
    with gateway.sessions() as s:
        [ack] = s.scalars(select(Ack).where(Ack.interchange_id == rid))
        assert s.get_one(Interchange, rid).state == "done"
    assert ack.kind == call_for_tenders_format.RESPONSE_KIND and ack.positive
    sealed = officer_lines(etree.fromstring(ack.content))
    with tendering_of(gateway).reads() as s:
        row = s.get_one(TenderCall, calls.find_call(s, "CFT-PIPE-6").id)
    # the rerun answered with the shares made at the first registration: they open its key
    assert row.sealed_shares == {k.removeprefix("officer:"): v for k, v in sealed.items()}
    shares = [
        unseal(sealed[f"officer:{n}"].encode(), officer_keys[n][1], officer_keys[n][0], None)
        for n in ("lee", "park")
    ]
    keys.unwrap_private_key(row.id, row.key_id, row.wrapped_key, row.threshold, shares)


def registered_on(gateway: Gateway) -> list[dict[str, Any]]:
    return calls.list_calls(tendering_of(gateway).reads)
