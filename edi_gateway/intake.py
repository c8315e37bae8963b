"""Intake: guaranteed delivery and the idempotent receiver.

Every channel ends here, in `Intake.receive(payload, origin)`. The call returns a `Receipt`
only after the raw bytes are durable in the spool and the interchange row is committed;
anything that prevents that raises `IntakeUnavailable`, which a channel turns into a
temporary failure for the sender (HTTP 503, SMTP 451, SFTP failure).

Throughput comes from group commit: channels stage their payloads concurrently, one
committer thread takes whatever is waiting, flushes the whole batch to disk with one sync,
and inserts all rows in one transaction. Under load the cost of a sync is shared by dozens of
submissions; with one client it is the same as writing each file alone.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol

import structlog
from sqlalchemy import Connection, insert, select, tuple_, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from edi_gateway import metrics
from edi_gateway.model import new_id
from edi_gateway.spool import Spool, SpoolFull, Staged
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
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._thread: threading.Thread | None = None
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
    ) -> Future[Receipt]:
        """Stage `payload` (blocking) and hand it to the committer without waiting for the
        commit; `companions` rows are committed in the same transaction."""
        staged, sealing = self.stage_or_seal(payload, origin, max_bytes)
        return self.submit(staged, origin, sealing, companions)

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
    ) -> Future[Receipt]:
        """Hand a staged payload to the committer; the future resolves once it is durable."""
        self._ensure_started()
        fut: Future[Receipt] = Future()
        self._queue.put(_Pending(staged, origin, fut, sealing, companions))
        return fut

    def close(self) -> None:
        with self._lock:
            if self._thread is not None:
                self._queue.put(None)
                self._thread.join()
                self._thread = None

    # -- the committer ---------------------------------------------------------------------

    def _ensure_started(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="intake-committer", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            self._commit(batch)

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            self.spool.commit([p.staged for p in batch])
        except SpoolFull as exc:
            self._fail(batch, "the spool could not make the payload durable", "spool", exc)
            return
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
        """One transaction for the whole batch, with Core bulk inserts (the ORM's unit of work
        costs more than the sync here)."""
        now = self.clock()
        interchanges: list[dict[str, Any]] = []
        keys_rows: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        receipts = []
        with self.sessions.begin() as session:
            s = session.connection()
            wanted = {(_pkey(p.origin), k) for p in batch for k in _keys(p)}
            known: dict[tuple[str, str], str] = {
                (partner, key): ic
                for partner, key, ic in s.execute(
                    select(IntakeKey.partner_id, IntakeKey.key, IntakeKey.interchange_id).where(
                        tuple_(IntakeKey.partner_id, IntakeKey.key).in_(list(wanted))
                    )
                )
            }
            for p in batch:
                o, st = p.origin, p.staged
                iid = new_id()
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
                keys = [(_pkey(o), k) for k in _keys(p)]
                original = next((known[k] for k in keys if k in known), None)
                seen_keys = tuple(k[1] for k in keys if k in known)
                for k in keys:
                    if k not in known:
                        known[k] = original or iid
                        keys_rows.append(
                            {"partner_id": k[0], "key": k[1], "interchange_id": original or iid}
                        )
                interchanges.append(
                    {
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
                        "state": InterchangeState.SEALED
                        if p.sealing
                        else InterchangeState.RECEIVED,
                        "duplicate_of": original,
                        "test": False,
                        "origin": facts,
                        "attempts": 0,
                        "runs": 0,
                    }
                )
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
                size = p.sealing.plaintext_size if p.sealing else st.size
                receipts.append(Receipt(iid, p.content_sha256, size, now, original, seen_keys))
            s.execute(insert(Interchange), interchanges)
            if keys_rows:
                s.execute(insert(IntakeKey), keys_rows)
            s.execute(insert(Event), events)
            _insert_companions(s, batch, receipts)
            partners = {p.origin.partner_id for p in batch if p.origin.partner_id}
            if partners:
                s.execute(
                    update(PartnerRow).where(PartnerRow.id.in_(partners)).values(last_seen_at=now)
                )
        return receipts


def _insert_companions(s: Connection, batch: list[_Pending], receipts: list[Receipt]) -> None:
    by_table: dict[Any, list[dict[str, Any]]] = {}
    for p, receipt in zip(batch, receipts, strict=True):
        if p.companions is not None:
            for table, row in p.companions(receipt):
                by_table.setdefault(table, []).append(row)
    for table, rows in by_table.items():
        s.execute(insert(table), rows)


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
