"""Byte ranges over spooled temporary files: how message layers are held without memory growth.

Every layer of an AS2 message (the raw body, the decrypted content, the decompressed content,
the payload) lives in a temporary file that stays in memory while small and moves to disk past a
threshold, encrypted there under a key only this process has (`transient.SealedSpool`: a
tender is not sealed before intake, and must not lie on the disk in clear before that). A MIME part is then only a (file, start, end) range, so splitting a multipart,
hashing the signed part or handing the payload on never copies it into memory.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, BinaryIO, cast

from edi_gateway.channels.transient import SealedSpool

CHUNK_SIZE = 1 << 20
DEFAULT_THRESHOLD = 4 << 20  # per layer; a message has up to four layers in flight


@dataclass(frozen=True)
class ByteRange:
    """The bytes [start, end) of a seekable file. Not thread-safe: reads seek the shared file."""

    file: IO[bytes]
    start: int
    end: int

    @classmethod
    def of(cls, data: bytes) -> ByteRange:
        return cls(io.BytesIO(data), 0, len(data))

    @property
    def size(self) -> int:
        return self.end - self.start

    def slice(self, start: int, end: int | None = None) -> ByteRange:
        """A sub-range; offsets are absolute file positions."""
        return ByteRange(self.file, start, self.end if end is None else end)

    def read_at(self, position: int, size: int) -> bytes:
        size = max(0, min(size, self.end - position))
        self.file.seek(position)
        return self.file.read(size)

    def chunks(self, size: int = CHUNK_SIZE) -> Iterator[bytes]:
        position = self.start
        while position < self.end:
            data = self.read_at(position, size)
            if not data:
                raise OSError("spool file is shorter than its range")
            position += len(data)
            yield data

    def read(self) -> bytes:
        """All the bytes at once; for small parts (signatures, MDNs) only."""
        return self.read_at(self.start, self.size)

    def stream(self) -> BinaryIO:
        """A fresh read-only file object over the range."""
        return cast(BinaryIO, _RangeReader(self))


class _RangeReader(io.RawIOBase):
    def __init__(self, source: ByteRange) -> None:
        self._source = source
        self._position = source.start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._source.read_at(self._position, len(buffer))
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self._source.end - self._position
        data = self._source.read_at(self._position, size)
        self._position += len(data)
        return data


class Spools:
    """Creates the temporary files of one message and closes them all together."""

    def __init__(self, threshold: int = DEFAULT_THRESHOLD) -> None:
        self._threshold = threshold
        self._files: list[IO[bytes]] = []

    def new(self) -> IO[bytes]:
        spool = cast(IO[bytes], SealedSpool(self._threshold))
        self._files.append(spool)
        return spool

    def fill(
        self, source: BinaryIO | Iterator[bytes] | Iterable[bytes], limit: int | None = None
    ) -> ByteRange:
        """Copy a stream (or chunks) into a new spool; `limit` bounds the size accepted."""
        spool = self.new()
        size = 0
        # a file object is also an iterator (of lines!): read it in fixed-size chunks instead
        chunks: Iterable[bytes] = (
            iter(lambda: source.read(CHUNK_SIZE), b"") if hasattr(source, "read") else source
        )
        for chunk in chunks:
            size += len(chunk)
            if limit is not None and size > limit:
                raise ValueError(f"message exceeds the size limit of {limit} bytes")
            spool.write(chunk)
        return ByteRange(spool, 0, size)

    def written(self, spool: IO[bytes]) -> ByteRange:
        """The range of everything written so far to a spool from `new()`."""
        spool.flush()
        return ByteRange(spool, 0, spool.tell())

    def close(self) -> None:
        for spool in self._files:
            spool.close()
        self._files.clear()
