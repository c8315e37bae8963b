"""Partners: channels and identifiers from the partner files, activity from the store; for
admins, adding and editing partners, enabling and disabling them and issuing their tokens
(each change written to the partner file, taken up by the running gateway, and audited)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from edi_gateway import partners_admin
from edi_gateway.config import ConfigError, Partner
from edi_gateway.store.operators import Role
from edi_gateway.store.tables import Interchange, InterchangeState, PartnerRow
from edi_gateway.web.dashboard import audit, overview, partner_form
from edi_gateway.web.dashboard.context import Dashboard
from edi_gateway.web.dashboard.station_keys import station_certificates
from edi_gateway.web.dashboard.views import back, dashboard, message, remote, render, requires


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
    ours = await run_in_threadpool(station_certificates, d.gateway.config)
    return render(
        request,
        "partners.html",
        page="partners",
        partners=views,
        ours=ours,
        now=d.gateway.clock(),
        saved=request.query_params.get("saved"),
        error=request.query_params.get("error"),
    )


# ----------------------------------------------------------------------------- admin


def _form_page(
    request: Request,
    doc: dict[str, Any],
    *,
    new: bool,
    error: str | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "partner_form.html",
        status,
        page="partners",
        doc=doc,
        new=new,
        error=error,
        choices=partner_form.Choices(),
        identifiers=partner_form.identifiers_text(doc),
        edifact=partner_form.edifact_text(doc),
    )


def _audited(
    d: Dashboard,
    request: Request,
    action: str,
    pid: str,
    saved: partners_admin.Saved | None,
    error: str | None = None,
) -> None:
    """One audit row per admin action, done or refused; never a secret value in it."""
    detail: dict[str, Any] = {"reason": error} if error else {}
    if saved is not None:
        detail["changes"] = saved.changes
        if saved.backup is not None:
            detail["backup"] = saved.backup.name
        _mirror(d, saved.partner)
    audit.record(
        d.gateway.sessions,
        at=d.gateway.clock(),
        actor=request.state.operator.username,
        action=action,
        target=f"partner:{pid}",
        outcome="refused" if error else "ok",
        remote=remote(request),
        **detail,
    )


def _mirror(d: Dashboard, p: Partner) -> None:
    """The partners table follows the files (the store joins on it)."""
    with d.gateway.sessions.begin() as s:
        row = s.get(PartnerRow, p.id)
        if row is None:
            s.add(PartnerRow(id=p.id, name=p.name, role=p.role.value, enabled=p.enabled))
        else:
            row.name, row.role, row.enabled = p.name, p.role.value, p.enabled


def _problem(exc: ConfigError) -> str:
    return f"{exc.key}: {exc.problem}"


@requires(Role.ADMIN)
async def new_partner(request: Request) -> Response:
    return _form_page(request, {"role": "supplier", "acks": {}}, new=True)


@requires(Role.ADMIN)
async def edit_partner(request: Request) -> Response:
    try:
        doc = partners_admin.document(dashboard(request).gateway.config, request.path_params["id"])
    except partners_admin.UnknownPartner:
        return message(request, "Not found.", 404)
    return _form_page(request, doc, new=False)


@requires(Role.ADMIN)
async def create_partner(request: Request) -> Response:
    d = dashboard(request)
    form = await request.form()
    pid = str(form.get("id", "")).strip()
    doc = partner_form.apply({}, form, pid=pid)
    return await _save(request, d, pid, doc, new=True)


@requires(Role.ADMIN)
async def update_partner(request: Request) -> Response:
    d = dashboard(request)
    pid = request.path_params["id"]
    try:
        current = partners_admin.document(d.gateway.config, pid)
    except partners_admin.UnknownPartner:
        return message(request, "Not found.", 404)
    doc = partner_form.apply(current, await request.form(), pid=pid)
    return await _save(request, d, pid, doc, new=False)


async def _save(
    request: Request, d: Dashboard, pid: str, doc: dict[str, Any], *, new: bool
) -> Response:
    action = "partner-add" if new else "partner-edit"
    try:
        saved = await run_in_threadpool(
            partners_admin.save, d.gateway.config, pid, doc, new=new, now=d.gateway.clock()
        )
    except (ConfigError, partners_admin.UnknownPartner) as exc:
        problem = _problem(exc) if isinstance(exc, ConfigError) else f"unknown partner {pid!r}"
        await run_in_threadpool(_audited, d, request, action, pid, None, problem)
        return _form_page(request, doc, new=new, error=problem, status=400)
    await run_in_threadpool(_audited, d, request, action, pid, saved)
    return back("/partners", saved=pid)


@requires(Role.ADMIN)
async def change_state(request: Request) -> Response:
    d = dashboard(request)
    pid = request.path_params["id"]
    form = await request.form()
    enable = form.get("action") == "enable"
    action = "partner-enable" if enable else "partner-disable"
    try:
        saved = await run_in_threadpool(
            partners_admin.set_enabled, d.gateway.config, pid, enable, d.gateway.clock()
        )
    except partners_admin.UnknownPartner:
        return message(request, "Not found.", 404)
    except ConfigError as exc:
        await run_in_threadpool(_audited, d, request, action, pid, None, _problem(exc))
        return back("/partners", error=_problem(exc))
    await run_in_threadpool(_audited, d, request, action, pid, saved)
    return back("/partners", saved=pid)


@requires(Role.ADMIN)
async def issue_token(request: Request) -> Response:
    d = dashboard(request)
    pid = request.path_params["id"]
    form = await request.form()
    chosen = str(form.get("kind", "api"))
    kinds: dict[str, partners_admin.TokenKind] = {k: k for k in partners_admin.SECRET_PLACE}
    kind = kinds.get(chosen, "api")
    label = str(form.get("label", "")).strip()[:64]
    try:
        token, saved = await run_in_threadpool(
            lambda: partners_admin.issue_token(
                d.gateway.config,
                pid,
                kind,
                label,
                d.gateway.clock(),
                replace=form.get("keep") is None,
            )
        )
    except partners_admin.UnknownPartner:
        return message(request, "Not found.", 404)
    except ConfigError as exc:
        await run_in_threadpool(_audited, d, request, "partner-token", pid, None, _problem(exc))
        return back("/partners", error=_problem(exc))
    await run_in_threadpool(_audited, d, request, "partner-token", pid, saved)
    # shown once, in this response only (never in a URL, a log or the audit trail)
    return render(request, "partner_token.html", page="partners", pid=pid, kind=kind, token=token)
