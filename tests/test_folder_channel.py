"""The folder channel: files renamed into in/ are taken once, archived, and answered in out/."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from edi_gateway import samples
from edi_gateway.store.tables import Interchange
from tests.conftest import Server
from tests.support import wait_for

MOE, SEOUL = samples.INSTITUTIONS
HANIL = samples.SUPPLIERS[0]


def test_a_dropped_file_is_taken_once_archived_and_answered(server: Server) -> None:
    root: Path = server.gateway.config.folder_root / "hanil-office"
    (root / "in" / ".upload.json.part").write_text("{half written")  # ignored: still being written
    temp = root / "order-1.json.tmp"
    temp.write_text(json.dumps(samples.order("PO-F1", SEOUL, HANIL)))
    temp.rename(root / "in" / "order-1.json")

    acks = wait_for(lambda: list((root / "out").glob("*.receipt.json")), timeout=20)
    receipt = json.loads(acks[0].read_text())
    assert receipt["verdict"] == "accepted"
    assert receipt["documents"][0]["queue"] == "seoul-city.order"
    assert not (root / "in" / "order-1.json").exists()
    archived = list((root / "archive").rglob("order-1.json.*"))
    assert len(archived) == 1 and archived[0].name.endswith(receipt["receipt_id"])
    assert (root / "in" / ".upload.json.part").exists()
    with server.gateway.sessions() as s:
        rows = list(s.scalars(select(Interchange)))
    assert [(r.channel, r.partner_id, r.filename) for r in rows] == [("folder", "hanil-office", "order-1.json")]


def test_a_bad_file_gets_a_negative_receipt_in_out(server: Server) -> None:
    root: Path = server.gateway.config.folder_root / "hanil-office"
    (root / "in" / "broken.json").write_text('{"kind": "invoice"')
    acks = wait_for(lambda: list((root / "out").glob("*.receipt.json")), timeout=20)
    receipt = json.loads(acks[0].read_text())
    assert receipt["verdict"] == "rejected" and receipt["findings"][0]["code"] == "json-syntax"
