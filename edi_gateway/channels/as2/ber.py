"""A forward-only BER reader over a binary stream.

CMS producers (Mendelson, OpenSSL, BouncyCastle) write large structures with indefinite lengths
and chunked (constructed) OCTET STRINGs. asn1crypto parses whole values in memory; this reader
walks the outer structure element by element so the big content octets can be consumed in
chunks, while the small elements (recipient infos, algorithm identifiers) are handed whole to
asn1crypto.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from asn1crypto.core import ObjectIdentifier

from edi_gateway.channels.as2.errors import MalformedMessage

UNIVERSAL = 0
CONTEXT = 2

TAG_INTEGER = 2
TAG_OCTET_STRING = 4
TAG_OID = 6
TAG_SEQUENCE = 16
TAG_SET = 17

CHUNK_SIZE = 1 << 16
MAX_WHOLE_ELEMENT = 16 << 20  # small elements read whole; anything larger is an attack or a bug
MAX_DEPTH = 64  # nesting of constructed elements we follow


@dataclass(frozen=True)
class Header:
    """Identifier and length octets of one element; `length` is None for indefinite length."""

    tag_class: int
    constructed: bool
    number: int
    length: int | None
    raw: bytes

    @property
    def is_end_of_contents(self) -> bool:
        return self.tag_class == UNIVERSAL and self.number == 0 and not self.constructed

    def is_(self, tag_class: int, number: int) -> bool:
        return self.tag_class == tag_class and self.number == number


class BerReader:
    """Reads BER elements from `stream`, never seeking and never reading past what it needs."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.position = 0

    def _read_exact(self, size: int) -> bytes:
        data = self._stream.read(size)
        if data is None or len(data) != size:
            raise MalformedMessage(f"BER data ends early at offset {self.position}")
        self.position += size
        return data

    def read_header(self) -> Header:
        start = self.position
        first = self._read_exact(1)[0]
        raw = bytearray([first])
        number = first & 0x1F
        if number == 0x1F:
            number = 0
            while True:
                byte = self._read_exact(1)[0]
                raw.append(byte)
                number = (number << 7) | (byte & 0x7F)
                if not byte & 0x80:
                    break
        length_byte = self._read_exact(1)[0]
        raw.append(length_byte)
        constructed = bool(first & 0x20)
        length: int | None
        if length_byte < 0x80:
            length = length_byte
        elif length_byte == 0x80:
            if not constructed:
                raise MalformedMessage(f"indefinite length on a primitive element at {start}")
            length = None
        else:
            count = length_byte & 0x7F
            if count > 8:
                raise MalformedMessage(f"length of {count} octets at offset {start}")
            octets = self._read_exact(count)
            raw += octets
            length = int.from_bytes(octets, "big")
        return Header(first >> 6, constructed, number, length, bytes(raw))

    def expect(self, tag_class: int, number: int, what: str) -> Header:
        header = self.read_header()
        if not header.is_(tag_class, number):
            raise MalformedMessage(
                f"expected {what}, found tag class {header.tag_class} number {header.number}"
                f" at offset {self.position - len(header.raw)}"
            )
        return header

    def children(self, header: Header) -> Iterator[Header]:
        """Yield the headers of a constructed element's children; consume each before the next."""
        if header.length is None:
            while True:
                child = self.read_header()
                if child.is_end_of_contents:
                    return
                yield child
        else:
            end = self.position + header.length
            while self.position < end:
                yield self.read_header()
            if self.position != end:
                raise MalformedMessage(f"element overruns its parent at offset {self.position}")

    def read_element(self, header: Header, depth: int = 0) -> bytes:
        """The whole encoding (header and contents) of a small element, for asn1crypto."""
        if depth > MAX_DEPTH:
            raise MalformedMessage(f"BER nesting deeper than {MAX_DEPTH} at {self.position}")
        if header.length is not None:
            if header.length > MAX_WHOLE_ELEMENT:
                raise MalformedMessage(f"element of {header.length} octets is too large here")
            return header.raw + self._read_exact(header.length)
        parts = [header.raw]
        size = 0
        for child in self.children(header):
            part = self.read_element(child, depth + 1)
            size += len(part)
            if size > MAX_WHOLE_ELEMENT:
                raise MalformedMessage("indefinite-length element is too large here")
            parts.append(part)
        parts.append(b"\x00\x00")
        return b"".join(parts)

    def skip(self, header: Header) -> None:
        for _ in self.iter_octets(header):
            pass

    def iter_octets(self, header: Header, depth: int = 0) -> Iterator[bytes]:
        """Content octets of an OCTET STRING (primitive or chunked), in pieces."""
        if depth > MAX_DEPTH:
            raise MalformedMessage(f"BER nesting deeper than {MAX_DEPTH} at {self.position}")
        if not header.constructed:
            remaining = header.length or 0
            while remaining:
                piece = self._read_exact(min(remaining, CHUNK_SIZE))
                remaining -= len(piece)
                yield piece
            return
        for child in self.children(header):
            yield from self.iter_octets(child, depth + 1)


def next_child(children: Iterator[Header], what: str) -> Header:
    header = next(children, None)
    if header is None:
        raise MalformedMessage(f"ASN.1 structure ends before {what}")
    return header


def read_oid(reader: BerReader, header: Header) -> str:
    if not header.is_(UNIVERSAL, TAG_OID):
        raise MalformedMessage(f"expected an object identifier at offset {reader.position}")
    return str(ObjectIdentifier.load(reader.read_element(header)).dotted)


def drain(reader: BerReader, children: Iterator[Header]) -> None:
    """Skip the remaining children (trailing optional fields, end-of-contents octets)."""
    for header in children:
        reader.skip(header)


def encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets
