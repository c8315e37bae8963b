"""Dashboard benchmark: response times of the message list on a big store.

Serves the dashboard in-process (Starlette's test client: the full request, query and
rendering, no network) on a store made by `bench/generate_store.py`, signs in, and prints
median / p95 / max milliseconds of the message list under several filters and of the
searches (business number, control reference, Message-ID). Target: < 300 ms each.

    python bench/generate_store.py --db /tmp/edigw-bench/gateway.db      # once, ~2 minutes
    python bench/dashboard.py --db /tmp/edigw-bench/gateway.db [--runs 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select, text
from starlette.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edi_gateway import samples  # noqa: E402
from edi_gateway.app import Gateway  # noqa: E402
from edi_gateway.config import load  # noqa: E402
from edi_gateway.store.operators import Operator, Role  # noqa: E402
from edi_gateway.store.tables import DocumentRow, Interchange  # noqa: E402
from edi_gateway.web.dashboard import accounts, create_dashboard  # noqa: E402

PASSWORD = "bench password 1"


def _sample(gw: Gateway) -> dict[str, str]:
    """Real values from the store to search for (taken from the middle of it)."""
    with gw.sessions() as s:
        total = s.scalar(select(func.count()).select_from(Interchange)) or 0
        middle = s.execute(
            select(Interchange.id, Interchange.received_at)
            .order_by(Interchange.received_at)
            .offset(total // 2)
            .limit(1)
        ).one()
        number = s.scalar(
            select(DocumentRow.business_id).where(DocumentRow.interchange_id == middle.id)
        )
        control = s.scalar(
            select(Interchange.control_reference)
            .where(
                Interchange.control_reference.is_not(None),
                Interchange.received_at >= middle.received_at,
            )
            .limit(1)
        )
        transport = s.scalar(
            select(Interchange.transport_id)
            .where(
                Interchange.transport_id.is_not(None), Interchange.received_at >= middle.received_at
            )
            .limit(1)
        )
    day = middle.received_at
    return {
        "total": str(total),
        "number": number or "",
        "control": control or "",
        "transport": transport or "",
        "since": (day - dt.timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M"),
        "until": (day + dt.timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M"),
    }


def _time(client: TestClient, url: str, runs: int) -> tuple[list[float], int, str | None]:
    times, rows, cursor = [], 0, None
    for _ in range(runs):
        started = time.perf_counter()
        r = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        if r.status_code != 200:
            raise SystemExit(f"{url}: HTTP {r.status_code}")
        rows = r.text.count("<tr data-id=")
        m = re.search(r'rel="next" href="/messages\?([^"]+)"', r.text)
        cursor = m.group(1).replace("&amp;", "&") if m else None
    return times, rows, cursor


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", type=Path, default=Path("/tmp/edigw-bench/gateway.db"))
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    if not args.db.exists():
        raise SystemExit(f"{args.db} is missing; run bench/generate_store.py first")
    work = Path(tempfile.mkdtemp(prefix="edigw-dash-bench-"))
    samples.write_sample_config(work)
    gw = Gateway(load(work / "gateway.toml", f"sqlite:///{args.db.resolve()}"))
    with gw.sessions() as s:
        known = s.scalar(select(Operator.id).where(Operator.username == "bench"))
    if known is None:
        accounts.add(gw.sessions, "bench", PASSWORD, Role.VIEWER, "bench", gw.clock())
    facts = _sample(gw)
    with gw.engine.connect() as conn:
        conn.execute(text("PRAGMA optimize"))
    client = TestClient(create_dashboard(gw))
    page = client.get("/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token is not None
    client.post("/login", data={"username": "bench", "password": PASSWORD, "csrf": token.group(1)})
    cases = [
        ("list, no filter", "/messages"),
        ("filter state=rejected", "/messages?state=rejected"),
        ("filter state=dead (rare)", "/messages?state=dead"),
        ("filter partner", "/messages?partner=supplier-020"),
        ("filter partner+kind+state", "/messages?partner=hanil-office&kind=invoice&state=done"),
        (
            "filter day+channel",
            f"/messages?since={facts['since']}&until={facts['until']}&channel=email",
        ),
        ("filter kind=tender", "/messages?kind=tender"),
        ("filter standard+direction", "/messages?standard=ubl&direction=in"),
        ("filter direction=out (no match)", "/messages?direction=out"),
        ("filter dead+http+tender (rare)", "/messages?state=dead&channel=http&kind=tender"),
        ("search business number", f"/messages?q={facts['number']}"),
        ("search control reference", f"/messages?q={facts['control']}"),
        ("search Message-ID", f"/messages?q={facts['transport']}"),
        ("overview", "/overview"),
    ]
    print(f"store: {args.db} ({int(facts['total']):,} interchanges); {args.runs} runs each")
    print(f"{'case':32} {'rows':>5} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}")
    for name, url in cases:
        client.get(url)  # warm the page cache once
        times, rows, cursor = _time(client, url, args.runs)
        _report(name, rows, times)
        if cursor and name.startswith("filter partner"):
            deeper, deep_rows, _ = _time(client, f"/messages?{cursor}", args.runs)
            _report(f"  next page ({name[7:]})", deep_rows, deeper)
    gw.stop()


def _report(name: str, rows: int, times: list[float]) -> None:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    print(f"{name:32} {rows:>5} {statistics.median(times):>10.1f} {p95:>8.1f} {max(times):>8.1f}")


if __name__ == "__main__":
    main()
