"""Crash test: a client floods submissions, the server is killed with SIGKILL at a random
moment (during intake, then during processing), restarted, and nothing that got a 202 is lost
or processed twice."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from edi_gateway import samples
from tests.conftest import free_port
from tests.support import wait_for

pytestmark = pytest.mark.slow

TOTAL = 2000
MOE = samples.INSTITUTIONS[0]
HANIL = samples.SUPPLIERS[0]


class GatewayProcess:
    """`edi-gateway serve` in a process of its own, so it can be killed for real."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config = config
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "edi_gateway.cli", "-c", str(self.config), "serve", "--port", str(self.port)],
                stdout=out, stderr=out, env={**os.environ, "EDI_GATEWAY_LOG_LEVEL": "info"},
            )
        wait_for(self._healthy, timeout=60)

    def _healthy(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, self.log.read_text()[-3000:]
        try:
            return httpx.get(self.url + "/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        """SIGTERM is a graceful stop: the process finishes what it holds and exits 0."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            # uvicorn re-raises SIGTERM after its graceful shutdown, hence -15
            assert self.proc.wait(60) in (0, -signal.SIGTERM), self.log.read_text()[-3000:]
            assert b'"gateway.stopped"' in self.log.read_bytes()


def documents(n: int) -> Iterator[tuple[str, bytes]]:
    for i in range(n):
        number = f"PO-CRASH-{i:05d}"
        yield number, json.dumps(samples.order(number, MOE, HANIL, lines=2)).encode()


def flood(url: str, token: str, todo: list[tuple[str, bytes]], accepted: dict[str, str],
          kill_after: int | None = None, on_kill: threading.Event | None = None) -> None:
    """Send every document of `todo` with 8 threads; record each 202 (number -> receipt).
    A document whose request failed stays to be sent again (as a real client would)."""
    lock = threading.Lock()
    pending = list(todo)

    def run() -> None:
        with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as client:
            while True:
                with lock:
                    if not pending or (on_kill is not None and on_kill.is_set()):
                        return
                    number, body = pending.pop()
                try:
                    r = client.post("/api/v1/submissions", content=body)
                except httpx.HTTPError:
                    return  # the server is gone
                if r.status_code == 202:
                    with lock:
                        accepted[number] = r.json()["receipt_id"]
                        if kill_after is not None and on_kill is not None and len(accepted) >= kill_after:
                            on_kill.set()

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def verify(db_url: str, accepted: dict[str, str]) -> None:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        states = dict(conn.execute(text("SELECT id, state FROM interchanges")).all())
        bodies = conn.execute(text("SELECT body FROM queue_items")).scalars().all()
        items = Counter((json.loads(b) if isinstance(b, str) else b)["document"]["id"] for b in bodies)
        terminal_events = Counter(conn.execute(text(
            "SELECT interchange_id FROM events WHERE type IN ('done', 'rejected', 'duplicate', 'dead')")).scalars())
    missing = [n for n, rid in accepted.items() if rid not in states]
    assert missing == [], f"{len(missing)} accepted receipts are missing"
    unfinished = {rid: st for rid, st in states.items() if st not in ("done", "duplicate")}
    assert unfinished == {}, f"not finished (or not done): {list(unfinished.items())[:5]}"
    assert all(n == 1 for n in terminal_events.values()), "an interchange has more than one outcome"
    assert set(terminal_events) == set(states)
    assert len(accepted) == TOTAL
    assert set(items) == set(accepted), "a valid document has no queue item"
    assert max(items.values()) == 1, "a document was queued twice"
    engine.dispose()


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, dict, str]:
    directory = tmp_path / "gw"
    creds = samples.write_sample_config(directory, port=0)
    return directory / "gateway.toml", creds, f"sqlite:///{directory / 'data' / 'gateway.db'}"


def set_worker_threads(config: Path, threads: int) -> None:
    config.write_text(re.sub(r"(?m)^threads = \d+", f"threads = {threads}", config.read_text()))


def test_sigkill_during_intake_loses_nothing(setup, tmp_path: Path) -> None:
    config, creds, db_url = setup
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    kill_after = rng.randrange(TOTAL // 10, TOTAL * 7 // 10)
    print(f"seed={seed} kill after {kill_after} accepted")
    gw = GatewayProcess(config, tmp_path / "server.log")
    todo = list(documents(TOTAL))
    accepted: dict[str, str] = {}
    killed = threading.Event()
    gw.start()
    killer = threading.Thread(target=lambda: (killed.wait(120), gw.kill()))
    killer.start()
    flood(gw.url, creds["hanil-office"]["api_token"], todo, accepted, kill_after, killed)
    killed.set()
    killer.join()
    assert kill_after <= len(accepted) < TOTAL
    gw.start()
    try:
        flood(gw.url, creds["hanil-office"]["api_token"], [d for d in todo if d[0] not in accepted], accepted)
        wait_all_terminal(db_url)
    finally:
        gw.stop()
    verify(db_url, accepted)


def test_sigkill_during_processing_loses_nothing_and_queues_once(setup, tmp_path: Path) -> None:
    config, creds, db_url = setup
    gw = GatewayProcess(config, tmp_path / "server.log")
    set_worker_threads(config, 0)  # accept everything first, process nothing
    gw.start()
    accepted: dict[str, str] = {}
    flood(gw.url, creds["hanil-office"]["api_token"], list(documents(TOTAL)), accepted)
    gw.stop()
    assert len(accepted) == TOTAL
    set_worker_threads(config, 1)
    rng = random.Random()
    target = rng.randrange(TOTAL // 10, TOTAL // 2)
    print(f"kill after about {target} finished")
    gw.start()
    engine = create_engine(db_url)
    wait_for(lambda: finished(engine) >= target, timeout=120, interval=0.005)
    gw.kill()
    done_before = finished(engine)
    assert done_before < TOTAL, "the kill came too late to test anything"
    gw.start()
    try:
        wait_all_terminal(db_url)
    finally:
        gw.stop()
    engine.dispose()
    verify(db_url, accepted)


def finished(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM interchanges WHERE state <> 'received' AND state <> 'processing'")).scalar_one())


def wait_all_terminal(db_url: str) -> None:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        def idle() -> bool:
            return not conn.execute(text(
                "SELECT 1 FROM interchanges WHERE state IN ('received', 'processing') LIMIT 1")).first()
        wait_for(idle, timeout=240, interval=0.2)
    engine.dispose()

