"""Sign-in, sign-out and the language switch."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import select, update
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from edi_gateway.store.operators import Operator
from edi_gateway.web.dashboard import audit, i18n
from edi_gateway.web.dashboard.context import Dashboard
from edi_gateway.web.dashboard.security import password_generation, verify_password
from edi_gateway.web.dashboard.views import (
    SESSION_COOKIE,
    csrf_ok,
    dashboard,
    language,
    remote,
    render,
    requires,
    set_cookie,
)


def _safe_next(target: str | None) -> str:
    """Only local paths: never send a freshly signed-in operator to another site."""
    if not target:
        return "/overview"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/overview"
    return target


async def login_form(request: Request) -> Response:
    return render(request, "login.html", next=_safe_next(request.query_params.get("next")))


def _check(d: Dashboard, username: str, password: str) -> Operator | None:
    with d.read() as s:
        op = s.scalar(select(Operator).where(Operator.username == username))
    ok = verify_password(op.password_hash if op else None, password)
    return op if ok and op is not None and not op.disabled else None


async def login(request: Request) -> Response:
    d = dashboard(request)
    form = await request.form()
    username = str(form.get("username", "")).strip().lower()[:64]
    password = str(form.get("password", ""))
    target = _safe_next(str(form.get("next", "")))
    t = i18n.translator(language(request))
    if not await csrf_ok(request):
        return render(
            request, "login.html", 403, next=target, error=t("The form expired; please try again.")
        )
    address = remote(request)
    wait = d.throttle.wait_seconds(username, address)
    if wait > 0:
        error = t(
            "Too many failed attempts; try again in {seconds} seconds.", seconds=int(wait) + 1
        )
        return render(request, "login.html", 429, next=target, error=error, username=username)
    op = await run_in_threadpool(_check, d, username, password)
    now = d.gateway.clock()
    if op is None:
        d.throttle.failed(username, address)
        await run_in_threadpool(
            audit.record,
            d.gateway.sessions,
            at=now,
            actor=username or "-",
            action="sign-in",
            outcome="refused",
            remote=address,
        )
        return render(
            request,
            "login.html",
            401,
            next=target,
            username=username,
            error=t("The username or password is wrong."),
        )
    d.throttle.succeeded(username, address)

    def remember() -> None:
        with d.gateway.sessions.begin() as s:
            s.execute(update(Operator).where(Operator.id == op.id).values(last_sign_in_at=now))
        audit.record(
            d.gateway.sessions, at=now, actor=op.username, action="sign-in", remote=address
        )

    await run_in_threadpool(remember)
    response = RedirectResponse(target, status_code=303)
    cookie = d.signer.session_cookie(
        op.id, password_generation(op.password_hash), d.session_seconds
    )
    set_cookie(request, response, SESSION_COOKIE, cookie, max_age=int(d.session_seconds))
    return response


@requires()
async def logout(request: Request) -> Response:
    d = dashboard(request)
    await run_in_threadpool(
        audit.record,
        d.gateway.sessions,
        at=d.gateway.clock(),
        actor=request.state.operator.username,
        action="sign-out",
        remote=remote(request),
    )
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


async def switch_language(request: Request) -> Response:
    lang = request.path_params["lang"]
    target = _safe_next(request.query_params.get("next"))
    response = RedirectResponse(target, status_code=303)
    if lang in i18n.LANGUAGES:
        set_cookie(request, response, i18n.COOKIE, lang, max_age=365 * 86400)
    return response
