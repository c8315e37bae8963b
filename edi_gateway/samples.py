"""Sample partners and documents: `edi-gateway init`, the demo, the tests and the benchmarks
all use these, so every one of them exercises the same realistic set."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from edi_gateway.config import hash_token


@dataclass(frozen=True)
class SamplePartner:
    id: str
    name: str
    role: str
    gln: str
    vat: str
    edifact_id: str
    may_send: tuple[str, ...]
    folder: bool = False


INSTITUTIONS = (
    SamplePartner(
        "moe",
        "Ministry of Education",
        "institution",
        "8801234000017",
        "KR1048212345",
        "8801234000017",
        ("order",),
    ),
    SamplePartner(
        "seoul-city",
        "Seoul Metropolitan Government",
        "institution",
        "8801234000024",
        "KR1208212346",
        "8801234000024",
        ("order",),
    ),
)
SUPPLIERS = (
    SamplePartner(
        "hanil-office",
        "Hanil Office Supplies Co., Ltd.",
        "supplier",
        "8809876000015",
        "KR2118598765",
        "8809876000015",
        ("order", "invoice", "tender"),
        folder=True,
    ),
    SamplePartner(
        "daehan-it",
        "Daehan IT Solutions Inc.",
        "supplier",
        "8809876000022",
        "KR2208598766",
        "8809876000022",
        ("invoice", "tender"),
    ),
    SamplePartner(
        "nordic-paper",
        "Nordic Paper AB",
        "supplier",
        "7300010000001",
        "SE556677889901",
        "7300010000001",
        ("order", "invoice"),
    ),
)
GATEWAY_EDIFACT_ID = ("EDIGATEWAY", "ZZZ")

GATEWAY_TOML = """\
# edi-gateway configuration. Paths are relative to this file.
[gateway]
name = "edi-gateway"
data_dir = "data"
# database_url = "postgresql://user@localhost/edigw"   # default: SQLite in data_dir
edifact_ids = [{{ id = "{gw_id}", qualifier = "{gw_q}" }}]
log_level = "info"

[http]
host = "127.0.0.1"
port = {port}

[dashboard]          # the operators' dashboard (users: edi-gateway users add NAME --role admin)
host = "127.0.0.1"
port = {dashboard_port}

[sftp]               # partners upload into inbox/ and fetch acks from outbox/ (public keys)
enabled = false
port = 2222

[smtp]               # procurement mailboxes (STARTTLS; AUTH for partners with credentials)
enabled = false
port = 2525
# [[smtp.mailboxes]]
# address = "invoices@moe.example"
# institution = "moe"
# kind = "invoice"

# [mail_relay]       # where reply mails with acknowledgements are handed over
# host = "127.0.0.1"
# port = 25

[folder]
enabled = true
root = "folders"
poll_seconds = 1.0

[limits]
max_submission_bytes = 52428800

[worker]
threads = 1        # pipeline threads inside `serve`
processes = 0      # extra worker processes (use the other cores)
batch = 64
lease_seconds = 300
max_attempts = 5

[queues]
visibility_timeout = 30
max_receives = 5

# Default queue per document kind; {{receiver}} is the institution's partner id.
[default_queues]
order = "{{receiver}}.order"
invoice = "{{receiver}}.invoice"
tender = "{{receiver}}.tender"

# Content-based routing: the first matching rule wins, then the default queue.
[[routes]]
name = "moe-invoices-to-finance"
kind = "invoice"
receiver = "moe"
queue = "moe.finance"
"""


def _partner_toml(p: SamplePartner, api_token: str, backoffice_token: str | None) -> str:
    lines = [
        f'id = "{p.id}"',
        f'name = "{p.name}"',
        f'role = "{p.role}"',
        f"may_send = {json.dumps(list(p.may_send))}",
        f"folder = {'true' if p.folder else 'false'}",
        "identifiers = [",
        f'  {{ scheme = "0088", value = "{p.gln}" }},',
        f'  {{ scheme = "VAT", value = "{p.vat}" }},',
        "]",
        "",
        "[[api_tokens]]",
        f'sha256 = "{hash_token(api_token)}"',
        'label = "sample"',
        "",
        "[edifact]",
        f'ids = [{{ id = "{p.edifact_id}", qualifier = "14" }}]',
        "",
        "[acks]",
        'route = "channel"',
        'contrl = "always"',
        'aperak = "on_error"',
        'application_response = "always"',
    ]
    if backoffice_token is not None:
        lines += [
            "",
            "[backoffice]",
            f'queues = ["{p.id}.*"]',
            "",
            "[[backoffice.tokens]]",
            f'sha256 = "{hash_token(backoffice_token)}"',
            'label = "sample"',
        ]
    return "\n".join(lines) + "\n"


def write_sample_config(directory: Path, port: int = 8080) -> dict[str, dict[str, str]]:
    """Write gateway.toml and partners/*.toml; return the plain-text credentials."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "partners").mkdir(exist_ok=True)
    (directory / "gateway.toml").write_text(
        GATEWAY_TOML.format(
            gw_id=GATEWAY_EDIFACT_ID[0],
            gw_q=GATEWAY_EDIFACT_ID[1],
            port=port,
            dashboard_port=port + 1 if port else 0,
        )
    )
    creds: dict[str, dict[str, str]] = {}
    for p in (*INSTITUTIONS, *SUPPLIERS):
        api = "egw_" + secrets.token_urlsafe(24)
        backoffice = "egwq_" + secrets.token_urlsafe(24) if p.role == "institution" else None
        (directory / "partners" / f"{p.id}.toml").write_text(_partner_toml(p, api, backoffice))
        creds[p.id] = {"api_token": api, **({"backoffice_token": backoffice} if backoffice else {})}
    secret = directory / "credentials.json"
    secret.touch(mode=0o600)
    secret.write_text(json.dumps(creds, indent=2) + "\n")
    return creds


def order(
    number: str,
    buyer: SamplePartner,
    seller: SamplePartner,
    lines: int = 3,
    issue_date: dt.date | None = None,
    test: bool = False,
) -> dict[str, Any]:
    day = issue_date or dt.date(2026, 11, 2)
    items: list[dict[str, Any]] = []
    for i in range(1, lines + 1):
        price = Decimal(1000 * i + 250)
        items.append(
            {
                "id": str(i),
                "item_name": f"A4 copy paper box {i}",
                "quantity": str(10 * i),
                "unit": "C62",
                "unit_price": str(price),
                "line_amount": str(price * 10 * i),
                "item_ids": [{"scheme": "0160", "value": f"880{i:010d}"}],
            }
        )
    total = sum((Decimal(x["line_amount"]) for x in items), Decimal(0))
    return {
        "kind": "order",
        "id": number,
        "issue_date": day.isoformat(),
        "currency": "KRW",
        "test": test,
        "parties": [_party("buyer", buyer), _party("seller", seller)],
        "lines": items,
        "totals": {"line_total": str(total), "tax_exclusive": str(total)},
    }


def invoice(
    number: str, buyer: SamplePartner, seller: SamplePartner, order_number: str | None = None
) -> dict[str, Any]:
    doc = order(number, buyer, seller)
    doc["kind"] = "invoice"
    doc["due_date"] = "2026-12-02"
    tax = (Decimal(doc["totals"]["line_total"]) / 10).quantize(Decimal(1))
    base = Decimal(doc["totals"]["line_total"])
    doc["taxes"] = [
        {"category": "S", "rate": "10", "taxable_amount": str(base), "amount": str(tax)}
    ]
    doc["totals"].update(
        {"tax_total": str(tax), "tax_inclusive": str(base + tax), "payable": str(base + tax)}
    )
    if order_number:
        doc["references"] = [{"type": "order", "id": order_number}]
    return doc


def tender(
    number: str, buyer: SamplePartner, seller: SamplePartner, call_id: str
) -> dict[str, Any]:
    doc = order(number, buyer, seller, lines=2)
    doc["kind"] = "tender"
    doc["parties"] = [_party("contracting_authority", buyer), _party("tenderer", seller)]
    doc["references"] = [{"type": "call_for_tenders", "id": call_id}]
    doc["lots"] = ["1"]
    return doc


def edifact_orders(
    reference: str,
    buyer: SamplePartner,
    seller: SamplePartner,
    numbers: list[str],
    broken: int | None = None,
) -> bytes:
    """An ORDERS D96A interchange from `seller` to the gateway, one message per order number.
    With `broken`, that message loses its mandatory BGM (a syntax error for the CONTRL)."""
    gw_id, gw_q = GATEWAY_EDIFACT_ID
    segments = [f"UNB+UNOC:3+{seller.edifact_id}:14+{gw_id}:{gw_q}+261102:0930+{reference}"]
    for i, number in enumerate(numbers):
        body = [
            f"UNH+{i + 1}+ORDERS:D:96A:UN",
            f"BGM+220+{number}+9",
            "DTM+137:20261102:102",
            f"NAD+BY+{buyer.gln}::9++{buyer.name[:35]}",
            f"NAD+SU+{seller.gln}::9++{seller.name[:35].replace('.', '')}",
            "CUX+2:KRW:9",
            "LIN+1++8800000000011:EN",
            "IMD+F++:::A4 copy paper?, 80 g?/m2",
            "QTY+21:40:PCE",
            "PRI+AAA:12500",
            "LIN+2++8800000000028:EN",
            "QTY+21:12:PCE",
            "PRI+AAA:3200",
            "UNS+S",
        ]
        if i == broken:
            body.remove(f"BGM+220+{number}+9")
        body.append(f"UNT+{len(body) + 1}+{i + 1}")
        segments += body
    segments.append(f"UNZ+{len(numbers)}+{reference}")
    return ("'\n".join(segments) + "'\n").encode("latin-1")


def _party(role: str, p: SamplePartner) -> dict[str, Any]:
    return {
        "role": role,
        "names": [p.name],
        "identifiers": [{"scheme": "0088", "value": p.gln}],
        "tax_ids": [{"scheme": "VAT", "value": p.vat}],
    }


def by_id(partner_id: str) -> SamplePartner:
    return next(p for p in (*INSTITUTIONS, *SUPPLIERS) if p.id == partner_id)
