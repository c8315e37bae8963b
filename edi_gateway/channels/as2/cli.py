"""`edi-gateway as2 …`: create our AS2 key pair, import a partner's certificate.

The group uses the main command's context object (anything with a `config` attribute), so the
composition root attaches it with `main.add_command(as2_group)`.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Protocol

import click
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from edi_gateway.certificates import read_certificate, self_signed
from edi_gateway.channels.as2.partners import as2_settings
from edi_gateway.channels.as2.settings import DEFAULT_KEYS
from edi_gateway.config import Config


class _HasConfig(Protocol):
    @property
    def config(self) -> Config: ...


@click.group("as2")
def as2_group() -> None:
    """AS2: our key pair and certificate, partners' certificates."""


@as2_group.command("keygen")
@click.option("--common-name", default=None, help="certificate subject CN (default: our AS2 id)")
@click.option("--days", default=730, show_default=True, help="validity of the certificate")
@click.option("--bits", default=3072, show_default=True, type=click.IntRange(2048, 8192))
@click.option("--force", is_flag=True, help="replace an existing key pair")
@click.pass_obj
def keygen(obj: _HasConfig, common_name: str | None, days: int, bits: int, force: bool) -> None:
    """Create our RSA key pair and a self-signed certificate in the data dir; print the
    certificate to send to partners."""
    config = obj.config
    settings = as2_settings(config)
    files = settings.keys[0] if settings else DEFAULT_KEYS[0]
    if not files.key or not files.certificate:
        raise click.ClickException("[as2] keys[0] must name `key` and `certificate` PEM files")
    key_path, cert_path = config.data_dir / files.key, config.data_dir / files.certificate
    if (key_path.exists() or cert_path.exists()) and not force:
        raise click.ClickException(f"{key_path} exists; use --force to replace it")
    name = common_name or (settings.as2_id if settings else config.settings.gateway.name)
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    certificate = self_signed(key, name, dt.timedelta(days=days))
    key_path.parent.mkdir(parents=True, exist_ok=True)
    _write_private(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.write_bytes(cert_pem)
    click.echo(f"key:         {key_path} (mode 0600)")
    click.echo(f"certificate: {cert_path}")
    _describe(certificate)
    click.echo("\nSend this certificate to your partners:\n")
    click.echo(cert_pem.decode("ascii"), nl=False)


@as2_group.command("partner-cert")
@click.argument("partner")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--next", "is_next", is_flag=True, help="the partner's next certificate (rollover)")
@click.pass_obj
def partner_cert(obj: _HasConfig, partner: str, file: Path, is_next: bool) -> None:
    """Import FILE (PEM or DER) as PARTNER's AS2 certificate and show what it is."""
    config = obj.config
    if partner not in config.partners:
        known = ", ".join(sorted(config.partners))
        raise click.ClickException(f"unknown partner {partner!r}; known: {known}")
    try:
        certificate = read_certificate(file.read_bytes())
    except ValueError as exc:
        raise click.ClickException(f"{file} is not an X.509 certificate: {exc}") from None
    name = f"certs/{partner}{'-next' if is_next else ''}.pem"
    target = config.path.parent / "partners" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    click.echo(f"imported:    {target}")
    _describe(certificate)
    key = "certificate_next" if is_next else "certificate"
    click.echo(f'\nIn partners/{partner}.toml, [as2]: {key} = "{name}"')


def _write_private(path: Path, data: bytes) -> None:
    temp = path.with_name(path.name + ".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(temp, path)


def _describe(certificate: x509.Certificate) -> None:
    now = dt.datetime.now(dt.UTC)
    click.echo(f"subject:     {certificate.subject.rfc4514_string()}")
    click.echo(f"issuer:      {certificate.issuer.rfc4514_string()}")
    click.echo(f"serial:      {certificate.serial_number:x}")
    click.echo(f"valid from:  {certificate.not_valid_before_utc:%Y-%m-%d %H:%M} UTC")
    click.echo(f"expires:     {certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")
    fingerprint = certificate.fingerprint(hashes.SHA256()).hex(":").upper()
    click.echo(f"SHA-256:     {fingerprint}")
    left = certificate.not_valid_after_utc - now
    if left < dt.timedelta(0):
        click.echo("WARNING:     this certificate has expired")
    elif left < dt.timedelta(days=30):
        click.echo(f"WARNING:     this certificate expires in {left.days} days")
