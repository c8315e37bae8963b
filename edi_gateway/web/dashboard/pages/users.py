"""Operator accounts, for admins: add, set a password, change a role, disable, enable."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from edi_gateway.store.operators import Role
from edi_gateway.web.dashboard import accounts
from edi_gateway.web.dashboard.security import WeakPassword
from edi_gateway.web.dashboard.views import back, dashboard, render, requires


@requires(Role.ADMIN)
async def users(request: Request) -> Response:
    d = dashboard(request)
    operators = await run_in_threadpool(accounts.all_operators, d.read)
    return render(
        request,
        "users.html",
        page="users",
        operators=operators,
        roles=list(Role),
        error=request.query_params.get("error"),
        saved=request.query_params.get("saved"),
    )


@requires(Role.ADMIN)
async def change(request: Request) -> Response:
    d = dashboard(request)
    form = await request.form()
    action = str(form.get("action", ""))
    username = str(form.get("username", "")).strip().lower()
    password = str(form.get("password", ""))
    role = str(form.get("role", Role.VIEWER.value))
    actor = request.state.operator.username
    now = d.gateway.clock()
    sessions = d.gateway.sessions
    try:
        if role not in {r.value for r in Role}:
            raise accounts.AccountError(f"unknown role {role!r}")
        if action == "add":
            await run_in_threadpool(
                accounts.add,
                sessions,
                username,
                password,
                Role(role),
                actor,
                now,
                str(form.get("display_name", "")).strip()[:128],
            )
        elif action == "password":
            await run_in_threadpool(accounts.set_password, sessions, username, password, actor, now)
        elif action == "role":
            await run_in_threadpool(accounts.set_role, sessions, username, Role(role), actor, now)
        elif action in ("disable", "enable"):
            if username == actor and action == "disable":
                raise accounts.AccountError("you cannot disable your own account")
            await run_in_threadpool(
                accounts.set_disabled, sessions, username, action == "disable", actor, now
            )
        else:
            raise accounts.AccountError(f"unknown action {action!r}")
    except (accounts.AccountError, WeakPassword) as exc:
        return back("/users", error=str(exc))
    return back("/users", saved=username)
