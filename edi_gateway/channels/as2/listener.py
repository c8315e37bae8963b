"""The AS2 channel adapter: an HTTP listener of its own (not the API's port).

A POST is one AS2 message. The body is streamed to a temporary file (memory while small, disk
beyond, encrypted there: `channels.transient`), the S/MIME layers are peeled in a worker thread
(`receive`), the payload goes to intake, and only once intake has committed it is `processed`
reported, in the HTTP response (synchronous MDN) or by a later POST to the sender's
Receipt-Delivery-Option URL. A Message-ID seen before from the same partner is answered
`processed/Warning: duplicate-document` without a second interchange (intake finds it in the
transaction that would commit the copy). When the payload cannot be made durable (disk full,
store down) the answer is HTTP 503 and no MDN, so the sender retries. Every MDN is stored as
evidence (`as2_mdns`) and appears on its interchange's timeline: a `processed` MDN is signed
before intake and committed in the same transaction as its payload (one commit, and an MDN
exists exactly when the payload is durable); the others before they are sent, unless
`evidence_before_answer` is off for synchronous ones.

A POST that carries an MDN (the asynchronous answer to an ack we sent) goes to the sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import tempfile
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

import structlog
from cryptography.hazmat.primitives import hashes
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from edi_gateway.channels.as2.evidence import EvidenceUnavailable, EvidenceWriter, mdn_row
from edi_gateway.channels.as2.mdn import Disposition, Mdn
from edi_gateway.channels.as2.mime import Headers
from edi_gateway.channels.as2.partners import Directory, build_directory
from edi_gateway.channels.as2.policy import LocalStation
from edi_gateway.channels.as2.receiver import Received, build_mdn, receive
from edi_gateway.intake import IntakeUnavailable, Origin, PayloadTooLarge, Receipt
from edi_gateway.store.as2 import As2Mdn, MdnState
from edi_gateway.store.tables import Event

if TYPE_CHECKING:
    from edi_gateway.acks.as2_sender import As2Sender
    from edi_gateway.app import Gateway

log = structlog.get_logger("edi_gateway.as2")

Lifespan = Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]

MEMORY_BODY = 1 << 20  # request bodies up to this size stay in memory
MAX_MDN_BYTES = 1 << 20  # an MDN is a short report; anything larger is not one
# request headers kept with the interchange (what an operator needs to trace a message)
FACT_HEADERS = (
    "as2-version",
    "as2-from",
    "as2-to",
    "message-id",
    "subject",
    "date",
    "from",
    "ediint-features",
    "disposition-notification-to",
    "disposition-notification-options",
    "receipt-delivery-option",
    "content-type",
    "content-disposition",
    "user-agent",
)


@dataclass(frozen=True)
class Answer:
    """What the listener decided about one message, before it is turned into HTTP."""

    disposition: Disposition
    interchange_id: str | None = None
    partner_id: str | None = None


class As2Listener:
    """The request handler and what it needs; `app()` is the ASGI application."""

    def __init__(
        self,
        gateway: Gateway,
        directory: Directory,
        evidence: EvidenceWriter,
        *,
        max_bytes: int | None = None,
        on_async_mdn: Callable[[], None] | None = None,
        sender: As2Sender | None = None,
        evidence_first: bool = True,
    ) -> None:
        self.gateway = gateway
        self.directory = directory
        self.evidence = evidence
        self.max_bytes = max_bytes
        self.on_async_mdn = on_async_mdn
        self.sender = sender
        self.evidence_first = evidence_first  # store a sync MDN before answering with it

    def app(self, lifespan: Lifespan | None = None) -> As2App:
        rest = Starlette(
            routes=[
                Route("/healthz", self.health, methods=["GET"]),
                Route("/{path:path}", self.post, methods=["POST"]),
            ],
            lifespan=lifespan,
        )
        rest.state.as2 = self
        return As2App(self, rest)

    async def health(self, request: Request) -> Response:
        return PlainTextResponse("ok")

    async def post(self, request: Request) -> Response:
        declared = request.headers.get("content-length", "")
        if self.max_bytes is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return PlainTextResponse("message too large", status_code=413)
        try:
            body = await self._spool_body(request)
        except ClientDisconnect:
            return Response(status_code=400)
        except _TooLarge:
            return PlainTextResponse("message too large", status_code=413)
        except OSError:
            log.error("as2.body_spool_failed")
            return _unavailable(60)
        with body:
            headers = list(request.headers.items())
            if self.sender is not None and _carries_mdn(headers, body):
                return await self._mdn_for_us(headers, body)
            return await self._message(request, headers, body)

    async def _spool_body(self, request: Request) -> IO[bytes]:
        spooled: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=MEMORY_BODY)  # noqa: SIM115
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if self.max_bytes is not None and size > self.max_bytes:
                    raise _TooLarge
                spooled.write(chunk)
            spooled.seek(0)
        except BaseException:
            spooled.close()
            raise
        return spooled

    async def _message(
        self, request: Request, headers: list[tuple[str, str]], body: IO[bytes]
    ) -> Response:
        remote = request.client.host if request.client else None
        received: Received | None = None
        try:
            # one hop to a thread for everything up to the intake commit, not one per step:
            # each hop is a thread hand-off and GIL switches, dear for a small message
            got, outcome = await asyncio.to_thread(self._receive, headers, body, remote)
            received = got
            if isinstance(outcome, Response):
                return outcome
            receipt = await asyncio.wrap_future(outcome.future)
            if not _same_message(got, receipt):  # the MDN was stored by the intake commit
                return self._respond(outcome.mdn, outcome.async_url)
            # intake knew this Message-ID (an earlier or concurrent copy of this very message):
            # no second interchange; the answer says so, on the first one's timeline
            partner_id = self._partner_id(got)
            answer = Answer(Disposition.DUPLICATE_DOCUMENT, receipt.interchange_id, partner_id)
            return await asyncio.to_thread(self._answer, got, answer)
        except OSError:
            log.error("as2.receive_io_failed")
            return _unavailable(60)
        except IntakeUnavailable as exc:
            message_id = received.message_id if received else None
            log.warning("as2.intake_unavailable", message_id=message_id, reason=exc.reason)
            return _unavailable(exc.retry_after)
        except SQLAlchemyError as exc:  # the store failed us outside intake's own handling
            log.error("as2.store_unavailable", error=type(exc).__name__)
            return _unavailable(30)
        except EvidenceUnavailable:
            return _unavailable(30)
        finally:
            if received is not None:
                received.close()

    def _receive(
        self, headers: list[tuple[str, str]], body: IO[bytes], remote: str | None
    ) -> tuple[Received, _InIntake | Response]:
        """Peel the message and hand a good payload to intake, with the signed `processed`
        MDN and its evidence riding in the same commit (so the MDN exists, stored, exactly
        when the payload is durable). Anything else is answered here at once."""
        received = receive(headers, body, self.directory.policy)
        try:
            return received, self._intake(received, remote)
        except BaseException:
            received.close()
            raise

    def _intake(self, received: Received, remote: str | None) -> _InIntake | Response:
        partner_id = self._partner_id(received)
        if not received.ok or received.payload is None:
            log.warning(
                "as2.message_failed",
                message_id=received.message_id,
                as2_from=received.as2_from,
                disposition=received.error.value if received.error else None,
                detail=received.detail,
            )
            assert received.error is not None
            return self._answer(received, Answer(received.error, partner_id=partner_id))
        assert received.message_id is not None
        origin = Origin(
            channel="as2",
            partner_id=partner_id,
            transport_id=received.message_id,
            filename=received.filename,
            media_type=received.content_type,
            facts=_facts(received, remote),
        )
        mdn = build_mdn(received, Disposition.PROCESSED, self.directory.station.signing_key)
        async_url = _async_target(received, Answer(Disposition.PROCESSED, None, partner_id))

        def evidence(receipt: Receipt) -> list[tuple[Any, dict[str, Any]]]:
            if _same_message(received, receipt):  # not this MDN: a duplicate's
                return []
            answer = Answer(Disposition.PROCESSED, receipt.interchange_id, partner_id)
            row, event = _evidence(received, answer, mdn, async_url)
            row["created_at"] = receipt.received_at
            if async_url is not None:
                row["next_attempt_at"] = receipt.received_at
            rows: list[tuple[Any, dict[str, Any]]] = [(As2Mdn, row)]
            if event is not None:
                rows.append((Event, {"at": receipt.received_at, **event}))
            return rows

        try:
            # idempotent: a Message-ID intake already has (from this partner) makes no second
            # interchange; the look-up is part of the intake commit, not a read of its own
            future = self.gateway.intake.submit_payload(
                received.payload.stream(),
                origin,
                self.max_bytes,
                companions=evidence,
                idempotent=True,
            )
        except PayloadTooLarge:
            answer = Answer(Disposition.UNEXPECTED_PROCESSING_ERROR, partner_id=partner_id)
            return self._answer(received, answer)
        return _InIntake(future, mdn, async_url)

    def _partner_id(self, received: Received) -> str | None:
        if received.partner is None:
            return None
        return self.directory.partner_ids.get(received.partner.as2_id)

    def _answer(self, received: Received, answer: Answer) -> Response:
        """Build the MDN, store it as evidence, then hand it out (sync) or queue it (async)."""
        sign_with = self.directory.station.signing_key
        explanation = (
            "" if received.ok else f"The message could not be processed: {received.detail}"
        )
        mdn = build_mdn(received, answer.disposition, sign_with, explanation=explanation)
        async_url = _async_target(received, answer)
        row, event = _evidence(received, answer, mdn, async_url)
        if async_url is not None:
            row["next_attempt_at"] = self.gateway.clock()
        # the outbox of an asynchronous MDN must be durable before the 200; a synchronous MDN
        # is committed by the next group commit, while the response is on its way
        self.evidence.record(row, event, wait=async_url is not None or self.evidence_first)
        if mdn is None:
            status = 200 if not answer.disposition.is_error else 400
            return PlainTextResponse(answer.disposition.value, status_code=status)
        return self._respond(mdn, async_url)

    def _respond(self, mdn: Mdn | None, async_url: str | None) -> Response:
        """The HTTP answer for a stored MDN."""
        if async_url is not None:
            if self.on_async_mdn is not None:
                self.on_async_mdn()
            return PlainTextResponse("the MDN will be sent asynchronously")
        if mdn is None:
            return PlainTextResponse(Disposition.PROCESSED.value)
        return Response(mdn.body, headers=dict(mdn.headers))

    async def _mdn_for_us(self, headers: list[tuple[str, str]], body: IO[bytes]) -> Response:
        assert self.sender is not None
        data = body.read(MAX_MDN_BYTES + 1)
        if len(data) > MAX_MDN_BYTES:
            return PlainTextResponse("an MDN cannot be this large", status_code=413)
        accepted = await asyncio.to_thread(self.sender.accept_async_mdn, headers, data)
        return PlainTextResponse(
            "MDN received" if accepted else "MDN not recognised",
            status_code=200 if accepted else 400,
        )


class As2App:
    """The listener's ASGI application: a POST (an AS2 message, on any path) goes straight to
    the listener; everything else (the health check, lifespan, a wrong method) to a Starlette
    application. For a small message, Starlette's middleware stack and router cost about a
    tenth of what the listener spends on it; a POST needs none of them (the handler turns
    every failure into an answer itself)."""

    def __init__(self, listener: As2Listener, rest: Starlette) -> None:
        self.listener = listener
        self.rest = rest
        self.state = rest.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            response = await self.listener.post(Request(scope, receive))
            await response(scope, receive, send)
        else:
            await self.rest(scope, receive, send)


class _TooLarge(Exception):
    pass


@dataclass(frozen=True)
class _InIntake:
    """A good message handed to intake: the commit to wait for and what to answer then."""

    future: Future[Receipt]
    mdn: Mdn | None
    async_url: str | None


def _unavailable(retry_after: int) -> Response:
    return PlainTextResponse(
        "temporarily unable to accept the message; try again later",
        status_code=503,
        headers={"Retry-After": str(retry_after)},
    )


def _carries_mdn(headers: list[tuple[str, str]], body: IO[bytes]) -> bool:
    """An MDN rather than a message: a multipart/report, or a multipart/signed whose signed
    part is one. (AS2 messages never are reports.)"""
    declared = next((v for n, v in headers if n.lower() == "content-type"), "")
    if "multipart/" not in declared.lower():  # most messages: no need to parse the header
        return False
    content_type, params = Headers(headers).content_type()
    if content_type == "multipart/report":
        return True
    if content_type != "multipart/signed":
        return False
    head = body.read(8192)
    body.seek(0)
    boundary = params.get("boundary", "").encode("latin-1")
    first = head.find(b"--" + boundary) if boundary else -1
    if first < 0:
        return False
    part_head = head[first : first + 2048].lower()
    end = part_head.find(b"\r\n\r\n", len(boundary) + 2)
    return b"multipart/report" in part_head[: end if end > 0 else None]


def _same_message(received: Received, receipt: Receipt) -> bool:
    """Intake already knew this Message-ID: a copy of the message was committed before (or
    earlier in the same batch). (A known payload under a new Message-ID is a new message:
    processed, the pipeline decides what a repeated interchange means.)"""
    return f"as2:{received.message_id}" in receipt.seen_keys


def _async_target(received: Received, answer: Answer) -> str | None:
    """The URL for an asynchronous MDN, only for a message whose sender proved who it is (it
    was processed, or its signature verified before a later layer failed): we never POST to
    a URL on the word of an unauthenticated request. Only http(s). Otherwise the MDN goes
    back in the HTTP response."""
    request = received.mdn_request
    if request is None or not request.async_url or answer.partner_id is None:
        return None
    if not (received.ok or received.security.signed):
        return None
    url = request.async_url.strip()
    return url if url.lower().startswith(("http://", "https://")) else None


def _evidence(
    received: Received, answer: Answer, mdn: Mdn | None, async_url: str | None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    mode = "none" if mdn is None else ("async" if async_url else "sync")
    row = mdn_row(
        direction="sent",
        interchange_id=answer.interchange_id,
        partner_id=answer.partner_id,
        as2_from=received.local_as2_id,
        as2_to=received.as2_from,
        original_message_id=received.message_id,
        mdn_message_id=mdn.message_id if mdn else None,
        disposition=answer.disposition.value,
        mic=received.mic.header_value()
        if received.mic and not answer.disposition.is_error
        else None,
        signed=bool(mdn and mdn.signed),
        mode=mode,
        state=MdnState.PENDING if async_url else MdnState.SENT,
        url=async_url,
        headers=[list(pair) for pair in mdn.headers] if mdn else [],
        body=mdn.body if mdn else None,
        detail={"reason": received.detail} if received.detail else {},
    )
    event = None
    if answer.interchange_id is not None:
        event = {
            "interchange_id": answer.interchange_id,
            "document_id": None,
            "actor": "channel:as2",
            "type": "as2-mdn",
            "detail": {
                "mdn": row["id"],
                "disposition": answer.disposition.value,
                "mode": mode,
                "signed": row["signed"],
            },
        }
    return row, event


def _facts(received: Received, remote: str | None) -> dict[str, Any]:
    """AS2 headers and how the message was protected, kept with the interchange."""
    headers = {
        name: value for name, value in received.headers.items() if name.lower() in FACT_HEADERS
    }
    security = received.security
    facts: dict[str, Any] = {
        "as2": headers,
        "remote": remote,
        "signed": security.signed,
        "encrypted": security.encrypted,
        "compressed": security.compressed,
        "mic": received.mic.header_value() if received.mic else None,
    }
    if security.signed:
        facts["signature"] = {
            "digest": security.signature_digest.value if security.signature_digest else None,
            "padding": security.signature_padding.value if security.signature_padding else None,
            "signer": _describe(security.signer),
        }
    if security.encrypted:
        facts["encryption"] = {
            "cipher": security.cipher.value if security.cipher else None,
            "key_transport": security.key_transport.value if security.key_transport else None,
            "recipient": _describe(security.decrypted_with),
        }
    if security.compressed:
        facts["compressed_before_signing"] = security.compressed_before_signing
    if security.warnings:
        facts["warnings"] = list(security.warnings)
    return facts


def _describe(cert: Any) -> dict[str, str] | None:
    if cert is None:
        return None
    return dict(_description(cert))  # a copy: the facts are the interchange's own


@functools.lru_cache(maxsize=256)
def _description(cert: Any) -> dict[str, str]:
    """A certificate as the facts name it (the same few partner certificates every time)."""
    return {
        "subject": cert.subject.rfc4514_string(),
        "serial": f"{cert.serial_number:x}",
        "sha256": cert.fingerprint(hashes.SHA256()).hex(),
    }


def create_as2_app(
    gateway: Gateway,
    station: LocalStation,
    *,
    directory: Directory | None = None,
    max_bytes: int | None = None,
    sender: As2Sender | None = None,
) -> As2App:
    """A self-contained AS2 listener app for `gateway` (its own evidence writer; no delivery
    of asynchronous MDNs: use `As2Channel` for the whole channel)."""
    directory = directory or build_directory(gateway.config, station, max_size=max_bytes)
    evidence = EvidenceWriter(gateway.sessions, gateway.clock)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        evidence.close()

    listener = As2Listener(gateway, directory, evidence, max_bytes=max_bytes, sender=sender)
    return listener.app(lifespan)
