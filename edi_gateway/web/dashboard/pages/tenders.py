"""The tender opening: the calls for tenders with their state, deadline and opening time; the
sealed tenders of a call as metadata only; the opening form where k officers enter their
shares; and the signed opening record once it is open.

The opening runs the same code as the CLI and the REST API (`Opening.open`). The shares live
in this request only: they are never stored, logged or put in the audit entry (which records
how many were given and what came of it).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from edi_gateway.store.operators import Role
from edi_gateway.tendering import calls
from edi_gateway.tendering.common import UnknownCall
from edi_gateway.tendering.keys import SharesRejected
from edi_gateway.tendering.opening import NotYetOpen, OpeningError
from edi_gateway.tendering.wiring import Tendering, tendering_of
from edi_gateway.web.dashboard import audit, i18n
from edi_gateway.web.dashboard.context import Dashboard, SignedIn
from edi_gateway.web.dashboard.views import (
    dashboard,
    language,
    message,
    remote,
    render,
    requires,
)

log = structlog.get_logger("edi_gateway.web.dashboard.tenders")

SHARE_FIELD = "share"
MAX_SHARE_LENGTH = 512  # a share is ~70 characters; anything far longer is not one


def _tendering(d: Dashboard) -> Tendering:
    return tendering_of(d.gateway)


@requires()
async def tenders(request: Request) -> Response:
    d = dashboard(request)
    listed = await run_in_threadpool(_calls, d)
    return render(request, "tenders.html", page="tenders", calls=listed, now=d.gateway.clock())


def _calls(d: Dashboard) -> list[dict[str, Any]]:
    listed = calls.list_calls(_tendering(d).reads)
    for c in listed:
        c["deadline_at"] = dt.datetime.fromisoformat(c["deadline"])
        c["opening_time"] = dt.datetime.fromisoformat(c["opening_at"])
    return listed


def _call(d: Dashboard, procedure: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    t = _tendering(d)
    with t.reads() as s:
        call = calls.find_call(s, procedure)
        summary = calls.call_summary(call)
        summary["opening_record"] = call.opening_record
        summary["deadline_at"], summary["opening_time"] = call.deadline, call.opening_at
    return summary, calls.sealed_tenders(t.reads, procedure)


async def _show(
    request: Request, procedure: str, status: int = 200, refusal: str | None = None
) -> Response:
    d = dashboard(request)
    try:
        call, tenders_filed = await run_in_threadpool(_call, d, procedure)
    except UnknownCall:
        return message(request, "No call for tenders has this procedure id.", 404)
    now = d.gateway.clock()
    return render(
        request,
        "tenders_call.html",
        status,
        page="tenders",
        call=call,
        tenders=tenders_filed,
        record=call["opening_record"],
        now=now,
        opens=now >= call["opening_time"],
        refusal=refusal,
    )


@requires()
async def tender_call(request: Request) -> Response:
    return await _show(request, request.path_params["id"])


@dataclass(frozen=True)
class Attempt:
    outcome: str  # "ok", or why it was refused: the audit entry's outcome
    status: int = 200
    text: str = ""  # for the operator, an i18n key
    values: dict[str, Any] = field(default_factory=dict)


def _open(
    d: Dashboard, procedure: str, shares: list[str], operator: SignedIn, address: str
) -> Attempt:
    """Check, open (the CLI's and the API's `Opening.open`), and audit the attempt."""
    call: dict[str, Any] | None = None
    with contextlib.suppress(UnknownCall):
        call, _ = _call(d, procedure)
    attempt = Attempt("ok")
    if call is None:
        attempt = Attempt("unknown-call", 404, "No call for tenders has this procedure id.")
    elif call["opening_record"] is None and d.gateway.clock() < call["opening_time"]:
        attempt = Attempt("too-early", 409, "The opening time has not come yet.")
    elif call["opening_record"] is None and len(shares) < call["threshold"]:
        attempt = Attempt(
            "too-few-shares", 422, "Enter the shares of {k} officers.", {"k": call["threshold"]}
        )
    else:
        try:
            _tendering(d).opening.open(procedure, shares, operator.actor)
        except NotYetOpen:
            attempt = Attempt("too-early", 409, "The opening time has not come yet.")
        except SharesRejected:
            attempt = Attempt("shares-rejected", 422, "These shares do not open this call.")
        except OpeningError as exc:
            log.error("dashboard.opening_failed", procedure_id=procedure, error=str(exc))
            attempt = Attempt("failed", 500, "The opening failed; see the gateway log.")
    audit.record(
        d.gateway.sessions,
        at=d.gateway.clock(),
        actor=operator.username,
        action="open-call",
        target=procedure,
        outcome=attempt.outcome,
        remote=address,
        shares_given=len(shares),  # how many, never which
    )
    return attempt


@requires(Role.OPERATOR)
async def open_call(request: Request) -> Response:
    procedure = request.path_params["id"]
    form = await request.form()
    shares = [
        v.strip()
        for v in map(str, form.getlist(SHARE_FIELD))
        if v.strip() and len(v) <= MAX_SHARE_LENGTH
    ]
    attempt = await run_in_threadpool(
        _open, dashboard(request), procedure, shares, request.state.operator, remote(request)
    )
    if attempt.outcome == "unknown-call":
        return message(request, attempt.text, attempt.status)
    refusal = None
    if attempt.outcome != "ok":
        refusal = i18n.translator(language(request))(attempt.text, **attempt.values)
    return await _show(request, procedure, attempt.status, refusal)
