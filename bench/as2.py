"""AS2 listener throughput over HTTP on loopback: messages/s and p50/p95 latency.

Starts a gateway with its AS2 channel in a process of its own (`python -m
edi_gateway.channels.as2.serve`: SQLite, spool, one pipeline thread, as `serve` runs it), then
POSTs signed (SHA-256) and AES-256-CBC encrypted messages asking for a signed synchronous MDN,
from `--concurrency` client threads. The messages are built before timing (their Message-IDs
are fresh per request); every MDN is checked to say `processed`, the first few are verified
in full. Prints messages/s, MB/s of payload, p50/p95 latency and the server's peak RSS.

    .venv/bin/python bench/as2.py                       # 1 KB and 1 MB, concurrency 4
    .venv/bin/python bench/as2.py --sizes 1000 --count 2000 --concurrency 8
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from bench.generate import generate_orders_interchange
from edi_gateway.channels.as2 import (
    Cipher,
    Digest,
    Disposition,
    KeyPair,
    LocalStation,
    OutgoingMessage,
    PartnerProfile,
    build_message,
    verify_mdn,
)
from edi_gateway.samples import write_sample_config

ROOT = Path(__file__).resolve().parents[1]


def identity(name: str) -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return KeyPair(key, cert)


def write_pem(pair: KeyPair, key: Path | None, cert: Path) -> None:
    cert.parent.mkdir(parents=True, exist_ok=True)
    cert.write_bytes(pair.certificate.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        key.write_bytes(
            pair.private_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )


class Server:
    """The gateway + AS2 channel process."""

    def __init__(
        self, directory: Path, ours: KeyPair, partner: KeyPair, threads: int, evidence_first: bool
    ) -> None:
        write_sample_config(directory, port=0)
        gateway_toml = directory / "gateway.toml"
        text = gateway_toml.read_text()
        gateway_toml.write_text(text.replace("threads = 1", f"threads = {threads}", 1))
        write_pem(ours, directory / "data" / "as2" / "key.pem", directory / "data/as2/cert.pem")
        write_pem(partner, None, directory / "partners" / "certs" / "bench.pem")
        (directory / "partners" / "bench.toml").write_text(
            'id = "bench"\nname = "Bench"\nrole = "supplier"\n\n[as2]\nname = "BENCH"\n'
            'certificate = "certs/bench.pem"\n'
        )
        with socket_port() as port:
            self.port = port
        (directory / "as2.toml").write_text(
            f'[as2]\nas2_id = "GATEWAY"\nport = {self.port}\n'
            f"evidence_before_answer = {'true' if evidence_first else 'false'}\n"
        )
        self.log = (directory / "server.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edi_gateway.channels.as2.serve", "-c", str(gateway_toml),
             "--as2", str(directory / "as2.toml")],
            cwd=ROOT, stdout=self.log, stderr=self.log,
            env={**os.environ, "EDI_GATEWAY_LOG_LEVEL": "warning"},
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}/as2"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not start; see {directory / 'server.log'}")
            time.sleep(0.1)

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)
        self.log.close()


class socket_port:
    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return int(self.sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def payload_of(size: int, seed: int) -> bytes:
    data = generate_orders_interchange(max(1, size // 1000))
    data = f"BENCH{seed:08d}".encode() + data
    while len(data) < size:
        data += data
    return data[:size]


def run(
    server: Server, ours: KeyPair, partner: KeyPair, size: int, count: int, workers: int
) -> None:
    profile = PartnerProfile(
        "GATEWAY", (ours.certificate,), cipher=Cipher.AES256_CBC, digest=Digest.SHA256
    )
    station = LocalStation("BENCH", (partner,))
    variants = 16 if size < 100_000 else 6
    messages = [
        build_message(payload_of(size, i + size), station, profile) for i in range(variants)
    ]
    verify_profile = PartnerProfile("GATEWAY", (ours.certificate,))
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    next_index = iter(range(count))

    def client() -> None:
        with httpx.Client(timeout=120) as http:
            while True:
                with lock:
                    index = next(next_index, None)
                if index is None:
                    return
                message = messages[index % len(messages)]
                message_id = f"<bench-{uuid.uuid4().hex}@BENCH>"
                headers = [(n, message_id if n == "Message-ID" else v) for n, v in message.headers]
                begin = time.perf_counter()
                response = http.post(server.url, content=message.body, headers=headers)
                elapsed = time.perf_counter() - begin
                problem = check(response, message, message_id, verify_profile, full=index < 4)
                with lock:
                    latencies.append(elapsed)
                    if problem:
                        failures.append(problem)

    threads = [threading.Thread(target=client) for _ in range(workers)]
    cpu_before = server.cpu_seconds()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    cpu = (server.cpu_seconds() - cpu_before) / count
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
    print(
        f"{size:>10,} B  {count:>5} msgs  {count / wall:8.1f} msgs/s  "
        f"{size * count / wall / 1e6:7.1f} MB/s  p50 {statistics.median(latencies) * 1000:7.1f} ms"
        f"  p95 {p95 * 1000:7.1f} ms  server CPU {cpu * 1000:5.1f} ms/msg"
        f"  peak RSS {server.peak_rss_mb():.0f} MB"
        + (f"  FAILURES {len(failures)}: {failures[0]}" if failures else "")
    )


def check(
    response: httpx.Response,
    message: OutgoingMessage,
    message_id: str,
    profile: PartnerProfile,
    full: bool,
) -> str | None:
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    if b"MDN-sent-automatically; processed\r\n" not in response.content:
        return "the MDN does not say processed"
    if full:
        record = type(message.record)(message_id, message.mics, True)
        outcome = verify_mdn(list(response.headers.items()), response.content, record, profile)
        if not outcome.delivered or outcome.report.disposition is not Disposition.PROCESSED:
            return f"MDN does not verify: {outcome.problems}"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 1_000_000])
    parser.add_argument("--count", type=int, default=0, help="messages per size (default: auto)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--worker-threads", type=int, default=1, help="pipeline threads")
    parser.add_argument(
        "--evidence-after",
        action="store_true",
        help="store synchronous MDNs in the commit after answering (evidence_before_answer=false)",
    )
    args = parser.parse_args()
    ours, partner = identity("GATEWAY"), identity("BENCH")
    with tempfile.TemporaryDirectory(prefix="as2-bench-") as temp:
        server = Server(Path(temp), ours, partner, args.worker_threads, not args.evidence_after)
        try:
            print(
                f"AS2 over HTTP on loopback: AES-256-CBC, SHA-256, signed sync MDN, "
                f"concurrency {args.concurrency}, {os.cpu_count()} CPUs, server in its own process, "
                f"MDN stored {'after' if args.evidence_after else 'before'} answering"
            )
            for size in args.sizes:
                count = args.count or (2000 if size < 100_000 else 150)
                run(server, ours, partner, size, count, args.concurrency)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
