"""REST routes for calls for tenders, mounted by the app under /api/v1/calls.

Institutions register calls, follow the tenders filed (metadata only) and open them with
their officers' shares; tenderers see their own submissions and withdraw. No route ever
returns a sealed tender's content.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from edi_gateway.config import Partner, PartnerRole
from edi_gateway.tendering import calls
from edi_gateway.tendering.common import DeadlinePassed, TenderingRefused, UnknownCall
from edi_gateway.tendering.keys import SharesRejected
from edi_gateway.tendering.officers import certificates
from edi_gateway.tendering.opening import NotYetOpen, OpeningError
from edi_gateway.tendering.wiring import tendering_of

NO_STORE = {"Cache-Control": "no-store"}


def _problem(status: int, title: str, detail: str) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def _partner(request: Request, gateway: Any) -> Partner | Response:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    partner = (
        gateway.config.partner_by_token(token.strip())
        if scheme.lower() == "bearer" and token.strip()
        else None
    )
    if partner is None:
        return _problem(401, "Unauthorized", "send a partner's API token as a Bearer token")
    return partner


def _time(value: Any, name: str) -> dt.datetime:
    if not isinstance(value, str):
        raise TenderingRefused(f"{name} must be an ISO 8601 date-time with a time zone")
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise TenderingRefused(f"{name} {value!r} is not an ISO 8601 date-time") from None


def _spec(body: dict[str, Any], institution: str) -> calls.CallSpec:
    officers = body.get("officers")
    threshold = body.get("threshold")
    if not isinstance(officers, list) or not all(isinstance(o, str) for o in officers):
        raise TenderingRefused("officers must be a list of names")
    if not isinstance(threshold, int):
        raise TenderingRefused("threshold (the quorum of officers) must be an integer")
    lots = body.get("lots") or []
    return calls.CallSpec(
        procedure_id=str(body.get("procedure_id") or ""),
        institution_id=institution,
        deadline=_time(body.get("deadline"), "deadline"),
        opening_at=_time(body.get("opening_at"), "opening_at"),
        officers=officers,
        threshold=threshold,
        title=body.get("title") if isinstance(body.get("title"), str) else None,
        lots=[str(lot) for lot in lots] if isinstance(lots, list) else [],
    )


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise TenderingRefused("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise TenderingRefused("the body must be a JSON object")
    return body


def routes(gateway: Any) -> list[Route]:
    """The routes, relative to their mount point (e.g. `Mount("/api/v1/calls", routes=...)`)."""

    async def guarded(request: Request, handler: Any) -> Response:
        partner = _partner(request, gateway)
        if isinstance(partner, Response):
            return partner
        try:
            result: Response = await handler(request, partner)
            return result
        except UnknownCall as exc:
            return _problem(404, "Not Found", str(exc))
        except NotYetOpen as exc:
            return _problem(409, "Conflict", str(exc))
        except SharesRejected as exc:
            return _problem(422, "Unprocessable Content", str(exc))
        except DeadlinePassed as exc:
            return _problem(409, "Conflict", str(exc))
        except TenderingRefused as exc:
            return _problem(422, "Unprocessable Content", str(exc))
        except OpeningError as exc:
            return _problem(500, "Opening Failed", str(exc))

    def owner(call: dict[str, Any], partner: Partner) -> bool:
        return bool(call["institution_id"] == partner.id)

    async def create(request: Request, partner: Partner) -> Response:
        if partner.role != PartnerRole.INSTITUTION:
            return _problem(403, "Forbidden", "only an institution registers calls for tenders")
        spec = _spec(await _json(request), partner.id)
        t = tendering_of(gateway)
        certs = certificates(partner, gateway.config.partners_dir, t.clock()) or None
        made = await run_in_threadpool(
            calls.register_call, t.sessions, t.clock, spec, f"partner:{partner.id}", certs
        )
        body = {**_summary(spec.procedure_id), "shares": made.shares}  # with shares_sealed
        return JSONResponse(body, status_code=201, headers=NO_STORE)

    def _summary(procedure_id: str) -> dict[str, Any]:
        return _find(tendering_of(gateway), procedure_id)

    async def index(request: Request, partner: Partner) -> Response:
        return JSONResponse(
            {"calls": await run_in_threadpool(calls.list_calls, tendering_of(gateway).reads)}
        )

    async def show(request: Request, partner: Partner) -> Response:
        procedure = request.path_params["procedure_id"]
        t = tendering_of(gateway)
        call = await run_in_threadpool(_find, t, procedure)
        mine = None if owner(call, partner) else partner.id
        subs = await run_in_threadpool(calls.submissions, t.reads, procedure, mine)
        return JSONResponse({**call, "submissions": subs})

    async def withdrawal(request: Request, partner: Partner) -> Response:
        t = tendering_of(gateway)
        procedure, actor = request.path_params["procedure_id"], f"partner:{partner.id}"
        at = await run_in_threadpool(
            calls.withdraw, t.sessions, t.clock, procedure, partner.id, actor
        )
        return JSONResponse({"withdrawn_at": at.isoformat()})

    async def opening(request: Request, partner: Partner) -> Response:
        procedure = request.path_params["procedure_id"]
        t = tendering_of(gateway)
        call = await run_in_threadpool(_find, t, procedure)
        if not owner(call, partner):
            return _problem(403, "Forbidden", "only the institution of the call opens it")
        shares = (await _json(request)).get("shares")
        if not isinstance(shares, list) or not all(isinstance(x, str) for x in shares):
            raise TenderingRefused("shares must be a list of the officers' share strings")
        record = await run_in_threadpool(t.opening.open, procedure, shares, f"partner:{partner.id}")
        return JSONResponse(record)

    async def record(request: Request, partner: Partner) -> Response:
        call = await run_in_threadpool(
            _find, tendering_of(gateway), request.path_params["procedure_id"], True
        )
        if call.get("opening_record") is None:
            return _problem(409, "Conflict", "the call has not been opened yet")
        return JSONResponse(call["opening_record"])

    async def content(request: Request, partner: Partner) -> Response:
        return _problem(
            403,
            "Forbidden",
            "a tender's content is never served here: it stays sealed until the opening, "
            "then goes to the institution's evaluation queue",
        )

    def route(path: str, handler: Any, methods: list[str], name: str) -> Route:
        async def endpoint(request: Request) -> Response:
            return await guarded(request, handler)

        return Route(path, endpoint, methods=methods, name=name)

    return [
        route("/", create, ["POST"], "calls_create"),
        route("/", index, ["GET"], "calls_index"),
        route("/{procedure_id}", show, ["GET"], "calls_show"),
        route("/{procedure_id}/withdrawal", withdrawal, ["POST"], "calls_withdrawal"),
        route("/{procedure_id}/opening", opening, ["POST"], "calls_opening"),
        route("/{procedure_id}/opening-record", record, ["GET"], "calls_record"),
        route("/{procedure_id}/tenders/{receipt_id}/content", content, ["GET"], "calls_content"),
    ]


def _find(t: Any, procedure_id: str, with_record: bool = False) -> dict[str, Any]:
    with t.reads() as s:
        call = calls.find_call(s, procedure_id)
        summary = calls.call_summary(call)
        if with_record:
            summary["opening_record"] = call.opening_record
        return summary
