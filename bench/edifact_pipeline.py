"""EDIFACT end to end: one 20,000-message ORDERS D96A interchange through a real gateway.

Intake (spool + store), then the worker: detection, envelope, validation against D96A,
translation by the mapping engine, routing to the institution's queue, CONTRL, and the one
transaction that records it all. Checks exactly one queue item per message and one CONTRL,
and prints messages/s for each part and the peak RSS.

    python bench/edifact_pipeline.py [--messages 20000] [--database-url postgresql://...]

The interchange is `bench.generate`'s (about 1.2 KB a message, a quarter of them with
released service characters), addressed from the sample supplier to the gateway, with the
buyer's NAD carrying a sample institution's GLN so that every order finds its queue.
"""

from __future__ import annotations

import argparse
import io
import re
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.generate import iter_orders_interchange  # noqa: E402
from edi_gateway import samples  # noqa: E402
from edi_gateway.app import Gateway  # noqa: E402
from edi_gateway.config import load  # noqa: E402
from edi_gateway.formats.base import Limits  # noqa: E402
from edi_gateway.formats.edifact.format import EdifactFormat, EdifactFormatSettings  # noqa: E402
from edi_gateway.intake import Origin  # noqa: E402
from edi_gateway.mapping import translate_message  # noqa: E402
from edi_gateway.store.tables import Ack, Interchange, QueueItem  # noqa: E402

BUYER = samples.INSTITUTIONS[0]
SUPPLIER = samples.SUPPLIERS[0]
_UNB = re.compile(rb"UNB\+UNOC:3\+[^+]+\+[^+]+\+")
_BUYER = re.compile(rb"NAD\+BY\+\d{13}::9")


def addressed_interchange(messages: int) -> Iterator[bytes]:
    """`bench.generate`'s interchange, from the sample supplier to the gateway, for BUYER."""
    sender = f"{SUPPLIER.edifact_id}:14".encode()
    recipient = ":".join(samples.GATEWAY_EDIFACT_ID).encode()
    for piece in iter_orders_interchange(messages):
        piece = _UNB.sub(b"UNB+UNOC:3+" + sender + b"+" + recipient + b"+", piece, count=1)
        yield _BUYER.sub(b"NAD+BY+" + BUYER.gln.encode() + b"::9", piece)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def format_only(fmt: EdifactFormat, data: bytes) -> tuple[float, float, float]:
    """Messages/s of split, split+validate, split+validate+translate in this process."""
    rates = []
    for stage in range(3):
        reader = fmt.open(io.BytesIO(data), Limits())
        start = time.perf_counter()
        count = 0
        for unit in reader.units():
            if stage >= 1:
                reader.validate(unit)
            if stage >= 2:
                reader.translate(unit)
            count += 1
        rates.append(count / (time.perf_counter() - start))
    return rates[0], rates[1], rates[2]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--format-only", action="store_true", help="also time the format alone")

    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="edigw-edifact-"))
    samples.write_sample_config(work / "gw", port=0)
    config = load(work / "gw" / "gateway.toml", args.database_url)
    gateway = Gateway(config)
    settings = EdifactFormatSettings.from_config(config, translator=translate_message)
    fmt = EdifactFormat(settings)
    gateway.registry.add(fmt)
    try:
        rss_start = peak_rss_mb()
        start = time.perf_counter()
        origin = Origin(channel="http", partner_id=SUPPLIER.id, filename="orders.edi")
        receipt = gateway.intake.receive(addressed_interchange(args.messages), origin)
        intake_s = time.perf_counter() - start
        rss_intake = peak_rss_mb()

        start = time.perf_counter()
        finished = gateway.worker.run_once()
        worker_s = time.perf_counter() - start
        rss_worker = peak_rss_mb()
        total_s = intake_s + worker_s

        with gateway.sessions() as s:
            state = s.scalar(
                select(Interchange.state).where(Interchange.id == receipt.interchange_id)
            )
            items = s.scalar(select(func.count()).select_from(QueueItem))
            queues = sorted(set(s.scalars(select(QueueItem.queue))))
            acks = list(
                s.scalars(select(Ack.kind).where(Ack.interchange_id == receipt.interchange_id))
            )
            contrl = s.scalar(select(Ack.content).where(Ack.kind == "contrl"))
        size = receipt.size
    finally:
        gateway.stop()

    n = args.messages
    print(
        f"interchange: {n} ORDERS D96A messages, {size / 1e6:.1f} MB, database {config.database_url.split(':')[0]}"
    )
    print(f"intake (spool + store):        {intake_s:7.2f} s  {n / intake_s:9,.0f} messages/s")
    print(f"worker (stages + record):      {worker_s:7.2f} s  {n / worker_s:9,.0f} messages/s")
    print(f"end to end:                    {total_s:7.2f} s  {n / total_s:9,.0f} messages/s")
    print(
        f"peak RSS: start {rss_start:.0f} MB, after intake {rss_intake:.0f} MB, after worker {rss_worker:.0f} MB"
    )
    ok = (
        finished == 1
        and state == "done"
        and items == n
        and acks == ["contrl"]
        and contrl is not None
        and contrl.count(b"+7'") >= n + 1
    )
    print(
        f"state {state}, queue items {items} in {queues}, acks {acks}: {'OK' if ok else 'FAILED'}"
    )
    if args.format_only:
        data = b"".join(addressed_interchange(n))
        split, validated, translated = format_only(fmt, data)
        print(
            f"format alone: split {split:,.0f}/s, +validate {validated:,.0f}/s, "
            f"+translate {translated:,.0f}/s"
        )
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
