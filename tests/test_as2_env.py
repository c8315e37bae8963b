"""A gateway with its AS2 channel running on a loopback port, for the AS2 channel tests.

(Named test_as2_* so it sits with the AS2 tests; it holds a check of its own at the end.)
"""

from __future__ import annotations

import contextlib
import shutil
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select

from edi_gateway.app import Gateway
from edi_gateway.channels.as2.channel import As2Channel
from edi_gateway.channels.as2.keys import KeyPair
from edi_gateway.channels.as2.policy import LocalStation
from edi_gateway.channels.as2.settings import As2Settings
from edi_gateway.config import load
from edi_gateway.samples import write_sample_config
from edi_gateway.store.as2 import As2Mdn
from edi_gateway.store.tables import Interchange
from tests.support import wait_for
from tests.test_as2_support import MENDELSON, our_key

OUR_AS2_ID = "pyas2lib"  # the Mendelson corpus is addressed to this name


def partner_toml(pid: str, as2: dict[str, Any]) -> str:
    lines = [f'id = "{pid}"', f'name = "{pid} test partner"', 'role = "supplier"', "", "[as2]"]
    for key, value in as2.items():
        shown = ("true" if value else "false") if isinstance(value, bool) else f'"{value}"'
        lines.append(f"{key} = {shown}")
    lines += ["", "[acks]", 'route = "as2"']
    return "\n".join(lines) + "\n"


def add_partner(config_dir: Path, pid: str, certificate: bytes | None, **as2: Any) -> None:
    settings: dict[str, Any] = {"name": pid, **as2}
    if certificate is not None:
        certs = config_dir / "partners" / "certs"
        certs.mkdir(parents=True, exist_ok=True)
        (certs / f"{pid}.pem").write_bytes(certificate)
        settings["certificate"] = f"certs/{pid}.pem"
    (config_dir / "partners" / f"{pid}.toml").write_text(partner_toml(pid, settings))


def pem(pair: KeyPair) -> bytes:
    return pair.certificate.public_bytes(serialization.Encoding.PEM)


@dataclass
class As2Gateway:
    """A real Gateway (SQLite in a temp dir) with its AS2 channel on 127.0.0.1:<ephemeral>."""

    directory: Path
    gateway: Gateway
    channel: As2Channel

    @property
    def url(self) -> str:
        return self.channel.url + "/as2"

    def post(
        self, headers: list[tuple[str, str]], body: bytes, verify: Any = True
    ) -> httpx.Response:
        skip = {"content-length", "host", "connection", "expect", "transfer-encoding"}
        sent = [(n, v) for n, v in headers if n.lower() not in skip]
        return httpx.post(self.url, headers=sent, content=body, timeout=60, verify=verify)

    def interchanges(self) -> list[Interchange]:
        with self.gateway.reads() as session:
            return list(session.scalars(select(Interchange).order_by(Interchange.received_at)))

    def mdns(self) -> list[As2Mdn]:
        with self.gateway.reads() as session:
            return list(session.scalars(select(As2Mdn).order_by(As2Mdn.created_at)))

    def count(self) -> int:
        with self.gateway.reads() as session:
            return int(session.scalar(select(func.count()).select_from(Interchange)) or 0)

    def spooled(self, interchange: Interchange) -> bytes:
        path = self.gateway.spool.root / interchange.raw_sha256[:2] / interchange.raw_sha256
        return path.read_bytes()

    def spool_files(self) -> list[Path]:
        root = self.gateway.spool.root
        return [p for p in root.rglob("*") if p.is_file() and root / "tmp" not in p.parents]


@contextlib.contextmanager
def as2_gateway(
    directory: Path,
    partners: Mapping[str, tuple[bytes | None, Mapping[str, Any]]],
    station: LocalStation | None = None,
    *,
    start_loops: bool = True,
    **settings: Any,
) -> Iterator[As2Gateway]:
    """`partners`: id -> (certificate PEM, [as2] settings)."""
    write_sample_config(directory, port=0)
    for pid, (certificate, as2) in partners.items():
        add_partner(directory, pid, certificate, **as2)
    config = load(directory / "gateway.toml", f"sqlite:///{directory / 'gateway.db'}")
    gateway = Gateway(config)
    station = station or LocalStation(OUR_AS2_ID, (our_key(),))
    options = {"as2_id": station.as2_id, "port": 0, "mdn_backoff_seconds": 0.05, **settings}
    channel = As2Channel(gateway, station, As2Settings(**options))
    if start_loops:
        gateway.start()
    channel.start()
    try:
        wait_for(lambda: channel.started, timeout=20)
        yield As2Gateway(directory, gateway, channel)
    finally:
        channel.stop()
        gateway.stop()
        gateway.engine.dispose()


def mendelson_partner() -> dict[str, tuple[bytes | None, dict[str, Any]]]:
    cert = (MENDELSON / "cert_mecas2_public.pem").read_bytes()
    return {"mecas2": (cert, {"require_signature": False, "require_encryption": False})}


@dataclass
class Catcher:
    """A loopback HTTP server that records every POST (async MDNs land here)."""

    status: int = 200
    posts: list[tuple[list[tuple[str, str]], bytes]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/mdn"

    def __enter__(self) -> Catcher:
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(size)
                catcher.posts.append((list(self.headers.items()), body))
                self.send_response(catcher.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()


def test_partner_toml_is_loaded_with_its_certificate(tmp_path: Path) -> None:
    cert = (MENDELSON / "cert_mecas2_public.pem").read_bytes()
    write_sample_config(tmp_path, port=0)
    add_partner(tmp_path, "mecas2", cert, require_signature=False)
    config = load(tmp_path / "gateway.toml", f"sqlite:///{tmp_path / 'g.db'}")
    as2 = config.partners["mecas2"].as2
    assert as2 is not None and as2.name == "mecas2" and not as2.require_signature
    assert (tmp_path / "partners" / "certs" / "mecas2.pem").read_bytes() == cert
    shutil.rmtree(tmp_path / "partners" / "certs")
