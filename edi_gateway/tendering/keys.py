"""The keys of a call for tenders and the envelope a tender is sealed in.

Intake must encrypt a tender the moment it arrives, but nobody may be able to decrypt it
before the opening. So each call has an X25519 key pair: the public key seals (at intake,
with no secret at hand), the private key opens. The private key is stored only wrapped
(AES-256-GCM) under a key-encryption key that exists nowhere after registration: it is cut
into n shares with Shamir secret sharing, one per opening officer, and any k of them rebuild
it.

A tender gets its own random data key (AES-256-GCM over the payload); the data key is wrapped
to the call's public key (ephemeral X25519, HKDF-SHA256, AES-256-GCM). The sealed envelope
is self-contained: magic, ephemeral public key, wrapped data key, nonce, ciphertext.

Shamir comes from PyCryptodome (`Crypto.Protocol.SecretSharing.Shamir`, GF(2^128), a
maintained library with its own test vectors). It shares 16-byte secrets, so the 32-byte
key-encryption key is shared as two halves with the same officer indices; each half is an
independent sharing, so k-1 shares say nothing about either half.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass

from Crypto.Protocol.SecretSharing import Shamir
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

MAGIC = b"EGWSEAL1"
SCHEME = "x25519-hkdf-sha256-aes256gcm/1"
_NONCE = 12
_KEY = 32
_SHARE = re.compile(r"^egw-share-([0-9a-f]{16})-(\d{1,3})-([A-Za-z0-9_-]{43})$")


class SharesRejected(ValueError):
    """The shares given cannot open the call (too few, malformed, or not this call's)."""


class NotSealed(ValueError):
    """The bytes are not a sealed envelope, or not one this key opens."""


@dataclass(frozen=True)
class CallKeys:
    key_id: str  # the first 16 hex digits of SHA-256 over the public key
    public_key: bytes  # raw X25519
    wrapped_key: bytes  # nonce + AES-256-GCM(private key), under the shared key
    shares: list[str]  # one per officer; handed out once, never stored


def key_id(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()[:16]


def _wrap_aad(call_id: str) -> bytes:
    return f"egw-call-key|{call_id}".encode()


def create_call_keys(call_id: str, threshold: int, officers: int) -> CallKeys:
    if not 1 <= threshold <= officers <= 255:
        raise ValueError(
            f"need 1 <= k <= n <= 255 opening officers, got k={threshold} n={officers}"
        )
    private = X25519PrivateKey.generate()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    kid = key_id(public)
    kek = os.urandom(_KEY)
    nonce = os.urandom(_NONCE)
    raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    wrapped = nonce + AESGCM(kek).encrypt(nonce, raw, _wrap_aad(call_id))
    return CallKeys(kid, public, wrapped, _split(kek, threshold, officers, kid))


def _split(secret: bytes, k: int, n: int, kid: str) -> list[str]:
    low = Shamir.split(k, n, secret[:16])
    high = Shamir.split(k, n, secret[16:])  # the same indices 1..n, an independent polynomial
    return [_encode_share(kid, i, a + b) for (i, a), (_, b) in zip(low, high, strict=True)]


def _encode_share(kid: str, index: int, value: bytes) -> str:
    return f"egw-share-{kid}-{index}-{base64.urlsafe_b64encode(value).decode().rstrip('=')}"


def parse_share(text: str, kid: str) -> tuple[int, bytes]:
    m = _SHARE.match(text.strip())
    if m is None:
        raise SharesRejected("a share must look like egw-share-<call key id>-<index>-<secret>")
    if m.group(1) != kid:
        raise SharesRejected(f"share {m.group(2)} belongs to another call (key {m.group(1)})")
    return int(m.group(2)), base64.urlsafe_b64decode(m.group(3) + "=")


def unwrap_private_key(
    call_id: str, kid: str, wrapped: bytes, threshold: int, shares: list[str]
) -> X25519PrivateKey:
    """Rebuild the key-encryption key from `threshold` distinct shares and unwrap the call's
    private key. Raises SharesRejected when that is not possible."""
    parsed: dict[int, bytes] = {}
    for text in shares:
        index, value = parse_share(text, kid)
        parsed[index] = value
    if len(parsed) < threshold:
        raise SharesRejected(
            f"the opening needs {threshold} different officers' shares, got {len(parsed)}"
        )
    chosen = sorted(parsed.items())[:threshold]
    low = Shamir.combine([(i, v[:16]) for i, v in chosen])
    high = Shamir.combine([(i, v[16:]) for i, v in chosen])
    kek = low + high
    nonce, body = wrapped[:_NONCE], wrapped[_NONCE:]
    try:
        raw = AESGCM(kek).decrypt(nonce, body, _wrap_aad(call_id))
    except InvalidTag:
        raise SharesRejected("the shares do not open this call's key") from None
    return X25519PrivateKey.from_private_bytes(raw)


def _kdf(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=_KEY, salt=ephemeral + recipient, info=b"egw-tender/1"
    ).derive(shared)


def seal(payload: bytes, public_key: bytes, aad: bytes) -> bytes:
    """Encrypt `payload` for the holder of the call's private key."""
    data_key = AESGCM.generate_key(bit_length=256)
    ephemeral = X25519PrivateKey.generate()
    eph_pub = ephemeral.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    wrap_key = _kdf(
        ephemeral.exchange(X25519PublicKey.from_public_bytes(public_key)), eph_pub, public_key
    )
    wrap_nonce, nonce = os.urandom(_NONCE), os.urandom(_NONCE)
    wrapped = AESGCM(wrap_key).encrypt(wrap_nonce, data_key, aad)
    body = AESGCM(data_key).encrypt(nonce, payload, aad)
    return MAGIC + eph_pub + wrap_nonce + wrapped + nonce + body


def unseal(envelope: bytes, private_key: X25519PrivateKey, aad: bytes) -> bytes:
    if not envelope.startswith(MAGIC):
        raise NotSealed("not a sealed tender envelope")
    p = len(MAGIC)
    eph_pub, p = envelope[p : p + 32], p + 32
    wrap_nonce, p = envelope[p : p + _NONCE], p + _NONCE
    wrapped, p = envelope[p : p + _KEY + 16], p + _KEY + 16
    nonce, body = envelope[p : p + _NONCE], envelope[p + _NONCE :]
    public = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    try:
        wrap_key = _kdf(
            private_key.exchange(X25519PublicKey.from_public_bytes(eph_pub)), eph_pub, public
        )
        data_key = AESGCM(wrap_key).decrypt(wrap_nonce, wrapped, aad)
        return AESGCM(data_key).decrypt(nonce, body, aad)
    except (InvalidTag, ValueError):
        raise NotSealed("the envelope does not open with this call's key") from None
