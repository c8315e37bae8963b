"""Opening officers' certificates, and the shares sealed to them.

An institution lists its opening officers in its partner file (`[[tendering.officers]]`, a name
and an RSA certificate each). A call registered for it then hands out each share sealed to its
officer: CMS EnvelopedData (AES-256-CBC, the content key wrapped with the officer's RSA key)
in PEM, which `openssl cms -decrypt` and `edi-gateway tenders unseal-share` open. A sealed share
is useless to whoever reads it on its way or from the store, so the gateway can keep it (to
answer a repeated registration, or to resend the response) without anyone but the officer being
able to use it.

The CMS work is `cryptography`'s PKCS7EnvelopeBuilder; nothing here is hand-made.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import pkcs7

from edi_gateway.certificates import read_certificate, self_signed
from edi_gateway.config import Partner
from edi_gateway.tendering.common import TenderingRefused


def certificates(
    partner: Partner, partners_dir: Path, now: dt.datetime
) -> dict[str, x509.Certificate]:
    """The institution's officers by name, each with its certificate; refused when a
    certificate cannot be read, is not RSA, or is not valid at `now`."""
    found: dict[str, x509.Certificate] = {}
    for officer in partner.tendering.officers:
        path = partners_dir / officer.certificate
        try:
            cert = read_certificate(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise TenderingRefused(
                f"the certificate of opening officer {officer.name!r} ({path.name}) cannot be "
                f"read: {exc}"
            ) from None
        if not isinstance(cert.public_key(), rsa.RSAPublicKey):
            raise TenderingRefused(
                f"the certificate of opening officer {officer.name!r} must hold an RSA key"
            )
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise TenderingRefused(
                f"the certificate of opening officer {officer.name!r} is not valid now (valid "
                f"{cert.not_valid_before_utc.isoformat()} to {cert.not_valid_after_utc.isoformat()})"
            )
        found[officer.name] = cert
    return found


def seal_shares(shares: Mapping[str, str], certs: Mapping[str, x509.Certificate]) -> dict[str, str]:
    """Each officer's share sealed to its certificate (PEM text)."""
    return {name: _seal(share.encode("ascii"), certs[name]) for name, share in shares.items()}


def unregistered(officers: list[str], certs: Mapping[str, x509.Certificate]) -> list[str]:
    return [name for name in officers if name not in certs]


def _seal(data: bytes, cert: x509.Certificate) -> str:
    sealed = (
        pkcs7.PKCS7EnvelopeBuilder()
        .set_data(data)
        .add_recipient(cert)
        .set_content_encryption_algorithm(algorithms.AES256)
        .encrypt(serialization.Encoding.PEM, [pkcs7.PKCS7Options.Binary])
    )
    return sealed.decode("ascii")


def unseal(sealed: bytes, certificate: bytes, private_key: bytes, password: bytes | None) -> str:
    """The share in a sealed share, with the officer's certificate and private key (PEM)."""
    cert = x509.load_pem_x509_certificate(certificate)
    key = serialization.load_pem_private_key(private_key, password)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("an opening officer's key is an RSA key")
    return pkcs7.pkcs7_decrypt_pem(sealed, cert, key, []).decode("ascii")


def make_key_pair(name: str, days: int, password: bytes | None) -> tuple[bytes, bytes]:
    """A new RSA-3072 key (PEM, encrypted when `password` is given) and a self-signed
    certificate for an officer, for institutions without a PKI of their own."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    cert = self_signed(key, name, dt.timedelta(days=days))
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)
