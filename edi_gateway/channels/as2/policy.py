"""Who we are and what each trading partner requires: the inputs of receiving and sending."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from cryptography import x509

from edi_gateway.channels.as2.algorithms import Cipher, Digest, KeyTransport, SignaturePadding
from edi_gateway.channels.as2.keys import KeyPair
from edi_gateway.channels.as2.spool import DEFAULT_THRESHOLD


class Compression(enum.Enum):
    """Whether and where outgoing messages are compressed (RFC 5402 allows both orders)."""

    NONE = "none"
    BEFORE_SIGNING = "before-signing"
    AFTER_SIGNING = "after-signing"


@dataclass(frozen=True)
class LocalStation:
    """Our AS2 identity. `keys[0]` signs and is what partners encrypt to; every key decrypts
    (so a partner still using our previous certificate during a rollover is understood)."""

    as2_id: str
    keys: tuple[KeyPair, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("a local AS2 station needs at least one key pair")

    @property
    def signing_key(self) -> KeyPair:
        return self.keys[0]


@dataclass(frozen=True)
class PartnerProfile:
    """A trading partner's AS2 settings, both directions.

    `certificates` holds the partner's current certificate and, during a rollover, the next
    one: signatures verify against either; outgoing messages are encrypted to the first.
    """

    as2_id: str
    certificates: tuple[x509.Certificate, ...]
    require_signature: bool = True
    require_encryption: bool = True
    # outgoing
    url: str | None = None
    sign: bool = True
    encrypt: bool = True
    digest: Digest = Digest.SHA256
    signature_padding: SignaturePadding = SignaturePadding.PKCS1V15
    cipher: Cipher = Cipher.AES256_CBC
    key_transport: KeyTransport = KeyTransport.RSA_PKCS1V15
    compression: Compression = Compression.NONE
    request_mdn: bool = True
    request_signed_mdn: bool = True
    async_mdn_url: str | None = None


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class ReceiverPolicy:
    """Everything `receive` needs besides the request: us, our partners, limits, a clock."""

    local: LocalStation
    partners: Mapping[str, PartnerProfile]
    max_size: int | None = None
    spool_threshold: int = DEFAULT_THRESHOLD
    clock: Callable[[], dt.datetime] = field(default=utc_now)
