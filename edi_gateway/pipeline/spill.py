"""Rows waiting for the worker's transaction, kept in memory while few and on disk after.

A 20,000-message interchange yields 20,000 documents; holding their rows in memory would make
memory grow with interchange size, and writing them as they come would hold the store's
write lock for the whole processing time. So rows go here first, in batches (one pickle per
batch, not per row: that is what makes it cheap), and are inserted in chunks inside one
short transaction.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Iterator
from typing import Any

BATCH = 1000  # rows held in memory before a batch goes to the file


class Spill:
    def __init__(self) -> None:
        self._file: Any = None  # created on the first full batch: most interchanges are small
        self._batches = 0
        self._pending: dict[str, list[dict[str, Any]]] = {}
        self._pending_rows = 0

    def add(self, table: str, row: dict[str, Any]) -> None:
        self._pending.setdefault(table, []).append(row)
        self._pending_rows += 1
        if self._pending_rows >= BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._file is None:
            self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        pickle.dump(self._pending, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self._batches += 1
        self._pending, self._pending_rows = {}, 0

    def chunks(self) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """Rows grouped by table, a batch at a time, in the order they came."""
        if self._file is not None:
            self._file.seek(0)
            for _ in range(self._batches):
                yield from pickle.load(self._file).items()
        yield from ((t, rows) for t, rows in self._pending.items() if rows)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
