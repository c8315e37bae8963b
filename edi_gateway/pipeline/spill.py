"""Rows waiting for the worker's transaction, kept in memory while small and on disk after.

A 20,000-message interchange yields 20,000 documents; holding their rows in memory would make
memory grow with interchange size, and writing them as they come would hold the store's
write lock for the whole processing time. So rows go here first and are inserted in chunks
inside one short transaction.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Iterator
from typing import Any

MEMORY_LIMIT = 8 * 1024 * 1024


class Spill:
    def __init__(self) -> None:
        self._file = tempfile.SpooledTemporaryFile(max_size=MEMORY_LIMIT)  # noqa: SIM115
        self.count = 0

    def add(self, table: str, row: dict[str, Any]) -> None:
        pickle.dump((table, row), self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self.count += 1

    def chunks(self, size: int = 500) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """Rows grouped by table, at most `size` at a time, in the order they came."""
        self._file.seek(0)
        pending: dict[str, list[dict[str, Any]]] = {}
        for _ in range(self.count):
            table, row = pickle.load(self._file)
            rows = pending.setdefault(table, [])
            rows.append(row)
            if len(rows) >= size:
                yield table, rows
                pending[table] = []
        for table, rows in pending.items():
            if rows:
                yield table, rows

    def close(self) -> None:
        self._file.close()
