"""Identifiers for interchanges, documents and receipts.

Sortable by creation time (so keyset pagination and B-tree inserts stay cheap) and
unguessable (so a receipt id is no capability leak). Same layout as a ULID: 48 bits of
milliseconds and 80 random bits in Crockford base32. Written here because it is ten lines;
a dependency for it would cost more than it saves.
"""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(now_ms: int | None = None) -> str:
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))
