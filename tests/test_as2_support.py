"""Helpers for the AS2 tests: the Mendelson corpus, generated identities, the openssl CLI.

(Named test_as2_* so it sits with the AS2 tests; it holds a few checks of its own helpers.)
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from edi_gateway.channels.as2.keys import KeyPair
from edi_gateway.channels.as2.policy import LocalStation, PartnerProfile, ReceiverPolicy
from tests.support import SHARED

MENDELSON = SHARED / "corpus" / "as2" / "mendelson"
PAYLOAD = (MENDELSON / "payload.txt").read_bytes() if MENDELSON.exists() else b""
# the Mendelson messages date from January 2022; judge certificates as of then
MENDELSON_TIME = dt.datetime(2022, 1, 5, tzinfo=dt.UTC)
NOW = dt.datetime.now(dt.UTC)

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI missing")
needs_corpus = pytest.mark.skipif(not MENDELSON.exists(), reason="shared AS2 corpus missing")


def read_http(path: Path) -> tuple[list[tuple[str, str]], bytes]:
    """An .as2/.mdn file: HTTP header lines, a blank line, the body."""
    raw = path.read_bytes()
    blank = re.search(rb"\r?\n\r?\n", raw)
    assert blank is not None, path
    headers: list[tuple[str, str]] = []
    for line in raw[: blank.start()].decode("latin-1").splitlines():
        if line[:1] in (" ", "\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + " " + line.strip())
        else:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    return headers, raw[blank.end() :]


def with_header(
    headers: list[tuple[str, str]], name: str, value: str | None
) -> list[tuple[str, str]]:
    kept = [(n, v) for n, v in headers if n.lower() != name.lower()]
    return [*kept, (name, value)] if value is not None else kept


@functools.cache
def our_key() -> KeyPair:
    """The receiving organisation of the Mendelson corpus (AS2 id pyas2lib)."""
    return KeyPair.from_pkcs12((MENDELSON / "cert_test.p12").read_bytes(), b"test")


@functools.cache
def mecas2_certificate() -> x509.Certificate:
    return x509.load_pem_x509_certificate((MENDELSON / "cert_mecas2_public.pem").read_bytes())


def mendelson_policy(**partner: object) -> ReceiverPolicy:
    profile = PartnerProfile(
        "mecas2",
        (mecas2_certificate(),),
        require_signature=False,
        require_encryption=False,
    )
    if partner:
        profile = PartnerProfile(**{**profile.__dict__, **partner})
    return ReceiverPolicy(
        LocalStation("pyas2lib", (our_key(),)), {"mecas2": profile}, clock=lambda: MENDELSON_TIME
    )


@functools.cache
def _rsa_key(label: str) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def identity(
    name: str,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> KeyPair:
    """A self-signed RSA identity; the same `name` reuses the same key."""
    key = _rsa_key(name)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = not_before or NOW - dt.timedelta(days=1)
    end = not_after or NOW + dt.timedelta(days=365)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(key, cert)


def write_pem(directory: Path, pair: KeyPair, stem: str) -> tuple[Path, Path]:
    """Key (unencrypted, for the openssl CLI in a temp dir) and certificate as PEM files."""
    key_path = directory / f"{stem}.key"
    cert_path = directory / f"{stem}.crt"
    key_path.write_bytes(
        pair.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(pair.certificate.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def openssl(*args: str | Path, stdin: bytes | None = None) -> bytes:
    done = subprocess.run(
        ["openssl", *map(str, args)], input=stdin, capture_output=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"openssl {' '.join(map(str, args))} failed: {done.stderr.decode()}")
    return done.stdout


@functools.cache
def openssl_compresses() -> bool:
    """Whether the openssl CLI was built with zlib (`cms -compress` needs it)."""
    if shutil.which("openssl") is None:
        return False
    done = subprocess.run(
        ["openssl", "cms", "-compress", "-binary"], input=b"x", capture_output=True, check=False
    )
    return done.returncode == 0


needs_openssl_zlib = pytest.mark.skipif(
    not openssl_compresses(), reason="this openssl CLI is built without zlib"
)


@needs_corpus
def test_read_http_splits_headers_and_body() -> None:
    headers, body = read_http(MENDELSON / "mecas2_signed.as2")
    assert dict(headers)["as2-from"] == "mecas2"
    assert body.startswith(b"Date:")


def test_identity_is_stable_per_name() -> None:
    assert identity("stable").certificate == identity("stable").certificate
    assert identity("stable").certificate != identity("other").certificate
