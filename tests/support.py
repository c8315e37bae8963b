"""Paths and small helpers shared by the tests."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
SHARED = (ROOT / ".." / "shared").resolve()

T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float = 30.0, interval: float = 0.02) -> T:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {condition}")
        time.sleep(interval)


def open_call_and_tender(gateway: Any, procedure: str, marker: str, pad: int = 0) -> bytes:
    """Register a call of the first sample institution that is open for the next hour (2 of
    2 officers, shares discarded), and return a JSON tender of the first sample supplier for
    it, carrying `marker` (repeated `pad` more times) in its notes."""
    from edi_gateway import samples
    from edi_gateway.tendering import calls
    from edi_gateway.tendering.wiring import tendering_of

    t = tendering_of(gateway)
    now = dt.datetime.now(dt.UTC)
    spec = calls.CallSpec(
        procedure_id=procedure,
        institution_id=samples.INSTITUTIONS[0].id,
        deadline=now + dt.timedelta(hours=1),
        opening_at=now + dt.timedelta(hours=2),
        officers=["kim", "lee"],
        threshold=2,
    )
    calls.register_call(t.sessions, t.clock, spec, "test")
    tender = samples.tender(
        f"TND-{procedure}", samples.INSTITUTIONS[0], samples.SUPPLIERS[0], procedure
    )
    tender["notes"] = [" ".join([marker] * (pad + 1))]
    return json.dumps(tender).encode()
