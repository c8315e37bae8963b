"""Our key pairs and partner certificates: loading, matching a CMS identifier, validity."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

from asn1crypto import cms as asn1_cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from edi_gateway.channels.as2.errors import AuthenticationFailed

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

EXPIRY_WARNING = dt.timedelta(days=30)


@dataclass(frozen=True)
class KeyPair:
    """One of our private keys with its certificate. The repr never shows the key."""

    private_key: PrivateKey = field(repr=False)
    certificate: x509.Certificate

    @classmethod
    def from_pkcs12(cls, data: bytes, password: bytes | None) -> KeyPair:
        key, cert, _ = pkcs12.load_key_and_certificates(data, password)
        if cert is None or not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ValueError("PKCS#12 bundle must hold an RSA or EC key and its certificate")
        return cls(key, cert)

    @classmethod
    def from_pem(cls, key_pem: bytes, cert_pem: bytes, password: bytes | None = None) -> KeyPair:
        key = serialization.load_pem_private_key(key_pem, password)
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ValueError("only RSA and EC private keys are supported")
        return cls(key, x509.load_pem_x509_certificate(cert_pem))


@functools.lru_cache(maxsize=64)
def asn1_certificate(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def identifies(identifier: asn1_cms.Asn1Value, cert: x509.Certificate) -> bool:
    """Whether a SignerIdentifier / RecipientIdentifier names this certificate."""
    chosen = identifier.chosen
    if identifier.name == "issuer_and_serial_number":
        return bool(
            chosen["serial_number"].native == cert.serial_number
            and chosen["issuer"].dump() == _issuer_der(cert)
        )
    ski = _subject_key_identifier(cert)
    return ski is not None and bool(chosen.native == ski)


# asked for every message, about the same few certificates (ours and our partners')
@functools.lru_cache(maxsize=256)
def _issuer_der(cert: x509.Certificate) -> bytes:
    return cert.issuer.public_bytes()


@functools.lru_cache(maxsize=256)
def _subject_key_identifier(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None


@functools.lru_cache(maxsize=256)
def _validity(cert: x509.Certificate) -> tuple[dt.datetime, dt.datetime]:
    return cert.not_valid_before_utc, cert.not_valid_after_utc


def ordered_for(identifier: asn1_cms.Asn1Value, keys: Sequence[KeyPair]) -> list[KeyPair]:
    """Keys whose certificate the identifier names, first; then the rest (rollover tolerance)."""
    named = [key for key in keys if identifies(identifier, key.certificate)]
    return named + [key for key in keys if key not in named]


def check_valid(cert: x509.Certificate, at: dt.datetime) -> None:
    not_before, not_after = _validity(cert)
    if at < not_before:
        raise AuthenticationFailed(
            f"certificate {cert.serial_number:x} is not valid before {not_before}"
        )
    if at > not_after:
        raise AuthenticationFailed(f"certificate {cert.serial_number:x} expired on {not_after}")


def expiry_warning(cert: x509.Certificate, at: dt.datetime) -> str | None:
    not_after = _validity(cert)[1]
    if not_after - at < EXPIRY_WARNING:
        return f"certificate {cert.serial_number:x} expires on {not_after:%Y-%m-%d}"
    return None
