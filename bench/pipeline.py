"""Pipeline benchmark: canonical JSON orders over HTTP into a real gateway process.

Prints accepted/s (HTTP 202s), processed/s (interchanges finished by the worker), the p50/p95
latency from intake commit to queue item, and, measured in the same run on the same disk,
the machine's raw rate of write+fsync+rename(+directory fsync) for files of the same size,
with the ratio between the two.

    python bench/pipeline.py [--count 5000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edi_gateway import samples  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raw_fsync_rate(directory: Path, size: int, count: int = 1000) -> float:
    """Files per second for the naive durable write: temp file, fsync, rename, fsync dir."""
    directory.mkdir(parents=True, exist_ok=True)
    data = os.urandom(size)
    start = time.perf_counter()
    for i in range(count):
        tmp = directory / f"{i}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, data)
        os.fsync(fd)
        os.close(fd)
        os.rename(tmp, directory / f"{i}")
        dfd = os.open(directory, os.O_RDONLY)
        os.fsync(dfd)
        os.close(dfd)
    return count / (time.perf_counter() - start)


def post_all(port: int, token: str, bodies: list[bytes], concurrency: int) -> tuple[float, int]:
    """Send all bodies with `concurrency` keep-alive connections; return (seconds, 202 count)."""
    lock = threading.Lock()
    pending = list(reversed(bodies))
    accepted = [0]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def run() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if not pending:
                    break
                body = pending.pop()
            conn.request("POST", "/api/v1/submissions", body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status == 202:
                with lock:
                    accepted[0] += 1
        conn.close()

    threads = [threading.Thread(target=run) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, accepted[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--worker-processes", type=int, default=1)
    ap.add_argument("--intake-only", action="store_true", help="run no worker: measure intake alone")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="edigw-bench-", dir=ROOT / "spool" if (ROOT / "spool").is_dir() else None))
    creds = samples.write_sample_config(work / "gw", port=0)
    toml = work / "gw" / "gateway.toml"
    # the HTTP listener and intake in the gateway process, the pipeline in a worker process
    toml.write_text(toml.read_text().replace("threads = 1", "threads = 0").replace(
        "processes = 0", f"processes = {0 if args.intake_only else args.worker_processes}"))
    moe, hanil = samples.INSTITUTIONS[0], samples.SUPPLIERS[0]
    bodies = [json.dumps(samples.order(f"PO-BENCH-{i:06d}", moe, hanil)).encode() for i in range(args.count)]
    size = sum(map(len, bodies)) // len(bodies)

    raw = raw_fsync_rate(work / "raw", size)
    port = free_port()
    env = {**os.environ, "EDI_GATEWAY_LOG_LEVEL": "warning"}
    server = subprocess.Popen([sys.executable, "-m", "edi_gateway.cli", "-c", str(work / "gw" / "gateway.toml"),
                               "serve", "--port", str(port)], env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the gateway did not start")
            time.sleep(0.1)
        seconds, accepted = post_all(port, creds["hanil-office"]["api_token"], bodies, args.concurrency)
        engine = create_engine(f"sqlite:///{work / 'gw' / 'data' / 'gateway.db'}")
        with engine.connect() as conn:
            while not args.intake_only and conn.execute(text(
                    "SELECT count(*) FROM interchanges WHERE state IN ('received','processing')")).scalar_one():
                time.sleep(0.1)
            first, last = conn.execute(text("SELECT min(received_at), max(finished_at) FROM interchanges")).one()
            lat = conn.execute(text(
                "SELECT (julianday(q.created_at) - julianday(i.received_at)) * 86400.0 FROM queue_items q "
                "JOIN documents d ON d.id = q.document_id JOIN interchanges i ON i.id = d.interchange_id")).scalars().all()
            done = conn.execute(text("SELECT count(*) FROM interchanges WHERE state = 'done'")).scalar_one()
        engine.dispose()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    accepted_rate = accepted / seconds
    print(f"documents: {args.count} canonical JSON orders of ~{size} bytes, HTTP concurrency {args.concurrency}")
    print(f"accepted: {accepted} in {seconds:.2f} s = {accepted_rate:,.0f} accepted/s")
    if not args.intake_only:
        from datetime import datetime

        span = (datetime.fromisoformat(str(last)) - datetime.fromisoformat(str(first))).total_seconds()
        lat.sort()
        print(f"processed: {done} done, first receive to last finish {span:.2f} s = {done / span:,.0f} processed/s")
        print(f"receive-to-queued latency: p50 {statistics.median(lat) * 1000:.1f} ms, "
              f"p95 {lat[int(len(lat) * 0.95)] * 1000:.1f} ms")
    print(f"raw write+fsync+rename+dir-fsync on this disk: {raw:,.0f} files/s")
    print(f"ratio accepted/s : raw durable files/s = {accepted_rate / raw:.2f}")
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"kept {work}")


if __name__ == "__main__":
    main()
