"""The tamper-evident audit chain over `events`: the notary links what the writers inserted,
`audit verify` recomputes the chain and names the first broken link."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import insert, select, text, update

from edi_gateway.app import Gateway
from edi_gateway.audit import Notary, verify
from edi_gateway.config import Config
from edi_gateway.store.tables import Event
from edi_gateway.store.tendering import EVENTS
from edi_gateway.tendering.cli import audit


@pytest.fixture
def gw(config: Config) -> Iterator[Gateway]:
    gateway = Gateway(config)
    yield gateway
    gateway.stop()
    gateway.engine.dispose()


T0 = dt.datetime(2026, 11, 26, 9, 0, 0, 123456, tzinfo=dt.UTC)


def add_events(gw: Gateway, n: int, start: int = 0) -> None:
    """Bulk inserts, as the intake and the worker write them (they know nothing of chains)."""
    with gw.sessions.begin() as s:
        s.execute(
            insert(Event),
            [
                {
                    "at": T0 + dt.timedelta(seconds=i),
                    "interchange_id": f"IC{i:024d}",
                    "document_id": None,
                    "actor": "worker-1",
                    "type": "done",
                    "detail": {"n": i, "text": "café ✓", "nested": {"b": [1, 2], "a": None}},
                }
                for i in range(start, start + n)
            ],
        )


def event_ids(gw: Gateway) -> list[int]:
    with gw.sessions() as s:
        return list(s.scalars(select(Event.id).order_by(Event.id)))


class Obj:
    def __init__(self, gw: Gateway) -> None:
        self._gw = gw

    def gateway(self) -> Gateway:
        return self._gw


def run_verify(gw: Gateway) -> Any:
    return CliRunner().invoke(audit, ["verify"], obj=Obj(gw))


def test_chain_verifies_and_a_changed_row_is_named(gw: Gateway) -> None:
    add_events(gw, 30)
    notary = Notary(gw.sessions, batch=7)  # several batches: the chain goes on across them
    assert notary.run_until_done() == 30
    assert notary.run_once() == 0
    good = verify(gw.reads)
    assert good.ok and good.checked == 30 and good.unchained == 0
    result = run_verify(gw)
    assert result.exit_code == 0 and "ok: 30 events chained" in result.output

    victim = event_ids(gw)[11]
    with gw.sessions.begin() as s:  # an administrator "corrects" one row
        s.execute(update(Event).where(Event.id == victim).values(detail={"n": 999}))
    bad = verify(gw.reads)
    assert not bad.ok and bad.broken_at == victim and bad.checked == 11
    result = run_verify(gw)
    assert result.exit_code == 1 and f"BROKEN at event {victim}" in result.output


@pytest.mark.parametrize("column", ["at", "actor", "type", "interchange_id", "chain_hash"])
def test_any_changed_column_breaks_the_chain_at_that_row(gw: Gateway, column: str) -> None:
    add_events(gw, 5)
    Notary(gw.sessions).run_until_done()
    victim = event_ids(gw)[2]
    values: dict[str, Any] = {
        "at": T0 + dt.timedelta(microseconds=1),
        "actor": "someone-else",
        "type": "rejected",
        "interchange_id": "X" * 26,
        "chain_hash": "0" * 64,
    }
    with gw.sessions.begin() as s:
        s.execute(update(EVENTS).where(EVENTS.c.id == victim).values({column: values[column]}))
    assert verify(gw.reads).broken_at == victim


def test_a_deleted_row_breaks_the_chain_at_the_next_one(gw: Gateway) -> None:
    add_events(gw, 5)
    Notary(gw.sessions).run_until_done()
    ids = event_ids(gw)
    with gw.sessions.begin() as s:
        s.execute(text("DELETE FROM events WHERE id = :id"), {"id": ids[1]})
    result = verify(gw.reads)
    assert result.broken_at == ids[2] and "missing" in (result.reason or "")


def test_the_notary_keeps_up_with_concurrent_bulk_writers(gw: Gateway) -> None:
    notary = Notary(gw.sessions, batch=50)
    writers = [threading.Thread(target=add_events, args=(gw, 40, 100 * w)) for w in range(4)]
    for w in writers:
        w.start()
    chained = 0
    while any(w.is_alive() for w in writers):
        chained += notary.run_once()
    for w in writers:
        w.join()
    chained += notary.run_until_done()
    assert chained == 160
    result = verify(gw.reads)
    assert result.ok and result.checked == 160


def test_events_of_the_real_gateway_are_chained(gw: Gateway) -> None:
    """Rows written by intake and worker (ORM and Core inserts, JSON details) verify."""
    from edi_gateway import samples
    from edi_gateway.intake import Origin
    from edi_gateway.pipeline.worker import wait_idle

    moe, hanil = samples.INSTITUTIONS[0], samples.SUPPLIERS[0]
    for i in range(3):
        doc = json.dumps(samples.order(f"PO-{i}", moe, hanil)).encode()
        gw.intake.receive(doc, Origin(channel="http", partner_id=hanil.id))
    wait_idle(gw.worker)
    gw.outbox.deliver_due()
    Notary(gw.sessions).run_until_done()
    result = verify(gw.reads)
    assert result.ok and result.checked >= 6
