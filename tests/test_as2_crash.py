"""SIGKILL of the gateway process while a large AS2 message is being uploaded: nothing is
accepted, the sender gets no `processed` MDN, and after a restart the same message goes
through once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from edi_gateway.channels.as2.mdn import Disposition, read_mdn
from edi_gateway.channels.as2.policy import LocalStation, PartnerProfile
from edi_gateway.channels.as2.sender import OutgoingMessage, build_message
from edi_gateway.samples import write_sample_config
from tests.conftest import free_port
from tests.support import ROOT, wait_for
from tests.test_as2_env import add_partner, pem
from tests.test_as2_support import identity, our_key, write_pem

pytestmark = pytest.mark.slow

ACME = identity("acme")
SIZE = 48 << 20
CHUNK = 256 << 10


class As2Process:
    """A gateway with its AS2 channel in a process of its own, so it can be killed for real."""

    def __init__(self, directory: Path) -> None:
        write_sample_config(directory, port=0)
        add_partner(directory, "acme", pem(ACME))
        keys = directory / "data" / "as2"
        keys.mkdir(parents=True, exist_ok=True)
        write_pem(keys, our_key(), "ours")  # ours.key (mode of a temp dir) and ours.crt
        self.port = free_port()
        (directory / "as2.toml").write_text(
            f'[as2]\nas2_id = "pyas2lib"\nport = {self.port}\n'
            'keys = [{ key = "as2/ours.key", certificate = "as2/ours.crt" }]\n'
        )
        self.directory = directory
        self.url = f"http://127.0.0.1:{self.port}/as2"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with (self.directory / "server.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "edi_gateway.channels.as2.serve",
                 "-c", str(self.directory / "gateway.toml"), "--as2", str(self.directory / "as2.toml")],
                cwd=ROOT, stdout=log, stderr=log,
                env={**os.environ, "EDI_GATEWAY_LOG_LEVEL": "warning"},
            )  # fmt: skip
        wait_for(self._healthy, timeout=60)

    def _healthy(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, (
            self.directory / "server.log"
        ).read_text()[-3000:]
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).is_success
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)

    def rows(self, table: str) -> int:
        engine = create_engine(f"sqlite:///{self.directory / 'data' / 'gateway.db'}")
        try:
            with engine.connect() as conn:
                return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
        finally:
            engine.dispose()

    def spooled(self) -> list[Path]:
        spool = self.directory / "data" / "spool"
        return [p for p in spool.rglob("*") if p.is_file() and p.parent.name != "tmp"]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[As2Process]:
    process = As2Process(tmp_path / "gw")
    process.start()
    try:
        yield process
    finally:
        process.stop()


def large_message() -> OutgoingMessage:
    payload = (b"UNA:+.? 'UNB+UNOC:3+ACME:14+GW:14+261126:1200+9'" + os.urandom(1024).hex().encode()
               * (SIZE // 2048))  # fmt: skip
    return build_message(payload, LocalStation("acme", (ACME,)),
                         PartnerProfile("pyas2lib", (our_key().certificate,)),
                         filename="large.edi")  # fmt: skip


def test_sigkill_during_upload_accepts_nothing(server: As2Process) -> None:
    message = large_message()
    body = message.body
    seed = random.randrange(1 << 30)
    cut = random.Random(seed).randrange(len(body) // 10, len(body) * 9 // 10)
    print(f"seed={seed}: kill after {cut:,} of {len(body):,} bytes")

    def upload() -> Iterator[bytes]:
        for start in range(0, len(body), CHUNK):
            if start >= cut:
                server.kill()  # the server dies with the upload half done
            yield body[start : start + CHUNK]

    with pytest.raises(httpx.TransportError):
        httpx.post(server.url, headers=message.headers, content=upload(), timeout=60)
    assert server.rows("interchanges") == 0
    assert server.rows("as2_mdns") == 0

    server.start()  # restart: nothing half-done is left, and the same message goes through
    assert server.spooled() == []
    response = httpx.post(server.url, headers=message.headers, content=body, timeout=120)
    report = read_mdn(list(response.headers.items()), response.content, [our_key().certificate])
    assert report.disposition is Disposition.PROCESSED
    assert server.rows("interchanges") == 1 and server.rows("as2_mdns") == 1
