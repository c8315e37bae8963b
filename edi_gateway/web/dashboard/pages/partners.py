"""Partners: channels and identifiers from the partner files, activity from the store."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import case, func, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from edi_gateway.config import Partner
from edi_gateway.store.tables import Interchange, InterchangeState, PartnerRow
from edi_gateway.web.dashboard import overview
from edi_gateway.web.dashboard.context import Dashboard
from edi_gateway.web.dashboard.views import dashboard, render, requires


@dataclass(frozen=True)
class PartnerView:
    partner: Partner
    channels: list[str]
    identifiers: list[str]
    last_seen: dt.datetime | None
    volume: int
    errors: int
    certificate_expires: dt.datetime | None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.volume if self.volume else None


def _channels(p: Partner) -> list[str]:
    out = ["http"] if p.api_tokens else []
    out += [name for name, on in (("as2", p.as2), ("sftp", p.sftp), ("email", p.email)) if on]
    return out + (["folder"] if p.folder else [])


def _partners(d: Dashboard) -> list[PartnerView]:
    now = d.gateway.clock()
    failed = Interchange.state.in_([InterchangeState.REJECTED, InterchangeState.DEAD])
    with d.read() as s:
        seen = dict(s.execute(select(PartnerRow.id, PartnerRow.last_seen_at)).all())
        activity = {
            pid: (int(n), int(e or 0))
            for pid, n, e in s.execute(
                select(Interchange.partner_id, func.count(), func.sum(case((failed, 1), else_=0)))
                .where(Interchange.received_at >= now - dt.timedelta(days=1))
                .group_by(Interchange.partner_id)
            )
        }
    expiries: dict[str, dt.datetime] = {}
    for c in overview.certificates(d.gateway.config):
        if c.expires is not None and (
            c.partner_id not in expiries or c.expires < expiries[c.partner_id]
        ):
            expiries[c.partner_id] = c.expires
    views = []
    for p in sorted(d.gateway.config.partners.values(), key=lambda p: (p.role.value, p.id)):
        ids = [f"{i.scheme or '?'}:{i.value}" for i in p.identifiers]
        ids += [f"UNB:{e.id}" + (f"/{e.qualifier}" if e.qualifier else "") for e in p.edifact.ids]
        volume, errors = activity.get(p.id, (0, 0))
        views.append(
            PartnerView(p, _channels(p), ids, seen.get(p.id), volume, errors, expiries.get(p.id))
        )
    return views


@requires()
async def partners(request: Request) -> Response:
    d = dashboard(request)
    views = await run_in_threadpool(_partners, d)
    return render(request, "partners.html", page="partners", partners=views, now=d.gateway.clock())
