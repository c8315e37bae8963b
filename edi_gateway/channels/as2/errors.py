"""The few exceptions the AS2 protocol core raises; each maps onto one MDN disposition modifier."""

from __future__ import annotations


class As2Error(Exception):
    """Base class of everything this package raises on bad input."""


class MalformedMessage(As2Error):
    """The MIME or ASN.1 structure is not what AS2 prescribes."""


class UnsupportedAlgorithm(As2Error):
    """A cipher, digest, key transport or compression algorithm we do not implement."""


class DecryptionFailed(As2Error):
    """No key of ours opens the envelope, or the content does not decrypt cleanly."""


class DecompressionFailed(As2Error):
    """The compressed content is not valid zlib data."""


class IntegrityCheckFailed(As2Error):
    """The signed content does not match its signature (it was altered)."""


class AuthenticationFailed(As2Error):
    """The signer is not a certificate we trust for this partner, or it is not valid now."""


class InsufficientSecurity(As2Error):
    """The message lacks a signature or encryption that the partner's policy requires."""
