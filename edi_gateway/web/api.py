"""The REST API: partners submit and follow their interchanges; back offices pull their queues.

Every route authenticates with a bearer token (stored hashed in the partner files) and sees
only what belongs to that partner. Errors are RFC 9457 problem documents with a sentence
that says what was expected.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from sqlalchemy import select, text, update
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from edi_gateway.config import Partner
from edi_gateway.intake import IntakeUnavailable, Origin, PayloadTooLarge
from edi_gateway.queues import LeaseLost
from edi_gateway.store.queries import interchange_status
from edi_gateway.store.tables import Ack, AckState, Interchange

_PREFER_WAIT = re.compile(r"\bwait=(\d+(?:\.\d+)?)")
_FILENAME = re.compile(r'filename="?([^";]+)"?')


def problem(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(
        body, status_code=status, headers=headers, media_type="application/problem+json"
    )


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _unauthorized(detail: str) -> JSONResponse:
    return problem(
        401, "Unauthorized", detail, headers={"WWW-Authenticate": 'Bearer realm="edi-gateway"'}
    )


def _partner(request: Request) -> Partner | JSONResponse:
    token = _bearer(request)
    if token is None:
        return _unauthorized("send the partner's API token as 'Authorization: Bearer <token>'")
    partner = request.app.state.gateway.config.partner_by_token(token)
    if partner is None:
        return _unauthorized("the token is not valid for any enabled partner")
    return partner


def _backoffice(request: Request, queue: str | None = None) -> Partner | JSONResponse:
    token = _bearer(request)
    if token is None:
        return _unauthorized("send the back-office token as 'Authorization: Bearer <token>'")
    partner = request.app.state.gateway.config.backoffice_by_token(token)
    if partner is None:
        return _unauthorized("the token is not a back-office token of any enabled institution")
    if queue is not None and not partner.backoffice.may_use(queue):
        return problem(403, "Forbidden", f"this token may not use queue {queue!r}")
    return partner


# -- submissions ----------------------------------------------------------------------------


async def submit(request: Request) -> Response:
    gw = request.app.state.gateway
    partner = _partner(request)
    if isinstance(partner, Response):
        return partner
    limit = gw.config.settings.limits.max_submission_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return problem(
            413, "Payload Too Large", f"the body has {declared} bytes; the limit is {limit}"
        )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return problem(
                413, "Payload Too Large", f"the body is larger than the limit of {limit} bytes"
            )
    if not body:
        return problem(
            400, "Bad Request", "the body is empty; send the document as the request body"
        )
    disposition = request.headers.get("content-disposition", "")
    m = _FILENAME.search(disposition)
    origin = Origin(
        channel="http",
        partner_id=partner.id,
        transport_id=request.headers.get("idempotency-key") or None,
        filename=request.headers.get("x-filename") or (m.group(1) if m else None),
        media_type=request.headers.get("content-type"),
        facts={
            "remote": request.client.host if request.client else None,
            "user_agent": request.headers.get("user-agent"),
        },
    )
    try:
        receipt = await gw.intake.receive_async(bytes(body), origin, max_bytes=limit)
    except PayloadTooLarge as exc:
        return problem(413, "Payload Too Large", str(exc))
    except IntakeUnavailable as exc:
        return problem(
            503,
            "Service Unavailable",
            f"{exc.reason}; nothing was accepted, try again later",
            headers={"Retry-After": str(exc.retry_after)},
        )
    status_url = str(request.url_for("submission_status", receipt_id=receipt.interchange_id))
    wait = _prefer_wait(request)
    if wait:
        status = await _wait_terminal(gw, receipt.interchange_id, wait, _base(request))
        if status is not None and status["terminal"]:
            code = 200 if status["state"] in ("done", "duplicate") else 422
            return JSONResponse(
                status,
                status_code=code,
                headers={"Location": status_url, "Preference-Applied": f"wait={wait:g}"},
            )
    return JSONResponse(
        {
            "receipt_id": receipt.interchange_id,
            "state": "received",
            "sha256": receipt.sha256,
            "size": receipt.size,
            "received_at": receipt.received_at.isoformat(),
            "duplicate_of": receipt.duplicate_of,
            "status_url": status_url,
        },
        status_code=202,
        headers={"Location": status_url},
    )


def _prefer_wait(request: Request) -> float:
    m = _PREFER_WAIT.search(request.headers.get("prefer", ""))
    return min(float(m.group(1)), 60.0) if m else 0.0


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def _wait_terminal(
    gw: Any, receipt_id: str, seconds: float, base: str
) -> dict[str, Any] | None:
    deadline = time.monotonic() + seconds
    while True:
        status = await run_in_threadpool(_status, gw, receipt_id, base)
        if status is None or status["terminal"] or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.02)


def _status(gw: Any, receipt_id: str, base: str) -> dict[str, Any] | None:
    with gw.reads() as s:
        return interchange_status(s, receipt_id, base)


def _own_status(request: Request) -> dict[str, Any] | Response:
    partner = _partner(request)
    if isinstance(partner, Response):
        return partner
    status = _status(request.app.state.gateway, request.path_params["receipt_id"], _base(request))
    if status is None or status["partner_id"] != partner.id:
        return problem(404, "Not Found", "no submission of yours has this receipt id")
    return status


def submission_status(request: Request) -> Response:
    status = _own_status(request)
    return status if isinstance(status, Response) else JSONResponse(status)


def submission_acks(request: Request) -> Response:
    status = _own_status(request)
    return status if isinstance(status, Response) else JSONResponse({"acks": status["acks"]})


def submission_ack(request: Request) -> Response:
    partner = _partner(request)
    if isinstance(partner, Response):
        return partner
    gw = request.app.state.gateway
    with gw.sessions.begin() as s:
        ack = s.get(Ack, request.path_params["ack_id"])
        if (
            ack is None
            or ack.partner_id != partner.id
            or ack.interchange_id != request.path_params["receipt_id"]
        ):
            return problem(404, "Not Found", "no acknowledgement of yours has this id")
        content, media_type, filename = ack.content, ack.media_type, ack.filename
        # a pull ack fetched before the outbox got to it (still pending) is delivered too
        if ack.state == AckState.AVAILABLE or (
            ack.state == AckState.PENDING and ack.route == "http"
        ):
            s.execute(
                update(Ack)
                .where(Ack.id == ack.id)
                .values(state=AckState.DELIVERED, delivered_at=gw.intake.clock())
            )
        return Response(
            content,
            media_type=media_type,
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )


# -- back-office queues -------------------------------------------------------------------


def list_queues(request: Request) -> Response:
    partner = _backoffice(request)
    if isinstance(partner, Response):
        return partner
    stats = request.app.state.gateway.queues.stats()
    return JSONResponse(
        {
            "queues": [
                {
                    "queue": q.queue,
                    "visible": q.visible,
                    "in_flight": q.in_flight,
                    "dead": q.dead,
                    "done": q.done,
                    "oldest": q.oldest.isoformat() if q.oldest else None,
                }
                for q in stats
                if partner.backoffice.may_use(q.queue)
            ]
        }
    )


async def _body(request: Request) -> dict[str, Any] | JSONResponse:
    if not await request.body():
        return {}
    try:
        data = await request.json()
    except ValueError:
        return problem(400, "Bad Request", "the body must be a JSON object")
    return (
        data
        if isinstance(data, dict)
        else problem(400, "Bad Request", "the body must be a JSON object")
    )


async def _queue_call(request: Request) -> tuple[str, Partner, dict[str, Any]] | Response:
    """The queue named in the path, the back office allowed to use it, and the JSON body."""
    queue = request.path_params["queue"]
    partner = _backoffice(request, queue)
    if isinstance(partner, Response):
        return partner
    body = await _body(request)
    if isinstance(body, Response):
        return body
    return queue, partner, body


async def receive(request: Request) -> Response:
    found = await _queue_call(request)
    if isinstance(found, Response):
        return found
    queue, partner, body = found
    try:
        max_items = int(body.get("max", request.query_params.get("max", 1)))
        visibility = body.get("visibility_timeout", request.query_params.get("visibility_timeout"))
        visibility = float(visibility) if visibility is not None else None
        wait = min(float(body.get("wait", request.query_params.get("wait", 0))), 20.0)
    except (TypeError, ValueError):
        return problem(400, "Bad Request", "max, visibility_timeout and wait must be numbers")
    if visibility is not None and not 0 < visibility <= 43200:
        return problem(400, "Bad Request", "visibility_timeout must be between 0 and 43200 seconds")
    queues = request.app.state.gateway.queues
    deadline = time.monotonic() + wait
    while True:
        msgs = await run_in_threadpool(
            queues.receive, queue, max_items, visibility, f"backoffice:{partner.id}"
        )
        if msgs or time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.1)
    return JSONResponse(
        {
            "messages": [
                {
                    "id": m.id,
                    "receipt_handle": m.receipt_handle,
                    "receive_count": m.receive_count,
                    "created_at": m.created_at.isoformat(),
                    "body": m.body,
                }
                for m in msgs
            ]
        }
    )


async def _settle(request: Request, action: str) -> Response:
    found = await _queue_call(request)
    if isinstance(found, Response):
        return found
    queue, partner, body = found
    handle = body.get("receipt_handle")
    if not isinstance(handle, str) or not handle:
        return problem(400, "Bad Request", 'send {"receipt_handle": "..."} from the receive answer')
    queues = request.app.state.gateway.queues
    try:
        if action == "ack":
            await run_in_threadpool(queues.ack, queue, handle, f"backoffice:{partner.id}")
        else:
            await run_in_threadpool(
                queues.nack, queue, handle, str(body.get("reason", "")), f"backoffice:{partner.id}"
            )
    except LeaseLost as exc:
        return problem(409, "Conflict", str(exc))
    return Response(status_code=204)


async def ack(request: Request) -> Response:
    return await _settle(request, "ack")


async def nack(request: Request) -> Response:
    return await _settle(request, "nack")


def dead_letters(request: Request) -> Response:
    queue = request.path_params["queue"]
    partner = _backoffice(request, queue)
    if isinstance(partner, Response):
        return partner
    items = request.app.state.gateway.queues.dead_letters(queue)
    return JSONResponse(
        {
            "dead_letters": [
                {
                    "id": i.id,
                    "document_id": i.document_id,
                    "receive_count": i.receive_count,
                    "last_error": i.last_error,
                    "body": i.body,
                }
                for i in items
            ]
        }
    )


async def requeue(request: Request) -> Response:
    found = await _queue_call(request)
    if isinstance(found, Response):
        return found
    queue, partner, body = found
    ids = body.get("ids")
    if ids is not None and not (isinstance(ids, list) and all(isinstance(i, int) for i in ids)):
        return problem(400, "Bad Request", "ids must be a list of dead-letter item ids")
    n = await run_in_threadpool(
        request.app.state.gateway.queues.requeue, queue, ids, f"backoffice:{partner.id}"
    )
    return JSONResponse({"requeued": n})


# -- operations -----------------------------------------------------------------------------


def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def readyz(request: Request) -> Response:
    gw = request.app.state.gateway
    problems = []
    try:
        with gw.reads() as s:
            s.execute(text("SELECT 1"))
            s.execute(select(Interchange.id).limit(1))
    except Exception as exc:
        problems.append(f"store: {type(exc).__name__}")
    if not gw.spool.tmp.is_dir():
        problems.append("spool: missing")
    if problems:
        return JSONResponse({"status": "unavailable", "problems": problems}, status_code=503)
    return JSONResponse({"status": "ready"})


def metrics_endpoint(request: Request) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    from edi_gateway import metrics

    for q in request.app.state.gateway.queues.stats():
        metrics.QUEUE_DEPTH.labels(q.queue).set(q.visible)
        metrics.QUEUE_INFLIGHT.labels(q.queue).set(q.in_flight)
        metrics.QUEUE_DEAD.labels(q.queue).set(q.dead)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


routes = [
    Route("/api/v1/submissions", submit, methods=["POST"]),
    Route(
        "/api/v1/submissions/{receipt_id}",
        submission_status,
        methods=["GET"],
        name="submission_status",
    ),
    Route("/api/v1/submissions/{receipt_id}/acks", submission_acks, methods=["GET"]),
    Route("/api/v1/submissions/{receipt_id}/acks/{ack_id}", submission_ack, methods=["GET"]),
    Route("/api/v1/queues", list_queues, methods=["GET"]),
    Route("/api/v1/queues/{queue}/receive", receive, methods=["POST"]),
    Route("/api/v1/queues/{queue}/ack", ack, methods=["POST"]),
    Route("/api/v1/queues/{queue}/nack", nack, methods=["POST"]),
    Route("/api/v1/queues/{queue}/dead-letters", dead_letters, methods=["GET"]),
    Route("/api/v1/queues/{queue}/requeue", requeue, methods=["POST"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics_endpoint, methods=["GET"]),
]
