"""Transient files: what they give back is what was written, at any offset; what lies on the
disk is ciphertext."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edi_gateway.channels.transient import InboxCipher, KeyLost, SealedSpool

MARKER = b"PRICE-MARKER-TRANSIENT-4d2e"


@settings(max_examples=60, deadline=None)
@given(
    chunks=st.lists(st.binary(min_size=0, max_size=300), min_size=1, max_size=12),
    threshold=st.integers(min_value=0, max_value=600),
    reads=st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 700)), max_size=10),
)
def test_a_sealed_spool_reads_back_what_was_written(
    chunks: list[bytes], threshold: int, reads: list[tuple[int, int]]
) -> None:
    spool = SealedSpool(threshold)
    for chunk in chunks:
        spool.write(chunk)
    whole = b"".join(chunks)
    assert spool.tell() == len(whole)
    spool.seek(0)
    assert spool.read() == whole
    for position, size in reads:
        spool.seek(position)
        assert spool.read(size) == whole[position : position + size]
    spool.close()


def test_past_the_threshold_only_ciphertext_reaches_the_disk() -> None:
    spool = SealedSpool(threshold=64)
    spool.write(MARKER * 4)
    spool.write(MARKER * 1000)
    assert spool._fd is not None  # moved to disk
    stored = os.pread(spool._fd, 10**6, 0)
    assert len(stored) == len(MARKER) * 1004 and MARKER not in stored
    spool.seek(len(MARKER) * 3 + 5)
    assert spool.read(len(MARKER)) == (MARKER * 2)[5 : 5 + len(MARKER)]


def test_inbox_files_written_at_any_offset_read_back_in_clear(tmp_path: Path) -> None:
    cipher = InboxCipher()
    path = tmp_path / "upload.part"
    data = MARKER * 300
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    cipher.begin(fd)
    pieces = [(o, data[o : o + 1000]) for o in range(0, len(data), 1000)]
    for offset, piece in reversed(pieces):  # SFTP clients may write out of order
        os.pwrite(fd, cipher.encrypt(fd, offset, piece), offset)
    os.close(fd)
    assert MARKER not in path.read_bytes()
    renamed = path.rename(tmp_path / "upload.json")  # a rename keeps the file's key
    with cipher.open(renamed) as fh:
        assert fh.read() == data
    with pytest.raises(KeyLost):
        InboxCipher().open(renamed)  # another process (a restart) cannot read it
