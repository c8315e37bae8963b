"""AS2 MDN evidence of one message: every MDN we sent for it and every MDN a partner sent
about the acknowledgements we sent for it, as the `as2_mdns` table keeps them; and the raw
MDN (headers and body as sent or received) for operators to download."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from edi_gateway.store.as2 import As2Mdn, MdnDirection, MdnState
from edi_gateway.store.operators import Role
from edi_gateway.web.dashboard import audit
from edi_gateway.web.dashboard.context import Dashboard
from edi_gateway.web.dashboard.views import dashboard, message, remote, requires


@dataclass(frozen=True)
class MdnView:
    id: str
    direction: str
    mode: str
    state: str
    created_at: dt.datetime
    finished_at: dt.datetime | None
    partner_id: str | None
    disposition: str | None
    mic: str | None  # the base64 digest
    mic_algorithm: str | None
    signed: bool
    verified: bool | None  # a partner's MDN: signature, message id and MIC checked out
    problems: list[str]
    original_message_id: str | None
    mdn_message_id: str | None
    url: str | None  # where an asynchronous MDN goes
    attempts: int
    last_error: str | None
    has_raw: bool


def _view(row: As2Mdn) -> MdnView:
    mic, _, algorithm = (row.mic or "").partition(",")
    verified = None
    if row.direction == MdnDirection.RECEIVED and row.state in (
        MdnState.VERIFIED,
        MdnState.REJECTED,
    ):
        verified = row.state == MdnState.VERIFIED
    return MdnView(
        id=row.id,
        direction=row.direction,
        mode=row.mode,
        state=row.state,
        created_at=row.created_at,
        finished_at=row.finished_at,
        partner_id=row.partner_id,
        disposition=row.disposition,
        mic=mic.strip() or None,
        mic_algorithm=algorithm.strip() or None,
        signed=row.signed,
        verified=verified,
        problems=[str(p) for p in (row.detail or {}).get("problems", [])],
        original_message_id=row.original_message_id,
        mdn_message_id=row.mdn_message_id,
        url=row.url,
        attempts=row.attempts,
        last_error=row.last_error,
        has_raw=bool(row.body or row.headers),
    )


def evidence(s: Session, interchange_id: str) -> list[MdnView]:
    """Oldest first. Received MDNs carry the interchange of the ack they confirm."""
    rows = s.scalars(
        select(As2Mdn)
        .where(As2Mdn.interchange_id == interchange_id)
        .order_by(As2Mdn.created_at, As2Mdn.id)
    )
    return [_view(r) for r in rows]


def raw_mdn(row: As2Mdn) -> bytes:
    """The MDN as a MIME message: its headers, an empty line, its body."""
    head = "".join(f"{name}: {value}\r\n" for name, value in row.headers or [])
    return head.encode("utf-8", "replace") + b"\r\n" + (row.body or b"")


def _download(d: Dashboard, mdn_id: str, actor: str, address: str) -> bytes | None:
    with d.read() as s:
        row = s.get(As2Mdn, mdn_id)
        if row is None or not (row.body or row.headers):
            return None
        data, iid = raw_mdn(row), row.interchange_id
    audit.record(
        d.gateway.sessions,
        at=d.gateway.clock(),
        actor=actor,
        action="download-mdn",
        target=iid or mdn_id,
        remote=address,
        mdn=mdn_id,
    )
    return data


@requires(Role.OPERATOR)
async def download_mdn(request: Request) -> Response:
    mdn_id = request.path_params["id"]
    data = await run_in_threadpool(
        _download, dashboard(request), mdn_id, request.state.operator.username, remote(request)
    )
    if data is None:
        return message(request, "Not found.", 404)
    # as opaque bytes: evidence is kept exactly, never rendered by the browser
    return Response(
        data,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="mdn-{mdn_id}.eml"',
            "X-Content-Type-Options": "nosniff",
        },
    )
