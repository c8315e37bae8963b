"""The dashboard over real HTTP (uvicorn on a loopback port): who may see and do what, CSRF,
sign-in throttling, the audit trail, cookies; on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from starlette.routing import Route

from edi_gateway.app import Gateway
from edi_gateway.store.operators import AuditEntry
from edi_gateway.store.tables import Event, Interchange
from edi_gateway.web.dashboard.app import PUBLIC_PATHS
from edi_gateway.web.dashboard.listener import DashboardListener, DashboardUnavailable
from tests import test_dashboard_support as support
from tests.test_dashboard_support import (
    PASSWORD,
    DashboardServer,
    Store,
    csrf_of,
    signed_in,
)

store = support.store  # fixtures
dashboard_server = support.dashboard_server


def _paths(server: DashboardServer, store: Store) -> list[tuple[str, str]]:
    """Every route of the app with its parameters filled in."""
    out = []
    for route in server.app.routes:
        if not isinstance(route, Route) or route.path.startswith(PUBLIC_PATHS):
            continue
        path = route.path.format(id=store.edifact_id, ack_id=store.ack_id, queue="moe.order")
        for method in sorted(route.methods or {"GET"}):
            if method != "HEAD":
                out.append((method, path))
    return out


def _audit(gw: Gateway, action: str) -> list[AuditEntry]:
    with gw.sessions() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_anonymous_pages_redirect_to_sign_in_and_the_api_answers_401(
    dashboard_server: DashboardServer, store: Store
) -> None:
    paths = _paths(dashboard_server, store)
    assert ("POST", f"/messages/{store.edifact_id}/reprocess") in paths
    with httpx.Client(base_url=dashboard_server.url) as anon:
        for method, path in paths:
            r = anon.request(method, path)
            if path.startswith("/api/"):
                assert r.status_code == 401, (method, path)
                assert r.headers["content-type"].startswith("application/problem+json")
            elif path == "/":
                assert r.status_code == 303
            else:
                assert r.status_code == 303, (method, path, r.status_code)
                assert r.headers["location"].startswith("/login?next=%2F"), (method, path)
        # the JSON answer for a page too, when the client asks for JSON
        assert anon.get("/messages", headers={"Accept": "application/json"}).status_code == 401


def test_sign_in_sets_a_strict_http_only_cookie_and_returns_to_the_page(
    dashboard_server: DashboardServer,
) -> None:
    with httpx.Client(base_url=dashboard_server.url) as c:
        first = c.get("/queues")
        assert first.headers["location"] == "/login?next=%2Fqueues"
        token = csrf_of(c.get("/login?next=%2Fqueues").text)
        r = c.post(
            "/login",
            data={"username": "vera", "password": PASSWORD, "csrf": token, "next": "/queues"},
        )
        assert r.status_code == 303 and r.headers["location"] == "/queues"
        cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("edigw_session="))
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
        assert c.get("/queues").status_code == 200
        assert "default-src 'none'" in c.get("/queues").headers["content-security-policy"]


def test_an_offsite_next_is_ignored(dashboard_server: DashboardServer) -> None:
    with httpx.Client(base_url=dashboard_server.url) as c:
        token = csrf_of(c.get("/login").text)
        r = c.post(
            "/login",
            data={
                "username": "vera",
                "password": PASSWORD,
                "csrf": token,
                "next": "//evil.example/",
            },
        )
        assert r.headers["location"] == "/overview"


def test_cookies_are_secure_when_configured_for_tls(gateway: Gateway, store: Store) -> None:
    with DashboardServer(gateway, secure_cookies=True) as srv, httpx.Client(base_url=srv.url) as c:
        page = c.get("/login")
        assert "Secure" in page.headers["set-cookie"]


def test_a_post_without_the_csrf_token_is_refused(
    gateway: Gateway, dashboard_server: DashboardServer, store: Store
) -> None:
    with signed_in(dashboard_server, "oscar") as c:
        path = f"/messages/{store.edifact_id}/reprocess"
        assert c.post(path).status_code == 403
        assert c.post(path, data={"csrf": "forged"}).status_code == 403
        with gateway.sessions() as s:
            assert s.get_one(Interchange, store.edifact_id).state == "rejected"
        # the same request with this browser's token goes through
        token = csrf_of(c.get(f"/messages/{store.edifact_id}").text)
        assert c.post(path, data={"csrf": token}).status_code == 303
        with gateway.sessions() as s:
            assert s.get_one(Interchange, store.edifact_id).state == "received"


def test_sign_in_without_the_csrf_token_is_refused(dashboard_server: DashboardServer) -> None:
    with httpx.Client(base_url=dashboard_server.url) as c:
        r = c.post("/login", data={"username": "vera", "password": PASSWORD})
        assert r.status_code == 403 and "edigw_session" not in r.headers.get("set-cookie", "")


def test_a_viewer_cannot_reprocess_resend_or_requeue(
    gateway: Gateway, dashboard_server: DashboardServer, store: Store
) -> None:
    with signed_in(dashboard_server, "vera") as c:
        page = c.get(f"/messages/{store.edifact_id}")
        assert page.status_code == 200 and 'id="reprocess"' not in page.text
        token = csrf_of(page.text)
        for path in (
            f"/messages/{store.edifact_id}/reprocess",
            f"/messages/{store.edifact_id}/acks/{store.ack_id}/resend",
            "/queues/moe.finance/requeue",
            "/messages/reprocess",
        ):
            assert c.post(path, data={"csrf": token, "ids": store.edifact_id}).status_code == 403
        assert c.get("/users").status_code == 403
    with gateway.sessions() as s:
        assert s.get_one(Interchange, store.edifact_id).state == "rejected"
        assert not list(s.scalars(select(Event).where(Event.type == "reprocess")))


def test_operator_actions_are_on_the_audit_trail_and_the_timeline(
    gateway: Gateway, dashboard_server: DashboardServer, store: Store
) -> None:
    with signed_in(dashboard_server, "oscar") as c:
        token = csrf_of(c.get("/messages").text)
        r = c.post(
            "/messages/reprocess",
            data={
                "csrf": token,
                "ids": [store.edifact_id, store.xml_id],
                "return": "state=rejected",
            },
        )
        assert (
            r.status_code == 303
            and r.headers["location"] == "/messages?state=rejected&reprocessed=2"
        )
        assert (
            c.post(
                f"/messages/{store.edifact_id}/acks/{store.ack_id}/resend", data={"csrf": token}
            ).status_code
            == 303
        )
        # the dead-letter list's form with nothing ticked requeues nothing, not everything
        none = c.post("/queues/moe.finance/requeue", data={"csrf": token, "scope": "selected"})
        assert none.headers["location"] == "/queues?requeued=0"
        every = c.post("/queues/moe.finance/requeue", data={"csrf": token})
        assert every.headers["location"] == "/queues?requeued=1"
        raw = c.get(f"/messages/{store.edifact_id}/raw")
        assert raw.status_code == 200 and raw.content.startswith(b"UNA:+.? 'UNB")
        assert raw.headers["content-disposition"] == 'attachment; filename="INV-EDI-0099.edi"'
        trail = c.get("/audit", params={"q": store.edifact_id}).text
    assert {e.target for e in _audit(gateway, "reprocess")} == {store.edifact_id, store.xml_id}
    [resend] = _audit(gateway, "resend-ack")
    assert resend.actor == "oscar" and resend.detail["ack"] == store.ack_id
    assert resend.remote == "127.0.0.1"
    [requeue] = _audit(gateway, "requeue")
    assert requeue.target == "moe.finance" and requeue.detail == {"items": "all", "requeued": 1}
    assert _audit(gateway, "download-raw")[0].target == store.edifact_id
    for action in ("reprocess", "resend-ack", "download-raw"):
        assert action in trail
    with gateway.sessions() as s:
        events = list(s.scalars(select(Event).where(Event.interchange_id == store.edifact_id)))
    assert {(e.type, e.actor) for e in events} >= {
        ("reprocess", "operator:oscar"),
        ("ack-resend", "operator:oscar"),
    }


def test_sign_in_is_throttled_per_user_and_address(
    gateway: Gateway, dashboard_server: DashboardServer
) -> None:
    with httpx.Client(base_url=dashboard_server.url) as c:
        token = csrf_of(c.get("/login").text)

        def attempt(password: str, user: str = "oscar") -> int:
            data = {"username": user, "password": password, "csrf": token}
            return c.post("/login", data=data).status_code

        assert [attempt("wrong password") for _ in range(3)] == [401, 401, 401]
        # the right password does not help while the pair is throttled
        assert attempt(PASSWORD) == 429
        assert attempt(PASSWORD, "vera") == 303  # another user from the same address
    refused = [e for e in _audit(gateway, "sign-in") if e.outcome == "refused"]
    assert [e.actor for e in refused] == ["oscar"] * 3


def test_a_disabled_operator_is_signed_out_and_cannot_sign_in(
    gateway: Gateway, dashboard_server: DashboardServer
) -> None:
    with signed_in(dashboard_server, "alice") as admin, signed_in(dashboard_server, "oscar") as op:
        assert op.get("/overview").status_code == 200
        token = csrf_of(admin.get("/users").text)
        r = admin.post("/users", data={"csrf": token, "action": "disable", "username": "oscar"})
        assert r.status_code == 303 and "saved=oscar" in r.headers["location"]
        assert op.get("/overview").status_code == 303
        with pytest.raises(AssertionError), signed_in(dashboard_server, "oscar"):
            pass
    assert [e.target for e in _audit(gateway, "user-disable")] == ["oscar"]


def test_admin_adds_an_operator_who_can_sign_in(dashboard_server: DashboardServer) -> None:
    with signed_in(dashboard_server, "alice") as admin:
        token = csrf_of(admin.get("/users").text)
        data = {"csrf": token, "action": "add", "username": "kim", "role": "operator"}
        short = admin.post("/users", data={**data, "password": "short"})
        assert "error=" in short.headers["location"]
        admin.post("/users", data={**data, "password": PASSWORD})
        assert "kim" in admin.get("/users").text
    with signed_in(dashboard_server, "kim") as kim:
        assert kim.get("/overview").status_code == 200


def test_the_json_api_lists_and_pages(dashboard_server: DashboardServer, store: Store) -> None:
    with signed_in(dashboard_server, "vera") as c:
        page = c.get("/api/messages", params={"q": store.invoice_number}).json()
        assert [m["id"] for m in page["messages"]] == [store.invoice_id]
        overview = c.get("/api/overview").json()
        assert overview["last_hour"]["rejected"] >= 2 and overview["overdue_acks"] == 1


def test_the_listener_says_when_its_port_is_taken(gateway: Gateway) -> None:
    with DashboardServer(gateway) as first:
        with pytest.raises(DashboardUnavailable, match=f"cannot listen on 127.0.0.1:{first.port}"):
            DashboardListener(gateway, "127.0.0.1", first.port)
        assert httpx.get(f"{first.url}/login").status_code == 200
