"""The pipeline worker: claims received interchanges, runs the stages, records the outcome.

Exactly one outcome per interchange, through crashes: a claim is a lease (`claimed_by`,
`lease_until`); everything an interchange produces (documents, findings, queue items, acks,
events, its terminal state) is written in one transaction that first checks the claim is
still ours. A worker killed half-way leaves the interchange in `processing` with a lease that
runs out (or, on a single node, is taken back at start-up), and the next claim starts over;
queue items are unique per document id, so a retry can never queue a document twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson
import structlog
from sqlalchemy import Connection, delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from edi_gateway import metrics
from edi_gateway.config import Config
from edi_gateway.formats.base import Limits, Registry, Verdict
from edi_gateway.intake import Clock, utcnow
from edi_gateway.model import Finding, Severity, new_id
from edi_gateway.pipeline.routing import Router
from edi_gateway.pipeline.spill import Spill
from edi_gateway.pipeline.stages import Context, ProcessedDocument, StageResult, run_stages
from edi_gateway.spool import Spool
from edi_gateway.store.db import bookkeeping_sessions, read_sessions
from edi_gateway.store.driver import DriverStatements
from edi_gateway.store.queries import EarlierReceipts
from edi_gateway.store.tables import (
    Ack,
    AckState,
    DocumentRow,
    DocumentState,
    Event,
    FindingRow,
    Interchange,
    InterchangeReference,
    InterchangeState,
    QueueItem,
    QueueItemState,
)

log = structlog.get_logger("edi_gateway.worker")

_STATE = {
    Verdict.ACCEPTED: InterchangeState.DONE,
    Verdict.ACCEPTED_WITH_WARNINGS: InterchangeState.DONE,
    Verdict.REJECTED: InterchangeState.REJECTED,
    Verdict.DUPLICATE: InterchangeState.DUPLICATE,
}


@dataclass
class Claimed:
    id: str
    partner_id: str | None
    channel: str
    raw_sha256: str
    received_at: dt.datetime
    duplicate_of: str | None
    attempts: int  # claims so far, this one included (numbers the findings of this run)
    runs: int  # earlier claims that reached an outcome

    @property
    def crashes(self) -> int:
        """Earlier claims that never finished (the process died or lost its lease)."""
        return self.attempts - 1 - self.runs


_CLAIMED_COLUMNS = (
    "id",
    "partner_id",
    "channel",
    "raw_sha256",
    "received_at",
    "duplicate_of",
    "attempts",
    "runs",
)
# claimable: received, or processing under a lease that ran out (checked again on the rows
# the subquery found, as a concurrent claimer may have taken one in between)
_CLAIMABLE = "(state = ? OR (state = ? AND lease_until < ?))"
_CLAIM_SQL = (
    "UPDATE interchanges SET state = ?, claimed_by = ?, lease_until = ?, attempts = attempts + 1"
    f" WHERE id IN (SELECT id FROM interchanges WHERE {_CLAIMABLE}"
    " ORDER BY received_at, id LIMIT ?{skip_locked})"
    f" AND {_CLAIMABLE} RETURNING {', '.join(_CLAIMED_COLUMNS)}"
)

# the outcome, only while the claim is still ours
_FINISH_SQL = (
    "UPDATE interchanges SET state = ?, format = ?, standard = ?, control_reference = ?,"
    " test = ?, finished_at = ?, lease_until = NULL, runs = runs + 1"
    " WHERE id = ? AND claimed_by = ? AND state = ?"
)


class Worker:
    def __init__(
        self,
        config: Config,
        sessions: sessionmaker[Session],
        spool: Spool,
        registry: Registry,
        clock: Clock = utcnow,
        name: str | None = None,
    ) -> None:
        self.config = config
        self.sessions = sessions
        self.spool = spool
        self.registry = registry
        self.router = Router(config.settings)
        self.clock = clock
        self.settings = config.settings.worker
        self.name = name or f"worker-{secrets.token_hex(4)}"
        self.postgres = sessions.kw["bind"].dialect.name == "postgresql"
        self.reads = read_sessions(sessions.kw["bind"])
        self.bookkeeping = bookkeeping_sessions(sessions.kw["bind"])
        self.limits = Limits(max_bytes=config.settings.limits.max_submission_bytes)
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.numbers_in_flight = NumbersInFlight()
        self._bookkeeping_engine = self.bookkeeping.kw["bind"]
        self.driver = DriverStatements(self._bookkeeping_engine.dialect)
        self._claim_sql = self.driver.sql(
            _CLAIM_SQL.format(skip_locked=" FOR UPDATE SKIP LOCKED" if self.postgres else "")
        )
        self._claimed_row = self.driver.reader(Interchange, _CLAIMED_COLUMNS)
        self._finish_sql = self.driver.sql(_FINISH_SQL)
        self._engine = sessions.kw["bind"]

    # -- running ---------------------------------------------------------------------------

    def start(self, threads: int | None = None) -> None:
        for i in range(self.settings.threads if threads is None else threads):
            t = threading.Thread(target=self.run_forever, name=f"{self.name}-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        self.wake.set()
        for t in self._threads:
            t.join(timeout)
        self._threads.clear()

    def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                done = self.run_once()
            except Exception:  # the store went away; keep trying, never die silently
                log.exception("worker.loop_failed")
                done = 0
                self._stop.wait(1.0)
            if not done:
                self.wake.wait(self.settings.poll_seconds)
                self.wake.clear()
                # let a burst gather: one claim and one record for many interchanges
                self._stop.wait(self.settings.linger_seconds)
            elif done < self.settings.batch:
                # caught up, and more arrive all the time (a steady stream of small
                # messages): without a pause every claim would find one or two, and a claim
                # and a record cost more than processing a small message
                self._stop.wait(self.settings.linger_seconds)

    def run_once(self) -> int:
        """Claim a batch, process it, record it. Returns how many interchanges were finished."""
        token = f"{self.name}:{secrets.token_hex(6)}"
        claimed = self.claim(token)
        if not claimed:
            return 0
        lookups = self.reads.kw["bind"].raw_connection()  # one for the batch's look-ups
        try:
            try:
                results = [(c, *self._process(c, lookups)) for c in claimed]
            finally:
                lookups.close()
            try:
                self.record(token, results)
            finally:
                for _, _, spill in results:
                    spill.close()
        finally:
            self.numbers_in_flight.release({c.id for c in claimed})
        return len(claimed)

    def recover(self) -> int:
        """Single node start-up: give back whatever a killed run left in processing."""
        with self.sessions.begin() as s:
            res = s.execute(
                update(Interchange)
                .where(Interchange.state == InterchangeState.PROCESSING)
                .values(state=InterchangeState.RECEIVED, claimed_by=None, lease_until=None)
            )
            count = res.rowcount or 0  # type: ignore[attr-defined]
        if count:
            log.warning("worker.recovered", interchanges=count)
        return count

    # -- claim -----------------------------------------------------------------------------

    def claim(self, token: str) -> list[Claimed]:
        """Take up to a batch of claimable interchanges (received, or processing with a lease
        that ran out), oldest first: one UPDATE ... RETURNING on the driver's cursor (the
        claim of a batch of one or two cost more through SQLAlchemy than processing it)."""
        now = self.clock()
        driver = self.driver
        lease = now + dt.timedelta(seconds=self.settings.lease_seconds)
        with self._bookkeeping_engine.begin() as connection:  # a lost claim is claimed again
            cursor = connection.connection.cursor()
            try:
                at_now = driver.value(Interchange, "lease_until", now)
                rows = driver.execute(
                    cursor,
                    self._claim_sql,
                    (
                        InterchangeState.PROCESSING.value,
                        token,
                        driver.value(Interchange, "lease_until", lease),
                        InterchangeState.RECEIVED.value,
                        InterchangeState.PROCESSING.value,
                        at_now,
                        self.settings.batch,
                        InterchangeState.RECEIVED.value,
                        InterchangeState.PROCESSING.value,
                        at_now,
                    ),
                ).fetchall()
                claimed = [Claimed(*self._claimed_row(r)) for r in rows]
                driver.insert(
                    cursor,
                    Event,
                    [
                        {
                            "at": now,
                            "interchange_id": c.id,
                            "document_id": None,
                            "actor": self.name,
                            "type": "processing",
                            "detail": {"run": c.attempts},
                        }
                        for c in claimed
                    ],
                )
            finally:
                cursor.close()
        return sorted(claimed, key=lambda c: (c.received_at, c.id))

    # -- process (no database writes) -----------------------------------------------------

    def _process(self, c: Claimed, lookups: Any = None) -> tuple[StageResult, Spill]:
        """Run the stages; the rows of every document go to a spill as they are made.
        `lookups`: a driver connection for the idempotent receiver's look-ups (else one of
        its own)."""
        bound = log.bind(interchange_id=c.id, partner=c.partner_id)
        spill = Spill()
        if c.crashes >= self.settings.max_attempts:
            return _dead(
                f"processing was attempted {c.crashes} times without finishing "
                "(the gateway stopped each time); parked for an operator"
            ), spill
        earlier = EarlierReceipts(self.reads.kw["bind"], c.id, lookups)
        ctx = Context(
            config=self.config,
            registry=self.registry,
            router=self.router,
            partner=self.config.partners.get(c.partner_id or ""),
            interchange_id=c.id,
            received_at=c.received_at,
            raw_sha256=c.raw_sha256,
            duplicate_of=c.duplicate_of,
            seen_control_reference=earlier.interchange,
            seen_document=OrderNumbers(earlier, self.numbers_in_flight),
            limits=self.limits,
        )
        now = self.clock()
        try:
            with self.spool.open(c.raw_sha256) as fh:
                result = run_stages(fh, ctx, lambda d: _spill_document(spill, c, d, now))
        except Exception as exc:  # a defect of ours: park it, keep the evidence, go on
            bound.exception("worker.stage_failed")
            spill.close()
            return _dead(f"unexpected processing error: {type(exc).__name__}: {exc}"), Spill()
        finally:
            earlier.close()
        bound.info(
            "worker.processed",
            verdict=result.verdict.value,
            documents=len(result.units),
            findings=len(result.findings),
        )
        return result, spill

    # -- record ----------------------------------------------------------------------------

    def record(self, token: str, results: list[tuple[Claimed, StageResult, Spill]]) -> None:
        """Write every outcome of the batch in one transaction. Rows were built while
        processing, so the write lock is held only for the inserts and the sync."""
        now = self.clock()
        queued: dict[str, int] = {}
        # the driver's own cursor (SQLAlchemy's per-statement costs were more than the inserts
        # for a batch of a few small interchanges), and the small rows of the whole batch in
        # one insert per table; the documents and queue items stream from the spills as they
        # are (memory bound).
        batched: dict[Any, list[dict[str, Any]]] = {
            FindingRow: [],
            InterchangeReference: [],
            Ack: [],
            Event: [],
        }
        driver = self.driver
        finished_at = driver.value(Interchange, "finished_at", now)
        with self._engine.begin() as conn:
            cursor = conn.connection.cursor()
            try:
                for c, r, spill in results:
                    state = _final_state(r)
                    owned = driver.execute(
                        cursor,
                        self._finish_sql,
                        (
                            state.value,
                            r.format,
                            r.standard,
                            r.control_reference,
                            driver.value(Interchange, "test", r.test),
                            finished_at,
                            c.id,
                            token,
                            InterchangeState.PROCESSING.value,
                        ),
                    ).rowcount
                    if not owned:  # our lease ran out and someone else has it now
                        log.warning("worker.lost_claim", interchange_id=c.id)
                        continue
                    already: set[str] = set()
                    if c.attempts > 1:  # a rerun: documents are derived again, queue items stay
                        already = self._forget_derived(conn, c.id)
                    queued[c.id] = 0
                    # a defect only known at the end (a wrong UNZ count...) rejects everything
                    rejected = state == InterchangeState.REJECTED
                    for table, rows in spill.chunks():
                        if table == "queue_items":
                            wanted = [] if rejected else rows
                            rows = [
                                _embed_document(q)
                                for q in wanted
                                if q["document_id"] not in already
                            ]
                            queued[c.id] += len(rows)
                        elif table == "documents":
                            rows = [_embed_canonical(_unrouted(d) if rejected else d) for d in rows]
                        driver.insert(cursor, _TABLES[table], rows)
                    batched[FindingRow] += [_finding_row(c, None, f) for f in r.findings]
                    batched[InterchangeReference] += _reference_rows(c, r)
                    batched[Ack] += self._ack_rows(c, r, now)
                    batched[Event].append(self._outcome_event(c, r, queued[c.id], now))
                for table, rows in batched.items():
                    driver.insert(cursor, table, rows)
            finally:
                cursor.close()
        for c, r, _ in results:
            metrics.PROCESSED.labels(_final_state(r).value).inc()
            if queued.get(c.id):
                metrics.QUEUED_LATENCY.observe(max(0.0, (now - c.received_at).total_seconds()))

    @staticmethod
    def _forget_derived(conn: Connection, interchange_id: str) -> set[str]:
        """A rerun derives the documents and references again; its queue items stay (they
        are unique per document id): the ids of those already queued."""
        conn.execute(delete(DocumentRow).where(DocumentRow.interchange_id == interchange_id))
        conn.execute(
            delete(InterchangeReference).where(
                InterchangeReference.interchange_id == interchange_id
            )
        )
        return set(
            conn.scalars(
                select(QueueItem.document_id).where(
                    QueueItem.document_id.like(f"{interchange_id}-%")
                )
            )
        )

    def _ack_rows(self, c: Claimed, r: StageResult, now: dt.datetime) -> list[dict[str, Any]]:
        route = _ack_route(self.config.partners.get(c.partner_id or ""), c.channel)
        return [
            {
                "id": new_id(),
                "interchange_id": c.id,
                "partner_id": c.partner_id,
                "kind": a.kind,
                "positive": a.positive,
                "media_type": a.media_type,
                "filename": a.filename,
                "content": a.content,
                "route": route,
                "state": AckState.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "last_error": None,
                "created_at": now,
                "delivered_at": None,
            }
            for a in r.acks
        ]

    def _outcome_event(
        self, c: Claimed, r: StageResult, queued: int, now: dt.datetime
    ) -> dict[str, Any]:
        return {
            "at": now,
            "interchange_id": c.id,
            "document_id": None,
            "actor": self.name,
            "type": _final_state(r).value,
            "detail": {
                "verdict": r.verdict.value,
                "documents": len(r.units),
                "queued": queued,
                "findings": len(r.findings) + sum(len(u.findings) for u in r.units),
                "acks": [a.kind for a in r.acks],
            },
        }


class NumbersInFlight:
    """Business numbers that interchanges of this process accepted but whose batch is not
    recorded yet: the store cannot show them to the next interchange of the same batch, or of
    another worker thread's batch, so they are held here until their batch is recorded.
    (Worker processes do not see each other's: see the note on `DEDUPLICATED_KINDS`.)"""

    def __init__(self) -> None:
        self._held: dict[bytes, str] = {}  # a 16-byte digest per number: a batch may hold 10^6
        self._lock = threading.Lock()

    def hold(self, key: tuple[str, str, str, str, bool], interchange_id: str) -> str | None:
        """Hold `key` for `interchange_id`; or the other interchange already holding it."""
        digest = hashlib.blake2b(repr(key).encode(), digest_size=16).digest()
        with self._lock:
            holder = self._held.setdefault(digest, interchange_id)
        return None if holder == interchange_id else f"of interchange {holder}, not yet recorded"

    def release(self, interchange_ids: set[str]) -> None:
        with self._lock:
            for key in [k for k, v in self._held.items() if v in interchange_ids]:
                del self._held[key]


class OrderNumbers:
    """`Context.seen_document` for one interchange: the store's accepted documents, then the
    numbers of batches not recorded yet (`NumbersInFlight`)."""

    def __init__(self, store: EarlierReceipts, in_flight: NumbersInFlight | None) -> None:
        self.store = store
        self.in_flight = in_flight

    def __call__(
        self, kind: str, sender: str, receiver: str, number: str, test: bool
    ) -> str | None:
        earlier = self.store.document(kind, sender, receiver, number, test)
        if earlier is None and self.in_flight is not None:
            key = (kind, sender, receiver, number, test)
            earlier = self.in_flight.hold(key, self.store.own_id)
        return earlier


def _reference_rows(c: Claimed, r: StageResult) -> list[dict[str, Any]]:
    """The payload's interchange control references; a duplicate payload adds none."""
    if _final_state(r) == InterchangeState.DUPLICATE:
        return []
    return [
        {
            "interchange_id": c.id,
            "position": position,
            "partner_id": c.partner_id,
            "control_reference": reference,
        }
        for position, reference in enumerate(r.control_references)
        if reference
    ]


def _embed_canonical(row: dict[str, Any]) -> dict[str, Any]:
    if row["canonical"] is not None:
        row["canonical"] = orjson.Fragment(row["canonical"])
    return row


def _embed_document(row: dict[str, Any]) -> dict[str, Any]:
    row["body"]["document"] = orjson.Fragment(row["body"]["document"])
    return row


def _unrouted(row: dict[str, Any]) -> dict[str, Any]:
    if row["state"] != DocumentState.ROUTED:
        return row
    return {**row, "state": DocumentState.VALID, "queue": None}


_TABLES: dict[str, type] = {
    "documents": DocumentRow,
    "queue_items": QueueItem,
    "findings": FindingRow,
    "events": Event,
}


def _spill_document(spill: Spill, c: Claimed, d: ProcessedDocument, now: dt.datetime) -> None:
    """The rows one processed document becomes: document, its findings, its queue item."""
    o = d.outcome
    doc_id = o.document_id or f"{c.id}-{o.index}"
    routed = o.queue is not None and d.document is not None
    # encoded once, here, by pydantic; carried as bytes and embedded as-is (orjson.Fragment)
    canonical = d.document.model_dump_json().encode() if d.document is not None else None
    kind = d.document.kind if d.document else d.unit.kind
    state = (
        DocumentState.ROUTED
        if routed
        else (
            DocumentState.VALID
            if d.document is not None or d.handled is not None
            else DocumentState.INVALID
        )
    )
    spill.add(
        "documents",
        {
            "id": doc_id,
            "interchange_id": c.id,
            "position": o.index,
            "kind": kind.value if kind else None,
            "message_type": o.message_type,
            "reference": o.reference,
            "business_id": o.business_id,
            "state": state,
            "sender_id": c.partner_id,
            "receiver_id": d.receiver_id,
            "queue": o.queue,
            "test": d.test,
            "canonical": canonical,
            "created_at": now,
        },
    )
    for f in o.findings:
        spill.add("findings", _finding_row(c, doc_id, f))
    if d.handled is not None:  # a command or a partner's CONTRL: what it did is the record
        spill.add(
            "events",
            {
                "at": now,
                "interchange_id": c.id,
                "document_id": doc_id,
                "actor": "pipeline",
                "type": "handled",
                "detail": {"message_type": o.message_type, "text": d.handled},
            },
        )
    if routed:
        spill.add(
            "queue_items",
            {
                "queue": o.queue,
                "document_id": doc_id,
                "state": QueueItemState.READY,
                "visible_at": now,
                "receive_count": 0,
                "receipt_handle": None,
                "created_at": now,
                "finished_at": None,
                "last_error": None,
                "body": {"document": canonical, "provenance": _provenance(c, d, doc_id)},
            },
        )


def _final_state(r: StageResult) -> InterchangeState:
    return InterchangeState.DEAD if r.dead else _STATE[r.verdict]


def _dead(text: str) -> StageResult:
    f = Finding(
        code="unexpected-processing-error", severity=Severity.FATAL, text=text, source="worker"
    )
    return StageResult(Verdict.REJECTED, None, None, None, False, [f], dead=True)


def _finding_row(c: Claimed, document_id: str | None, f: Finding) -> dict[str, Any]:
    return {
        "interchange_id": c.id,
        "document_id": document_id,
        "code": f.code,
        "severity": f.severity.value,
        "text": f.text,
        "location": f.location.model_dump(exclude_none=True),
        "source": f.source,
        "run": c.attempts,
    }


def _provenance(c: Claimed, d: Any, doc_id: str) -> dict[str, Any]:
    return {
        "document_id": doc_id,
        "interchange_id": c.id,
        "partner_id": c.partner_id,
        "receiver_id": d.receiver_id,
        "channel": c.channel,
        "raw_sha256": c.raw_sha256,
        "received_at": c.received_at.isoformat(),
        "message_type": d.outcome.message_type,
        "message_reference": d.outcome.reference,
        "position": d.outcome.index,
        "test": d.test,
    }


def _ack_route(partner: Any, channel: str) -> str:
    route = partner.acks.route if partner is not None else "channel"
    return channel if route == "channel" else route


def wait_idle(worker: Worker, timeout: float = 60) -> None:
    """Process until nothing is left (for the CLI and tests)."""
    deadline = time.monotonic() + timeout
    while worker.run_once():
        if time.monotonic() > deadline:
            raise TimeoutError("the worker did not drain within the deadline")
