"""The audit trail, searchable and read-only."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from edi_gateway.web.dashboard import audit
from edi_gateway.web.dashboard.views import dashboard, render, requires


@requires()
async def trail(request: Request) -> Response:
    d = dashboard(request)
    params = request.query_params
    before = params.get("before", "")
    text, actor, action = (params.get(k, "").strip()[:100] for k in ("q", "actor", "action"))

    def load() -> audit.AuditPage:
        with d.read() as s:
            return audit.search(
                s,
                text=text,
                actor=actor,
                action=action,
                before=int(before) if before.isdigit() else None,
            )

    result = await run_in_threadpool(load)
    return render(
        request, "audit.html", page="audit", result=result, q=text, actor=actor, action=action
    )
