"""Writing AS2 evidence (MDN rows and timeline events) with group commit.

The listener records the MDN it is about to send before sending it; under load many requests
do so at once, so one writer thread takes whatever is waiting and commits it in one
transaction (one sync shared by the batch), as intake does for payloads.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from edi_gateway.model import new_id
from edi_gateway.store.as2 import As2Mdn
from edi_gateway.store.tables import Event

log = structlog.get_logger("edi_gateway.as2")


class EvidenceUnavailable(Exception):
    """The evidence could not be stored; the listener answers with a temporary failure."""


@dataclass
class Evidence:
    """One MDN row (column values of `as2_mdns`) and, when it belongs to an interchange, the
    event that puts it on that interchange's timeline."""

    row: dict[str, Any]
    event: dict[str, Any] | None = None
    done: Future[None] = field(default_factory=Future)


def mdn_row(**values: Any) -> dict[str, Any]:
    """Column values with the defaults every row needs."""
    row: dict[str, Any] = {
        "id": new_id(),
        "interchange_id": None,
        "ack_id": None,
        "partner_id": None,
        "as2_from": None,
        "as2_to": None,
        "original_message_id": None,
        "mdn_message_id": None,
        "disposition": None,
        "mic": None,
        "signed": False,
        "state": "sent",
        "url": None,
        "headers": [],
        "body": None,
        "detail": {},
        "attempts": 0,
        "next_attempt_at": None,
        "last_error": None,
        "finished_at": None,
    }
    row.update(values)
    return row


class EvidenceWriter:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Callable[[], dt.datetime],
        on_commit: Callable[[], None] | None = None,
        max_batch: int = 256,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.on_commit = on_commit
        self.max_batch = max_batch
        self._queue: queue.Queue[Evidence | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def record(
        self, row: dict[str, Any], event: dict[str, Any] | None = None, *, wait: bool = True
    ) -> None:
        """Store one row (and event). With `wait`, return once committed (or raise
        EvidenceUnavailable); without, return at once (a failure is logged)."""
        self._ensure_started()
        item = Evidence(row, event)
        self._queue.put(item)
        if wait:
            item.done.result()

    def close(self) -> None:
        with self._lock:
            if self._thread is not None:
                self._queue.put(None)
                self._thread.join()
                self._thread = None

    def _ensure_started(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="as2-evidence", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[Evidence]) -> None:
        now = self.clock()
        rows = [{"created_at": now, **item.row} for item in batch]
        events = [{"at": now, **item.event} for item in batch if item.event is not None]
        try:
            with self.sessions.begin() as session:
                session.execute(insert(As2Mdn), rows)
                if events:
                    session.execute(insert(Event), events)
        except SQLAlchemyError as exc:
            log.error("as2.evidence_failed", error=type(exc).__name__, batch=len(batch))
            for item in batch:
                item.done.set_exception(EvidenceUnavailable("the message store is unavailable"))
            return
        for item in batch:
            item.done.set_result(None)
        if self.on_commit is not None:
            self.on_commit()
