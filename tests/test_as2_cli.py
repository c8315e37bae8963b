"""`as2 keygen` and `as2 partner-cert`, and that what they write is what the channel loads."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import click
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from edi_gateway.channels.as2.cli import as2_group
from edi_gateway.channels.as2.partners import load_station
from edi_gateway.channels.as2.settings import As2Settings
from edi_gateway.cli import Ctx
from edi_gateway.config import load
from edi_gateway.samples import write_sample_config
from tests.test_as2_env import add_partner
from tests.test_as2_support import MENDELSON, NOW, identity


@click.group()
@click.option("-c", "config_path")
@click.pass_context
def root(ctx: click.Context, config_path: str) -> None:
    ctx.obj = Ctx(config_path, f"sqlite:///{Path(config_path).parent / 'g.db'}")


root.add_command(as2_group)


def test_keygen_writes_a_key_pair_the_station_loads(tmp_path: Path) -> None:
    write_sample_config(tmp_path, port=0)
    cfg = str(tmp_path / "gateway.toml")
    out = CliRunner().invoke(root, ["-c", cfg, "as2", "keygen", "--common-name", "MOE-AS2",
                                    "--bits", "2048", "--days", "10"])  # fmt: skip
    assert out.exit_code == 0, out.output
    key_path = tmp_path / "data" / "as2" / "key.pem"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" not in out.stdout_bytes  # the key is never printed
    printed = out.stdout[out.stdout.index("-----BEGIN CERTIFICATE-----") :]
    certificate = x509.load_pem_x509_certificate(printed.encode())
    assert certificate.subject.rfc4514_string() == "CN=MOE-AS2"
    assert certificate.fingerprint(hashes.SHA256()).hex(":").upper() in out.stdout
    station = load_station(As2Settings(as2_id="MOE-AS2"), load(cfg).data_dir)
    assert station.signing_key.certificate == certificate
    assert "expires in 9 days" in out.stdout or "expires in 10 days" in out.stdout

    again = CliRunner().invoke(root, ["-c", cfg, "as2", "keygen"])
    assert again.exit_code != 0 and "--force" in again.output


def test_partner_cert_import_shows_the_certificate(tmp_path: Path) -> None:
    write_sample_config(tmp_path, port=0)
    add_partner(tmp_path, "mecas2", None)
    cfg = str(tmp_path / "gateway.toml")
    source = MENDELSON / "cert_mecas2_public.pem"
    der = tmp_path / "mecas2.der"
    der.write_bytes(
        x509.load_pem_x509_certificate(source.read_bytes()).public_bytes(serialization.Encoding.DER)
    )
    out = CliRunner().invoke(root, ["-c", cfg, "as2", "partner-cert", "mecas2", str(der)])
    assert out.exit_code == 0, out.output
    assert "mendelson test key 3" in out.stdout and "2027-12-06" in out.stdout
    assert 'certificate = "certs/mecas2.pem"' in out.stdout
    imported = tmp_path / "partners" / "certs" / "mecas2.pem"
    assert x509.load_pem_x509_certificate(imported.read_bytes()) == (
        x509.load_pem_x509_certificate(source.read_bytes())
    )

    unknown = CliRunner().invoke(root, ["-c", cfg, "as2", "partner-cert", "nobody", str(der)])
    assert unknown.exit_code != 0 and "unknown partner" in unknown.output


def test_partner_cert_warns_about_an_expired_certificate(tmp_path: Path) -> None:
    write_sample_config(tmp_path, port=0)
    add_partner(tmp_path, "oldco", None)
    old = identity("old-cli", NOW - dt.timedelta(days=90), NOW - dt.timedelta(days=2))
    path = tmp_path / "old.pem"
    path.write_bytes(old.certificate.public_bytes(serialization.Encoding.PEM))
    cfg = str(tmp_path / "gateway.toml")
    out = CliRunner().invoke(root, ["-c", cfg, "as2", "partner-cert", "--next", "oldco", str(path)])
    assert out.exit_code == 0, out.output
    assert "has expired" in out.stdout and "certificate_next" in out.stdout
