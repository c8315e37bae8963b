"""Intake: guaranteed delivery and the idempotent receiver.

Every channel ends here, in `Intake.receive(payload, origin)`. The call returns a `Receipt`
only after the raw bytes are durable in the spool and the interchange row is committed;
anything that prevents that raises `IntakeUnavailable`, which a channel turns into a
temporary failure for the sender (HTTP 503, SMTP 451, SFTP failure).

Throughput comes from group commit: channels stage (and sync) their payloads concurrently,
one committer thread takes whatever is waiting and makes the whole batch durable in the spool,
and a second one inserts the rows of whatever durable batches are waiting in one transaction,
while the first already syncs the next batch. Under load the cost of a sync is shared by
dozens of submissions; with one client it is the same as writing each file alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol, TypeVar

import structlog
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from edi_gateway import metrics
from edi_gateway.model import new_id
from edi_gateway.spool import Spool, SpoolFull, Staged
from edi_gateway.store.driver import DriverStatements
from edi_gateway.store.tables import Event, IntakeKey, Interchange, InterchangeState, PartnerRow

log = structlog.get_logger("edi_gateway.intake")

Clock = Callable[[], dt.datetime]
# rows a channel stores in the intake transaction of its payload (e.g. the AS2 MDN that says
# `processed`): given the receipt, (table, column values) pairs; called in the committer
# thread while it holds the store's write lock, so it must only build values
Companions = Callable[["Receipt"], list[tuple[Any, dict[str, Any]]]]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Origin:
    """Where a payload came from: the channel, the authenticated partner, transport facts."""

    channel: str
    partner_id: str | None
    transport_id: str | None = None  # AS2 Message-ID, mail Message-ID, Idempotency-Key, ...
    filename: str | None = None
    media_type: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)  # remote address, headers, ...


@dataclass(frozen=True)
class Receipt:
    interchange_id: str
    sha256: str
    size: int
    received_at: dt.datetime
    duplicate_of: str | None = None
    seen_keys: tuple[str, ...] = ()  # the idempotency keys that were already known
    # an `idempotent` submission whose transport id was known: no interchange was made, and
    # `interchange_id` is the one first received under that transport id
    repeated: bool = False


@dataclass(frozen=True)
class Sealing:
    """A payload a sealer encrypted before it touched the disk (sealed tenders): the spool
    keeps `ciphertext`; the store keeps only these metadata."""

    ciphertext: bytes
    plaintext_sha256: str
    plaintext_size: int
    facts: dict[str, Any]  # call for tenders, key id, tenderer... never content


class Sealer(Protocol):
    """Decides, before anything is written, whether a payload must be sealed."""

    def might_seal(self, head: bytes, origin: Origin) -> bool:
        """Cheap look at the first bytes: could this be a sealed-bid tender?"""
        ...

    def seal(self, payload: bytes, origin: Origin) -> Sealing | None: ...


SEAL_HEAD = 64 * 1024


class IntakeUnavailable(Exception):
    """The payload was not accepted; the sender should try again later."""

    def __init__(self, reason: str, retry_after: int = 30) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class PayloadTooLarge(ValueError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"payload larger than the limit of {limit} bytes")
        self.limit = limit


@dataclass
class _Pending:
    staged: Staged
    origin: Origin
    future: Future[Receipt]
    sealing: Sealing | None = None
    companions: Companions | None = None
    idempotent: bool = False

    @property
    def content_sha256(self) -> str:
        """The hash of what the sender sent (for sealed payloads, not the spool's ciphertext)."""
        return self.sealing.plaintext_sha256 if self.sealing else self.staged.sha256


class Intake:
    def __init__(
        self,
        spool: Spool,
        sessions: sessionmaker[Session],
        clock: Clock = utcnow,
        max_batch: int = 256,
        on_commit: Callable[[], None] | None = None,
        sealer: Sealer | None = None,
        on_sealed: Callable[[], None] | None = None,
    ) -> None:
        self.spool = spool
        self.sessions = sessions
        self.clock = clock
        self.max_batch = max_batch
        self.on_commit = on_commit  # e.g. wake the pipeline worker
        self.sealer = sealer
        self.on_sealed = on_sealed  # after a commit with sealed payloads (wake the clerk)
        self._engine = sessions.kw["bind"]
        self._driver = DriverStatements(self._engine.dialect)
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._durable: queue.Queue[list[_Pending] | None] = queue.Queue()  # spool -> store
        self._thread: threading.Thread | None = None
        self._store_thread: threading.Thread | None = None
        self._connection: Connection | None = None  # the store committer's
        self._connection_used = 0.0
        self._lock = threading.Lock()

    # -- public API ------------------------------------------------------------------------

    def receive(
        self,
        payload: bytes | BinaryIO | Iterable[bytes],
        origin: Origin,
        max_bytes: int | None = None,
    ) -> Receipt:
        """Stage and commit `payload`; blocks until it is durable. Thread-safe."""
        return self.submit_payload(payload, origin, max_bytes).result()

    def submit_payload(
        self,
        payload: bytes | BinaryIO | Iterable[bytes],
        origin: Origin,
        max_bytes: int | None = None,
        companions: Companions | None = None,
        *,
        idempotent: bool = False,
    ) -> Future[Receipt]:
        """Stage `payload` (blocking) and hand it to the committer without waiting for the
        commit; `companions` rows are committed in the same transaction. `idempotent`: a
        payload whose origin's transport id is already known (committed, or earlier in the
        same batch) is a copy, not a new interchange (`Receipt.repeated`)."""
        staged, sealing = self.stage_or_seal(payload, origin, max_bytes)
        return self.submit(staged, origin, sealing, companions, idempotent=idempotent)

    async def receive_async(
        self,
        payload: bytes | BinaryIO | Iterable[bytes],
        origin: Origin,
        max_bytes: int | None = None,
    ) -> Receipt:
        staged, sealing = await asyncio.to_thread(self.stage_or_seal, payload, origin, max_bytes)
        return await asyncio.wrap_future(self.submit(staged, origin, sealing))

    def stage_or_seal(
        self, payload: bytes | BinaryIO | Iterable[bytes], origin: Origin, max_bytes: int | None
    ) -> tuple[Staged, Sealing | None]:
        """Stage `payload`, sealed first when the sealer takes it (a tender for a registered
        call): what a channel that stages before submitting (mail) must use for documents."""
        if self.sealer is None:
            return self.stage(payload, origin, max_bytes), None
        head, rest = _peek(payload, SEAL_HEAD)
        if not self.sealer.might_seal(head, origin):
            return self.stage(_chain(head, rest), origin, max_bytes), None
        data = head + b"".join(rest)  # a tender is small; the size limit still applies
        if max_bytes is not None and len(data) > max_bytes:
            raise PayloadTooLarge(max_bytes)
        sealing = self.sealer.seal(data, origin)
        if sealing is None:
            return self.stage(data, origin, max_bytes), None
        return self.stage(sealing.ciphertext, origin, None), sealing

    def stage(
        self,
        payload: bytes | BinaryIO | Iterable[bytes],
        origin: Origin,
        max_bytes: int | None = None,
    ) -> Staged:
        try:
            return self.spool.stage(payload, max_bytes)
        except SpoolFull as exc:
            metrics.INTAKE_FAILED.labels(origin.channel, "spool").inc()
            log.warning("intake.spool_full", channel=origin.channel, error=str(exc))
            raise IntakeUnavailable(
                "the spool has no space for this payload", retry_after=60
            ) from exc
        except ValueError as exc:
            raise PayloadTooLarge(max_bytes or 0) from exc

    def submit(
        self,
        staged: Staged,
        origin: Origin,
        sealing: Sealing | None = None,
        companions: Companions | None = None,
        *,
        idempotent: bool = False,
    ) -> Future[Receipt]:
        """Hand a staged payload to the committer; the future resolves once it is durable."""
        self._ensure_started()
        fut: Future[Receipt] = Future()
        self._queue.put(_Pending(staged, origin, fut, sealing, companions, idempotent))
        return fut

    def close(self) -> None:
        with self._lock:
            if self._thread is not None:
                self._queue.put(None)
                self._thread.join()  # it hands the stop on to the store committer
                self._thread = None
            if self._store_thread is not None:
                self._store_thread.join()
                self._store_thread = None
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    # -- the committer ---------------------------------------------------------------------
    #
    # Two stages, each a thread taking whatever is waiting: the spool committer makes a batch
    # of payloads durable (renames, directory syncs) and hands it on; the store committer
    # inserts the rows of whatever durable batches are waiting in one transaction. So the
    # spool sync of the next batch runs while the store commits (and waits for its write
    # lock) for the previous one: under load a payload waits for the longer of the two, not
    # for their sum. A row is still committed only after its payload is durable.

    def _ensure_started(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._store_thread = threading.Thread(
                        target=self._run_store, name="intake-store-committer", daemon=True
                    )
                    self._store_thread.start()
                    self._thread = threading.Thread(
                        target=self._run, name="intake-committer", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        """The spool stage."""
        for batch in _batches(self._queue, self.max_batch):
            try:
                self.spool.commit([p.staged for p in batch])
            except SpoolFull as exc:
                self._fail(batch, "the spool could not make the payload durable", "spool", exc)
                continue
            self._durable.put(batch)
        self._durable.put(None)

    def _run_store(self) -> None:
        """The store stage."""
        for batches in _batches(self._durable, _DURABLE_BATCHES):
            self._commit([p for batch in batches for p in batch])

    def _commit(self, batch: list[_Pending]) -> None:
        """Insert the rows of a batch whose payloads are durable, and answer its futures."""
        try:
            receipts = self._insert(batch)
        except SQLAlchemyError as exc:
            self._fail(batch, "the message store is unavailable", "store", exc)
            return
        metrics.INTAKE_BATCH.observe(len(batch))
        for p, r in zip(batch, receipts, strict=True):
            metrics.ACCEPTED.labels(p.origin.channel).inc()
            p.future.set_result(r)
        if self.on_commit is not None:
            self.on_commit()
        if self.on_sealed is not None and any(p.sealing is not None for p in batch):
            self.on_sealed()

    def _fail(self, batch: list[_Pending], reason: str, kind: str, exc: Exception) -> None:
        log.error("intake.commit_failed", reason=reason, error=str(exc), batch=len(batch))
        for p in batch:
            metrics.INTAKE_FAILED.labels(p.origin.channel, kind).inc()
            p.future.set_exception(IntakeUnavailable(reason))

    def _insert(self, batch: list[_Pending]) -> list[Receipt]:
        """One transaction for the whole batch, with multi-row inserts on the driver's cursor
        (for the one to four payloads of a typical batch, SQLAlchemy's per-statement costs
        were most of the committer's time; the sync is cheap in CPU)."""
        now = self.clock()
        connection = self._store_connection()
        try:
            with connection.begin():  # the store's write lock, BEGIN ... COMMIT (or ROLLBACK)
                cursor = connection.connection.cursor()
                try:
                    return self._write(cursor, batch, now)
                finally:
                    cursor.close()
        except BaseException:
            self._drop_connection()  # it may be broken (the server went away...)
            raise

    def _write(self, cursor: Any, batch: list[_Pending], now: dt.datetime) -> list[Receipt]:
        """The batch's rows, in the open transaction: the idempotent receiver decides here."""
        interchanges: list[dict[str, Any]] = []
        keys_rows: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        receipts = []
        driver = self._driver
        known = self._known(cursor, {(_pkey(p.origin), k) for p in batch for k in _keys(p)})
        for p in batch:
            o, st = p.origin, p.staged
            keys = [(_pkey(o), k) for k in _keys(p)]
            seen_keys = tuple(k[1] for k in keys if k in known)
            size = p.sealing.plaintext_size if p.sealing else st.size
            transport = _transport_key(p)
            if p.idempotent and transport is not None and transport in known:
                # the transport id is known: a copy, not a new interchange
                first = known[transport]
                receipts.append(Receipt(first, p.content_sha256, size, now, first, seen_keys, True))
                continue
            iid = new_id()
            original = next((known[k] for k in keys if k in known), None)
            for k in keys:
                if k not in known:
                    known[k] = original or iid
                    keys_rows.append(
                        {
                            "partner_id": k[0],
                            "key": k[1],
                            "interchange_id": original or iid,
                        }
                    )
            interchanges.append(_interchange_row(p, iid, original, now))
            detail: dict[str, Any] = {
                "channel": o.channel,
                "sha256": p.content_sha256,
                "size": st.size,
            }
            if original:
                detail["duplicate_of"] = original
            events.append(
                {
                    "at": now,
                    "interchange_id": iid,
                    "document_id": None,
                    "actor": f"channel:{o.channel}",
                    "type": "received",
                    "detail": detail,
                }
            )
            receipts.append(Receipt(iid, p.content_sha256, size, now, original, seen_keys))
        driver.insert(cursor, Interchange, interchanges)
        driver.insert(cursor, IntakeKey, keys_rows)
        driver.insert(cursor, Event, events)
        self._insert_companions(cursor, batch, receipts)
        partners = sorted({p.origin.partner_id for p in batch if p.origin.partner_id})
        if partners:
            seen_at = driver.value(PartnerRow, "last_seen_at", now)
            driver.executemany(
                cursor,
                driver.sql("UPDATE partners SET last_seen_at = ? WHERE id = ?"),
                [(seen_at, partner) for partner in partners],
            )
        return receipts

    def _store_connection(self) -> Connection:
        """The committer's connection, kept between the batches of a busy spell (a checkout
        costs as much as the inserts of a small batch); after a quiet spell it goes back to
        the pool and a fresh checkout (with the pool's liveness check) replaces it."""
        at = time.monotonic()
        if self._connection is not None and at - self._connection_used > _CONNECTION_IDLE:
            with contextlib.suppress(Exception):  # the pool discards a broken one
                self._connection.close()
            self._connection = None
        if self._connection is None:
            self._connection = self._engine.connect()
        self._connection_used = at
        return self._connection

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.invalidate()

    def _known(self, cursor: Any, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """The interchanges the store already has under these (partner, key) pairs, read in
        the write transaction (so no concurrent commit can slip in between)."""
        by_partner: dict[str, list[str]] = {}
        for partner, key in sorted(wanted):
            by_partner.setdefault(partner, []).append(key)
        known: dict[tuple[str, str], str] = {}
        quoted_key = self._driver.quote("key")
        for partner, keys in by_partner.items():
            for start in range(0, len(keys), _KEYS_PER_QUERY):
                chunk = keys[start : start + _KEYS_PER_QUERY]
                sql = self._driver.sql(
                    f"SELECT {quoted_key}, interchange_id FROM intake_keys"
                    f" WHERE partner_id = ? AND {quoted_key} IN ({', '.join('?' * len(chunk))})"
                )
                for key, interchange_id in self._driver.execute(cursor, sql, [partner, *chunk]):
                    known[(partner, key)] = interchange_id
        return known

    def _insert_companions(
        self, cursor: Any, batch: list[_Pending], receipts: list[Receipt]
    ) -> None:
        by_table: dict[Any, list[dict[str, Any]]] = {}
        for p, receipt in zip(batch, receipts, strict=True):
            if p.companions is not None:
                for table, row in p.companions(receipt):
                    by_table.setdefault(table, []).append(row)
        for table, rows in by_table.items():
            self._driver.insert(cursor, table, rows)


_T = TypeVar("_T")


def _batches(waiting: queue.Queue[_T | None], limit: int) -> Iterator[list[_T]]:
    """Whatever is waiting (at least one item, at most `limit`), batch after batch, until
    None is taken (the batch before it is still yielded)."""
    stop = False
    while not stop:
        first = waiting.get()
        if first is None:
            return
        batch = [first]
        while len(batch) < limit:
            try:
                nxt = waiting.get_nowait()
            except queue.Empty:
                break
            if nxt is None:
                stop = True
                break
            batch.append(nxt)
        yield batch


_CONNECTION_IDLE = 10.0  # seconds a kept connection may sit unused before it is given back
_DURABLE_BATCHES = 8  # durable batches the store committer takes into one transaction
_KEYS_PER_QUERY = 400  # bound markers per look-up, well under every driver's limit


def _interchange_row(
    p: _Pending, iid: str, original: str | None, now: dt.datetime
) -> dict[str, Any]:
    o, st = p.origin, p.staged
    facts = (
        o.facts
        if p.sealing is None
        else {
            **o.facts,
            "sealed": p.sealing.facts,
            "plaintext_sha256": p.sealing.plaintext_sha256,
            "plaintext_size": p.sealing.plaintext_size,
        }
    )
    return {
        "id": iid,
        "partner_id": o.partner_id,
        "channel": o.channel,
        "direction": "in",
        "transport_id": o.transport_id,
        "raw_sha256": st.sha256,
        "size": st.size,
        "filename": o.filename,
        "media_type": o.media_type,
        "received_at": now,
        "state": InterchangeState.SEALED if p.sealing else InterchangeState.RECEIVED,
        "duplicate_of": original,
        "test": False,
        "origin": facts,
        "attempts": 0,
        "runs": 0,
    }


def _peek(payload: bytes | BinaryIO | Iterable[bytes], n: int) -> tuple[bytes, Iterable[bytes]]:
    """The first `n` bytes (or fewer) and an iterable of the rest, without reading it all."""
    if isinstance(payload, bytes | bytearray | memoryview):
        data = bytes(payload)
        return data[:n], [data[n:]]
    if hasattr(payload, "read"):
        stream = payload
        head = stream.read(n)
        return head, iter(lambda: stream.read(1024 * 1024), b"")
    it = iter(payload)
    parts: list[bytes] = []
    size = 0
    for chunk in it:
        parts.append(chunk)
        size += len(chunk)
        if size >= n:
            break
    return b"".join(parts), it


def _chain(head: bytes, rest: Iterable[bytes]) -> Iterator[bytes]:
    yield head
    yield from rest


def _pkey(origin: Origin) -> str:
    return origin.partner_id or "-"


def _keys(p: _Pending) -> list[str]:
    keys = [f"sha256:{p.content_sha256}"]
    if p.origin.transport_id:
        keys.append(f"{p.origin.channel}:{p.origin.transport_id}")
    return keys


def _transport_key(p: _Pending) -> tuple[str, str] | None:
    if not p.origin.transport_id:
        return None
    return _pkey(p.origin), f"{p.origin.channel}:{p.origin.transport_id}"
