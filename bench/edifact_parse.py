"""Parse speed: our streaming tokenizer (and tokenizer + envelope checks) against pydifact 0.2.3.

Generates a 20,000-message ORDERS D96A interchange (~24 MB, one message in four with
release characters) in memory, then prints MB/s and segments/s for each reader and the ratio.

    .venv/bin/python bench/edifact_parse.py                 # pydifact on all of it (~70 s)
    .venv/bin/python bench/edifact_parse.py --pydifact-mb 4 # pydifact on a 4 MB prefix

pydifact is timed on a prefix cut at a segment boundary when --pydifact-mb is given; its rate
on that prefix is what is compared (the rate does not depend on the size: it is linear), and
the time it would take on the whole interchange is that rate extrapolated, stated as such.

Both readers do the same work: every segment comes out with its elements and components split
(and release characters resolved); ours does it eagerly, nothing is left for later. The CPU
time ratio is the steadier figure on a shared machine; the target is 25x.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.generate import generate_orders_interchange
from edi_gateway.formats.edifact.envelope import EnvelopeChecker, Message
from edi_gateway.formats.edifact.tokenizer import Tokenizer

MB = 1_000_000


def best_of(repeat: int, run: Callable[[], int]) -> tuple[float, float, int]:
    """The fastest of `repeat` runs: (wall seconds, CPU seconds, the count the run returned).
    CPU time (this process only) is printed too: on a shared machine it is the steadier one."""
    best_wall, best_cpu, count = float("inf"), float("inf"), 0
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        count = run()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return best_wall, best_cpu, count


def tokenizer_only(data: bytes) -> int:
    return sum(1 for _ in Tokenizer(io.BytesIO(data)))


def prefix_at_segment_boundary(data: bytes, limit: int) -> bytes:
    """The bytes before the first segment that starts at or after `limit`."""
    if limit >= len(data):
        return data
    for segment in Tokenizer(io.BytesIO(data)):
        if segment.offset >= limit:
            return data[: segment.offset]
    return data


def pydifact_count(text: str) -> int:
    from pydifact.parser import Parser

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sum(1 for _ in Parser().parse(text))


def line(label: str, size: int, wall: float, cpu: float, segments: int) -> tuple[float, float]:
    rate, cpu_rate = size / MB / wall, size / MB / cpu
    print(
        f"  {label:<28} {size / MB:6.2f} MB in {wall:6.2f} s: {rate:6.2f} MB/s, "
        f"{segments / wall:9,.0f} segments/s   (CPU {cpu:6.2f} s: {cpu_rate:6.2f} MB/s)"
    )
    return rate, cpu_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--pydifact-mb", type=float, default=None, help="time pydifact on a prefix")
    parser.add_argument("--repeat", type=int, default=3, help="runs of our readers (best is kept)")
    args = parser.parse_args()

    start = time.perf_counter()
    data = generate_orders_interchange(args.messages)
    print(
        f"generated {args.messages:,} ORDERS D96A messages, {len(data) / MB:.2f} MB, "
        f"{data.count(b'?')} release characters, in {time.perf_counter() - start:.1f} s"
    )
    print(f"python {sys.version.split()[0]}")

    wall, cpu, segments = best_of(args.repeat, lambda: tokenizer_only(data))
    ours = line("ours: tokenizer", len(data), wall, cpu, segments)
    wall, cpu, messages = best_of(args.repeat, lambda: envelope_messages(data))
    ours_env = line("ours: tokenizer + envelope", len(data), wall, cpu, segments)
    print(f"  ({segments:,} segments, {messages:,} messages, no findings)")
    print(
        "  both readers split every segment into elements and components "
        "(ours eagerly: nothing is left lazy)"
    )

    limit = int(args.pydifact_mb * MB) if args.pydifact_mb else len(data)
    prefix = prefix_at_segment_boundary(data, limit)
    wall, cpu, theirs_segments = best_of(1, lambda: pydifact_count(prefix.decode("latin-1")))
    theirs = line("pydifact 0.2.3 Parser", len(prefix), wall, cpu, theirs_segments)
    if len(prefix) < len(data):
        print(
            f"  pydifact measured on the first {len(prefix) / MB:.2f} MB only; at that rate the "
            f"whole {len(data) / MB:.2f} MB would take about {len(data) / MB / theirs[0]:.0f} s "
            "(extrapolated, not measured)"
        )
    for label, (ratio_wall, ratio_cpu) in (
        ("tokenizer / pydifact", (ours[0] / theirs[0], ours[1] / theirs[1])),
        ("tokenizer + envelope / pydifact", (ours_env[0] / theirs[0], ours_env[1] / theirs[1])),
    ):
        print(f"ratio {label:<32} {ratio_wall:5.1f}x wall clock, {ratio_cpu:5.1f}x CPU time")


def envelope_messages(data: bytes) -> int:
    checker = EnvelopeChecker(io.BytesIO(data))
    messages = sum(1 for event in checker if isinstance(event, Message))
    if checker.findings:
        raise SystemExit(f"unexpected findings: {checker.findings[:3]}")
    return messages


if __name__ == "__main__":
    main()
