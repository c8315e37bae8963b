"""The message list (filters, search, keyset pages) and bulk reprocessing."""

from __future__ import annotations

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from edi_gateway.store.operators import Role
from edi_gateway.store.tables import PartnerRow
from edi_gateway.web.dashboard import listing
from edi_gateway.web.dashboard.actions import reprocess_audited
from edi_gateway.web.dashboard.context import Dashboard
from edi_gateway.web.dashboard.views import back, dashboard, remote, render, requires

BULK_LIMIT = 500


def _page(d: Dashboard, f: listing.MessageFilter) -> tuple[listing.Page, list[str]]:
    with d.read() as s:
        partners = list(s.scalars(select(PartnerRow.id).order_by(PartnerRow.id)))
        return listing.page(s, f), partners


@requires()
async def messages(request: Request) -> Response:
    f = listing.MessageFilter.from_params(request.query_params)
    result, partners = await run_in_threadpool(_page, dashboard(request), f)
    return render(
        request,
        "messages.html",
        page="messages",
        f=f,
        result=result,
        partners=partners,
        states=listing.STATES,
        channels=listing.CHANNELS,
        directions=listing.DIRECTIONS,
        kinds=listing.KINDS,
        standards=listing.STANDARDS,
        notice=request.query_params.get("reprocessed"),
    )


@requires()
async def messages_json(request: Request) -> Response:
    f = listing.MessageFilter.from_params(request.query_params)
    result, _ = await run_in_threadpool(_page, dashboard(request), f)
    return JSONResponse(
        {
            "messages": [
                {
                    "id": r.id,
                    "received_at": r.received_at.isoformat(),
                    "partner_id": r.partner_id,
                    "channel": r.channel,
                    "direction": r.direction,
                    "standard": r.standard,
                    "state": r.state,
                    "documents": [{"kind": k, "id": n} for k, n in r.documents],
                    "problems": r.problems,
                }
                for r in result.rows
            ],
            "next": f"/api/messages?{f.query(before=result.next_cursor)}"
            if result.next_cursor
            else None,
        }
    )


def reprocess_many(d: Dashboard, ids: list[str], actor: str, address: str) -> int:
    done = sum(reprocess_audited(d, iid, actor, address, wake=False) is None for iid in ids)
    if done:
        d.wake_worker()
    return done


@requires(Role.OPERATOR)
async def bulk_reprocess(request: Request) -> Response:
    form = await request.form()
    ids = [str(v) for v in form.getlist("ids")][:BULK_LIMIT]
    done = await run_in_threadpool(
        reprocess_many, dashboard(request), ids, request.state.operator.username, remote(request)
    )
    query = str(form.get("return", ""))
    return back(f"/messages?{query}" if query else "/messages", reprocessed=done)
