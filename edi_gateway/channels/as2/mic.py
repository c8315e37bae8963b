"""The Message Integrity Check of RFC 4130 §7.3.1: a digest of what the receiver received."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from edi_gateway.channels.as2.algorithms import Digest
from edi_gateway.channels.as2.errors import MalformedMessage


@dataclass(frozen=True)
class Mic:
    """A digest and the algorithm that produced it, as in `Received-Content-MIC: <b64>, sha-256`."""

    digest: Digest
    value: bytes

    @classmethod
    def compute(cls, chunks: Iterable[bytes], digest: Digest) -> Mic:
        hasher = digest.new()
        for chunk in chunks:
            hasher.update(chunk)
        return cls(digest, hasher.finalize())

    @classmethod
    def parse(cls, text: str) -> Mic:
        encoded, separator, name = text.rpartition(",")
        if not separator:
            raise MalformedMessage(f"Received-Content-MIC without an algorithm: {text!r}")
        try:
            value = base64.b64decode("".join(encoded.split()), validate=True)
        except binascii.Error as exc:
            raise MalformedMessage(f"Received-Content-MIC is not base64: {text!r}") from exc
        return cls(Digest.from_name(name), value)

    def header_value(self) -> str:
        return f"{base64.b64encode(self.value).decode('ascii')}, {self.digest.micalg}"

    def matches(self, other: Mic) -> bool:
        return self.digest is other.digest and hmac.compare_digest(self.value, other.value)

    def __str__(self) -> str:
        return self.header_value()
