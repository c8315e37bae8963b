"""Request plumbing shared by every page: who is signed in, which language, CSRF, rendering,
and the decorators that put a role requirement on a handler."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from edi_gateway.store.operators import Operator, Role
from edi_gateway.web.dashboard import i18n
from edi_gateway.web.dashboard.context import Dashboard, SignedIn
from edi_gateway.web.dashboard.security import password_generation

SESSION_COOKIE = "edigw_session"
CSRF_COOKIE = "edigw_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"

Handler = Callable[[Request], Awaitable[Response]]


def dashboard(request: Request) -> Dashboard:
    d: Dashboard = request.app.state.dashboard
    return d


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get(
        "accept", ""
    )


def problem(status: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
    )


def lookup_operator(d: Dashboard, cookie: str | None) -> SignedIn | None:
    session = d.signer.read_session(cookie)
    if session is None:
        return None
    with d.read() as s:
        op = s.scalar(select(Operator).where(Operator.id == session.operator_id))
    if op is None or op.disabled or password_generation(op.password_hash) != session.generation:
        return None
    return SignedIn(op.id, op.username, op.display_name, Role(op.role))


def secure(request: Request) -> bool:
    d = dashboard(request)
    return d.secure_cookies if d.secure_cookies is not None else request.url.scheme == "https"


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure(request),
    )


def csrf_nonce(request: Request) -> str:
    """The browser's CSRF nonce (a cookie); a new one is issued when it has none."""
    nonce: str | None = getattr(request.state, "csrf_nonce", None)
    if nonce is None:
        nonce = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        request.state.csrf_nonce = nonce
    return nonce


async def csrf_ok(request: Request) -> bool:
    nonce = request.cookies.get(CSRF_COOKIE)
    token = request.headers.get(CSRF_HEADER)
    if token is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        token = value if isinstance(value, str) else None
    return dashboard(request).signer.csrf_valid(nonce, token)


def language(request: Request) -> str:
    return i18n.negotiate(request.headers.get("accept-language"), request.cookies.get(i18n.COOKIE))


def render(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    d = dashboard(request)
    lang = language(request)
    nonce = csrf_nonce(request)
    html = d.templates.get_template(template).render(
        request=request,
        operator=getattr(request.state, "operator", None),
        lang=lang,
        languages=i18n.LANGUAGE_NAMES,
        t=i18n.translator(lang),
        csrf=d.signer.csrf_token(nonce),
        refresh_seconds=d.refresh_seconds,
        Role=Role,
        **values,
    )
    response = HTMLResponse(html, status_code=status_code)
    if request.cookies.get(CSRF_COOKIE) != nonce:
        set_cookie(request, response, CSRF_COOKIE, nonce, max_age=365 * 86400)
    return response


def message(request: Request, text: str, status: int) -> Response:
    """A short refusal, as JSON for API callers and as a page for browsers."""
    if wants_json(request):
        return problem(status, text, text)
    t = i18n.translator(language(request))
    return render(request, "notice.html", status, notice=t(text))


def _anonymous(request: Request) -> Response:
    if wants_json(request):
        return problem(401, "Unauthorized", "sign in to the dashboard first")
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def requires(role: Role = Role.VIEWER) -> Callable[[Handler], Handler]:
    """Run the handler only for a signed-in operator with at least `role`; every POST must
    carry the CSRF token of this browser (form field or X-CSRF-Token header)."""

    def wrap(handler: Handler) -> Handler:
        @wraps(handler)
        async def guarded(request: Request) -> Response:
            d = dashboard(request)
            operator = await run_in_threadpool(
                lookup_operator, d, request.cookies.get(SESSION_COOKIE)
            )
            if operator is None:
                return _anonymous(request)
            request.state.operator = operator
            if request.method == "POST" and not await csrf_ok(request):
                return message(request, "The form expired; please try again.", 403)
            if not operator.role.allows(role):
                return message(request, "Your role does not allow this.", 403)
            return await handler(request)

        guarded.required_role = role  # type: ignore[attr-defined]
        return guarded

    return wrap


def remote(request: Request) -> str:
    return request.client.host if request.client else "-"


def back(path: str, **params: str | int) -> RedirectResponse:
    query = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in params.items())
    sep = "&" if "?" in path else "?"
    return RedirectResponse(path + (f"{sep}{query}" if query else ""), status_code=303)
