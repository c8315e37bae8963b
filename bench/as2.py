"""AS2 protocol core speed: receive (decrypt, verify, MIC) and answer (signed MDN), no HTTP.

Builds signed (SHA-256) and AES-256-CBC encrypted messages with our sender, then times, per
message, `receive` + `build_mdn` (signed) on one core, and prints messages/s, MB/s and the
p50/p95 latency for each payload size. The HTTP listener adds its own cost on top; this is
the floor it stands on.

    .venv/bin/python bench/as2.py                 # 1 KB and 1 MB payloads
    .venv/bin/python bench/as2.py --sizes 1000 10000000 --count 20
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from bench.generate import generate_orders_interchange
from edi_gateway.channels.as2 import (
    Cipher,
    Digest,
    Disposition,
    KeyPair,
    LocalStation,
    PartnerProfile,
    ReceiverPolicy,
    build_mdn,
    build_message,
    receive,
)


def make_identity(name: str) -> KeyPair:
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


def payload_of(size: int) -> bytes:
    data = generate_orders_interchange(max(1, size // 1000))
    while len(data) < size:
        data += data
    return data[:size]


def run(size: int, count: int) -> None:
    ours, theirs = make_identity("gateway"), make_identity("partner")
    to_us = PartnerProfile(
        "GATEWAY", (ours.certificate,), cipher=Cipher.AES256_CBC, digest=Digest.SHA256
    )
    messages = [
        build_message(payload_of(size), LocalStation("PARTNER", (theirs,)), to_us)
        for _ in range(min(count, 8))
    ]
    policy = ReceiverPolicy(
        LocalStation("GATEWAY", (ours,)),
        {"PARTNER": PartnerProfile("PARTNER", (theirs.certificate,))},
    )
    latencies = []
    started = time.perf_counter()
    for index in range(count):
        message = messages[index % len(messages)]
        begin = time.perf_counter()
        with receive(message.headers, message.body, policy) as received:
            assert received.ok, received.detail
            mdn = build_mdn(received, Disposition.PROCESSED, ours)
            assert mdn is not None and mdn.signed
        latencies.append(time.perf_counter() - begin)
    elapsed = time.perf_counter() - started
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
    print(
        f"{size:>10,} B  {count:>5} msgs  {count / elapsed:8.1f} msgs/s  "
        f"{size * count / elapsed / 1e6:8.1f} MB/s  "
        f"p50 {statistics.median(latencies) * 1000:7.2f} ms  p95 {p95 * 1000:7.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 1_000_000])
    parser.add_argument("--count", type=int, default=0, help="messages per size (default: auto)")
    args = parser.parse_args()
    print("receive + signed MDN, AES-256-CBC, SHA-256, one core, no HTTP")
    for size in args.sizes:
        run(size, args.count or (500 if size < 100_000 else 40))


if __name__ == "__main__":
    main()
