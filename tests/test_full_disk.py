"""Full disk: with the spool on a small tmpfs, submissions that do not fit get a 503 with
Retry-After and leave no accepted receipt; once space is freed they go through."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from edi_gateway import samples
from edi_gateway.app import Gateway
from edi_gateway.config import load
from edi_gateway.store.tables import Interchange
from tests.conftest import IN_CI, Server
from tests.support import wait_for

MOE = samples.INSTITUTIONS[0]
HANIL = samples.SUPPLIERS[0]


@pytest.fixture
def small_spool(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "spool"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True)
    if result.returncode != 0:
        if IN_CI:
            pytest.fail(f"cannot mount a tmpfs: {result.stderr.decode()}")
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def big_batch(tag: str) -> bytes:
    docs = [samples.order(f"PO-{tag}-{i}", MOE, HANIL, lines=10) for i in range(50)]
    return json.dumps({"documents": docs}).encode()


def test_full_spool_gives_503_and_accepts_nothing_then_recovers(small_spool: Path, tmp_path: Path) -> None:
    directory = tmp_path / "gw"
    creds = samples.write_sample_config(directory, port=0)
    toml = directory / "gateway.toml"
    toml.write_text(toml.read_text().replace('data_dir = "data"', f'data_dir = "data"\nspool_dir = "{small_spool}"'))
    gateway = Gateway(load(toml, f"sqlite:///{tmp_path / 'gw.db'}"))
    payload_size = len(big_batch("x"))
    assert payload_size > 100_000
    filler = small_spool / "filler"
    free = os.statvfs(small_spool).f_bavail * os.statvfs(small_spool).f_frsize
    filler.write_bytes(b"\0" * (free - 3 * payload_size - payload_size // 2))
    headers = {"Authorization": f"Bearer {creds['hanil-office']['api_token']}"}
    with Server(gateway) as srv, httpx.Client(base_url=srv.url, timeout=30, headers=headers) as http:
        answers = [http.post("/api/v1/submissions", content=big_batch(str(i))) for i in range(6)]
        codes = [r.status_code for r in answers]
        assert codes[:3] == [202, 202, 202] and set(codes[3:]) == {503}, codes
        refused = answers[3]
        assert int(refused.headers["retry-after"]) > 0
        assert refused.headers["content-type"] == "application/problem+json"
        assert "nothing was accepted" in refused.json()["detail"]
        with gateway.sessions() as s:
            assert s.scalar(select(func.count()).select_from(Interchange)) == 3
        assert list((small_spool / "tmp").iterdir()) == []  # no half-written leftovers

        filler.unlink()
        retried = [http.post("/api/v1/submissions", content=big_batch(str(i))) for i in range(3, 6)]
        assert [r.status_code for r in retried] == [202, 202, 202]
        for r in retried:
            rid = r.json()["receipt_id"]
            st = wait_for(lambda rid=rid: (lambda j: j if j["terminal"] else None)(
                http.get(f"/api/v1/submissions/{rid}").json()), timeout=30)
            assert st["state"] == "done" and len(st["documents"]) == 50
