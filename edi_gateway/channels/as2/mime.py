"""The MIME layers of an AS2 message, read from byte ranges without loading the parts.

AS2 signs the exact bytes of a MIME part, headers included, so parts are kept as ranges of the
original bytes and never re-serialised. Header fields are parsed with the standard library's
parameter handling (quoting, RFC 2231); everything else here is range arithmetic.
"""

from __future__ import annotations

import binascii
import email.message
import email.utils
import functools
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Union

from edi_gateway.channels.as2.errors import MalformedMessage
from edi_gateway.channels.as2.spool import ByteRange, Spools

MAX_HEADER_BLOCK = 64 << 10
_HEADER_NAME = re.compile(rb"^[!-9;-~]+:")
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")


HeaderInput = Union[Mapping[str, str], Sequence[tuple[str, str]], "Headers"]


class Headers:
    """Header fields in their order, looked up case-insensitively."""

    def __init__(self, fields: Iterable[tuple[str, str]] = ()) -> None:
        self._fields = [(name.strip(), value.strip()) for name, value in fields]

    @classmethod
    def of(cls, headers: HeaderInput) -> Headers:
        if isinstance(headers, Headers):
            return headers
        items = headers.items() if isinstance(headers, Mapping) else headers
        return cls(items)

    def get(self, name: str, default: str | None = None) -> str | None:
        wanted = name.lower()
        for field, value in self._fields:
            if field.lower() == wanted:
                return value
        return default

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def items(self) -> list[tuple[str, str]]:
        return list(self._fields)

    def content_type(self) -> tuple[str, dict[str, str]]:
        """Lower-cased `type/subtype` and parameters (names lower-cased, values unquoted)."""
        return parse_parameters("Content-Type", self.get("Content-Type") or "text/plain")

    def filename(self) -> str | None:
        value = self.get("Content-Disposition")
        if not value:
            return None
        message = email.message.Message()
        message["Content-Disposition"] = value
        name = message.get_filename()
        return name.strip() if name else None

    def transfer_encoding(self) -> str:
        return (self.get("Content-Transfer-Encoding") or "binary").strip().lower()


def parse_parameters(name: str, value: str) -> tuple[str, dict[str, str]]:
    """`type/subtype` (lower-cased) and the parameters of a header value like Content-Type."""
    main, extra = _parse_parameters(name, value)
    return main, dict(extra)  # a copy: the parsed value is shared


@functools.lru_cache(maxsize=1024)
def _parse_parameters(name: str, value: str) -> tuple[str, dict[str, str]]:
    # email.message's parser is thorough (quoting, RFC 2231) and slow, and a message asks for
    # the same few values several times (each layer's content type, its boundary...)
    message = email.message.Message()
    message[name] = value.replace("\r", " ").replace("\n", " ")
    params = message.get_params(header=name) or [(value.split(";")[0], "")]
    main = params[0][0].strip().lower()
    extra: dict[str, str] = {}
    for key, raw in params[1:]:
        extra[key.strip().lower()] = str(email.utils.collapse_rfc2231_value(raw)).strip()
    return main, extra


@dataclass(frozen=True)
class Entity:
    """A MIME entity: its header fields, its whole range (headers and body) and its body."""

    headers: Headers
    whole: ByteRange
    body: ByteRange

    @property
    def content_type(self) -> str:
        return self.headers.content_type()[0]

    @property
    def params(self) -> dict[str, str]:
        return self.headers.content_type()[1]


def parse_entity(source: ByteRange) -> Entity | None:
    """Read the header block at the start of `source`; None when it is not a MIME header block.

    A decrypted or decompressed content is normally a MIME entity, but some senders encrypt the
    bare payload; a header block counts only if every line is a header field and it names a
    Content-Type.
    """
    head = source.read_at(source.start, min(source.size, MAX_HEADER_BLOCK))
    if head.startswith(b"\r\n") or head.startswith(b"\n"):
        return None
    match = _BLANK_LINE.search(head)
    if match is None:
        return None
    fields = _parse_fields(head[: match.start()])
    if fields is None:
        return None
    headers = Headers(fields)
    if "Content-Type" not in headers:
        return None
    return Entity(headers, source, source.slice(source.start + match.end()))


def _parse_fields(block: bytes) -> list[tuple[str, str]] | None:
    fields: list[tuple[str, str]] = []
    for line in re.split(rb"\r?\n", block):
        if line[:1] in (b" ", b"\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, value + " " + line.strip().decode("latin-1"))
            continue
        if not _HEADER_NAME.match(line):
            return None
        raw_name, _, raw_value = line.partition(b":")
        fields.append((raw_name.decode("ascii"), raw_value.strip().decode("latin-1")))
    return fields


def split_multipart(body: ByteRange, boundary: str) -> list[ByteRange]:
    """The body parts of a multipart body, as exact byte ranges (without the delimiter CRLFs)."""
    delimiter = b"--" + boundary.encode("latin-1")
    parts: list[ByteRange] = []
    part_start: int | None = None
    for position in _delimiter_lines(body, delimiter):
        after = position + len(delimiter)
        look = body.read_at(after, 1024)
        if part_start is not None:
            parts.append(body.slice(part_start, position - _newline_before(body, position)))
        if look.startswith(b"--"):
            return parts
        line_end = re.match(rb"[ \t]*\r?\n", look)
        if line_end is None:
            raise MalformedMessage(f"malformed multipart delimiter line at offset {position}")
        part_start = after + line_end.end()
    raise MalformedMessage(f"multipart body lacks its closing delimiter --{boundary}--")


def signed_parts(entity: Entity) -> tuple[Entity, Entity]:
    """The signed part and the signature part of a multipart/signed entity."""
    boundary = entity.params.get("boundary")
    if not boundary:
        raise MalformedMessage("multipart/signed without a boundary")
    parts = split_multipart(entity.body, boundary)
    if len(parts) != 2:
        raise MalformedMessage(f"multipart/signed has {len(parts)} parts, expected 2")
    signed, signature = (parse_entity(part) for part in parts)
    if signed is None or signature is None:
        raise MalformedMessage("multipart/signed part without MIME headers")
    return signed, signature


def _newline_before(body: ByteRange, position: int) -> int:
    if position <= body.start:
        return 0
    before = body.read_at(max(body.start, position - 2), position - max(body.start, position - 2))
    return 2 if before.endswith(b"\r\n") else 1


def _delimiter_lines(body: ByteRange, delimiter: bytes) -> Iterator[int]:
    """Absolute offsets of lines starting with `delimiter`, scanning in chunks."""
    overlap = len(delimiter) + 1
    buffer = b""
    buffer_start = body.start
    last = -1
    for chunk in body.chunks():
        buffer += chunk
        index = buffer.find(delimiter)
        while index >= 0:
            position = buffer_start + index
            at_line_start = position == body.start or (index > 0 and buffer[index - 1] == 0x0A)
            if at_line_start and position > last:
                last = position
                yield position
            index = buffer.find(delimiter, index + 1)
        keep = min(overlap, len(buffer))
        buffer_start += len(buffer) - keep
        buffer = buffer[len(buffer) - keep :]


def decoded_body(entity: Entity, spools: Spools) -> ByteRange:
    """The body with its Content-Transfer-Encoding undone (a new spool unless it is identity)."""
    encoding = entity.headers.transfer_encoding()
    if encoding in ("binary", "7bit", "8bit"):
        return entity.body
    if encoding == "base64":
        spool = spools.new()
        _decode_base64(entity.body.chunks(), spool)
        return spools.written(spool)
    if encoding == "quoted-printable":
        return spools.fill(iter([binascii.a2b_qp(entity.body.read())]))
    raise MalformedMessage(f"unknown Content-Transfer-Encoding {encoding!r}")


def _decode_base64(chunks: Iterable[bytes], sink: IO[bytes]) -> None:
    pending = b""
    try:
        for chunk in chunks:
            pending += b"".join(chunk.split())
            usable = len(pending) - len(pending) % 4
            if usable:
                sink.write(binascii.a2b_base64(pending[:usable]))
                pending = pending[usable:]
        if pending:
            sink.write(binascii.a2b_base64(pending))
    except binascii.Error as exc:
        raise MalformedMessage(f"invalid base64 body: {exc}") from exc


def crlf_canonical(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The chunks with every bare LF turned into CRLF (S/MIME canonical form)."""
    previous_cr = False
    for chunk in chunks:
        if not chunk:
            continue
        if previous_cr and chunk.startswith(b"\n"):
            yield b"\n"
            chunk = chunk[1:]
        yield chunk.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        previous_cr = chunk.endswith(b"\r")


def signed_byte_variants(part: Entity) -> Iterator[Callable[[], Iterator[bytes]]]:
    """Byte sequences a signature over `part` may cover, most faithful first.

    The exact bytes come first. When the part has bare LFs (a sender that did not canonicalise,
    or a store that normalised line ends), two repairs follow: headers in CRLF with the body as
    is (binary payloads are signed unaltered), then everything in CRLF (text canonical form).
    The repairs are only looked for when the caller asks for the next variant.
    """
    yield part.whole.chunks
    if has_bare_lf(part.whole):
        head = part.whole.slice(part.whole.start, part.body.start)
        yield lambda: itertools.chain(crlf_canonical(head.chunks()), part.body.chunks())
        yield lambda: crlf_canonical(part.whole.chunks())


def has_bare_lf(source: ByteRange) -> bool:
    previous_cr = True
    for chunk in source.chunks():
        if chunk.startswith(b"\n") and not previous_cr:
            return True
        lone = chunk.count(b"\n") - chunk.count(b"\r\n") - (chunk.startswith(b"\n"))
        if lone > 0:
            return True
        previous_cr = chunk.endswith(b"\r")
    return False
