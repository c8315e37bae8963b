"""The pipeline end to end on the store (SQLite and PostgreSQL), driven step by step."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from edi_gateway import samples
from edi_gateway.app import Gateway
from edi_gateway.intake import Origin
from edi_gateway.pipeline.commands import reprocess
from edi_gateway.pipeline.worker import wait_idle
from edi_gateway.store.queries import interchange_status
from edi_gateway.store.tables import Ack, Event, Interchange, QueueItem

MOE, SEOUL = samples.INSTITUTIONS
HANIL, DAEHAN, NORDIC = samples.SUPPLIERS


def submit(gw: Gateway, doc: dict | bytes, partner: str = "hanil-office", transport_id: str | None = None) -> str:
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    receipt = gw.intake.receive(body, Origin(channel="http", partner_id=partner, transport_id=transport_id))
    return receipt.interchange_id


def status(gw: Gateway, rid: str) -> dict:
    with gw.sessions() as s:
        st = interchange_status(s, rid)
    assert st is not None
    return st


def test_valid_order_is_routed_to_the_institution_queue_once(gateway: Gateway) -> None:
    rid = submit(gateway, samples.order("PO-1", MOE, HANIL))
    wait_idle(gateway.worker)
    st = status(gateway, rid)
    assert st["state"] == "done"
    assert [d["queue"] for d in st["documents"]] == ["moe.order"]
    assert st["documents"][0]["state"] == "routed"
    with gateway.sessions() as s:
        items = list(s.scalars(select(QueueItem)))
        assert len(items) == 1
        body = items[0].body
        assert body["document"]["id"] == "PO-1"
        assert body["document"]["lines"][0]["unit_price"] == "1250"
        assert body["provenance"]["interchange_id"] == rid
        assert body["provenance"]["partner_id"] == "hanil-office"
        assert len(body["provenance"]["raw_sha256"]) == 64
        events = [e.type for e in s.scalars(select(Event).where(Event.interchange_id == rid).order_by(Event.id))]
    assert events == ["received", "processing", "done"]


def test_route_rule_beats_default_queue(gateway: Gateway) -> None:
    rid = submit(gateway, samples.invoice("INV-1", MOE, DAEHAN), partner="daehan-it")
    wait_idle(gateway.worker)
    assert status(gateway, rid)["documents"][0]["queue"] == "moe.finance"


def test_test_documents_go_to_test_queues(gateway: Gateway) -> None:
    rid = submit(gateway, samples.order("PO-T", SEOUL, HANIL, test=True))
    wait_idle(gateway.worker)
    assert status(gateway, rid)["documents"][0]["queue"] == "seoul-city.order.test"


def test_broken_json_is_rejected_with_a_located_finding(gateway: Gateway) -> None:
    rid = submit(gateway, b'{"kind": "order",\n "id": ')
    wait_idle(gateway.worker)
    st = status(gateway, rid)
    assert st["state"] == "rejected"
    [f] = st["findings"]
    assert f["code"] == "json-syntax" and f["severity"] == "fatal"
    assert f["location"]["line"] == 2
    with gateway.sessions() as s:
        [ack] = s.scalars(select(Ack).where(Ack.interchange_id == rid))
    receipt = json.loads(ack.content)
    assert ack.positive is False and receipt["verdict"] == "rejected"
    assert receipt["findings"][0]["code"] == "json-syntax"


def test_schema_violations_name_the_path(gateway: Gateway) -> None:
    doc = samples.order("PO-2", MOE, HANIL)
    doc["issue_date"] = "yesterday"
    doc["lines"][1]["quantity"] = "many"
    rid = submit(gateway, doc)
    wait_idle(gateway.worker)
    st = status(gateway, rid)
    assert st["state"] == "rejected"
    paths = sorted(f["location"]["path"] for f in st["documents"][0]["findings"])
    assert paths == ["/issue_date", "/lines/1/quantity"]


def test_a_kind_the_partner_may_not_send_is_rejected(gateway: Gateway) -> None:
    rid = submit(gateway, samples.order("PO-3", MOE, DAEHAN), partner="daehan-it")
    wait_idle(gateway.worker)
    st = status(gateway, rid)
    assert st["state"] == "rejected"
    assert [f["code"] for f in st["documents"][0]["findings"]] == ["kind-not-permitted"]


def test_unknown_buyer_is_a_business_rejection(gateway: Gateway) -> None:
    doc = samples.order("PO-4", MOE, HANIL)
    doc["parties"][0]["identifiers"] = [{"scheme": "0088", "value": "0000000000000"}]
    doc["parties"][0]["tax_ids"] = []
    rid = submit(gateway, doc)
    wait_idle(gateway.worker)
    st = status(gateway, rid)
    assert st["state"] == "rejected"
    assert st["documents"][0]["findings"][0]["code"] == "unknown-buyer"
    assert "0088:0000000000000" in st["documents"][0]["findings"][0]["text"]


def test_batch_with_one_bad_document_queues_the_good_ones(gateway: Gateway) -> None:
    bad = samples.order("PO-B2", MOE, HANIL)
    del bad["issue_date"]
    batch = {"documents": [samples.order("PO-B1", MOE, HANIL), bad, samples.order("PO-B3", SEOUL, HANIL)]}
    rid = submit(gateway, batch)
    wait_idle(gateway.worker)
    st = status(gateway, rid)
    assert st["state"] == "done"
    assert [d["state"] for d in st["documents"]] == ["routed", "invalid", "routed"]
    assert st["documents"][1]["findings"][0]["location"]["path"] == "/documents/1/issue_date"
    with gateway.sessions() as s:
        assert s.scalar(select(func.count()).select_from(QueueItem)) == 2


def test_no_route_is_dead_and_reprocessable(gateway: Gateway, config_dir) -> None:
    gateway.worker.router.defaults.pop(samples_kind("tender"))
    rid = submit(gateway, samples.tender("T-1", SEOUL, DAEHAN, "CFT-1"), partner="daehan-it")
    wait_idle(gateway.worker)
    st = status(gateway, rid)
    assert st["state"] == "dead"
    assert st["documents"][0]["findings"][0]["code"] == "no-route"
    assert st["acks"] == []  # the sender hears from us once an operator settled it
    gateway.worker.router.defaults[samples_kind("tender")] = "{receiver}.tender"
    reprocess(gateway.sessions, rid, "test-operator", gateway.clock())
    wait_idle(gateway.worker)
    st = status(gateway, rid)
    assert st["state"] == "done"
    assert st["findings"] == [] and st["documents"][0]["findings"] == []  # latest run only
    assert st["documents"][0]["queue"] == "seoul-city.tender"


def samples_kind(value: str):
    from edi_gateway.model import DocumentKind

    return DocumentKind(value)


def test_reprocessing_a_done_interchange_never_queues_twice(gateway: Gateway) -> None:
    rid = submit(gateway, samples.order("PO-5", MOE, HANIL))
    wait_idle(gateway.worker)
    reprocess(gateway.sessions, rid, "test-operator", gateway.clock())
    wait_idle(gateway.worker)
    assert status(gateway, rid)["state"] == "done"
    with gateway.sessions() as s:
        assert s.scalar(select(func.count()).select_from(QueueItem)) == 1


def test_duplicates_by_transport_id_and_by_content(gateway: Gateway) -> None:
    first = submit(gateway, samples.order("PO-6", MOE, HANIL), transport_id="msg-1")
    again = submit(gateway, samples.order("PO-6b", MOE, HANIL), transport_id="msg-1")
    same_bytes = submit(gateway, samples.order("PO-6", MOE, HANIL))
    other_partner = submit(gateway, samples.order("PO-6", MOE, HANIL), partner="nordic-paper")
    wait_idle(gateway.worker)
    assert status(gateway, first)["state"] == "done"
    for dup in (again, same_bytes):
        st = status(gateway, dup)
        assert st["state"] == "duplicate" and st["duplicate_of"] == first
        assert st["documents"] == []
        assert st["findings"][0]["code"] == "duplicate"
    assert status(gateway, other_partner)["duplicate_of"] is None
    with gateway.sessions() as s:
        assert s.scalar(select(func.count()).select_from(QueueItem)) == 2  # first + other partner


def test_an_interchange_that_keeps_crashing_the_worker_is_parked_dead(gateway: Gateway) -> None:
    rid = submit(gateway, samples.order("PO-7", MOE, HANIL))
    for _ in range(gateway.config.settings.worker.max_attempts):
        assert gateway.worker.claim("crashing-worker")  # claimed, then the process "dies"
        gateway.worker.recover()
    wait_idle(gateway.worker)
    st = status(gateway, rid)
    assert st["state"] == "dead"
    assert st["findings"][0]["code"] == "unexpected-processing-error"


def test_a_worker_that_lost_its_claim_records_nothing(gateway: Gateway) -> None:
    rid = submit(gateway, samples.order("PO-8", MOE, HANIL))
    claimed = gateway.worker.claim("slow-worker")
    gateway.worker.recover()  # e.g. the lease ran out and another node took it back
    results = [(c, *gateway.worker._process(c)) for c in claimed]
    gateway.worker.record("slow-worker", results)
    with gateway.sessions() as s:
        assert s.get_one(Interchange, rid).state == "received"
        assert s.scalar(select(func.count()).select_from(QueueItem)) == 0
    wait_idle(gateway.worker)
    assert status(gateway, rid)["state"] == "done"


def test_unknown_format_is_rejected(gateway: Gateway) -> None:
    rid = submit(gateway, b"\x00\x01binary junk")
    wait_idle(gateway.worker)
    st = status(gateway, rid)
    assert st["state"] == "rejected"
    assert st["findings"][0]["code"] == "unknown-format"


def test_a_resent_order_number_is_rejected_and_not_queued_again(gateway: Gateway) -> None:
    first = submit(gateway, samples.order("PO-DUP", MOE, HANIL))
    wait_idle(gateway.worker)
    # the same number again, in other bytes (so intake's content check does not catch it)
    again = submit(gateway, json.dumps(samples.order("PO-DUP", MOE, HANIL, lines=2)).encode())
    other_buyer = submit(gateway, samples.order("PO-DUP", SEOUL, HANIL))
    wait_idle(gateway.worker)
    assert status(gateway, first)["state"] == "done"
    st = status(gateway, again)
    assert st["state"] == "rejected"
    [doc] = st["documents"]
    assert doc["queue"] is None and doc["state"] == "valid"
    [finding] = doc["findings"]
    assert finding["code"] == "duplicate-document" and finding["severity"] == "error"
    assert f"{first}-0" in finding["text"]
    assert status(gateway, other_buyer)["documents"][0]["queue"] == "seoul-city.order"
    with gateway.sessions() as s:
        queued = sorted(s.scalars(select(QueueItem.document_id)))
        [ack] = s.scalars(select(Ack).where(Ack.interchange_id == again))
    assert queued == sorted([f"{first}-0", f"{other_buyer}-0"])
    receipt = json.loads(ack.content)
    assert ack.positive is False and receipt["verdict"] == "rejected"
    assert "duplicate-document" in ack.content.decode()


def test_an_order_number_counts_only_once_accepted(gateway: Gateway) -> None:
    # the first one is refused (unknown buyer), so the corrected resend is no duplicate
    bad = samples.order("PO-RETRY", MOE, HANIL)
    bad["parties"][0]["identifiers"] = [{"scheme": "0088", "value": "0000000000000"}]
    bad["parties"][0]["tax_ids"] = []
    refused = submit(gateway, bad)
    wait_idle(gateway.worker)
    assert status(gateway, refused)["state"] == "rejected"
    fixed = submit(gateway, samples.order("PO-RETRY", MOE, HANIL))
    wait_idle(gateway.worker)
    assert status(gateway, fixed)["documents"][0]["queue"] == "moe.order"


def test_two_orders_with_one_number_in_one_batch(gateway: Gateway) -> None:
    twice = [samples.order("PO-TWICE", MOE, HANIL), samples.order("PO-TWICE", MOE, HANIL, lines=1)]
    rid = submit(gateway, {"documents": twice})
    wait_idle(gateway.worker)
    docs = status(gateway, rid)["documents"]
    assert [d["queue"] for d in docs] == ["moe.order", None]
    assert [f["code"] for f in docs[1]["findings"]] == ["duplicate-document"]


def test_one_order_number_in_several_interchanges_of_one_batch(gateway: Gateway) -> None:
    # submitted before the worker runs, so one claim takes all five: none is recorded when the
    # others are checked, and the store alone cannot tell
    rids = [
        submit(gateway, json.dumps(samples.order("PO-BATCH", MOE, HANIL, lines=n)).encode())
        for n in range(1, 6)
    ]
    assert gateway.worker.run_once() == len(rids)
    states = [status(gateway, rid)["state"] for rid in rids]
    assert states == ["done"] + ["rejected"] * 4
    for rid in rids[1:]:
        [doc] = status(gateway, rid)["documents"]
        assert [f["code"] for f in doc["findings"]] == ["duplicate-document"]
        assert rids[0] in doc["findings"][0]["text"]
    with gateway.sessions() as s:
        assert s.scalar(select(func.count()).select_from(QueueItem)) == 1
    assert not gateway.worker.numbers_in_flight._held  # released once the batch is recorded
