"""`edi-gateway demo`: a sample configuration, the gateway, and sample traffic through it."""

from __future__ import annotations

import json
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import click
import httpx

from edi_gateway import samples
from edi_gateway.config import load


def run_demo(directory: Path, port: int, exit_after_traffic: bool) -> int:
    import uvicorn

    from edi_gateway.app import Gateway

    if not (directory / "gateway.toml").exists():
        samples.write_sample_config(directory, port)
        click.echo(
            f"wrote a sample configuration in {directory}/ (credentials in {directory}/credentials.json)"
        )
    creds = json.loads((directory / "credentials.json").read_text())
    config = load(directory / "gateway.toml")
    gateway = Gateway(config)
    operator = _demo_operator(gateway, directory)
    dashboard = _dashboard(gateway, port + 1)
    server = uvicorn.Server(
        uvicorn.Config(
            gateway.http_app(),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
    )
    result: dict[str, Any] = {}

    def traffic() -> None:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            result.update(_send_traffic(f"http://127.0.0.1:{port}", creds, config.folder_root))
        except Exception as exc:  # show it, and let the demo end with an error
            result["error"] = f"{type(exc).__name__}: {exc}"
        if exit_after_traffic or "error" in result:
            server.should_exit = True

    threading.Thread(target=traffic, name="demo-traffic", daemon=True).start()
    click.echo(f"edi-gateway listening on http://127.0.0.1:{port} (Ctrl-C stops it)")
    if dashboard is not None:
        click.echo(f"dashboard: {dashboard.url}  (sign in as {operator[0]} / {operator[1]})")
    try:
        server.run()
    finally:
        if dashboard is not None:
            dashboard.stop()
    if "error" in result:
        click.echo(f"demo traffic failed: {result['error']}", err=True)
        return 1
    return 0


def _send_traffic(base: str, creds: dict[str, dict[str, str]], folder_root: Path) -> dict[str, Any]:
    moe, seoul = samples.INSTITUTIONS
    hanil, daehan, nordic = samples.SUPPLIERS
    receipts: list[tuple[str, str, str]] = []  # (what, receipt id, token that may read it)
    stamp = time.strftime("%H%M%S")
    with httpx.Client(base_url=base, timeout=30) as http:

        def post(supplier: samples.SamplePartner, body: bytes, what: str) -> None:
            token = creds[supplier.id]["api_token"]
            r = http.post(
                "/api/v1/submissions",
                content=body,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            r.raise_for_status()
            receipts.append((what, r.json()["receipt_id"], token))

        for i in range(5):
            post(
                hanil,
                json.dumps(samples.order(f"PO-{stamp}-{i}", moe, hanil)).encode(),
                f"order PO-{stamp}-{i}",
            )
        post(
            daehan,
            json.dumps(samples.invoice(f"INV-{stamp}-1", moe, daehan, f"PO-{stamp}-1")).encode(),
            f"invoice INV-{stamp}-1",
        )
        post(
            nordic,
            json.dumps(samples.invoice(f"INV-{stamp}-2", seoul, nordic)).encode(),
            f"invoice INV-{stamp}-2",
        )
        post(
            daehan,
            json.dumps(samples.tender(f"TND-{stamp}-1", seoul, daehan, "CFT-2026-001")).encode(),
            f"tender TND-{stamp}-1",
        )
        numbers = [f"EDI-{stamp}-{i}" for i in range(3)]
        post(
            hanil,
            samples.edifact_orders(f"R{stamp}", moe, hanil, numbers),
            "EDIFACT ORDERS D96A, 3 messages",
        )
        post(
            hanil,
            samples.edifact_orders(f"S{stamp}", seoul, hanil, numbers[:2], broken=1),
            "EDIFACT ORDERS with a message missing its BGM",
        )
        post(hanil, b'{"kind": "order", "id": "BROKEN"', "broken JSON")
        post(
            hanil,
            json.dumps({"kind": "invoice", "id": "X", "issue_date": "not a date"}).encode(),
            "schema violation",
        )
        post(
            daehan,
            json.dumps(samples.order(f"PO-{stamp}-N", moe, daehan)).encode(),
            "an order from a partner that may not send orders",
        )
        drop = folder_root / hanil.id
        (drop / "in").mkdir(parents=True, exist_ok=True)
        tmp = drop / f".order-{stamp}.json.tmp"
        tmp.write_text(json.dumps(samples.order(f"PO-{stamp}-F", seoul, hanil)))
        tmp.rename(drop / "in" / f"order-{stamp}.json")

        deadline = time.monotonic() + 30
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            states = {}
            for what, rid, token in receipts:
                r = http.get(
                    f"/api/v1/submissions/{rid}", headers={"Authorization": f"Bearer {token}"}
                )
                states[what] = (
                    r.json().get("state", "?") if r.status_code == 200 else f"HTTP {r.status_code}"
                )
            if all(s in ("done", "rejected", "duplicate", "dead") for s in states.values()):
                break
            time.sleep(0.2)
        click.echo("\nsample traffic:")
        for what, rid, _ in receipts:
            click.echo(f"  {rid}  {states.get(what, '?'):9} {what}")
        bo = {"Authorization": f"Bearer {creds[moe.id]['backoffice_token']}"}
        queues = http.get("/api/v1/queues", headers=bo).json()["queues"]
        click.echo("\nqueues of the Ministry of Education's back office:")
        for q in queues:
            click.echo(
                f"  {q['queue']:20} visible={q['visible']} in_flight={q['in_flight']} dead={q['dead']}"
            )
        got = http.post(
            f"/api/v1/queues/{moe.id}.order/receive", json={"max": 2}, headers=bo
        ).json()["messages"]
        for m in got:
            http.post(
                f"/api/v1/queues/{moe.id}.order/ack",
                json={"receipt_handle": m["receipt_handle"]},
                headers=bo,
            )
        click.echo(f"  the back office pulled and acknowledged {len(got)} order(s)\n")
        click.echo(
            f"try: curl -s {base}/metrics | grep edigw_ ; edi-gateway -c <dir>/gateway.toml messages list"
        )
    return {"receipts": receipts, "states": states}


def _demo_operator(gateway: Any, directory: Path) -> tuple[str, str]:
    """An admin for the dashboard, created once; its password is kept with the credentials."""
    from edi_gateway.store.operators import Role
    from edi_gateway.web.dashboard import accounts

    path = directory / "operator.json"
    if path.exists():
        saved = json.loads(path.read_text())
        return saved["username"], saved["password"]
    password = secrets.token_urlsafe(12)
    accounts.add(gateway.sessions, "admin", password, Role.ADMIN, "demo", gateway.clock())
    path.touch(mode=0o600)
    path.write_text(json.dumps({"username": "admin", "password": password}) + "\n")
    return "admin", password


def _dashboard(gateway: Any, port: int) -> Any:
    from edi_gateway.web.dashboard import DashboardListener, DashboardUnavailable

    try:
        listener = DashboardListener(gateway, "127.0.0.1", port)
        listener.start()
    except DashboardUnavailable as exc:
        click.echo(f"(no dashboard: {exc})", err=True)
        return None
    return listener
