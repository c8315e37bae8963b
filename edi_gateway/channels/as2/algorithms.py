"""Names and object identifiers of the algorithms AS2 uses, and the spellings partners send.

One table per kind (digest, content cipher, key transport), keyed by our own enum, so the rest of
the package never handles a bare OID string or a micalg spelling.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes

from edi_gateway.channels.as2.errors import UnsupportedAlgorithm


class Digest(enum.Enum):
    """Message digests for signatures and MICs; the value is the RFC 5751 micalg spelling."""

    SHA1 = "sha-1"
    SHA224 = "sha-224"
    SHA256 = "sha-256"
    SHA384 = "sha-384"
    SHA512 = "sha-512"

    @property
    def oid(self) -> str:
        return _DIGEST_OIDS[self]

    @property
    def micalg(self) -> str:
        """The spelling we write in `micalg=` and `Received-Content-MIC`."""
        return self.value

    def hash_algorithm(self) -> hashes.HashAlgorithm:
        return _DIGEST_FACTORIES[self]()

    def new(self) -> hashes.Hash:
        return hashes.Hash(self.hash_algorithm())

    @classmethod
    def from_name(cls, name: str) -> Digest:
        """Accept `sha256`, `sha-256`, `SHA256`, `sha1`, `sha-1` … (both spellings occur)."""
        key = name.strip().strip('"').lower().replace("-", "").replace("_", "")
        for digest in cls:
            if digest.value.replace("-", "") == key:
                return digest
        raise UnsupportedAlgorithm(f"unsupported digest/micalg {name!r}")

    @classmethod
    def from_oid(cls, oid: str) -> Digest:
        for digest, known in _DIGEST_OIDS.items():
            if known == oid:
                return digest
        raise UnsupportedAlgorithm(f"unsupported digest algorithm OID {oid}")


_DIGEST_OIDS: dict[Digest, str] = {
    Digest.SHA1: "1.3.14.3.2.26",
    Digest.SHA224: "2.16.840.1.101.3.4.2.4",
    Digest.SHA256: "2.16.840.1.101.3.4.2.1",
    Digest.SHA384: "2.16.840.1.101.3.4.2.2",
    Digest.SHA512: "2.16.840.1.101.3.4.2.3",
}

_DIGEST_FACTORIES: dict[Digest, type[hashes.HashAlgorithm]] = {
    Digest.SHA1: hashes.SHA1,
    Digest.SHA224: hashes.SHA224,
    Digest.SHA256: hashes.SHA256,
    Digest.SHA384: hashes.SHA384,
    Digest.SHA512: hashes.SHA512,
}


class CipherMode(enum.Enum):
    CBC = "cbc"
    GCM = "gcm"


@dataclass(frozen=True)
class _CipherSpec:
    oid: str
    family: str  # "aes" or "3des"
    key_size: int  # bytes
    mode: CipherMode


class Cipher(enum.Enum):
    """Content-encryption algorithms for EnvelopedData (CBC) and AuthEnvelopedData (GCM)."""

    TRIPLE_DES_CBC = "des-ede3-cbc"
    AES128_CBC = "aes128-cbc"
    AES192_CBC = "aes192-cbc"
    AES256_CBC = "aes256-cbc"
    AES128_GCM = "aes128-gcm"
    AES192_GCM = "aes192-gcm"
    AES256_GCM = "aes256-gcm"

    @property
    def spec(self) -> _CipherSpec:
        return _CIPHER_SPECS[self]

    @property
    def oid(self) -> str:
        return self.spec.oid

    @property
    def key_size(self) -> int:
        return self.spec.key_size

    @property
    def mode(self) -> CipherMode:
        return self.spec.mode

    @property
    def block_size(self) -> int:
        return 8 if self.spec.family == "3des" else 16

    @classmethod
    def from_oid(cls, oid: str) -> Cipher:
        for cipher, spec in _CIPHER_SPECS.items():
            if spec.oid == oid:
                return cipher
        raise UnsupportedAlgorithm(f"unsupported content-encryption algorithm OID {oid}")


_CIPHER_SPECS: dict[Cipher, _CipherSpec] = {
    Cipher.TRIPLE_DES_CBC: _CipherSpec("1.2.840.113549.3.7", "3des", 24, CipherMode.CBC),
    Cipher.AES128_CBC: _CipherSpec("2.16.840.1.101.3.4.1.2", "aes", 16, CipherMode.CBC),
    Cipher.AES192_CBC: _CipherSpec("2.16.840.1.101.3.4.1.22", "aes", 24, CipherMode.CBC),
    Cipher.AES256_CBC: _CipherSpec("2.16.840.1.101.3.4.1.42", "aes", 32, CipherMode.CBC),
    Cipher.AES128_GCM: _CipherSpec("2.16.840.1.101.3.4.1.6", "aes", 16, CipherMode.GCM),
    Cipher.AES192_GCM: _CipherSpec("2.16.840.1.101.3.4.1.26", "aes", 24, CipherMode.GCM),
    Cipher.AES256_GCM: _CipherSpec("2.16.840.1.101.3.4.1.46", "aes", 32, CipherMode.GCM),
}


class KeyTransport(enum.Enum):
    """How the content-encryption key is wrapped for the recipient's RSA key."""

    RSA_PKCS1V15 = "rsaes-pkcs1-v1_5"
    RSA_OAEP = "rsaes-oaep"


class SignaturePadding(enum.Enum):
    """RSA signature schemes (ECDSA signatures are recognised by key type, not listed here)."""

    PKCS1V15 = "pkcs1-v1_5"
    PSS = "pss"


OID_DATA = "1.2.840.113549.1.7.1"
OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_ENVELOPED_DATA = "1.2.840.113549.1.7.3"
OID_AUTH_ENVELOPED_DATA = "1.2.840.113549.1.9.16.1.23"
OID_COMPRESSED_DATA = "1.2.840.113549.1.9.16.1.9"
OID_ZLIB = "1.2.840.113549.1.9.16.3.8"
OID_RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
OID_RSAES_OAEP = "1.2.840.113549.1.1.7"
OID_RSASSA_PSS = "1.2.840.113549.1.1.10"
OID_MGF1 = "1.2.840.113549.1.1.8"

# Signature algorithm OIDs that name the digest too; the digest algorithm field decides anyway.
RSA_PKCS1_SIGNATURE_OIDS = frozenset(
    {
        OID_RSA_ENCRYPTION,
        "1.2.840.113549.1.1.5",
        "1.2.840.113549.1.1.14",
        "1.2.840.113549.1.1.11",
        "1.2.840.113549.1.1.12",
        "1.2.840.113549.1.1.13",
    }
)
ECDSA_SIGNATURE_OIDS = frozenset(
    {
        "1.2.840.10045.2.1",
        "1.2.840.10045.4.1",
        "1.2.840.10045.4.3.1",
        "1.2.840.10045.4.3.2",
        "1.2.840.10045.4.3.3",
        "1.2.840.10045.4.3.4",
    }
)
