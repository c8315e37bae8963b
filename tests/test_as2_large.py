"""Bounded memory: a 500 MB signed+encrypted message through the listener of a gateway
process, with the server's peak RSS under 200 MB (runs bench/as2_large.py, about 40 s)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from tests.support import ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI missing"),
]


def test_500_mb_message_is_received_in_bounded_memory() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "as2_large.py"), "--size-mb", "500"],
        cwd=ROOT, capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    print(done.stdout)
    found = re.search(r"peak (\d+) MB", done.stdout)
    assert found is not None, done.stdout
    assert int(found.group(1)) < 200
    assert "MIC matches" in done.stdout
