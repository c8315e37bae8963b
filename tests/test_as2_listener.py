"""The AS2 listener over real HTTP into a real gateway: the Mendelson messages, faults,
duplicates, asynchronous MDNs, and the evidence kept for each MDN."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from edi_gateway.channels.as2.mdn import Disposition, read_mdn
from edi_gateway.store.tables import InterchangeState
from tests.support import wait_for
from tests.test_as2_env import As2Gateway, as2_gateway, mendelson_partner
from tests.test_as2_support import (
    MENDELSON,
    PAYLOAD,
    identity,
    needs_corpus,
    needs_openssl,
    openssl,
    our_key,
    read_http,
    with_header,
)

pytestmark = needs_corpus

MESSAGES = [
    "mecas2_signed.as2",
    "mecas2_encrypted.as2",
    "mecas2_compressed.as2",
    "mecas2_signed_encrypted.as2",
    "mecas2_compressed_signed_encrypted.as2",
]
SIGNED_MDN = (
    "signed-receipt-protocol=optional, pkcs7-signature; signed-receipt-micalg=optional, sha-256"
)


@pytest.fixture
def gw(tmp_path: Path) -> Iterator[As2Gateway]:
    with as2_gateway(tmp_path / "gw", mendelson_partner()) as env:
        yield env


def mendelson(name: str, **headers: str | None) -> tuple[list[tuple[str, str]], bytes]:
    found, body = read_http(MENDELSON / name)
    found = with_header(found, "Disposition-Notification-Options", SIGNED_MDN)
    for header, value in headers.items():
        found = with_header(found, header.replace("_", "-"), value)
    return found, body


def verify_with_openssl(tmp_path: Path, response: httpx.Response) -> bytes:
    smime = tmp_path / "mdn.eml"
    smime.write_bytes(
        f"MIME-Version: 1.0\r\nContent-Type: {response.headers['content-type']}\r\n\r\n".encode()
        + response.content
    )
    cert = MENDELSON / "cert_test_public.pem"
    return openssl("cms", "-verify", "-in", smime, "-CAfile", cert, "-purpose", "any")


@needs_openssl
@pytest.mark.parametrize("name", MESSAGES)
def test_mendelson_message_is_accepted_with_a_signed_mdn(
    gw: As2Gateway, tmp_path: Path, name: str
) -> None:
    headers, body = mendelson(name)
    response = gw.post(headers, body)
    assert response.status_code == 200
    report = read_mdn(list(response.headers.items()), response.content, [our_key().certificate])
    assert report.signed and report.disposition is Disposition.PROCESSED
    assert report.original_message_id == dict(headers)["message-id"]
    assert report.mic is not None
    assert b"; processed" in verify_with_openssl(tmp_path, response)
    [interchange] = gw.interchanges()
    assert gw.spooled(interchange) == PAYLOAD
    assert (interchange.channel, interchange.partner_id) == ("as2", "mecas2")
    assert interchange.filename == "payload.txt"
    assert interchange.transport_id == dict(headers)["message-id"]
    assert interchange.origin["as2"]["as2-from"] == "mecas2"
    wait_for(
        lambda: gw.interchanges()[0].state in {s.value for s in InterchangeState if s.terminal}
    )
    [evidence] = gw.mdns()
    assert evidence.interchange_id == interchange.id
    assert (evidence.direction, evidence.mode, evidence.state) == ("sent", "sync", "sent")
    assert evidence.body == response.content and evidence.signed
    assert evidence.mic == report.mic.header_value()


def test_unsigned_mdn_when_the_sender_asks_for_one(gw: As2Gateway) -> None:
    headers, body = mendelson("mecas2_signed.as2", Disposition_Notification_Options=None)
    response = gw.post(headers, body)
    report = read_mdn(list(response.headers.items()), response.content, [])
    assert not report.signed and report.disposition is Disposition.PROCESSED


def test_duplicate_message_id_is_not_processed_again(gw: As2Gateway) -> None:
    headers, body = mendelson("mecas2_signed_encrypted.as2")
    first = gw.post(headers, body)
    second = gw.post(headers, body)
    trusted = [our_key().certificate]
    assert read_mdn(list(first.headers.items()), first.content, trusted).disposition is (
        Disposition.PROCESSED
    )
    again = read_mdn(list(second.headers.items()), second.content, trusted)
    assert again.disposition is Disposition.DUPLICATE_DOCUMENT
    assert again.mic is not None
    [interchange] = gw.interchanges()
    assert [m.interchange_id for m in gw.mdns()] == [interchange.id, interchange.id]
    assert [m.disposition for m in gw.mdns()] == [
        "processed",
        "processed/Warning: duplicate-document",
    ]


def test_concurrent_copies_make_one_interchange(gw: As2Gateway) -> None:
    """Copies of one message posted at once are all peeled before any is committed; intake's
    idempotent receiver, in its commit, must still let exactly one be processed."""
    headers, body = mendelson("mecas2_signed_encrypted.as2")
    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda _: gw.post(headers, body), range(4)))
    trusted = [our_key().certificate]
    reports = [read_mdn(list(r.headers.items()), r.content, trusted) for r in responses]
    assert sorted(r.disposition.value for r in reports) == [
        "processed",
        *["processed/Warning: duplicate-document"] * 3,
    ]
    [first] = gw.interchanges()
    assert first.duplicate_of is None
    # every MDN is evidence, on the timeline of the one interchange
    mdns = gw.mdns()
    assert len(mdns) == 4
    assert {m.interchange_id for m in mdns} == {first.id}
    terminal = {s.value for s in InterchangeState if s.terminal}
    wait_for(lambda: gw.interchanges()[0].state in terminal)
    assert len(gw.interchanges()) == 1


def test_same_content_under_a_new_message_id_is_a_new_message(gw: As2Gateway) -> None:
    headers, body = mendelson("mecas2_signed.as2")
    gw.post(headers, body)
    renamed = with_header(headers, "Message-ID", "<another-id@mecas2>")
    response = gw.post(renamed, body)
    report = read_mdn(list(response.headers.items()), response.content, [our_key().certificate])
    assert report.disposition is Disposition.PROCESSED
    assert len(gw.interchanges()) == 2


def test_tampered_message_is_integrity_failure_and_nothing_is_accepted(gw: As2Gateway) -> None:
    headers, body = mendelson("mecas2_signed.as2")
    tampered = body.replace(b"BGM+220+1AA1TEST+9", b"BGM+220+1AA1TEST+8")
    response = gw.post(headers, tampered)
    report = read_mdn(list(response.headers.items()), response.content, [our_key().certificate])
    assert report.disposition is Disposition.INTEGRITY_CHECK_FAILED and report.mic is None
    assert gw.count() == 0 and gw.spool_files() == []
    [evidence] = gw.mdns()
    assert evidence.interchange_id is None and evidence.partner_id == "mecas2"
    assert evidence.disposition == Disposition.INTEGRITY_CHECK_FAILED.value


@pytest.mark.parametrize(
    ("header", "value"), [("AS2-To", "somebody-else"), ("AS2-From", "stranger")]
)
def test_unknown_as2_names_are_authentication_failures(
    gw: As2Gateway, header: str, value: str
) -> None:
    headers, body = mendelson("mecas2_signed.as2", **{header.replace("-", "_"): value})
    response = gw.post(headers, body)
    report = read_mdn(list(response.headers.items()), response.content, [our_key().certificate])
    assert report.disposition is Disposition.AUTHENTICATION_FAILED
    assert gw.count() == 0 and gw.spool_files() == []


def test_async_mdn_is_posted_to_the_receipt_delivery_option(gw: As2Gateway) -> None:
    from tests.test_as2_env import Catcher

    with Catcher() as catcher:
        headers, body = mendelson("mecas2_compressed.as2", Receipt_Delivery_Option=catcher.url)
        response = gw.post(headers, body)
        assert response.status_code == 200
        assert b"asynchronously" in response.content
        wait_for(lambda: catcher.posts, timeout=20)
        wait_for(lambda: gw.mdns()[0].state == "delivered", timeout=20)
    [(mdn_headers, mdn_body)] = catcher.posts
    report = read_mdn(mdn_headers, mdn_body, [our_key().certificate])
    assert report.disposition is Disposition.PROCESSED and report.signed
    [evidence] = gw.mdns()
    assert (evidence.mode, evidence.attempts, evidence.body) == ("async", 1, mdn_body)


def test_async_mdn_is_retried_until_the_partner_takes_it(gw: As2Gateway) -> None:
    from tests.test_as2_env import Catcher

    with Catcher(status=503) as catcher:
        headers, body = mendelson("mecas2_signed.as2", Receipt_Delivery_Option=catcher.url)
        gw.post(headers, body)
        wait_for(lambda: len(catcher.posts) >= 2, timeout=20)
        catcher.status = 200
        wait_for(lambda: gw.mdns()[0].state == "delivered", timeout=20)
    evidence = gw.mdns()[0]
    assert evidence.attempts >= 3 and evidence.last_error is None
    assert evidence.interchange_id is not None


def test_async_mdn_gives_up_visibly(tmp_path: Path) -> None:
    from tests.test_as2_env import Catcher

    with (
        as2_gateway(tmp_path / "gw", mendelson_partner(), mdn_max_attempts=2) as gw,
        Catcher(status=500) as catcher,
    ):
        headers, body = mendelson("mecas2_signed.as2", Receipt_Delivery_Option=catcher.url)
        gw.post(headers, body)
        wait_for(lambda: gw.mdns()[0].state == "failed", timeout=20)
        evidence = gw.mdns()[0]
        assert evidence.attempts == 2 and evidence.last_error == "HTTP 500"
        assert len(catcher.posts) == 2


def test_intake_failure_is_503_without_mdn(gw: As2Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    from edi_gateway.spool import SpoolFull

    def full(*args: object, **kwargs: object) -> None:
        raise SpoolFull(28, "No space left on device")

    monkeypatch.setattr(gw.gateway.spool, "stage", full)
    headers, body = mendelson("mecas2_signed.as2")
    response = gw.post(headers, body)
    assert response.status_code == 503 and "retry-after" in response.headers
    assert b"Disposition" not in response.content
    assert gw.count() == 0 and gw.mdns() == []


def test_store_down_is_503_without_mdn(gw: As2Gateway) -> None:
    from sqlalchemy import text

    with gw.gateway.sessions.begin() as session:  # the table intake writes is gone
        session.execute(text("ALTER TABLE intake_keys RENAME TO intake_keys_gone"))
    headers, body = mendelson("mecas2_signed.as2")
    response = gw.post(headers, body)
    assert response.status_code == 503
    assert gw.mdns() == []


def test_message_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    with as2_gateway(tmp_path / "gw", mendelson_partner(), max_message_bytes=1000) as gw:
        headers, body = mendelson("mecas2_signed.as2")
        assert gw.post(headers, body).status_code == 413
        assert gw.count() == 0


def test_unauthenticated_failure_gets_its_mdn_in_the_response_not_at_its_url(
    gw: As2Gateway,
) -> None:
    """A request that proves nothing (tampered, so its signature fails) cannot make us POST
    to a URL of its choosing."""
    from tests.test_as2_env import Catcher

    with Catcher() as catcher:
        headers, body = mendelson("mecas2_signed.as2", Receipt_Delivery_Option=catcher.url)
        tampered = body.replace(b"BGM+220+1AA1TEST+9", b"BGM+220+1AA1TEST+8")
        response = gw.post(headers, tampered)
        trusted = [our_key().certificate]
        report = read_mdn(list(response.headers.items()), response.content, trusted)
        assert report.disposition is Disposition.INTEGRITY_CHECK_FAILED
        [evidence] = gw.mdns()
        assert evidence.mode == "sync" and evidence.url is None
    assert catcher.posts == []


def test_create_as2_app_is_a_plain_asgi_app(tmp_path: Path) -> None:
    from edi_gateway.app import Gateway
    from edi_gateway.channels.as2.listener import create_as2_app
    from edi_gateway.channels.as2.policy import LocalStation
    from edi_gateway.config import load
    from edi_gateway.samples import write_sample_config
    from tests.test_as2_env import add_partner

    write_sample_config(tmp_path, port=0)
    for pid, (cert, settings) in mendelson_partner().items():
        add_partner(tmp_path, pid, cert, **settings)
    gateway = Gateway(load(tmp_path / "gateway.toml", f"sqlite:///{tmp_path / 'g.db'}"))
    try:
        app = create_as2_app(gateway, LocalStation("pyas2lib", (our_key(),)))
        headers, body = mendelson("mecas2_compressed_signed_encrypted.as2")

        async def post() -> httpx.Response:
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
            async with httpx.AsyncClient(transport=transport, base_url="http://as2") as client:
                return await client.post("/", headers=headers, content=body)

        response = asyncio.run(post())
        report = read_mdn(list(response.headers.items()), response.content, [our_key().certificate])
        assert report.disposition is Disposition.PROCESSED
    finally:
        gateway.stop()
        gateway.engine.dispose()


def test_listener_speaks_https_when_given_a_certificate(tmp_path: Path) -> None:
    import datetime as dt
    import ipaddress
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    pair = identity("as2-tls")
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(pair.private_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(pair.private_key, hashes.SHA256())
    )  # fmt: skip
    tls = tmp_path / "gw" / "data" / "tls"
    tls.mkdir(parents=True)
    (tls / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tls / "key.pem").write_bytes(
        pair.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    settings = {"tls_certificate": "tls/cert.pem", "tls_key": "tls/key.pem"}
    with as2_gateway(tmp_path / "gw", mendelson_partner(), **settings) as gw:
        assert gw.url.startswith("https://127.0.0.1:")
        headers, body = mendelson("mecas2_signed.as2")
        trust = ssl.create_default_context(cafile=str(tls / "cert.pem"))
        response = gw.post(headers, body, verify=trust)
        report = read_mdn(list(response.headers.items()), response.content, [our_key().certificate])
        assert report.disposition is Disposition.PROCESSED
        with pytest.raises(httpx.ConnectError):  # a client that does not trust it stops
            gw.post(headers, body)


def test_posted_mdns_are_bounded_and_unknown_ones_refused(gw: As2Gateway) -> None:
    report_type = 'multipart/report; report-type=disposition-notification; boundary="b"'
    huge = gw.post([("Content-Type", report_type)], b"x" * (2 << 20))
    assert huge.status_code == 413
    stray = gw.post(
        [("Content-Type", report_type)],
        b"--b\r\nContent-Type: message/disposition-notification\r\n\r\n"
        b"Original-Message-ID: <never-sent@us>\r\nDisposition: automatic-action/"
        b"MDN-sent-automatically; processed\r\n\r\n--b--\r\n",
    )
    assert stray.status_code == 400
    assert gw.mdns() == [] and gw.count() == 0
