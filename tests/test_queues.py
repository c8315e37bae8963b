"""Back-office queue semantics (SQLite and PostgreSQL): leases, visibility, nacks, dead letters."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy.orm import Session, sessionmaker

from edi_gateway.config import QueueSettings
from edi_gateway.model import new_id
from edi_gateway.queues import LeaseLost, Queues
from edi_gateway.store import db
from edi_gateway.store.tables import QueueItem
from tests.conftest import FakeClock


@pytest.fixture
def sessions(database_url: str) -> sessionmaker[Session]:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    return db.sessions(engine)


def fill(sessions: sessionmaker[Session], clock: FakeClock, n: int, queue: str = "moe.order") -> None:
    with sessions.begin() as s:
        s.add_all(
            QueueItem(queue=queue, document_id=f"{new_id()}-{i}", body={"n": i}, state="ready",
                      visible_at=clock(), receive_count=0, created_at=clock())
            for i in range(n)
        )


def test_two_consumers_never_hold_the_same_item(sessions: sessionmaker[Session]) -> None:
    clock = FakeClock()
    queues = Queues(sessions, QueueSettings(visibility_timeout=300), clock)
    fill(sessions, clock, 300)
    got: list[int] = []
    lock = threading.Lock()

    def consume() -> None:
        while True:
            batch = queues.receive("moe.order", max_items=7)
            if not batch:
                return
            with lock:
                got.extend(m.id for m in batch)

    threads = [threading.Thread(target=consume) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = Counter(got)
    assert len(counts) == 300
    assert max(counts.values()) == 1


def test_an_unacked_item_comes_back_after_its_visibility_timeout(sessions: sessionmaker[Session]) -> None:
    clock = FakeClock()
    queues = Queues(sessions, QueueSettings(visibility_timeout=30), clock)
    fill(sessions, clock, 1)
    [first] = queues.receive("moe.order")
    assert queues.receive("moe.order") == []
    clock.advance(29)
    assert queues.receive("moe.order") == []
    clock.advance(2)
    [again] = queues.receive("moe.order")
    assert again.id == first.id and again.receive_count == 2
    with pytest.raises(LeaseLost):
        queues.ack("moe.order", first.receipt_handle)  # the old lease is gone
    queues.ack("moe.order", again.receipt_handle)
    clock.advance(3600)
    assert queues.receive("moe.order") == []
    [stats] = queues.stats()
    assert (stats.visible, stats.in_flight, stats.done, stats.dead) == (0, 0, 1, 0)


def test_nack_backs_off_then_n_nacks_lead_to_the_dead_letters(sessions: sessionmaker[Session]) -> None:
    clock = FakeClock()
    queues = Queues(sessions, QueueSettings(visibility_timeout=30, max_receives=3, backoff_seconds=2), clock)
    fill(sessions, clock, 1)
    for attempt in (1, 2):
        [m] = queues.receive("moe.order")
        queues.nack("moe.order", m.receipt_handle, reason=f"ERP down ({attempt})")
        assert queues.receive("moe.order") == []  # backing off
        clock.advance(2 * 2 ** (attempt - 1))
    [m] = queues.receive("moe.order")
    queues.nack("moe.order", m.receipt_handle, reason="ERP down (3)")
    clock.advance(3600)
    assert queues.receive("moe.order") == []
    [dead] = queues.dead_letters("moe.order")
    assert dead.last_error == "ERP down (3)"
    assert queues.requeue("moe.order") == 1
    [back] = queues.receive("moe.order")
    assert back.receive_count == 1


def test_an_item_received_too_often_without_an_ack_is_dead_lettered(sessions: sessionmaker[Session]) -> None:
    clock = FakeClock()
    queues = Queues(sessions, QueueSettings(visibility_timeout=10, max_receives=2), clock)
    fill(sessions, clock, 1)
    for _ in range(2):
        assert queues.receive("moe.order")
        clock.advance(11)
    assert queues.receive("moe.order") == []
    assert len(queues.dead_letters("moe.order")) == 1


def test_queues_are_separate(sessions: sessionmaker[Session]) -> None:
    clock = FakeClock()
    queues = Queues(sessions, QueueSettings(), clock)
    fill(sessions, clock, 2, "moe.order")
    fill(sessions, clock, 1, "seoul-city.order")
    assert len(queues.receive("seoul-city.order", max_items=10)) == 1
    assert {s.queue: s.visible for s in queues.stats()} == {"moe.order": 2, "seoul-city.order": 0}
