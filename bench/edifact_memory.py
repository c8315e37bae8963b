"""Bounded memory: stream a generated interchange (1 GB by default) through the tokenizer,
the envelope checks and structure validation against D96A, and print peak RSS and throughput.

The interchange is generated message by message as it is read (a generator wrapped as a
binary stream): it is never held in memory nor written to disk.

    .venv/bin/python bench/edifact_memory.py --size-mb 1000
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.generate import stream_orders_interchange
from edi_gateway.formats.edifact.directory import DirectoryCatalog
from edi_gateway.formats.edifact.envelope import EnvelopeChecker, InterchangeEnd, Message
from edi_gateway.formats.edifact.structure import schema_for, validate_message

MB = 1_000_000


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (ru_maxrss is KiB on Linux)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 if sys.platform != "darwin" else rss / 1024 / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=float, default=1000.0, help="interchange size, 10^6 B")
    parser.add_argument("--report-every-mb", type=float, default=100.0)
    parser.add_argument("--no-validate", action="store_true", help="tokenizer + envelope only")
    args = parser.parse_args()
    catalog = DirectoryCatalog()

    baseline = peak_rss_mb()
    stream = stream_orders_interchange(args.size_mb)
    checker = EnvelopeChecker(stream)
    messages = segments = message_findings = 0
    next_report = args.report_every_mb * MB
    start = time.perf_counter()
    for event in checker:
        if isinstance(event, Message):
            messages += 1
            segments += event.segment_count
            message_findings += len(event.findings)
            if not args.no_validate:
                schema = schema_for(event.segments[0], catalog)
                if schema is not None:
                    decimal = event.interchange.delimiters.decimal
                    message_findings += len(validate_message(event.segments, schema, decimal))
            if stream.bytes_read >= next_report:
                next_report += args.report_every_mb * MB
                elapsed = time.perf_counter() - start
                print(
                    f"  {stream.bytes_read / MB:8.0f} MB  {messages:>9,} messages  "
                    f"{stream.bytes_read / MB / elapsed:6.2f} MB/s  peak RSS {peak_rss_mb():6.1f} MB",
                    flush=True,
                )
        elif isinstance(event, InterchangeEnd):
            segments += 2  # UNB and UNZ
    elapsed = time.perf_counter() - start

    size = stream.bytes_read
    checking = elapsed - stream.generating_seconds
    what = "tokenizer + envelope" + ("" if args.no_validate else " + structure validation")
    print(f"streamed {size / MB:,.1f} MB (generated on the fly) through {what}")
    print(f"  {messages:,} messages, {segments:,} segments in {elapsed:.1f} s")
    print(f"  throughput {size / MB / elapsed:.2f} MB/s overall, generating included")
    print(
        f"  of which generating the data took {stream.generating_seconds:.1f} s; {what}: "
        f"{checking:.1f} s, {size / MB / checking:.2f} MB/s, "
        f"{segments / checking:,.0f} segments/s"
    )
    print(f"  findings: {len(checker.findings)} interchange-level, {message_findings} in messages")
    print(f"  peak RSS {peak_rss_mb():.1f} MB (after imports, before streaming: {baseline:.1f} MB)")


if __name__ == "__main__":
    main()
