"""Back-office queues: depth, in flight, oldest item, dead letters and requeueing them."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from edi_gateway.store.operators import Role
from edi_gateway.web.dashboard import audit
from edi_gateway.web.dashboard.context import Dashboard
from edi_gateway.web.dashboard.views import back, dashboard, remote, render, requires


@requires()
async def queues(request: Request) -> Response:
    d = dashboard(request)

    def load() -> tuple[list, dict]:
        stats = d.read_queues.stats()
        dead = {q.queue: d.read_queues.dead_letters(q.queue, limit=20) for q in stats if q.dead}
        return stats, dead

    stats, dead = await run_in_threadpool(load)
    return render(
        request,
        "queues.html",
        page="queues",
        stats=stats,
        dead=dead,
        now=d.gateway.clock(),
        requeued=request.query_params.get("requeued"),
    )


def _requeue(d: Dashboard, queue: str, ids: list[int] | None, actor: str, address: str) -> int:
    n = d.gateway.queues.requeue(queue, ids, f"operator:{actor}")
    audit.record(
        d.gateway.sessions,
        at=d.gateway.clock(),
        actor=actor,
        action="requeue",
        target=queue,
        remote=address,
        items=ids if ids is not None else "all",
        requeued=n,
    )
    return n


@requires(Role.OPERATOR)
async def requeue(request: Request) -> Response:
    form = await request.form()
    # the per-item form says "selected": nothing ticked there means nothing, never "all"
    chosen = [int(v) for v in map(str, form.getlist("ids")) if v.isdigit()]
    ids = chosen if form.get("scope") == "selected" else None
    if ids == []:
        return back("/queues", requeued=0)
    n = await run_in_threadpool(
        _requeue,
        dashboard(request),
        request.path_params["queue"],
        ids,
        request.state.operator.username,
        remote(request),
    )
    return back("/queues", requeued=n)
