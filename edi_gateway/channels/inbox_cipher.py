"""Uploads waiting in an SFTP inbox lie on the disk encrypted, under a key that lives only in
this process's memory.

A tender is sealed at intake; while its partner is still uploading it (or has uploaded it
under a temporary name and not yet renamed it) it is a file in the inbox. So that no one with
the disk can read it there, every inbox file is written through AES-256-CTR: a key made when
the channel starts, a fresh nonce per file, remembered by the file's inode (a rename keeps it).
CTR allows the random-offset writes SFTP makes. A gateway restart loses the key, which leaves
only files that were never taken: the client is told to send them again.

`cryptography` does the cipher; this module only keeps the nonces and the offsets.
"""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

BLOCK = 16


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
        skip = offset % BLOCK
        return _keystream(self._key, nonce, offset - skip).update(bytes(skip) + data)[skip:]

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


def _keystream(key: bytes, nonce: bytes, offset: int) -> CipherContext:
    counter = nonce + (offset // BLOCK).to_bytes(8, "big")
    return Cipher(algorithms.AES(key), modes.CTR(counter)).encryptor()


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
