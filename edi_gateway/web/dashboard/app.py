"""The dashboard application: routes, static files and security headers, composed
explicitly. It runs on its own listener beside the REST API; `create_dashboard` does not
start or stop the gateway (whoever serves it owns the gateway's lifecycle)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edi_gateway.queues import Queues
from edi_gateway.store import db
from edi_gateway.web.dashboard.context import STATIC, Dashboard, GatewayParts, template_environment
from edi_gateway.web.dashboard.pages import (
    mdns,
    message,
    messages,
    overview,
    partners,
    queues,
    signin,
    tenders,
    trail,
    users,
)
from edi_gateway.web.dashboard.security import Signer, Throttle, load_secret

# No inline scripts or styles, nothing from elsewhere: the gateway runs on closed networks
# and a payload shown on a page must never be able to run.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

PUBLIC_PATHS = ("/login", "/lang/", "/static/")


def routes() -> list[BaseRoute]:
    return [
        Route("/", overview.home),
        Route("/login", signin.login_form, methods=["GET"]),
        Route("/login", signin.login, methods=["POST"]),
        Route("/logout", signin.logout, methods=["POST"]),
        Route("/lang/{lang}", signin.switch_language),
        Route("/overview", overview.overview),
        Route("/messages", messages.messages),
        Route("/messages/reprocess", messages.bulk_reprocess, methods=["POST"]),
        Route("/messages/{id}", message.detail),
        Route("/messages/{id}/raw", message.download_raw),
        Route("/messages/{id}/reprocess", message.reprocess_one, methods=["POST"]),
        Route("/messages/{id}/acks/{ack_id}/resend", message.resend_ack, methods=["POST"]),
        Route("/messages/mdns/{id}/raw", mdns.download_mdn),
        Route("/partners", partners.partners),
        Route("/partners", partners.create_partner, methods=["POST"]),
        Route("/partners/new", partners.new_partner),
        Route("/partners/{id}/edit", partners.edit_partner),
        Route("/partners/{id}", partners.update_partner, methods=["POST"]),
        Route("/partners/{id}/state", partners.change_state, methods=["POST"]),
        Route("/partners/{id}/token", partners.issue_token, methods=["POST"]),
        Route("/queues", queues.queues),
        Route("/queues/{queue}/requeue", queues.requeue, methods=["POST"]),
        Route("/tenders", tenders.tenders),
        Route("/tenders/{id}", tenders.tender_call),
        Route("/tenders/{id}/opening", tenders.open_call, methods=["POST"]),
        Route("/audit", trail.trail),
        Route("/users", users.users, methods=["GET"]),
        Route("/users", users.change, methods=["POST"]),
        Route("/api/overview", overview.overview_json),
        Route("/api/messages", messages.messages_json),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]


class SecurityHeaders:
    """Adds the headers every dashboard response carries."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                headers = list(msg.get("headers", []))
                headers += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"x-frame-options", b"DENY"),
                ]
                if not scope["path"].startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                msg["headers"] = headers
            await send(msg)

        await self.app(scope, receive, with_headers)


def create_dashboard(
    gateway: GatewayParts,
    *,
    secure_cookies: bool | None = None,
    session_hours: float = 12,
    refresh_seconds: int = 15,
    throttle: Throttle | None = None,
) -> Starlette:
    """The operators' dashboard for `gateway`, to be served on its own listener.

    `secure_cookies`: None marks cookies Secure when the request came over TLS (set True
    behind a TLS-terminating proxy that does not forward the scheme)."""
    app = Starlette(routes=routes(), middleware=[Middleware(SecurityHeaders)])
    read = db.read_sessions(gateway.engine)
    app.state.dashboard = Dashboard(
        gateway=gateway,
        read=read,
        read_queues=Queues(read, gateway.config.settings.queues, clock=gateway.clock),
        signer=Signer(load_secret(gateway.config.data_dir)),
        throttle=throttle or Throttle(),
        templates=template_environment(),
        session_seconds=session_hours * 3600,
        secure_cookies=secure_cookies,
        refresh_seconds=refresh_seconds,
    )
    return app
