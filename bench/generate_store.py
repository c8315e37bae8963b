"""Fill a SQLite store with many interchanges (one document each) for the dashboard bench.

Rows are spread over the last 30 days across 50 partners, with realistic channels, states and
kinds; rejected ones get a finding. Bulk Core inserts in large transactions, synchronous off
(a bench store, not a durable one).

    python bench/generate_store.py --db /tmp/edigw-bench/gateway.db [--count 1000000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, insert

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edi_gateway.model import new_id  # noqa: E402
from edi_gateway.store import db  # noqa: E402
from edi_gateway.store.tables import (  # noqa: E402
    DocumentRow,
    FindingRow,
    Interchange,
    PartnerRow,
)

BATCH = 50_000
DAYS = 30
PARTNERS = ["hanil-office", "daehan-it", "nordic-paper"] + [f"supplier-{i:03d}" for i in range(47)]
CHANNELS = [("as2", 40), ("sftp", 25), ("email", 20), ("http", 15)]
STATES = [("done", 930), ("rejected", 50), ("duplicate", 12), ("dead", 5), ("received", 3)]
KINDS = [("invoice", 55), ("order", 40), ("tender", 5)]
PREFIX = {"invoice": "INV", "order": "PO", "tender": "TDR"}
STANDARD = {"as2": "edifact", "sftp": "edifact", "email": "ubl", "http": "json"}


def _weighted(pairs: list[tuple[str, int]], n: int, rng: random.Random) -> list[str]:
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights=weights, k=n)


def _batch(
    start: int, n: int, first: dt.datetime, step: float, rng: random.Random
) -> dict[type, list[dict[str, Any]]]:
    channels = _weighted(CHANNELS, n, rng)
    states = _weighted(STATES, n, rng)
    kinds = _weighted(KINDS, n, rng)
    rows: dict[type, list[dict[str, Any]]] = {Interchange: [], DocumentRow: [], FindingRow: []}
    for k in range(n):
        i = start + k
        at = first + dt.timedelta(seconds=i * step)
        iid = new_id(int(at.timestamp() * 1000))
        channel, state, kind = channels[k], states[k], kinds[k]
        partner = PARTNERS[(int(rng.paretovariate(1.2)) - 1) % len(PARTNERS)]
        standard = STANDARD[channel]
        rows[Interchange].append(
            {
                "id": iid,
                "partner_id": partner,
                "channel": channel,
                "direction": "in",
                "transport_id": f"<{i:09d}@{partner}.example>"
                if channel in ("as2", "email")
                else None,
                "raw_sha256": f"{i:064x}",
                "size": 2000 + i % 50_000,
                "filename": f"{PREFIX[kind]}-{i:08d}.{'edi' if standard == 'edifact' else standard}",
                "media_type": None,
                "received_at": at,
                "state": state,
                "duplicate_of": None,
                "format": "xml" if standard == "ubl" else standard,
                "standard": standard,
                "control_reference": f"CR{i:010d}" if standard == "edifact" else None,
                "test": False,
                "origin": {},
                "claimed_by": None,
                "lease_until": None,
                "attempts": 1,
                "runs": 1,
                "finished_at": at + dt.timedelta(milliseconds=40),
            }
        )
        rows[DocumentRow].append(
            {
                "id": f"{iid}-0",
                "interchange_id": iid,
                "position": 0,
                "kind": kind,
                "message_type": kind,
                "reference": "1",
                "business_id": f"{PREFIX[kind]}-{i:08d}",
                "state": "invalid" if state == "rejected" else "routed",
                "sender_id": partner,
                "receiver_id": "moe",
                "queue": None,
                "test": False,
                "canonical": None,
                "created_at": at,
            }
        )
        if state == "rejected":
            rows[FindingRow].append(
                {
                    "interchange_id": iid,
                    "document_id": f"{iid}-0",
                    "code": "12",
                    "severity": "error",
                    "text": "invalid value",
                    "location": {"segment": 7, "element": 1},
                    "source": "edifact",
                    "run": 1,
                }
            )
    return rows


def generate(path: Path, count: int, seed: int = 7) -> None:
    url = f"sqlite:///{path}"
    db.migrate(db.make_engine(url))
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _fast(conn: Any, _record: Any) -> None:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")

    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    first = now - dt.timedelta(days=DAYS)
    step = DAYS * 86400 / count
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(
            insert(PartnerRow),
            [
                {"id": p, "name": p, "role": "supplier", "enabled": True, "last_seen_at": now}
                for p in PARTNERS
            ],
        )
    for start in range(0, count, BATCH):
        rows = _batch(start, min(BATCH, count - start), first, step, rng)
        with engine.begin() as conn:
            for table in (Interchange, DocumentRow, FindingRow):
                if rows[table]:
                    conn.execute(insert(table), rows[table])
        done = start + len(rows[Interchange])
        rate = done / (time.perf_counter() - started)
        print(f"{done:>9} interchanges  {rate:,.0f}/s", flush=True)
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
    print(f"done in {time.perf_counter() - started:.0f} s: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", type=Path, default=Path("/tmp/edigw-bench/gateway.db"))
    parser.add_argument("--count", type=int, default=1_000_000)
    args = parser.parse_args()
    if args.db.exists():
        raise SystemExit(f"{args.db} exists; remove it first")
    args.db.parent.mkdir(parents=True, exist_ok=True)
    generate(args.db, args.count)


if __name__ == "__main__":
    main()
