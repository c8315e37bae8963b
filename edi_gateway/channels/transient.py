"""Data in transit on the disk, encrypted so that only this process can read it.

A tender is sealed at intake; before that it passes through a channel, and a channel may hold
it on the disk: an upload waiting in an SFTP inbox, or an AS2 message too large to keep in
memory while it is decrypted and verified. So that no one with the disk can read it there,
such files are written through AES-256-CTR under keys that live only in this process's memory
(CTR allows the random-offset reads and writes both need). A crash loses the keys, which leaves
only data that was never taken in: the sender sends it again.

- `InboxCipher`: SFTP inbox files, one key per channel and a fresh nonce per file,
  remembered by the file's inode (a rename keeps it).
- `SealedSpool`: a temporary file that stays in memory while small and moves to disk,
  encrypted under a key of its own, past a threshold (`tempfile.SpooledTemporaryFile`
  would write it in clear).

`cryptography` does the cipher; this module only keeps keys, nonces and offsets.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

BLOCK = 16


def _keystream(key: bytes, nonce: bytes, offset: int) -> CipherContext:
    """AES-CTR positioned at the block holding `offset` (feed `offset % BLOCK` bytes first)."""
    counter = nonce + (offset // BLOCK).to_bytes(8, "big")
    return Cipher(algorithms.AES(key), modes.CTR(counter)).encryptor()


def _xor_at(key: bytes, nonce: bytes, offset: int, data: bytes) -> bytes:
    """`data` en- or decrypted as it stands at `offset`."""
    skip = offset % BLOCK
    return _keystream(key, nonce, offset - skip).update(bytes(skip) + data)[skip:]


class KeyLost(Exception):
    """The file was written under a key this process does not have (it restarted)."""


class InboxCipher:
    def __init__(self) -> None:
        self._key = os.urandom(32)
        self._nonces: dict[int, bytes] = {}
        self._lock = threading.Lock()

    def begin(self, fd: int) -> None:
        """A file was (re)created empty at `fd`: it gets a nonce of its own."""
        with self._lock:
            self._nonces[os.fstat(fd).st_ino] = os.urandom(8)

    def encrypt(self, fd: int, offset: int, data: bytes) -> bytes:
        """`data` as it is written at `offset` of the file open at `fd`."""
        with self._lock:
            nonce = self._nonces.get(os.fstat(fd).st_ino)
        if nonce is None:
            raise KeyLost("the file was not opened through this inbox")
        return _xor_at(self._key, nonce, offset, data)

    def open(self, path: Path) -> io.BufferedReader:
        """The plaintext of the file at `path`, streamed; raises `KeyLost` for a file that
        this process did not write."""
        raw = path.open("rb", buffering=0)
        with self._lock:
            nonce = self._nonces.get(os.fstat(raw.fileno()).st_ino)
        if nonce is None:
            raw.close()
            raise KeyLost("the upload was written before the gateway restarted")
        return io.BufferedReader(_Decrypting(raw, _keystream(self._key, nonce, 0)))

    def forget(self, path: Path) -> None:
        """Before `path` is removed: its nonce is not needed any more."""
        try:
            ino = path.stat().st_ino
        except OSError:
            return
        with self._lock:
            self._nonces.pop(ino, None)


class _Decrypting(io.RawIOBase):
    def __init__(self, raw: io.FileIO, stream: CipherContext) -> None:
        self._raw, self._stream = raw, stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        if not data:
            return 0
        plain = self._stream.update(data)
        buffer[: len(plain)] = plain
        return len(plain)

    def close(self) -> None:
        self._raw.close()
        super().close()


class SealedSpool(io.RawIOBase):
    """A seekable read/write temporary file: in memory up to `threshold` bytes, then an
    (unlinked) temporary file holding only ciphertext."""

    def __init__(self, threshold: int) -> None:
        self._threshold = threshold
        self._memory: io.BytesIO | None = io.BytesIO()
        self._fd: int | None = None
        self._key = self._nonce = b""  # made when it moves to disk
        self._position = 0
        self._size = 0

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        data = bytes(data)
        end = self._position + len(data)
        if self._memory is not None and end > self._threshold:
            self._to_disk()
        if self._memory is not None:
            self._memory.seek(self._position)
            self._memory.write(data)
        else:
            assert self._fd is not None
            os.pwrite(
                self._fd, _xor_at(self._key, self._nonce, self._position, data), self._position
            )
        self._position = end
        self._size = max(self._size, end)
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = self._size - self._position
        size = max(0, min(size, self._size - self._position))
        if self._memory is not None:
            self._memory.seek(self._position)
            data = self._memory.read(size)
        else:
            assert self._fd is not None
            stored = os.pread(self._fd, size, self._position)
            data = _xor_at(self._key, self._nonce, self._position, stored)
        self._position += len(data)
        return data

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        return self._position

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._memory = None
        super().close()

    def _to_disk(self) -> None:
        assert self._memory is not None
        self._key, self._nonce = os.urandom(32), os.urandom(8)
        handle, name = tempfile.mkstemp(prefix="edigw-")
        os.unlink(name)  # nothing to find or clean up: it goes with the descriptor
        self._fd = handle
        held = self._memory.getvalue()
        if held:
            os.pwrite(handle, _xor_at(self._key, self._nonce, 0, held), 0)
        self._memory = None
