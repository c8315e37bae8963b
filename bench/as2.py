"""AS2 listener throughput over HTTP on loopback: messages/s and p50/p95 latency.

Starts a gateway with its AS2 channel in a process of its own (`python -m
edi_gateway.channels.as2.serve`: SQLite, spool, and the pipeline in `--worker-processes`
worker processes beside it, as `edi-gateway serve` runs it with `worker.processes`), then POSTs
signed (SHA-256) and AES-256-CBC encrypted messages asking for a signed synchronous MDN, from
`--concurrency` client threads. Every message (its own payload, its own Message-ID) is built
before timing; during timing every MDN is checked to say `processed`, and after timing every
MDN's signature and MIC are verified in full (so the client's own CPU, on the same cores,
stays small; for the same reason it posts with the standard library's http.client, `--httpx`
for httpx). Prints messages/s, MB/s of payload, p50/p95 latency, the CPU per message of the
listener process, of the pipeline worker processes and of this client, and how long after the
last MDN the pipeline had caught up.

    .venv/bin/python bench/as2.py                       # 1 KB and 1 MB, concurrency 4
    .venv/bin/python bench/as2.py --sizes 1000 --count 2000 --concurrency 8
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import http.client
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bench.generate import generate_orders_interchange
from edi_gateway.certificates import self_signed
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
    return KeyPair(key, self_signed(key, name, dt.timedelta(days=30)))


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
        self,
        directory: Path,
        ours: KeyPair,
        partner: KeyPair,
        threads: int,
        evidence_first: bool,
        processes: int = 0,
    ) -> None:
        write_sample_config(directory, port=0)
        gateway_toml = directory / "gateway.toml"
        text = gateway_toml.read_text()
        text = text.replace("threads = 1", f"threads = {threads}", 1)
        gateway_toml.write_text(text.replace("processes = 0", f"processes = {processes}", 1))
        self.database = directory / "data" / "gateway.db"
        write_pem(ours, directory / "data" / "as2" / "key.pem", directory / "data/as2/cert.pem")
        write_pem(partner, None, directory / "partners" / "certs" / "bench.pem")
        (directory / "partners" / "bench.toml").write_text(
            'id = "bench"\nname = "Bench"\nrole = "supplier"\nmay_send = ["order"]\n\n'
            '[edifact]\nids = [{ id = "9012345000004", qualifier = "14" }]\n\n'
            '[as2]\nname = "BENCH"\n'
            'certificate = "certs/bench.pem"\n\n'
            # CONTRLs wait for the partner to fetch them: no AS2 peer to send them to here
            '[acks]\nroute = "http"\n'
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
        """User + system CPU time of the listener process so far."""
        return _cpu_seconds(self.proc.pid)

    def worker_cpu_seconds(self) -> float:
        """User + system CPU time of the pipeline worker processes (its children) so far."""
        total = 0.0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid:
                total += _cpu_seconds(int(stat.parent.name))
        return total

    def renice_workers(self, niceness: int) -> int:
        """Lower the priority of the pipeline worker processes (the listener keeps its own);
        returns how many were reniced."""
        children = [
            int(stat.parent.name)
            for stat in Path("/proc").glob("[0-9]*/stat")
            if _parent_of(stat) == self.proc.pid
        ]
        for pid in children:
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, pid, niceness)
        return len(children)

    def outcomes(self) -> str:
        """How many interchanges ended in each state, e.g. `done 150`."""
        with contextlib.closing(sqlite3.connect(f"file:{self.database}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT state, count(*) FROM interchanges GROUP BY state").fetchall()
        return ", ".join(f"{state} {n}" for state, n in sorted(rows))

    def unfinished(self) -> int:
        """Interchanges the pipeline has not finished yet."""
        with contextlib.closing(sqlite3.connect(f"file:{self.database}?mode=ro", uri=True)) as db:
            query = "SELECT count(*) FROM interchanges WHERE state IN ('received', 'processing')"
            return int(db.execute(query).fetchone()[0])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)
        self.log.close()


def _parent_of(stat: Path) -> int | None:
    try:
        return int(stat.read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # gone
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class socket_port:
    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return int(self.sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def payload_of(size: int, seed: int) -> bytes:
    """A valid ORDERS interchange of about `size` bytes with its own control reference and
    order numbers (the same twice is a duplicate interchange or order to the pipeline)."""
    mark = f"{seed % 10**7:07d}".encode()
    data = _interchange_of(size).replace(b"BENCH0000000", b"BENCH" + mark)
    return data.replace(b"BGM+220+PO", b"BGM+220+B" + mark + b"PO")


@functools.cache
def _interchange_of(size: int) -> bytes:
    """From our partner to the gateway, for the sample configuration's ministry (so that
    the pipeline accepts the orders, as it would real ones)."""
    if size < 1200:  # one message; fewer or more order lines
        data = generate_orders_interchange(
            1, lines=max(1, round((size - 710) / 111)), reference="BENCH0000000"
        )
    else:
        data = generate_orders_interchange(max(1, round(size / 1282)), reference="BENCH0000000")
    data = data.replace(b"+9087654000001:14+", b"+EDIGATEWAY:ZZZ+", 1)
    return re.sub(rb"NAD\+BY\+\d{13}::9", b"NAD+BY+8801234000017::9", data)


@dataclass(frozen=True)
class Answer:
    status_code: int
    headers: list[tuple[str, str]]
    content: bytes


class Poster:
    """POSTs over one keep-alive connection with the standard library's http.client: a
    fraction of httpx's CPU per request, and on a two-core machine the client's CPU is taken
    from the gateway being measured."""

    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        self.host, self.port, self.path = parts.hostname or "", parts.port or 80, parts.path
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=120)

    def post(self, body: bytes, headers: list[tuple[str, str]]) -> Answer:
        try:
            return self._post(body, headers)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self.connection.close()  # the server closed the idle connection: once more
            return self._post(body, headers)

    def _post(self, body: bytes, headers: list[tuple[str, str]]) -> Answer:
        c = self.connection
        c.putrequest("POST", self.path, skip_accept_encoding=True)
        for name, value in headers:
            if name.lower() != "content-length":
                c.putheader(name, value)
        c.putheader("Content-Length", str(len(body)))
        c.endheaders(body)
        response = c.getresponse()
        content = response.read()
        return Answer(response.status, response.getheaders(), content)

    def __enter__(self) -> Poster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.connection.close()


class HttpxPoster(Poster):
    """The same with httpx (`--httpx`: the client of the figures before http.client)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = httpx.Client(timeout=120)

    def post(self, body: bytes, headers: list[tuple[str, str]]) -> Answer:
        response = self.client.post(self.url, content=body, headers=headers)
        return Answer(response.status_code, list(response.headers.items()), response.content)

    def __exit__(self, *exc: object) -> None:
        self.client.close()


def run(
    server: Server,
    ours: KeyPair,
    partner: KeyPair,
    size: int,
    count: int,
    workers: int,
    use_httpx: bool = False,
) -> None:
    profile = PartnerProfile(
        "GATEWAY", (ours.certificate,), cipher=Cipher.AES256_CBC, digest=Digest.SHA256
    )
    station = LocalStation("BENCH", (partner,))
    # every message its own payload (a repeated one is a duplicate interchange to the
    # pipeline), within a memory budget for the large ones
    distinct = min(count, max(16, MESSAGE_MEMORY // max(size, 1)))
    payloads = [payload_of(size, size + i) for i in range(distinct)]
    messages = [build_message(payload, station, profile) for payload in payloads]
    size = sum(map(len, payloads)) // len(payloads)  # the figures are for what was sent
    message_ids = [f"<bench-{uuid.uuid4().hex}@BENCH>" for _ in range(count)]
    latencies: list[float] = []
    answers: list[tuple[int, Answer]] = []
    failures: list[str] = []
    lock = threading.Lock()
    next_index = iter(range(count))

    def client() -> None:
        with (HttpxPoster if use_httpx else Poster)(server.url) as http:
            while True:
                with lock:
                    index = next(next_index, None)
                if index is None:
                    return
                message = messages[index % len(messages)]
                message_id = message_ids[index]
                headers = [(n, message_id if n == "Message-ID" else v) for n, v in message.headers]
                begin = time.perf_counter()
                response = http.post(message.body, headers)
                elapsed = time.perf_counter() - begin
                problem = processed(response)
                with lock:
                    latencies.append(elapsed)
                    answers.append((index, response))
                    if problem:
                        failures.append(problem)

    threads = [threading.Thread(target=client) for _ in range(workers)]
    cpu_before, worker_before = server.cpu_seconds(), server.worker_cpu_seconds()
    client_before = time.process_time()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    client_cpu = (time.process_time() - client_before) / count
    cpu = (server.cpu_seconds() - cpu_before) / count
    # the pipeline goes on after the last MDN: its CPU is counted until it has caught up
    drain_start = time.perf_counter()
    while server.unfinished() and time.perf_counter() - drain_start < 600:
        time.sleep(0.05)
    drain = time.perf_counter() - drain_start
    pipeline_cpu = (server.worker_cpu_seconds() - worker_before) / count
    verify_started = time.perf_counter()
    for index, response in answers:
        message = messages[index % len(messages)]
        problem = verified(response, message, message_ids[index], profile)
        if problem:
            failures.append(problem)
    verify_seconds = time.perf_counter() - verify_started
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
    print(
        f"{size:>10,} B  {count:>5} msgs  {count / wall:8.1f} msgs/s  "
        f"{size * count / wall / 1e6:7.1f} MB/s  p50 {statistics.median(latencies) * 1000:7.1f} ms"
        f"  p95 {p95 * 1000:7.1f} ms  peak RSS {server.peak_rss_mb():.0f} MB"
    )
    print(
        f"{'':>14}CPU per message: listener {cpu * 1000:.1f} ms, pipeline "
        f"{pipeline_cpu * 1000:.1f} ms (caught up {drain:.1f} s after the last MDN; "
        f"so far: {server.outcomes()}), "
        f"client {client_cpu * 1000:.1f} ms; {len(answers)} MDN signatures verified after "
        f"timing in {verify_seconds:.1f} s"
        + (f"  FAILURES {len(failures)}: {failures[0]}" if failures else "")
    )


MESSAGE_MEMORY = 256 * 1024 * 1024  # prebuilt messages beyond this repeat their payloads


def processed(response: Answer) -> str | None:
    """The cheap check done while timing."""
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    if b"MDN-sent-automatically; processed\r\n" not in response.content:
        return "the MDN does not say processed"
    return None


def verified(
    response: Answer, message: OutgoingMessage, message_id: str, profile: PartnerProfile
) -> str | None:
    """The full check done after timing: signature, MIC and disposition."""
    record = type(message.record)(message_id, message.mics, True)
    outcome = verify_mdn(response.headers, response.content, record, profile)
    if not outcome.delivered or outcome.report.disposition is not Disposition.PROCESSED:
        return f"MDN does not verify: {outcome.problems}"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 1_000_000])
    parser.add_argument("--count", type=int, default=0, help="messages per size (default: auto)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--httpx",
        action="store_true",
        help="post with httpx (as before) instead of http.client; costs the client more CPU",
    )
    parser.add_argument("--worker-processes", type=int, default=1, help="pipeline worker processes")
    parser.add_argument(
        "--worker-threads", type=int, default=0, help="pipeline threads in the listener process"
    )
    parser.add_argument(
        "--evidence-after",
        action="store_true",
        help="store the synchronous MDNs of refused or duplicate messages in the commit after "
        "answering (evidence_before_answer=false; a processed MDN is always in the intake commit)",
    )
    parser.add_argument(
        "--pipeline-nice",
        type=int,
        default=0,
        help="run the pipeline worker processes at this niceness (default 0, as in production): "
        "shows what the listener alone accepts when the pipeline yields the CPU and catches up "
        "after the last MDN",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the gateway's directory (to inspect its store)"
    )
    args = parser.parse_args()
    ours, partner = identity("GATEWAY"), identity("BENCH")
    with contextlib.ExitStack() as stack:
        if args.keep:
            temp = tempfile.mkdtemp(prefix="as2-bench-")
            print(f"the gateway's directory: {temp}")
        else:
            temp = stack.enter_context(tempfile.TemporaryDirectory(prefix="as2-bench-"))
        server = Server(
            Path(temp),
            ours,
            partner,
            args.worker_threads,
            not args.evidence_after,
            args.worker_processes,
        )
        try:
            if args.pipeline_nice:
                reniced = server.renice_workers(args.pipeline_nice)
                print(f"pipeline worker processes at niceness {args.pipeline_nice}: {reniced}")
            print(
                f"AS2 over HTTP on loopback: AES-256-CBC, SHA-256, signed sync MDN, "
                f"concurrency {args.concurrency}, {os.cpu_count()} CPUs, listener in its own "
                f"process, pipeline: {args.worker_processes} worker process(es) + "
                f"{args.worker_threads} thread(s) in the listener; client "
                f"{'httpx' if args.httpx else 'http.client'}; load {os.getloadavg()[0]:.2f}"
            )
            for size in args.sizes:
                count = args.count or (2000 if size < 100_000 else 150)
                run(server, ours, partner, size, count, args.concurrency, args.httpx)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
