"""`edi-gateway serve` runs the AS2 channel from gateway.toml's `[as2]` section, with the key
pair `edi-gateway as2 keygen` made. (Skipped until config.py carries the `[as2]` section and
the CLI has the `as2` group, i.e. until the channel is wired into the composition root.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from cryptography import x509

from edi_gateway.channels.as2.mdn import Disposition, read_mdn
from edi_gateway.channels.as2.policy import LocalStation, PartnerProfile
from edi_gateway.channels.as2.sender import build_message, verify_mdn
from edi_gateway.cli import main
from edi_gateway.config import GatewaySettings
from edi_gateway.samples import write_sample_config
from tests.conftest import free_port
from tests.support import ROOT, wait_for
from tests.test_as2_env import add_partner, pem
from tests.test_as2_support import identity

pytestmark = pytest.mark.skipif(
    "as2" not in GatewaySettings.model_fields or "as2" not in main.commands,
    reason="the AS2 channel is not wired into config.py / cli.py yet",
)

ACME = identity("acme")


def test_serve_runs_the_as2_listener_with_keygen_keys(tmp_path: Path) -> None:
    write_sample_config(tmp_path, port=0)
    as2_port = free_port()
    with (tmp_path / "gateway.toml").open("a") as toml:
        toml.write(f'\n[as2]\nas2_id = "MOE-AS2"\nport = {as2_port}\n')
    add_partner(tmp_path, "acme", pem(ACME))
    config = str(tmp_path / "gateway.toml")
    keygen = CliRunner().invoke(main, ["-c", config, "as2", "keygen", "--bits", "2048"])
    assert keygen.exit_code == 0, keygen.output
    printed = keygen.stdout[keygen.stdout.index("-----BEGIN CERTIFICATE-----") :]
    ours = x509.load_pem_x509_certificate(printed.encode())

    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "edi_gateway.cli", "-c", config, "serve", "--port", str(free_port())],
        cwd=ROOT, stdout=log, stderr=log, env={**os.environ, "EDI_GATEWAY_LOG_LEVEL": "warning"},
    )  # fmt: skip
    try:

        def up() -> bool:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                return httpx.get(f"http://127.0.0.1:{as2_port}/healthz", timeout=1).is_success
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=60)
        profile = PartnerProfile("MOE-AS2", (ours,))
        message = build_message(b"UNA:+.? 'UNB+UNOC:3+A:14+B:14+261126:1200+1'UNZ+0+1'",
                                LocalStation("acme", (ACME,)), profile)  # fmt: skip
        response = httpx.post(
            f"http://127.0.0.1:{as2_port}/as2", headers=message.headers, content=message.body
        )
        headers = list(response.headers.items())
        assert read_mdn(headers, response.content, [ours]).disposition is Disposition.PROCESSED
        assert verify_mdn(headers, response.content, message, profile).delivered
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)  # uvicorn re-raises SIGTERM after its graceful shutdown
        log.close()
