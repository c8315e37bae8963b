"""CMS CompressedData (RFC 3274, used by AS2 per RFC 5402): zlib, streamed both ways."""

from __future__ import annotations

import zlib
from typing import IO, BinaryIO

from asn1crypto import cms as asn1_cms

from edi_gateway.channels.as2.algorithms import OID_COMPRESSED_DATA, OID_ZLIB
from edi_gateway.channels.as2.ber import (
    CONTEXT,
    TAG_OID,
    TAG_SEQUENCE,
    UNIVERSAL,
    BerReader,
    drain,
    next_child,
    read_oid,
)
from edi_gateway.channels.as2.errors import (
    DecompressionFailed,
    MalformedMessage,
    UnsupportedAlgorithm,
)

MAX_RATIO = 1000  # decompressed/compressed: beyond this it is a zip bomb, not an EDI file
RATIO_FLOOR = 64 << 20  # small inputs may legitimately compress very well


def decompress(source: BinaryIO, sink: IO[bytes]) -> int:
    """Inflate the CompressedData read from `source` into `sink`; returns the inflated size."""
    reader = BerReader(source)
    outer = reader.expect(UNIVERSAL, TAG_SEQUENCE, "ContentInfo")
    items = reader.children(outer)
    if read_oid(reader, next_child(items, "contentType")) != OID_COMPRESSED_DATA:
        raise MalformedMessage("expected CMS compressed data")
    wrapper = next_child(items, "content")
    inside = reader.children(wrapper)
    compressed = next_child(inside, "CompressedData")
    fields = reader.children(compressed)
    reader.read_element(next_child(fields, "version"))
    algorithm = reader.read_element(next_child(fields, "compressionAlgorithm"))
    oid = asn1_cms.CompressionAlgorithm.load(algorithm)["algorithm"].dotted
    if oid != OID_ZLIB:
        raise UnsupportedAlgorithm(f"unsupported compression algorithm {oid}")
    encapsulated = reader.expect(UNIVERSAL, TAG_SEQUENCE, "encapContentInfo")
    content_fields = reader.children(encapsulated)
    header = next_child(content_fields, "eContentType")
    if not header.is_(UNIVERSAL, TAG_OID):
        raise MalformedMessage("encapContentInfo lacks its content type")
    reader.read_element(header)
    explicit = next_child(content_fields, "eContent")
    if not explicit.is_(CONTEXT, 0):
        raise MalformedMessage("compressed data has no content")
    octets = next_child(reader.children(explicit), "eContent octets")
    inflater = zlib.decompressobj()
    consumed = produced = 0
    try:
        for chunk in reader.iter_octets(octets):
            consumed += len(chunk)
            # bounded output per call keeps a zip bomb from ballooning in memory
            data = inflater.decompress(chunk, 1 << 20)
            while True:
                produced += len(data)
                if produced > RATIO_FLOOR and produced > consumed * MAX_RATIO:
                    raise DecompressionFailed("compression ratio is implausibly high")
                sink.write(data)
                if not inflater.unconsumed_tail:
                    break
                data = inflater.decompress(inflater.unconsumed_tail, 1 << 20)
        tail = inflater.flush()
    except zlib.error as exc:
        raise DecompressionFailed(f"invalid zlib data: {exc}") from exc
    if not inflater.eof:
        raise DecompressionFailed("the zlib stream is truncated")
    sink.write(tail)
    produced += len(tail)
    drain(reader, content_fields)
    drain(reader, fields)
    drain(reader, inside)
    drain(reader, items)
    return produced


def compress(content: bytes) -> bytes:
    """A DER ContentInfo(CompressedData) holding `content` deflated with zlib."""
    compressed = asn1_cms.CompressedData(
        {
            "version": "v0",
            "compression_algorithm": {"algorithm": "zlib"},
            "encap_content_info": {"content_type": "data", "content": zlib.compress(content)},
        }
    )
    return bytes(
        asn1_cms.ContentInfo({"content_type": "compressed_data", "content": compressed}).dump()
    )
