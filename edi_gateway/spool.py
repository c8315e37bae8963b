"""Content-addressed store of raw payloads, exactly as received.

A payload is streamed to a temporary file while its SHA-256 is computed and fsynced by the
thread that received it, so concurrent submissions sync in parallel (the filesystem journal
folds concurrent syncs into one commit). The committer then renames a whole batch to
`<spool>/<first two hex digits>/<sha256>` and fsyncs the touched directories once each.
(`syncfs` would flush a batch with one call, but it flushes everything dirty on the
filesystem, which on a shared disk measured slower than parallel fdatasync.) Nothing here
knows about the database; intake orders the two.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024


class SpoolFull(OSError):
    """The spool could not take the payload (disk full, quota, read-only)."""


@dataclass
class Staged:
    """A payload written to a temporary file, not yet durable."""

    temp: Path
    sha256: str
    size: int


class Spool:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        _fsync_dir(root)
        self._pool = ThreadPoolExecutor(8, thread_name_prefix="spool-sync")

    # -- writing ---------------------------------------------------------------------------

    def stage(
        self, payload: bytes | BinaryIO | Iterable[bytes], max_bytes: int | None = None
    ) -> Staged:
        """Write `payload` to a temporary file, hashing it. Raises SpoolFull on ENOSPC and
        ValueError when it is larger than `max_bytes`."""
        temp = self.tmp / f"{secrets.token_hex(12)}.part"
        digest = hashlib.sha256()
        size = 0
        try:
            with open(temp, "wb") as fh:
                for chunk in _chunks(payload):
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise ValueError(f"payload larger than {max_bytes} bytes")
                    digest.update(chunk)
                    fh.write(chunk)
                fh.flush()
                os.fdatasync(fh.fileno())
        except BaseException as exc:
            temp.unlink(missing_ok=True)
            if isinstance(exc, OSError) and not isinstance(exc, SpoolFull):
                raise SpoolFull(exc.errno, f"spool write failed: {exc.strerror}") from exc
            raise
        return Staged(temp, digest.hexdigest(), size)

    def commit(self, staged: list[Staged]) -> None:
        """Move fsynced staged files to their content address and make the renames durable."""
        if not staged:
            return
        try:
            dirs = set()
            for s in staged:
                final = self.path(s.sha256)
                if final.exists():  # the same content is already durable
                    s.temp.unlink(missing_ok=True)
                    continue
                final.parent.mkdir(exist_ok=True)
                os.replace(s.temp, final)
                dirs.add(final.parent)
            if len(dirs) > 1:
                list(self._pool.map(_fsync_dir, dirs))
            else:
                for d in dirs:
                    _fsync_dir(d)
        except OSError as exc:
            raise SpoolFull(exc.errno, f"spool commit failed: {exc.strerror}") from exc

    def discard(self, staged: Staged) -> None:
        staged.temp.unlink(missing_ok=True)

    # -- reading ---------------------------------------------------------------------------

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def open(self, sha256: str) -> BinaryIO:
        return open(self.path(sha256), "rb")

    def read(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def clean_temp(self, older_than_seconds: float = 600) -> int:
        """Remove temporary files a crashed run left behind (never acknowledged). Young files
        may belong to another process writing right now, so they stay."""
        removed = 0
        limit = time.time() - older_than_seconds
        for p in self.tmp.glob("*.part"):
            with contextlib.suppress(FileNotFoundError):
                if p.stat().st_mtime < limit:
                    p.unlink()
                    removed += 1
        return removed


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _chunks(payload: bytes | BinaryIO | Iterable[bytes]) -> Iterable[bytes]:
    if isinstance(payload, bytes | bytearray | memoryview):
        yield bytes(payload)
    elif hasattr(payload, "read"):
        while chunk := payload.read(CHUNK):
            yield chunk
    else:
        yield from payload
