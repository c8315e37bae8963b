"""One message: timeline, transport facts, raw payload with findings in place, canonical
documents, findings, acknowledgements; and the actions on it."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from edi_gateway.store.operators import Role
from edi_gateway.store.queries import interchange_status, timeline
from edi_gateway.store.tables import Ack, DocumentRow, Interchange
from edi_gateway.tendering.common import still_sealed
from edi_gateway.web.dashboard import audit, rawview
from edi_gateway.web.dashboard.actions import reprocess_audited
from edi_gateway.web.dashboard.context import Dashboard
from edi_gateway.web.dashboard.pages import mdns
from edi_gateway.web.dashboard.views import back, dashboard, message, remote, render, requires


def _detail(d: Dashboard, iid: str) -> dict[str, Any] | None:
    with d.read() as s:
        status = interchange_status(s, iid)
        if status is None:
            return None
        ic = s.get_one(Interchange, iid)
        events = timeline(s, iid)
        canonical = [
            (doc.business_id or doc.id, json.dumps(doc.canonical, indent=2, ensure_ascii=False))
            for doc in s.scalars(
                select(DocumentRow)
                .where(DocumentRow.interchange_id == iid)
                .order_by(DocumentRow.position)
            )
            if doc.canonical is not None
        ]
        acks = list(
            s.scalars(select(Ack).where(Ack.interchange_id == iid).order_by(Ack.created_at))
        )
        as2_mdns = mdns.evidence(s, iid)
    findings = status["findings"] + [f for doc in status["documents"] for f in doc["findings"]]
    sealed = still_sealed(ic.origin, ic.raw_sha256)  # a tender before its opening: never shown
    try:
        raw = None if sealed else d.gateway.spool.read(ic.raw_sha256)
    except (OSError, ValueError):
        raw = None
    view = rawview.render(raw, findings, ic.format) if raw is not None else None
    return {
        "ic": ic,
        "status": status,
        "events": events,
        "canonical": canonical,
        "acks": acks,
        "mdns": as2_mdns,
        "findings": findings,
        "raw": view,
        "sealed": sealed,
        "origin": ic.origin or {},
        "display_limit": rawview.DISPLAY_LIMIT,
    }


@requires()
async def detail(request: Request) -> Response:
    data = await run_in_threadpool(_detail, dashboard(request), request.path_params["id"])
    if data is None:
        return message(request, "Not found.", 404)
    return render(
        request, "message.html", page="messages", notice=request.query_params.get("done"), **data
    )


@requires(Role.OPERATOR)
async def reprocess_one(request: Request) -> Response:
    iid = request.path_params["id"]
    error = await run_in_threadpool(
        reprocess_audited, dashboard(request), iid, request.state.operator.username, remote(request)
    )
    if error is not None:
        return message(request, error, 409)
    return back(f"/messages/{iid}", done="reprocess")


def _resend(d: Dashboard, iid: str, ack_id: str, actor: str, address: str) -> bool:
    with d.read() as s:
        ack = s.get(Ack, ack_id)
    if ack is None or ack.interchange_id != iid:
        return False
    d.gateway.outbox.resend(ack_id, f"operator:{actor}")
    audit.record(
        d.gateway.sessions,
        at=d.gateway.clock(),
        actor=actor,
        action="resend-ack",
        target=iid,
        remote=address,
        ack=ack_id,
        kind=ack.kind,
    )
    return True


@requires(Role.OPERATOR)
async def resend_ack(request: Request) -> Response:
    iid, ack_id = request.path_params["id"], request.path_params["ack_id"]
    ok = await run_in_threadpool(
        _resend, dashboard(request), iid, ack_id, request.state.operator.username, remote(request)
    )
    if not ok:
        return message(request, "Not found.", 404)
    return back(f"/messages/{iid}", done="resend")


class SealedContent(Exception):
    """The interchange is a sealed tender whose opening has not happened."""


def _raw(d: Dashboard, iid: str, actor: str, address: str) -> tuple[bytes, str, str] | None:
    with d.read() as s:
        ic = s.get(Interchange, iid)
    if ic is None:
        return None
    if still_sealed(ic.origin, ic.raw_sha256):
        raise SealedContent
    try:
        data = d.gateway.spool.read(ic.raw_sha256)
    except (OSError, ValueError):
        return None
    audit.record(
        d.gateway.sessions,
        at=d.gateway.clock(),
        actor=actor,
        action="download-raw",
        target=iid,
        remote=address,
        sha256=ic.raw_sha256,
    )
    name = re.sub(r"[^\w.-]", "_", ic.filename or f"{iid}.bin", flags=re.ASCII)
    return data, name, ic.media_type or "application/octet-stream"


@requires()
async def download_raw(request: Request) -> Response:
    try:
        found = await run_in_threadpool(
            _raw,
            dashboard(request),
            request.path_params["id"],
            request.state.operator.username,
            remote(request),
        )
    except SealedContent:
        return message(request, "Sealed tender: its content is unreadable until the opening.", 403)
    if found is None:
        return message(request, "Not found.", 404)
    data, name, _media = found
    # always as an attachment of opaque bytes: a payload is never rendered by the browser
    return Response(
        data,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
        },
    )
