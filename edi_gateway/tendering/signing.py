"""The gateway's receipt key: an Ed25519 key in the data directory that signs tender receipts
and opening records, so a tenderer can prove later what the gateway said and when.

Anyone can check a signature with OpenSSL 3 and the public key (`edi-gateway tenders key`):

    openssl pkeyutl -verify -pubin -inkey gateway-receipts.pub.pem -rawin \\
        -in statement.txt -sigfile statement.sig
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)

KEY_FILE = "keys/tender-receipts.ed25519.pem"
ALGORITHM = "Ed25519"


@dataclass(frozen=True)
class GatewayKey:
    private: Ed25519PrivateKey

    @classmethod
    def load_or_create(cls, data_dir: Path) -> GatewayKey:
        """The key at `data_dir/keys/...`, made (mode 0600) on first use. Two processes
        starting together agree: the file is created exclusively, the loser reads it."""
        path = data_dir / KEY_FILE
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            key = Ed25519PrivateKey.generate()
            pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
            temp = path.with_suffix(f".{os.getpid()}.tmp")
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
                fh.flush()
                os.fsync(fh.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(temp, path)  # atomic and exclusive: the first one wins
            temp.unlink()
        loaded = load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an Ed25519 private key")
        return cls(loaded)

    def sign(self, data: bytes) -> bytes:
        return self.private.sign(data)

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def fingerprint(self) -> str:
        """SHA-256 over the DER public key: what a tenderer pins."""
        der = self.private.public_key().public_bytes(
            Encoding.DER, PublicFormat.SubjectPublicKeyInfo
        )
        return hashlib.sha256(der).hexdigest()
