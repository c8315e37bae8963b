"""AS2 (RFC 4130) protocol core: S/MIME layers, MDNs, receiving and sending, with no transport.

The listener and the outbox use this surface; the modules underneath are one concern each
(`envelope`, `signature`, `compression` for CMS; `mime`, `mdn`, `receiver`, `sender`).
"""

from edi_gateway.channels.as2.algorithms import Cipher, Digest, KeyTransport, SignaturePadding
from edi_gateway.channels.as2.keys import KeyPair
from edi_gateway.channels.as2.mdn import Disposition, Mdn, MdnReport, read_mdn
from edi_gateway.channels.as2.mic import Mic
from edi_gateway.channels.as2.policy import (
    Compression,
    LocalStation,
    PartnerProfile,
    ReceiverPolicy,
)
from edi_gateway.channels.as2.receiver import Received, SecurityFacts, build_mdn, receive
from edi_gateway.channels.as2.sender import (
    MdnOutcome,
    OutgoingMessage,
    SentRecord,
    build_message,
    verify_mdn,
)

__all__ = [
    "Cipher",
    "Compression",
    "Digest",
    "Disposition",
    "KeyPair",
    "KeyTransport",
    "LocalStation",
    "Mdn",
    "MdnOutcome",
    "MdnReport",
    "Mic",
    "OutgoingMessage",
    "PartnerProfile",
    "Received",
    "ReceiverPolicy",
    "SecurityFacts",
    "SentRecord",
    "SignaturePadding",
    "build_mdn",
    "build_message",
    "read_mdn",
    "receive",
    "verify_mdn",
]
