"""Small things the tendering modules share."""

from __future__ import annotations

import json
from typing import Any


class UnknownCall(LookupError):
    """No call for tenders has this procedure id."""


class TenderingRefused(ValueError):
    """A request the rules of the call do not allow (too late, not yours, malformed)."""


class DeadlinePassed(TenderingRefused):
    """The submission deadline of the call has passed."""


def canonical_json(value: Any) -> bytes:
    """One byte string per value: sorted keys, no spaces, UTF-8 (what gets signed)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def still_sealed(origin: dict[str, Any] | None, raw_sha256: str) -> bool:
    """True while an interchange's spooled bytes are a sealed envelope (before its opening,
    or for good when it was late, replaced or withdrawn). Views that show raw content (the
    dashboard's raw view and download) should refuse these instead of showing ciphertext."""
    if not origin or not origin.get("sealed"):
        return False
    return bool(origin.get("plaintext_sha256") != raw_sha256)
