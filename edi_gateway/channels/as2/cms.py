"""The CMS operations AS2 needs, in one place to import from.

The work lives in one module per structure: `envelope` (EnvelopedData / AuthEnvelopedData),
`signature` (SignedData, detached or encapsulating), `compression` (CompressedData); `ber` is the streaming reader
they share.
"""

from __future__ import annotations

from edi_gateway.channels.as2.compression import compress, decompress
from edi_gateway.channels.as2.envelope import EnvelopeFacts, decrypt, encrypt
from edi_gateway.channels.as2.signature import (
    SignatureFacts,
    sign_detached,
    sign_stream,
    signature_digest,
    verify_detached,
    verify_opaque,
)

__all__ = [
    "EnvelopeFacts",
    "SignatureFacts",
    "compress",
    "decompress",
    "decrypt",
    "encrypt",
    "sign_detached",
    "sign_stream",
    "signature_digest",
    "verify_detached",
    "verify_opaque",
]
