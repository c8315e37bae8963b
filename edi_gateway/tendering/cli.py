"""`edi-gateway tenders ...` and `edi-gateway audit ...`: two click groups the main CLI
attaches (`main.add_command(tenders)`, `main.add_command(audit)`). Both use the main group's
context object (`ctx.obj.gateway()` builds the gateway from the configuration)."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from edi_gateway.tendering import calls
from edi_gateway.tendering.common import TenderingRefused, UnknownCall
from edi_gateway.tendering.keys import SharesRejected
from edi_gateway.tendering.officers import certificates, make_key_pair, unseal
from edi_gateway.tendering.opening import OpeningError
from edi_gateway.tendering.wiring import tendering_of


def _gateway() -> Any:
    return click.get_current_context().find_root().obj.gateway()


def _when(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        raise click.BadParameter(f"{value!r} needs a time zone, e.g. 2026-12-01T12:00:00Z")
    return parsed


def _print(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@click.group("tenders")
def tenders() -> None:
    """Sealed e-tendering: calls for tenders, the opening, receipts."""


@tenders.group("calls")
def calls_group() -> None:
    """Register and list calls for tenders."""


@calls_group.command("add")
@click.option("--procedure", "procedure_id", required=True, help="the procedure id tenders cite")
@click.option("--institution", required=True, help="the contracting institution's partner id")
@click.option("--deadline", required=True, help="submission deadline, ISO 8601 with a zone")
@click.option("--opening", "opening_at", required=True, help="opening time, ISO 8601")
@click.option("--officer", "officers", multiple=True, required=True, help="repeat per officer")
@click.option("--quorum", "threshold", type=int, required=True, help="officers needed to open")
@click.option("--title", default=None)
@click.option("--lot", "lots", multiple=True)
@click.option(
    "--ubl",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="take procedure, deadline, opening time and lots from a UBL CallForTenders",
)
def calls_add(
    procedure_id: str,
    institution: str,
    deadline: str,
    opening_at: str,
    officers: tuple[str, ...],
    threshold: int,
    title: str | None,
    lots: tuple[str, ...],
    ubl: Path | None,
) -> None:
    """Register a call; prints each officer's share ONCE (the gateway keeps none)."""
    gw = _gateway()
    t = tendering_of(gw)
    try:
        if ubl is not None:
            spec = calls.spec_from_ubl(ubl.read_bytes(), institution, list(officers), threshold)
        else:
            spec = calls.CallSpec(
                procedure_id=procedure_id,
                institution_id=institution,
                deadline=_when(deadline),
                opening_at=_when(opening_at),
                officers=list(officers),
                threshold=threshold,
                title=title,
                lots=list(lots),
            )
        partner = gw.config.partners.get(institution)
        certs = certificates(partner, gw.config.partners_dir, t.clock()) if partner else None
        made = calls.register_call(t.sessions, t.clock, spec, "cli", certs or None)
    except TenderingRefused as exc:
        raise click.ClickException(str(exc)) from None
    _print(
        {
            "procedure_id": made.procedure_id,
            "key_id": made.key_id,
            "shares": made.shares,
            "shares_sealed": made.sealed,
        }
    )
    if made.sealed:
        click.echo(
            "Each share is sealed to its officer's certificate; the officer opens it with "
            "`edi-gateway tenders unseal-share`.",
            err=True,
        )
    else:
        click.echo("Give each officer only their own share; they are not shown again.", err=True)


@calls_group.command("list")
def calls_list() -> None:
    _print(calls.list_calls(tendering_of(_gateway()).reads))


@tenders.command("show")
@click.argument("procedure_id")
def show(procedure_id: str) -> None:
    """A call and its submissions (metadata only)."""
    t = tendering_of(_gateway())
    try:
        _print({"submissions": calls.submissions(t.reads, procedure_id)})
    except UnknownCall as exc:
        raise click.ClickException(str(exc)) from None


@tenders.command("open")
@click.argument("procedure_id")
@click.option("--share", "shares", multiple=True, help="an officer's share (or give them on stdin)")
@click.option("--actor", default="cli", show_default=True)
def open_call(procedure_id: str, shares: tuple[str, ...], actor: str) -> None:
    """Open the call with k officers' shares (one per line on stdin when --share is not
    given, so they stay out of the shell history); runs again to resume."""
    given = list(shares) or [line.strip() for line in sys.stdin if line.strip()]
    gw = _gateway()
    try:
        record = tendering_of(gw).opening.open(procedure_id, given, actor)
    except (UnknownCall, SharesRejected, OpeningError) as exc:
        raise click.ClickException(str(exc)) from None
    _print(record)


@tenders.command("record")
@click.argument("procedure_id")
def opening_record(procedure_id: str) -> None:
    """The signed opening record of an opened call, for publication."""
    t = tendering_of(_gateway())
    with t.reads() as s:
        try:
            call = calls.find_call(s, procedure_id)
        except UnknownCall as exc:
            raise click.ClickException(str(exc)) from None
        if call.opening_record is None:
            raise click.ClickException(f"procedure {procedure_id} has not been opened")
        _print(call.opening_record)


@tenders.command("officer-keygen")
@click.argument("name")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="where NAME.key and NAME.pem are written",
)
@click.option("--days", type=int, default=730, show_default=True)
@click.option(
    "--password",
    envvar="EDIGW_OFFICER_KEY_PASSWORD",
    default="",
    help="encrypts the private key (empty: not encrypted); or EDIGW_OFFICER_KEY_PASSWORD",
)
def officer_keygen(name: str, out_dir: Path, days: int, password: str) -> None:
    """An opening officer's RSA key and self-signed certificate. The officer keeps the key;
    the certificate goes into the institution's partner file ([[tendering.officers]])."""
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    key_path, cert_path = out_dir / f"{stem}.key", out_dir / f"{stem}.pem"
    if key_path.exists() or cert_path.exists():
        raise click.ClickException(f"{key_path} or {cert_path} exists already; not overwritten")
    key_pem, cert_pem = make_key_pair(name, days, password.encode() or None)
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
        f.write(key_pem)
    cert_path.write_bytes(cert_pem)
    click.echo(f"key {key_path} (keep it secret), certificate {cert_path}")


@tenders.command("unseal-share")
@click.argument("sealed", type=click.File("rb"))
@click.option("--key", "key_file", type=click.File("rb"), required=True, help="officer's key")
@click.option(
    "--cert", "cert_file", type=click.File("rb"), required=True, help="officer's certificate"
)
@click.option("--password", envvar="EDIGW_OFFICER_KEY_PASSWORD", default=None)
def unseal_share(sealed: Any, key_file: Any, cert_file: Any, password: str | None) -> None:
    """Print the share sealed to you (SEALED: the PEM text from the response, or - for
    stdin). The same as `openssl cms -decrypt -inform PEM -recip CERT -inkey KEY`."""
    try:
        share = unseal(
            sealed.read(),
            cert_file.read(),
            key_file.read(),
            password.encode() if password else None,
        )
    except (ValueError, TypeError) as exc:
        raise click.ClickException(f"the share cannot be unsealed with this key: {exc}") from None
    click.echo(share)


@tenders.command("key")
def receipt_key() -> None:
    """The gateway's public receipt key (PEM): what tenderers verify receipts with."""
    click.echo(tendering_of(_gateway()).key.public_pem().decode(), nl=False)


@click.group("audit")
def audit() -> None:
    """The tamper-evident audit chain over all events."""


@audit.command("verify")
@click.option("--chain-first/--no-chain-first", default=True, help="link new events first")
def audit_verify(chain_first: bool) -> None:
    """Recompute the chain; exit 1 naming the first broken link."""
    from edi_gateway.audit import verify

    t = tendering_of(_gateway())
    if chain_first:
        t.notary.run_until_done()
    result = verify(t.reads)
    if not result.ok:
        click.echo(f"BROKEN at event {result.broken_at}: {result.reason}", err=True)
        sys.exit(1)
    click.echo(
        f"ok: {result.checked} events chained, {result.unchained} not yet; head {result.head}"
    )
