"""edi-gateway: an EDI message-processing gateway for public procurement."""

__version__ = "0.1.0"
