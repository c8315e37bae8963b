"""The HTTP channel and the REST API through a real uvicorn server on a loopback port."""

from __future__ import annotations

import json

import httpx
import pytest

from edi_gateway import samples
from tests.conftest import Server
from tests.support import wait_for

MOE, SEOUL = samples.INSTITUTIONS
HANIL, DAEHAN, NORDIC = samples.SUPPLIERS


@pytest.fixture
def http(server: Server) -> httpx.Client:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def auth(creds: dict, partner: str, kind: str = "api_token") -> dict[str, str]:
    return {"Authorization": f"Bearer {creds[partner][kind]}"}


def post(http: httpx.Client, creds: dict, body: bytes | dict, partner: str = "hanil-office", **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return http.post("/api/v1/submissions", content=content, headers={**auth(creds, partner), **headers})


def final_status(http: httpx.Client, creds: dict, rid: str, partner: str = "hanil-office") -> dict:
    def done() -> dict | None:
        st = http.get(f"/api/v1/submissions/{rid}", headers=auth(creds, partner)).json()
        return st if st["terminal"] else None

    return wait_for(done, timeout=20)


def test_submission_is_accepted_processed_and_pulled_by_the_back_office(http: httpx.Client, creds: dict) -> None:
    r = post(http, creds, samples.order("PO-100", MOE, HANIL))
    assert r.status_code == 202
    receipt = r.json()
    assert r.headers["location"] == receipt["status_url"]
    assert len(receipt["sha256"]) == 64
    st = final_status(http, creds, receipt["receipt_id"])
    assert st["state"] == "done"
    [ack] = st["acks"]
    assert ack["kind"] == "receipt" and ack["positive"] is True
    got = http.get(ack["url"], headers=auth(creds, "hanil-office"))
    assert got.status_code == 200 and got.json()["verdict"] == "accepted"
    bo = auth(creds, "moe", "backoffice_token")
    [m] = http.post("/api/v1/queues/moe.order/receive", json={"max": 10}, headers=bo).json()["messages"]
    assert m["body"]["document"]["id"] == "PO-100"
    assert m["body"]["provenance"]["interchange_id"] == receipt["receipt_id"]
    assert http.post("/api/v1/queues/moe.order/ack", json={"receipt_handle": m["receipt_handle"]}, headers=bo).status_code == 204
    again = http.post("/api/v1/queues/moe.order/ack", json={"receipt_handle": m["receipt_handle"]}, headers=bo)
    assert again.status_code == 409
    st = final_status(http, creds, receipt["receipt_id"])
    assert st["documents"][0]["state"] == "delivered"


def test_prefer_wait_answers_with_the_outcome(http: httpx.Client, creds: dict) -> None:
    ok = post(http, creds, samples.order("PO-101", MOE, HANIL), Prefer="wait=10")
    assert ok.status_code == 200 and ok.json()["state"] == "done"
    bad = post(http, creds, b'{"kind": "order", "id": ', Prefer="wait=10")
    assert bad.status_code == 422
    assert bad.json()["findings"][0]["code"] == "json-syntax"


def test_broken_json_gets_a_finding_and_a_negative_receipt(http: httpx.Client, creds: dict) -> None:
    r = post(http, creds, b"{not json")
    assert r.status_code == 202
    st = final_status(http, creds, r.json()["receipt_id"])
    assert st["state"] == "rejected"
    assert st["findings"][0]["code"] == "json-syntax"
    assert "line 1 column 2" in st["findings"][0]["text"]
    assert st["acks"][0]["positive"] is False


def test_schema_violation_gets_a_finding_with_its_path(http: httpx.Client, creds: dict) -> None:
    doc = samples.invoice("INV-9", MOE, HANIL)
    doc["currency"] = "euro"
    r = post(http, creds, doc, Prefer="wait=10")
    assert r.status_code == 422
    [f] = r.json()["documents"][0]["findings"]
    assert f["location"]["path"] == "/currency" and f["code"] == "json-schema"


def test_kind_not_permitted(http: httpx.Client, creds: dict) -> None:
    r = post(http, creds, samples.order("PO-102", MOE, DAEHAN), partner="daehan-it", Prefer="wait=10")
    assert r.status_code == 422
    assert r.json()["documents"][0]["findings"][0]["code"] == "kind-not-permitted"


@pytest.mark.parametrize("header", [None, "Bearer egw_not-a-real-token", "Basic dXNlcjpwYXNz"])
def test_unknown_partner_or_wrong_token_is_401(http: httpx.Client, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    r = http.post("/api/v1/submissions", content=b"{}", headers=headers)
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_oversize_body_is_413_and_nothing_is_accepted(http: httpx.Client, creds: dict, server: Server) -> None:
    limit = server.gateway.config.settings.limits.max_submission_bytes
    r = post(http, creds, b"{" + b" " * limit + b"}")
    assert r.status_code == 413
    assert str(limit) in r.json()["detail"]

    def chunks():  # no Content-Length: the limit is enforced while streaming
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536

    r = http.post("/api/v1/submissions", content=chunks(), headers=auth(creds, "hanil-office"))
    assert r.status_code == 413
    from sqlalchemy import func, select

    from edi_gateway.store.tables import Interchange

    with server.gateway.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Interchange)) == 0


def test_empty_body_is_400(http: httpx.Client, creds: dict) -> None:
    assert post(http, creds, b"").status_code == 400


def test_a_partner_sees_only_its_own_submissions(http: httpx.Client, creds: dict) -> None:
    rid = post(http, creds, samples.order("PO-103", MOE, HANIL)).json()["receipt_id"]
    assert http.get(f"/api/v1/submissions/{rid}", headers=auth(creds, "daehan-it")).status_code == 404
    assert http.get(f"/api/v1/submissions/{rid}", headers=auth(creds, "hanil-office")).status_code == 200


def test_idempotency_key_resubmission_is_a_duplicate(http: httpx.Client, creds: dict) -> None:
    first = post(http, creds, samples.order("PO-104", MOE, HANIL), **{"Idempotency-Key": "k-1"}).json()
    second = post(http, creds, samples.order("PO-104", MOE, HANIL), **{"Idempotency-Key": "k-1"}).json()
    assert second["duplicate_of"] == first["receipt_id"]
    assert final_status(http, creds, second["receipt_id"])["state"] == "duplicate"


def test_back_office_tokens_are_limited_to_their_queues(http: httpx.Client, creds: dict) -> None:
    moe = auth(creds, "moe", "backoffice_token")
    assert http.post("/api/v1/queues/seoul-city.order/receive", headers=moe).status_code == 403
    assert http.post("/api/v1/queues/moe.order/receive", headers=auth(creds, "hanil-office")).status_code == 401
    assert http.get("/api/v1/queues").status_code == 401
    bad = http.post("/api/v1/queues/moe.order/ack", json={}, headers=moe)
    assert bad.status_code == 400


def test_nack_and_dead_letters_over_http(http: httpx.Client, creds: dict, server: Server) -> None:
    final_status(http, creds, post(http, creds, samples.order("PO-105", SEOUL, HANIL)).json()["receipt_id"])
    bo = auth(creds, "seoul-city", "backoffice_token")
    max_receives = server.gateway.config.settings.queues.max_receives
    for _ in range(max_receives):
        [m] = wait_for(lambda: http.post("/api/v1/queues/seoul-city.order/receive", json={"wait": 5},
                                         headers=bo).json()["messages"], timeout=60)
        r = http.post("/api/v1/queues/seoul-city.order/nack", json={"receipt_handle": m["receipt_handle"],
                                                                     "reason": "ERP rejected it"}, headers=bo)
        assert r.status_code == 204
        server.gateway.queues.settings = server.gateway.queues.settings.model_copy(update={"backoff_seconds": 0})
    dead = http.get("/api/v1/queues/seoul-city.order/dead-letters", headers=bo).json()["dead_letters"]
    assert len(dead) == 1 and dead[0]["last_error"] == "ERP rejected it"
    assert http.post("/api/v1/queues/seoul-city.order/requeue", json={}, headers=bo).json() == {"requeued": 1}


def test_health_readiness_and_metrics(http: httpx.Client, creds: dict) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    assert http.get("/readyz").json() == {"status": "ready"}
    final_status(http, creds, post(http, creds, samples.order("PO-106", MOE, HANIL)).json()["receipt_id"])
    text = http.get("/metrics").text
    assert 'edigw_intake_accepted_total{channel="http"}' in text
    assert 'edigw_queue_depth{queue="moe.order"}' in text
