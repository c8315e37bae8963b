"""pyas2lib 1.4.4 as an independent AS2 peer: it sends to our listener and receives from our
sender, across its ciphers × digests, with and without compression, sync and async MDNs.

pyas2lib is a test-only dependency (`pip install pyas2lib`). It does not import on OpenSSL 3
as shipped: its dependency oscrypto reads the libcrypto version with the pattern
`\\b(\\d\\.\\d\\.\\d[a-z]*)\\b`, which finds no match in "OpenSSL 3.0.19 …" (a two-digit patch
number), and raises LibraryNotFoundError. The shim below replaces `re.search` only while
pyas2lib is imported, and only for that exact pattern, with one that accepts a multi-digit
patch number (`\\d+`); oscrypto then reads version (3, 0, 19) and works. Nothing else of
oscrypto or pyas2lib is changed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from edi_gateway.channels.as2.algorithms import Cipher, Digest
from edi_gateway.channels.as2.mdn import Disposition, read_mdn
from edi_gateway.channels.as2.policy import Compression
from edi_gateway.intake import Origin
from edi_gateway.model import new_id
from edi_gateway.store.tables import Ack, AckState
from tests.support import wait_for
from tests.test_as2_env import As2Gateway, Catcher, as2_gateway, pem
from tests.test_as2_support import identity, our_key

_OSCRYPTO_VERSION = "\\b(\\d\\.\\d\\.\\d[a-z]*)\\b"


def _import_pyas2lib() -> Any:
    real_search = re.search

    def search(pattern: Any, string: Any, flags: int = 0) -> Any:
        if pattern == _OSCRYPTO_VERSION:
            pattern = "\\b(\\d\\.\\d\\.\\d+[a-z]*)\\b"
        return real_search(pattern, string, flags)

    re.search = search
    try:
        return pytest.importorskip("pyas2lib")
    finally:
        re.search = real_search


pyas2lib = _import_pyas2lib()

PEER = identity("pyas2lib-peer")
PAYLOAD = (
    b"UNA:+.? 'UNB+UNOC:3+PEER:14+GW:14+261126:1200+77'UNH+1+ORDERS:D:96A:UN'UNT+2+1'UNZ+1+77'"
)
CIPHERS = ["tripledes_192_cbc", "aes_128_cbc", "aes_192_cbc", "aes_256_cbc"]
DIGESTS = ["sha1", "sha224", "sha256", "sha384", "sha512"]
OUR_CIPHER = {
    "tripledes_192_cbc": Cipher.TRIPLE_DES_CBC,
    "aes_128_cbc": Cipher.AES128_CBC,
    "aes_192_cbc": Cipher.AES192_CBC,
    "aes_256_cbc": Cipher.AES256_CBC,
}


def key_and_cert_pem(pair: Any) -> bytes:
    key = pair.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key + pem(pair)


def peer_organization(mdn_url: str | None = None) -> Any:
    pem_pair = key_and_cert_pem(PEER)
    return pyas2lib.Organization(
        as2_name="peer", sign_key=pem_pair, decrypt_key=pem_pair, mdn_url=mdn_url
    )


def gateway_as_partner(**options: Any) -> Any:
    """How the pyas2lib peer sees our gateway (AS2 name `pyas2lib`, the corpus key pair)."""
    ours = pem(our_key())
    return pyas2lib.Partner(
        as2_name="pyas2lib", verify_cert=ours, encrypt_cert=ours, validate_certs=False, **options
    )


def raw_http(headers: Any, body: bytes) -> bytes:
    items = headers.items() if hasattr(headers, "items") else headers
    head = "".join(f"{name}: {value}\r\n" for name, value in items)
    return head.encode("utf-8") + b"\r\n" + body


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[As2Gateway]:
    with as2_gateway(tmp_path_factory.mktemp("pyas2lib"), {"peer": (pem(PEER), {})}) as env:
        yield env


# -- pyas2lib sends, we receive ---------------------------------------------------------------


def send_from_pyas2lib(gw: As2Gateway, mdn_url: str | None = None, **options: Any) -> Any:
    message = pyas2lib.Message(peer_organization(mdn_url), gateway_as_partner(**options))
    message.build(PAYLOAD, filename="order.edi", content_type="application/EDIFACT")
    response = httpx.post(gw.url, headers=message.headers, content=message.content, timeout=60)
    assert response.status_code == 200, response.text
    return message, response


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "compressed"])
@pytest.mark.parametrize("digest", DIGESTS)
@pytest.mark.parametrize("cipher", CIPHERS)
def test_pyas2lib_sends_with_sync_mdn(
    gw: As2Gateway, cipher: str, digest: str, compress: bool
) -> None:
    before = gw.count()
    message, response = send_from_pyas2lib(
        gw, sign=True, encrypt=True, enc_alg=cipher, digest_alg=digest, compress=compress,
        mdn_mode="SYNC", mdn_digest_alg=digest,
    )  # fmt: skip
    mdn = pyas2lib.Mdn()
    status, detail = mdn.parse(raw_http(response.headers, response.content), lambda *_: message)
    assert (status, detail) == ("processed", None)
    assert gw.count() == before + 1
    accepted = gw.interchanges()[-1]
    assert gw.spooled(accepted) == PAYLOAD and accepted.partner_id == "peer"
    assert accepted.origin["encryption"]["cipher"] == OUR_CIPHER[cipher].value
    assert accepted.origin["compressed"] is compress


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "compressed"])
@pytest.mark.parametrize("cipher", ["tripledes_192_cbc", "aes_256_cbc"])
def test_pyas2lib_sends_with_async_mdn(gw: As2Gateway, cipher: str, compress: bool) -> None:
    with Catcher() as catcher:
        message, response = send_from_pyas2lib(
            gw, catcher.url, sign=True, encrypt=True, enc_alg=cipher, digest_alg="sha256",
            compress=compress, mdn_mode="ASYNC", mdn_digest_alg="sha256",
        )  # fmt: skip
        assert b"asynchronously" in response.content
        wait_for(lambda: catcher.posts, timeout=20)
    [(headers, body)] = catcher.posts
    status, detail = pyas2lib.Mdn().parse(raw_http(headers, body), lambda *_: message)
    assert (status, detail) == ("processed", None)


def test_pyas2lib_md5_is_answered_not_accepted(gw: As2Gateway) -> None:
    """MD5 is not among the digests we accept: an error MDN, nothing accepted."""
    before = gw.count()
    _, response = send_from_pyas2lib(gw, sign=True, encrypt=True, digest_alg="md5", mdn_mode="SYNC")
    report = read_mdn(list(response.headers.items()), response.content, [our_key().certificate])
    assert report.disposition is not None and report.disposition.is_error
    assert gw.count() == before


def test_pyas2lib_rc2_is_answered_not_accepted(gw: As2Gateway) -> None:
    from oscrypto._openssl._libcrypto import libcrypto_legacy_support

    if not libcrypto_legacy_support:
        pytest.skip("this OpenSSL has no legacy provider: pyas2lib cannot encrypt with RC2")
    before = gw.count()
    _, response = send_from_pyas2lib(
        gw, sign=True, encrypt=True, enc_alg="rc2_128_cbc", mdn_mode="SYNC"
    )
    report = read_mdn(list(response.headers.items()), response.content, [our_key().certificate])
    assert report.disposition is Disposition.DECRYPTION_FAILED
    assert gw.count() == before


# -- we send (an acknowledgement), pyas2lib receives -------------------------------------------


class Pyas2libReceiver:
    """pyas2lib behind a loopback HTTP server: parses each POST as an AS2 message and answers
    with its MDN (sync), or POSTs the MDN to the Receipt-Delivery-Option URL (async)."""

    def __init__(self) -> None:
        self.payloads: list[bytes] = []
        self.statuses: list[str] = []
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/pyas2"

    def handle(
        self, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes, Callable[[], None] | None]:
        message = pyas2lib.Message()
        status, (exc, _), mdn = message.parse(
            raw_http(headers, body),
            find_org_cb=lambda name: peer_organization() if name == "peer" else None,
            find_partner_cb=lambda name: gateway_as_partner() if name == "pyas2lib" else None,
        )
        self.statuses.append(f"{status} {exc!r}")
        if status == "processed":
            self.payloads.append(message.content)
        if mdn is None:
            return 200, [], b"", None
        if mdn.mdn_mode == "ASYNC":

            def post() -> None:
                httpx.post(mdn.mdn_url, headers=mdn.headers, content=mdn.content, timeout=30)

            return 200, [], b"", post
        return 200, list(mdn.headers.items()), mdn.content, None

    def __enter__(self) -> Pyas2libReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, headers, content, after = receiver.handle(list(self.headers.items()), body)
                self.send_response(status)
                for name, value in headers:
                    if name.lower() != "content-length":
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)
                self.wfile.flush()
                if after is not None:
                    threading.Thread(target=after, daemon=True).start()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Pyas2libReceiver]:
    with Pyas2libReceiver() as peer:
        yield peer


def make_ack(gw: As2Gateway) -> Ack:
    receipt = gw.gateway.intake.receive(new_id().encode(), Origin(channel="cli", partner_id="peer"))
    now = dt.datetime.now(dt.UTC)
    return Ack(
        id=new_id(), interchange_id=receipt.interchange_id, partner_id="peer", kind="contrl",
        positive=True, media_type="application/EDIFACT", filename="contrl.edi",
        content=PAYLOAD.replace(b"ORDERS", b"CONTRL") + new_id().encode(), route="as2",
        state=AckState.PENDING, attempts=0, next_attempt_at=now, created_at=now,
    )  # fmt: skip


def send_ack(gw: As2Gateway, receiver: Pyas2libReceiver, **profile: Any) -> Ack:
    sender = gw.channel.sender
    base = sender.directory.profiles["peer"]
    sender.directory.profiles["peer"] = dataclasses.replace(base, url=receiver.url, **profile)
    try:
        ack = make_ack(gw)
        assert sender.send(ack, gw.gateway.config.partners["peer"]) == AckState.DELIVERED
        return ack
    finally:
        sender.directory.profiles["peer"] = base


@pytest.mark.parametrize(
    "compression", [Compression.NONE, Compression.BEFORE_SIGNING], ids=["plain", "compressed"]
)
@pytest.mark.parametrize(
    "digest", [Digest.SHA1, Digest.SHA224, Digest.SHA256, Digest.SHA384, Digest.SHA512]
)
@pytest.mark.parametrize("cipher", list(OUR_CIPHER.values()))
def test_pyas2lib_receives_our_ack_with_sync_mdn(
    gw: As2Gateway, receiver: Pyas2libReceiver, cipher: Cipher, digest: Digest,
    compression: Compression,
) -> None:  # fmt: skip
    ack = send_ack(gw, receiver, cipher=cipher, digest=digest, compression=compression)
    assert receiver.payloads[-1] == ack.content, receiver.statuses[-1]
    evidence = [m for m in gw.mdns() if m.ack_id == ack.id]
    assert [(m.state, m.signed) for m in evidence] == [("verified", True)]


def test_pyas2lib_receives_our_ack_with_async_mdn(
    gw: As2Gateway, receiver: Pyas2libReceiver
) -> None:
    ack = send_ack(gw, receiver, async_mdn_url=gw.url)
    assert receiver.payloads[-1] == ack.content

    def settled() -> str | None:
        rows = [m for m in gw.mdns() if m.ack_id == ack.id]
        return rows[0].state if rows and rows[0].state != "awaited" else None

    assert wait_for(settled, timeout=20) == "verified"


def test_shim_does_not_outlive_the_import() -> None:
    assert re.search(_OSCRYPTO_VERSION, "OpenSSL 3.0.19 27 Jan 2026") is None
    assert Path(pyas2lib.__file__).name == "__init__.py"
