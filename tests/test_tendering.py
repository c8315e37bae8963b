"""Sealed e-tendering end to end: sealing at intake, receipts, deadline, replace/withdraw,
the k-of-n opening (also after SIGKILL), and nothing readable before the opening."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree
from sqlalchemy import func, select

from edi_gateway import logs, samples
from edi_gateway.app import Gateway
from edi_gateway.config import Config, load
from edi_gateway.formats.edifact.tokenizer import Tokenizer
from edi_gateway.intake import Origin, Receipt
from edi_gateway.pipeline.worker import wait_idle
from edi_gateway.store.tables import Ack, Event, Interchange, QueueItem
from edi_gateway.store.tendering import TenderSubmission
from edi_gateway.tendering import calls, edifact_receipt
from edi_gateway.tendering.common import TenderingRefused
from edi_gateway.tendering.keys import SharesRejected
from edi_gateway.tendering.opening import NotYetOpen
from edi_gateway.tendering.wiring import Tendering, tendering_of
from tests.conftest import FakeClock, Server
from tests.support import wait_for

MOE, SEOUL = samples.INSTITUTIONS
HANIL, DAEHAN = samples.SUPPLIERS[0], samples.SUPPLIERS[1]
START = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
DEADLINE = START + dt.timedelta(hours=1)
OPENING = DEADLINE + dt.timedelta(minutes=30)
PROCEDURE = "CFT-2026-042"
MARKER = "SECRET-PRICE-MARKER-7f3a9c"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def gw(config: Config, clock: FakeClock) -> Iterator[Gateway]:
    gateway = Gateway(config, clock=clock)
    tendering_of(gateway)
    gateway.intake.sealer = tendering_of(gateway).sealer
    yield gateway
    gateway.stop()
    gateway.engine.dispose()


def register(
    gw: Gateway, officers: int = 3, quorum: int = 2, procedure: str = PROCEDURE
) -> list[str]:
    t: Tendering = tendering_of(gw)
    spec = calls.CallSpec(
        procedure_id=procedure,
        institution_id=MOE.id,
        deadline=DEADLINE,
        opening_at=OPENING,
        officers=[f"officer-{i}" for i in range(1, officers + 1)],
        threshold=quorum,
        title="Office chairs",
        lots=["1"],
    )
    return list(calls.register_call(t.sessions, t.clock, spec, "test").shares.values())


def tender_json(number: str, supplier: samples.SamplePartner, procedure: str = PROCEDURE) -> bytes:
    doc = samples.tender(number, MOE, supplier, procedure)
    doc["notes"] = [f"{MARKER} {number}"]
    return json.dumps(doc).encode()


UBL_TENDER = """<?xml version="1.0" encoding="UTF-8"?>
<Tender xmlns="urn:oasis:names:specification:ubl:schema:xsd:Tender-2"
        xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
        xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2">
  <cbc:UBLVersionID>2.2</cbc:UBLVersionID>
  <cbc:ID>TND-UBL-1</cbc:ID>
  <cbc:ContractFolderID>{procedure}</cbc:ContractFolderID>
  <cbc:IssueDate>2026-11-20</cbc:IssueDate>
  <cbc:Note>{marker}</cbc:Note>
</Tender>
"""


def submit(gw: Gateway, payload: bytes, partner: str) -> Receipt:
    return gw.intake.receive(payload, Origin(channel="http", partner_id=partner))


def receipt_ack(gw: Gateway, interchange_id: str) -> Ack:
    with gw.sessions() as s:
        return s.scalars(
            select(Ack).where(Ack.interchange_id == interchange_id, Ack.kind == "tender-receipt")
        ).one()


def _raw_sha(gw: Gateway, interchange_id: str) -> str:
    with gw.sessions() as s:
        return s.get_one(Interchange, interchange_id).raw_sha256


def state(gw: Gateway, interchange_id: str) -> str:
    with gw.sessions() as s:
        return s.get_one(Interchange, interchange_id).state


def queued_documents(gw: Gateway) -> list[str]:
    with gw.sessions() as s:
        return [b["document"]["id"] for b in s.scalars(select(QueueItem.body))]


def all_bytes(root: Path) -> Iterator[tuple[Path, bytes]]:
    for p in root.rglob("*"):
        if p.is_file():
            yield p, p.read_bytes()


# -- 1. nothing readable before the opening -------------------------------------------------


def test_sealed_tender_is_unreadable_in_store_spool_logs_and_api(
    gw: Gateway,
    clock: FakeClock,
    creds: dict[str, dict[str, str]],
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not gw.config.database_url.startswith("sqlite"):
        pytest.skip("reads the database file: SQLite only")
    with monkeypatch.context() as m:  # log to file descriptor 2 (captured), as `serve` does
        m.setattr(sys, "stderr", sys.__stderr__)
        logs.configure("debug")
    shares = register(gw)
    token = creds[HANIL.id]["api_token"]
    with Server(gw) as srv:
        headers = {"Authorization": f"Bearer {token}"}
        r = httpx.post(
            srv.url + "/api/v1/submissions", content=tender_json("TND-1", HANIL), headers=headers
        )
        assert r.status_code == 202, r.text
        rid = r.json()["receipt_id"]
        ubl = UBL_TENDER.format(procedure=PROCEDURE, marker=MARKER).encode()
        r2 = httpx.post(srv.url + "/api/v1/submissions", content=ubl, headers=headers)
        assert r2.status_code == 202, r2.text
        tendering_of(gw).clerk.run_once()  # the gateway's own clerk loop may have filed them
        for receipt in (rid, r2.json()["receipt_id"]):
            wait_for(
                lambda receipt=receipt: httpx.get(
                    srv.url + f"/api/v1/submissions/{receipt}/acks", headers=headers
                ).json()["acks"],
                timeout=30,
            )
        tendering_of(gw).notary.run_until_done()
        status = httpx.get(srv.url + f"/api/v1/submissions/{rid}", headers=headers)
        assert status.status_code == 200 and MARKER not in status.text
        assert status.json()["state"] == "sealed"
        acks = httpx.get(srv.url + f"/api/v1/submissions/{rid}/acks", headers=headers)
        assert MARKER not in acks.text
        with CallsApi(gw) as c:
            refused = c.get(f"/api/v1/calls/{PROCEDURE}/tenders/{rid}/content", headers=headers)
            listing = c.get(f"/api/v1/calls/{PROCEDURE}", headers=headers)
        assert refused.status_code == 403
        assert listing.status_code == 200 and MARKER not in listing.text
        assert [s["receipt_id"] for s in listing.json()["submissions"]][:1] == [rid]
    gw.engine.dispose()  # checkpoint nothing away: read the WAL as well as the file
    out, err = capfd.readouterr()
    marker = MARKER.encode()
    db_file = Path(gw.config.database_url.removeprefix("sqlite:///"))
    files = dict(all_bytes(gw.config.data_dir)) | dict(all_bytes(db_file.parent))
    assert db_file in files and gw.config.spool_dir in {p.parent.parent for p in files}
    leaks = [str(p) for p, data in files.items() if marker in data]
    assert leaks == []
    assert MARKER not in out + err
    assert "tendering.filed" in out + err  # the logs were captured (so the check means something)

    # the positive control: after the opening the plaintext is in the spool, as it should be
    clock.now = OPENING
    tendering_of(gw).opening.open(PROCEDURE, shares[:2], "test")
    assert any(marker in data for _, data in all_bytes(gw.config.spool_dir))


class CallsApi:
    """The calls routes mounted as the app will mount them, called in-process."""

    def __init__(self, gw: Gateway) -> None:
        from starlette.applications import Starlette
        from starlette.routing import Mount

        self.app = Starlette(routes=[Mount("/api/v1/calls", routes=calls.routes(gw))])

    def __enter__(self) -> CallsApi:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
                return await c.request(method, path, **kw)

        return asyncio.run(go())

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("POST", path, **kw)


# -- 2. deadline, replace, withdraw ---------------------------------------------------------


def test_one_second_early_is_accepted_one_second_late_is_refused(
    gw: Gateway, clock: FakeClock
) -> None:
    register(gw)
    clock.now = DEADLINE - dt.timedelta(seconds=1)
    early = submit(gw, tender_json("TND-EARLY", HANIL), HANIL.id)
    clock.now = DEADLINE + dt.timedelta(seconds=1)
    late = submit(gw, tender_json("TND-LATE", DAEHAN), DAEHAN.id)
    assert tendering_of(gw).clerk.run_once() == 2

    ok = receipt_ack(gw, early.interchange_id)
    assert ok.positive and state(gw, early.interchange_id) == "sealed"
    assert json.loads(ok.content)["receipt"]["verdict"] == "accepted"

    refused = receipt_ack(gw, late.interchange_id)
    body = json.loads(refused.content)["receipt"]
    assert not refused.positive and body["verdict"] == "refused-late"
    assert body["deadline"] == "2026-11-26T10:00:00.000000Z"
    assert body["received_at"] == "2026-11-26T10:00:01.000000Z"
    assert "10:00:00" in body["text"] and "10:00:01" in body["text"]
    assert state(gw, late.interchange_id) == "rejected"
    assert tendering_of(gw).clerk.run_once() == 0  # filed once


def test_replace_and_withdraw_before_the_deadline_and_not_after(
    gw: Gateway, clock: FakeClock
) -> None:
    shares = register(gw)
    t = tendering_of(gw)
    first = submit(gw, tender_json("TND-A1", HANIL), HANIL.id)
    clock.advance(60)
    second = submit(gw, tender_json("TND-A2", HANIL), HANIL.id)  # replaces the first
    withdrawn = submit(gw, tender_json("TND-B1", DAEHAN), DAEHAN.id)
    clock.advance(60)
    calls.withdraw(t.sessions, t.clock, PROCEDURE, DAEHAN.id, "partner:daehan-it")
    t.clerk.run_once()

    clock.now = DEADLINE + dt.timedelta(seconds=1)
    with pytest.raises(TenderingRefused, match="deadline"):
        calls.withdraw(t.sessions, t.clock, PROCEDURE, HANIL.id, "partner:hanil-office")
    too_late = submit(
        gw, tender_json("TND-A3", HANIL), HANIL.id
    )  # a replacement after the deadline
    t.clerk.run_once()
    assert not receipt_ack(gw, too_late.interchange_id).positive

    clock.now = OPENING
    record = t.opening.open(PROCEDURE, shares[1:], "test")
    wait_idle(gw.worker)
    assert [x["receipt_id"] for x in record["tenders"]] == [second.interchange_id]
    reasons = {x["receipt_id"]: x["reason"] for x in record["not_opened"]}
    assert reasons == {
        first.interchange_id: "replaced",
        withdrawn.interchange_id: "withdrawn",
        too_late.interchange_id: "late",
    }
    assert queued_documents(gw) == ["TND-A2"]
    assert record["tenders"][0]["price"] is not None  # the opening record names the price
    # every submission stays recorded, every interchange reached a terminal state
    with gw.sessions() as s:
        assert s.scalar(select(func.count()).select_from(TenderSubmission)) == 4
        states = {i.id: i.state for i in s.scalars(select(Interchange))}
    assert states == {
        first.interchange_id: "done",
        second.interchange_id: "done",
        withdrawn.interchange_id: "done",
        too_late.interchange_id: "rejected",
    }


# -- 3. the opening --------------------------------------------------------------------------


def test_opening_needs_the_time_and_k_shares_of_this_call(gw: Gateway, clock: FakeClock) -> None:
    shares = register(gw, officers=3, quorum=2)
    other = register(gw, procedure="CFT-OTHER")
    tender = submit(gw, tender_json("TND-1", HANIL), HANIL.id)
    opening = tendering_of(gw).opening
    clock.now = OPENING - dt.timedelta(seconds=1)
    with pytest.raises(NotYetOpen):
        opening.open(PROCEDURE, shares, "test")
    clock.now = OPENING
    with pytest.raises(SharesRejected, match="needs 2"):
        opening.open(PROCEDURE, shares[:1], "test")
    with pytest.raises(SharesRejected, match="needs 2"):
        opening.open(PROCEDURE, [shares[0], shares[0]], "test")  # one officer twice
    with pytest.raises(SharesRejected, match="another call"):
        opening.open(PROCEDURE, [shares[0], other[1]], "test")
    forged = shares[1][:-4] + ("AAAA" if not shares[1].endswith("AAAA") else "BBBB")
    with pytest.raises(SharesRejected, match="do not open"):
        opening.open(PROCEDURE, [shares[0], forged], "test")
    assert state(gw, tender.interchange_id) == "sealed"  # the failures changed nothing

    record = opening.open(PROCEDURE, [shares[2], shares[0]], "test")
    assert [x["receipt_id"] for x in record["tenders"]] == [tender.interchange_id]
    assert record["tenders"][0]["sha256"] == tender.sha256
    wait_idle(gw.worker)
    assert queued_documents(gw) == ["TND-1"]
    assert opening.open(PROCEDURE, shares[:2], "test") == record  # idempotent


CRASH_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from edi_gateway.app import Gateway
    from edi_gateway.config import load
    from edi_gateway.tendering.wiring import tendering_of

    config_path, db_url, step, nth = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    shares = sys.argv[5:]
    gw = Gateway(load(config_path, db_url))
    seen = []

    def after(name, interchange_id):
        if name == step:
            seen.append(interchange_id)
            if len(seen) == nth:
                os.kill(os.getpid(), signal.SIGKILL)

    tendering_of(gw).opening.open(PROCEDURE, shares, "crash-test", after=after)
    sys.exit(3)  # the kill did not happen
    """
).replace("PROCEDURE", repr(PROCEDURE))


@pytest.mark.parametrize(("step", "nth"), [("spooled", 1), ("unsealed", 1), ("unsealed", 2)])
def test_sigkill_during_opening_then_resume_routes_every_tender_once(
    config: Config, config_dir: tuple[Path, Any], clock: FakeClock, step: str, nth: int
) -> None:
    gw = Gateway(config, clock=clock)
    tendering_of(gw)
    gw.intake.sealer = tendering_of(gw).sealer
    shares = register(gw)
    tenders = [
        submit(
            gw, tender_json(f"TND-{i}", HANIL if i % 2 else DAEHAN), (HANIL if i % 2 else DAEHAN).id
        )
        for i in range(4)
    ]  # two per tenderer: the later one counts
    tendering_of(gw).clerk.run_once()
    gw.stop()
    gw.engine.dispose()
    # the child runs on the real clock, which is well past OPENING (2026-11-26 10:30 UTC)
    assert dt.datetime.now(dt.UTC) > OPENING
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            CRASH_SCRIPT,
            str(config_dir[0] / "gateway.toml"),
            config.database_url,
            step,
            str(nth),
            *shares[:2],
        ],
        capture_output=True,
        timeout=120,
        env={**os.environ, "EDI_GATEWAY_LOG_LEVEL": "warning"},
    )
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]

    clock.now = OPENING + dt.timedelta(minutes=5)
    gw = Gateway(load(config_dir[0] / "gateway.toml", config.database_url), clock=clock)
    try:
        gw.recover()
        record = tendering_of(gw).opening.open(PROCEDURE, shares[1:], "resume")
        wait_idle(gw.worker)
        counted = {tenders[2].interchange_id, tenders[3].interchange_id}
        assert {x["receipt_id"] for x in record["tenders"]} == counted
        assert sorted(queued_documents(gw)) == ["TND-2", "TND-3"]
        with gw.sessions() as s:
            unsealed = [
                str(i)
                for i in s.scalars(select(Event.interchange_id).where(Event.type == "unsealed"))
            ]
            outcomes = [
                str(i) for i in s.scalars(select(Event.interchange_id).where(Event.type == "done"))
            ]
        assert sorted(unsealed) == sorted(counted)  # each moved to the pipeline exactly once
        assert sorted(outcomes) == sorted(t.interchange_id for t in tenders)
    finally:
        gw.stop()
        gw.engine.dispose()


# -- 4. receipts verify with openssl ---------------------------------------------------------


def _openssl(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["openssl", *args], capture_output=True, timeout=30)


QUOTES = (
    "UNA:+.? 'UNB+UNOC:3+8809876000015:14+EDIGATEWAY:ZZZ+261126:0900+1'UNH+1+QUOTES:D:96A:UN'"
    "BGM+310+Q-1+9'DTM+137:20261126:102'RFF+AHU:{procedure}'FTX+AAI+++{marker}'"
    "LIN+1'QTY+21:1:PCE'MOA+203:100'UNS+S'MOA+79:100'UNT+11+1'UNZ+1+1'"
)


def aperak_signed_parts(aperak: bytes) -> tuple[bytes, bytes]:
    """The statement and signature of a receipt APERAK, read by the gateway's tokenizer."""
    segments = list(Tokenizer.from_bytes(aperak))
    assert [s.element(2, 1) for s in segments if s.tag == "UNH"] == ["APERAK"]
    return edifact_receipt.signed_parts([(s.tag, s.elements) for s in segments])


@pytest.mark.parametrize("shape", ["json", "ubl", "edifact"])
def test_receipt_signature_and_hash_verify_with_openssl(
    gw: Gateway, tmp_path: Path, shape: str
) -> None:
    register(gw)
    payload = {
        "json": tender_json("TND-R", HANIL),
        "ubl": UBL_TENDER.format(procedure=PROCEDURE, marker=MARKER).encode(),
        "edifact": QUOTES.format(procedure=PROCEDURE, marker=MARKER).encode(),
    }[shape]
    receipt = submit(gw, payload, HANIL.id)
    tendering_of(gw).clerk.run_once()
    assert state(gw, receipt.interchange_id) == "sealed"
    assert MARKER.encode() not in gw.spool.read(_raw_sha(gw, receipt.interchange_id))
    ack = receipt_ack(gw, receipt.interchange_id)
    if shape == "edifact":
        statement, signature = aperak_signed_parts(ack.content)
        assert ack.media_type == "application/EDIFACT"
    elif shape == "json":
        body = json.loads(ack.content)
        statement, signature = (
            base64.b64decode(body["statement"]),
            base64.b64decode(body["signature"]),
        )
        assert ack.media_type == "application/json"
    else:
        root = etree.fromstring(ack.content)
        assert etree.QName(root).localname == "TenderReceipt"
        ns = {"egw": "urn:edi-gateway:tender-receipt:1"}
        statement = base64.b64decode(root.findtext(".//egw:Statement", namespaces=ns) or "")
        signature = base64.b64decode(root.findtext(".//egw:Signature", namespaces=ns) or "")
    (tmp_path / "submitted").write_bytes(payload)
    (tmp_path / "statement").write_bytes(statement)
    (tmp_path / "statement.sig").write_bytes(signature)
    (tmp_path / "gateway.pub.pem").write_bytes(tendering_of(gw).key.public_pem())

    verify = _openssl(
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        str(tmp_path / "gateway.pub.pem"),
        "-rawin",
        "-in",
        str(tmp_path / "statement"),
        "-sigfile",
        str(tmp_path / "statement.sig"),
    )
    assert verify.returncode == 0 and b"Signature Verified Successfully" in verify.stdout, (
        verify.stderr
    )
    digest = (
        _openssl("dgst", "-sha256", "-r", str(tmp_path / "submitted")).stdout.split()[0].decode()
    )
    lines = dict(line.split(": ", 1) for line in statement.decode().splitlines()[1:])
    assert lines["sha256"] == digest == hashlib.sha256(payload).hexdigest()
    if shape == "edifact":  # the APERAK states the hash in its own segment too
        stated = [
            s.element(4).lower()
            for s in Tokenizer.from_bytes(ack.content)
            if s.tag == "FTX" and s.element(3) == edifact_receipt.SHA256
        ]
        assert stated == [digest]
    assert lines["received"] == receipt.received_at.isoformat(timespec="microseconds").replace(
        "+00:00", "Z"
    )

    (tmp_path / "statement").write_bytes(statement.replace(b"accepted", b"refused-late"))
    forged = _openssl(
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        str(tmp_path / "gateway.pub.pem"),
        "-rawin",
        "-in",
        str(tmp_path / "statement"),
        "-sigfile",
        str(tmp_path / "statement.sig"),
    )
    assert forged.returncode != 0


# -- the API -----------------------------------------------------------------------------------


def test_api_registers_withdraws_and_opens(
    gw: Gateway, clock: FakeClock, creds: dict[str, dict[str, str]]
) -> None:
    moe = {"Authorization": f"Bearer {creds[MOE.id]['api_token']}"}
    hanil = {"Authorization": f"Bearer {creds[HANIL.id]['api_token']}"}
    body = {
        "procedure_id": PROCEDURE,
        "deadline": DEADLINE.isoformat(),
        "opening_at": OPENING.isoformat(),
        "officers": ["a", "b", "c"],
        "threshold": 2,
        "title": "Chairs",
    }
    with CallsApi(gw) as c:
        assert c.post("/api/v1/calls/", json=body, headers=hanil).status_code == 403
        created = c.post("/api/v1/calls/", json=body, headers=moe)
        assert created.status_code == 201, created.text
        assert created.headers["cache-control"] == "no-store"
        shares = list(created.json()["shares"].values())
        assert c.post("/api/v1/calls/", json=body, headers=moe).status_code == 422  # twice
        tender = submit(gw, tender_json("TND-API", HANIL), HANIL.id)
        tendering_of(gw).clerk.run_once()
        assert c.post(f"/api/v1/calls/{PROCEDURE}/withdrawal", headers=hanil).status_code == 200
        clock.now = DEADLINE + dt.timedelta(seconds=1)
        late = c.post(f"/api/v1/calls/{PROCEDURE}/withdrawal", headers=hanil)
        assert late.status_code == 409 and "deadline" in late.json()["detail"]
        mine = c.get(f"/api/v1/calls/{PROCEDURE}", headers=hanil).json()["submissions"]
        assert [m["receipt_id"] for m in mine] == [tender.interchange_id]
        clock.now = OPENING
        assert (
            c.post(
                f"/api/v1/calls/{PROCEDURE}/opening", json={"shares": shares[:1]}, headers=moe
            ).status_code
            == 422
        )
        assert (
            c.post(
                f"/api/v1/calls/{PROCEDURE}/opening", json={"shares": shares}, headers=hanil
            ).status_code
            == 403
        )
        opened = c.post(
            f"/api/v1/calls/{PROCEDURE}/opening", json={"shares": shares[:2]}, headers=moe
        )
        assert opened.status_code == 200, opened.text
        assert opened.json()["tenders"] == []  # it was withdrawn
        record = c.get(f"/api/v1/calls/{PROCEDURE}/opening-record", headers=hanil)
        assert record.json() == opened.json()


def test_call_from_ubl_call_for_tenders(gw: Gateway) -> None:
    xml = f"""<CallForTenders xmlns="urn:oasis:names:specification:ubl:schema:xsd:CallForTenders-2"
        xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
        xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2">
      <cbc:ContractFolderID>{PROCEDURE}</cbc:ContractFolderID>
      <cac:TenderingProcess>
        <cac:TenderSubmissionDeadlinePeriod><cbc:EndDate>2026-11-26</cbc:EndDate>
          <cbc:EndTime>11:00:00+01:00</cbc:EndTime></cac:TenderSubmissionDeadlinePeriod>
        <cac:OpenTenderEvent><cbc:OccurrenceDate>2026-11-26</cbc:OccurrenceDate>
          <cbc:OccurrenceTime>10:30:00</cbc:OccurrenceTime></cac:OpenTenderEvent>
      </cac:TenderingProcess>
      <cac:ProcurementProject><cbc:Name>Office chairs</cbc:Name></cac:ProcurementProject>
      <cac:ProcurementProjectLot><cbc:ID>1</cbc:ID></cac:ProcurementProjectLot>
      <cac:ProcurementProjectLot><cbc:ID>2</cbc:ID></cac:ProcurementProjectLot>
    </CallForTenders>""".encode()
    t = tendering_of(gw)
    spec = calls.spec_from_ubl(xml, MOE.id, ["a", "b"], 2)
    made = calls.register_call(t.sessions, t.clock, spec, "cli")
    (summary,) = calls.list_calls(t.reads)
    assert (
        summary["deadline"] == DEADLINE.isoformat() and summary["opening_at"] == OPENING.isoformat()
    )
    assert summary["lots"] == ["1", "2"] and summary["title"] == "Office chairs"
    assert len(made.shares) == 2
    with pytest.raises(TenderingRefused, match="CallForTenders"):
        calls.spec_from_ubl(b"<Invoice/>", MOE.id, ["a"], 1)


# -- the command line -------------------------------------------------------------------------


def printed(output: str) -> Any:
    """The JSON document a command printed last (log lines may come before it)."""
    start = 0 if output.startswith("{") else output.rindex("\n{\n") + 1
    return json.loads(output[start:])


class CliObj:
    """What the main group puts in `ctx.obj`: a way to build the gateway."""

    def __init__(self, gw: Gateway) -> None:
        self._gw = gw

    def gateway(self) -> Gateway:
        return self._gw


def test_cli_registers_opens_and_prints_the_record(gw: Gateway, clock: FakeClock) -> None:
    from click.testing import CliRunner

    from edi_gateway.tendering.cli import tenders

    run = CliRunner().invoke
    obj = CliObj(gw)
    args = ["calls", "add", "--procedure", PROCEDURE, "--institution", MOE.id, "--deadline",
            DEADLINE.isoformat(), "--opening", OPENING.isoformat(), "--officer", "kim",
            "--officer", "lee", "--officer", "park", "--quorum", "2"]  # fmt: skip
    added = run(tenders, args, obj=obj)
    assert added.exit_code == 0, added.output
    shares = printed(added.stdout)["shares"]
    assert sorted(shares) == ["kim", "lee", "park"]
    assert run(tenders, args, obj=obj).exit_code == 1  # registered once
    submit(gw, tender_json("TND-CLI", HANIL), HANIL.id)
    clock.now = OPENING
    too_few = run(tenders, ["open", PROCEDURE], input=shares["kim"] + "\n", obj=obj)
    assert too_few.exit_code == 1 and "needs 2" in too_few.output
    opened = run(
        tenders, ["open", PROCEDURE], input=f"{shares['kim']}\n{shares['park']}\n", obj=obj
    )
    assert opened.exit_code == 0, opened.output
    assert [t["tenderer"] for t in printed(opened.stdout)["tenders"]] == [HANIL.id]
    record = run(tenders, ["record", PROCEDURE], obj=obj)
    assert printed(record.stdout) == printed(opened.stdout)
    key = run(tenders, ["key"], obj=obj)
    assert "-----BEGIN PUBLIC KEY-----" in key.stdout
    assert run(tenders, ["calls", "list"], obj=obj).exit_code == 0


def test_cli_seals_each_share_to_its_officers_certificate(
    gw: Gateway, clock: FakeClock, tmp_path: Path
) -> None:
    import tomllib

    import tomli_w
    from click.testing import CliRunner

    from edi_gateway.tendering.cli import tenders

    run = CliRunner().invoke
    obj = CliObj(gw)
    folder = gw.config.partners_dir / "officers"
    for name in ("kim", "lee", "park"):
        made = run(tenders, ["officer-keygen", name, "--out", str(folder)], obj=obj)
        assert made.exit_code == 0, made.output
    assert (folder / "kim.key").stat().st_mode & 0o777 == 0o600
    assert run(tenders, ["officer-keygen", "kim", "--out", str(folder)], obj=obj).exit_code == 1
    partner_file = gw.config.partners_dir / f"{MOE.id}.toml"
    data = tomllib.loads(partner_file.read_text())
    data["tendering"] = {
        "officers": [
            {"name": n, "certificate": f"officers/{n}.pem"} for n in ("kim", "lee", "park")
        ]
    }
    partner_file.write_text(tomli_w.dumps(data))
    assert gw.config.partner_files.reload()
    clock.now = dt.datetime.now(dt.UTC)  # the certificates were made just now
    deadline, opening = clock.now + dt.timedelta(hours=1), clock.now + dt.timedelta(hours=2)
    args = ["calls", "add", "--procedure", PROCEDURE, "--institution", MOE.id, "--deadline",
            deadline.isoformat(), "--opening", opening.isoformat(), "--officer", "kim",
            "--officer", "lee", "--officer", "park", "--quorum", "2"]  # fmt: skip
    added = run(tenders, args, obj=obj)
    assert added.exit_code == 0, added.output
    assert printed(added.stdout)["shares_sealed"] is True
    sealed = printed(added.stdout)["shares"]
    shares = {}
    for name in ("kim", "park"):
        (tmp_path / f"{name}.share").write_text(sealed[name])
        opened = run(tenders, ["unseal-share", str(tmp_path / f"{name}.share"), "--key",
                               str(folder / f"{name}.key"), "--cert", str(folder / f"{name}.pem")],
                     obj=obj)  # fmt: skip
        assert opened.exit_code == 0, opened.output
        shares[name] = opened.stdout.strip()
        assert shares[name].startswith("egw-share-") and shares[name] not in sealed[name]
    wrong = run(tenders, ["unseal-share", str(tmp_path / "kim.share"), "--key",
                          str(folder / "lee.key"), "--cert", str(folder / "lee.pem")], obj=obj)  # fmt: skip
    assert wrong.exit_code == 1 and "cannot be unsealed" in wrong.output
    clock.now = opening
    opened = run(tenders, ["open", PROCEDURE], input="\n".join(shares.values()) + "\n", obj=obj)
    assert opened.exit_code == 0, opened.output
    # an officer the institution has not registered cannot be named
    args[args.index(PROCEDURE)] = "CFT-OTHER"
    args[args.index("park")] = "choi"
    clock.now = dt.datetime.now(dt.UTC)
    refused = run(tenders, args, obj=obj)
    assert refused.exit_code == 1 and "'choi'" in refused.output


def test_the_loops_file_receipts_and_chain_events_when_woken(gw: Gateway) -> None:
    """Wired as the app will wire it: intake wakes the clerk and the notary after a commit."""
    from edi_gateway.audit import verify
    from tests.support import wait_for

    t = tendering_of(gw)
    gw.intake.on_commit = t.wake
    register(gw)
    t.start()
    try:
        receipt = submit(gw, tender_json("TND-LOOP", HANIL), HANIL.id)
        wait_for(lambda: _has_ack(gw, receipt))
        wait_for(lambda: verify(t.reads).unchained == 0)
    finally:
        t.stop()
    result = verify(t.reads)
    assert result.ok and result.checked >= 3  # call registered, received, filed


def _has_ack(gw: Gateway, receipt: Receipt) -> bool:
    with gw.sessions() as s:
        return (
            s.scalar(select(func.count()).where(Ack.interchange_id == receipt.interchange_id)) == 1
        )
