"""The pipeline's cost per interchange: N one-message EDIFACT ORDERS interchanges (about
1.2 KB each, the size of a typical AS2 or SFTP delivery) go through intake first, then the
worker drains them; prints interchanges/s and the worker's CPU milliseconds per interchange.

    .venv/bin/python bench/worker_interchanges.py            # 1,000 interchanges, SQLite
    .venv/bin/python bench/worker_interchanges.py --count 5000 --profile
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.edifact_pipeline import SUPPLIER, addressed_interchange
from edi_gateway import samples
from edi_gateway.app import Gateway
from edi_gateway.config import load
from edi_gateway.intake import Origin
from edi_gateway.pipeline.worker import wait_idle


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--profile", action="store_true", help="print the top of a cProfile")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="edigw-worker-"))
    samples.write_sample_config(work / "gw", port=0)
    gateway = Gateway(load(work / "gw" / "gateway.toml", args.database_url))
    one = b"".join(addressed_interchange(1))
    origin = Origin(channel="http", partner_id=SUPPLIER.id, filename="orders.edi")
    for i in range(args.count):  # each its own control reference and order number
        data = one.replace(b"ICR0000001", b"ICR%07d" % i).replace(b"PO00000001", b"PO%08d" % i)
        gateway.intake.receive(data, origin)
    profile = cProfile.Profile() if args.profile else None
    wall, cpu = time.perf_counter(), time.process_time()
    if profile:
        profile.enable()
    wait_idle(gateway.worker, timeout=3600)
    if profile:
        profile.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"{args.count:,} one-message ORDERS interchanges: {args.count / wall:,.0f} interchanges/s,"
        f" {cpu / args.count * 1000:.2f} ms worker CPU each"
        + (" (under cProfile)" if profile else "")
    )
    if profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
    gateway.stop()


if __name__ == "__main__":
    main()
