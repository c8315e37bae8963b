"""`edi-gateway`: the command line."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from edi_gateway import logs
from edi_gateway.config import Config, ConfigError, load

DEFAULT_CONFIG = "gateway.toml"


class Ctx:
    def __init__(self, config_path: str, database_url: str | None) -> None:
        self.config_path = config_path
        self.database_url = database_url
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            try:
                self._config = load(self.config_path, self.database_url)
            except ConfigError as exc:
                raise click.ClickException(f"configuration error: {exc}") from None
        return self._config

    def gateway(self) -> Any:
        from edi_gateway.app import Gateway

        return Gateway(self.config)


pass_ctx = click.make_pass_decorator(Ctx)


@click.group()
@click.option(
    "--config",
    "-c",
    "config_path",
    envvar="EDI_GATEWAY_CONFIG",
    default=DEFAULT_CONFIG,
    show_default=True,
    help="gateway.toml (partners/ beside it)",
)
@click.option(
    "--database-url",
    envvar="EDI_GATEWAY_DATABASE_URL",
    default=None,
    help="override the database (sqlite:///path or postgresql://...)",
)
@click.option(
    "--log-format", type=click.Choice(["json", "console"]), default="json", show_default=True
)
@click.pass_context
def main(ctx: click.Context, config_path: str, database_url: str | None, log_format: str) -> None:
    """edi-gateway: receive, validate, translate, route and acknowledge EDI documents."""
    logs.configure(os.environ.get("EDI_GATEWAY_LOG_LEVEL", "info"), json=log_format == "json")
    ctx.obj = Ctx(config_path, database_url)


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--port", default=8080, show_default=True)
@click.option("--force", is_flag=True, help="overwrite an existing configuration")
def init(directory: Path, port: int, force: bool) -> None:
    """Write a working configuration with sample partners into DIRECTORY."""
    from edi_gateway.samples import write_sample_config

    if (directory / "gateway.toml").exists() and not force:
        raise click.ClickException(f"{directory / 'gateway.toml'} exists; use --force to overwrite")
    creds = write_sample_config(directory, port)
    click.echo(
        f"wrote {directory / 'gateway.toml'} and {len(creds)} partner files in {directory / 'partners'}"
    )
    click.echo("credentials (shown once; also in credentials.json, mode 0600):")
    for pid, c in creds.items():
        for kind, token in c.items():
            click.echo(f"  {pid:14} {kind:17} {token}")


@main.command()
@click.option("--host", default=None)
@click.option("--port", type=int, default=None)
@pass_ctx
def serve(c: Ctx, host: str | None, port: int | None) -> None:
    """Run the gateway: listeners, pipeline worker, ack delivery. Stops cleanly on SIGTERM."""
    from edi_gateway.app import serve as run

    logs.configure(os.environ.get("EDI_GATEWAY_LOG_LEVEL") or c.config.settings.gateway.log_level)
    run(c.config, host, port)


@main.command()
@pass_ctx
def worker(c: Ctx) -> None:
    """Run only pipeline workers (scale-out on PostgreSQL)."""
    import signal
    import threading

    gw = c.gateway()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    gw.worker.start(max(1, c.config.settings.worker.threads))
    with contextlib.suppress(KeyboardInterrupt):
        done.wait()
    gw.worker.stop()


@main.command()
@pass_ctx
def migrate(c: Ctx) -> None:
    """Bring the database schema up to date (serve does this too)."""
    from edi_gateway.store import db

    db.migrate(db.make_engine(c.config.database_url))
    click.echo("schema up to date")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--partner", required=True, help="the sending partner's id")
@click.option("--wait/--no-wait", default=True, help="process it now and print the status")
@pass_ctx
def submit(c: Ctx, file: Path, partner: str, wait: bool) -> None:
    """Submit FILE as if PARTNER had sent it (channel `cli`)."""
    from edi_gateway.intake import Origin
    from edi_gateway.pipeline.worker import wait_idle
    from edi_gateway.store.queries import interchange_status

    if partner not in c.config.partners:
        raise click.ClickException(
            f"unknown partner {partner!r}; known: {', '.join(sorted(c.config.partners))}"
        )
    gw = c.gateway()
    try:
        with file.open("rb") as fh:
            receipt = gw.intake.receive(
                fh,
                Origin(channel="cli", partner_id=partner, filename=file.name),
                max_bytes=c.config.settings.limits.max_submission_bytes,
            )
        if wait:
            wait_idle(gw.worker, timeout=600)
        with gw.reads() as s:
            _print(interchange_status(s, receipt.interchange_id))
    finally:
        gw.stop()


@main.command()
@click.argument("receipt_id")
@pass_ctx
def status(c: Ctx, receipt_id: str) -> None:
    """Print the status document of one interchange."""
    from edi_gateway.store.queries import interchange_status

    gw = c.gateway()
    with gw.reads() as s:
        st = interchange_status(s, receipt_id)
    if st is None:
        raise click.ClickException(f"no interchange {receipt_id}")
    _print(st)


@main.group()
def messages() -> None:
    """List and show interchanges."""


@messages.command("list")
@click.option("--state", default=None)
@click.option("--partner", default=None)
@click.option("--limit", default=20, show_default=True)
@pass_ctx
def messages_list(c: Ctx, state: str | None, partner: str | None, limit: int) -> None:
    from edi_gateway.store.queries import list_interchanges

    gw = c.gateway()
    with gw.reads() as s:
        rows = list_interchanges(s, state=state, partner=partner, limit=limit)
    for r in rows:
        click.echo(
            f"{r.id}  {r.received_at:%Y-%m-%d %H:%M:%S}  {r.state:10} {r.channel:7} "
            f"{(r.partner_id or '-'):14} {(r.format or '-'):8} {r.filename or ''}"
        )


@messages.command("show")
@click.argument("receipt_id")
@pass_ctx
def messages_show(c: Ctx, receipt_id: str) -> None:
    from edi_gateway.store.queries import interchange_status, timeline

    gw = c.gateway()
    with gw.reads() as s:
        st = interchange_status(s, receipt_id)
        if st is None:
            raise click.ClickException(f"no interchange {receipt_id}")
        st["timeline"] = [
            {"at": e.at.isoformat(), "actor": e.actor, "type": e.type, "detail": e.detail}
            for e in timeline(s, receipt_id)
        ]
    _print(st)


@main.command()
@click.argument("receipt_ids", nargs=-1, required=True)
@click.option("--actor", default=lambda: f"cli:{os.environ.get('USER', 'operator')}")
@pass_ctx
def reprocess(c: Ctx, receipt_ids: tuple[str, ...], actor: str) -> None:
    """Run finished interchanges through the pipeline again (after fixing config or routes)."""
    from edi_gateway.pipeline.commands import reprocess as do

    gw = c.gateway()
    for rid in receipt_ids:
        try:
            do(gw.sessions, rid, actor, gw.clock())
        except LookupError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"{rid}: queued for reprocessing")


@main.command()
@pass_ctx
def queues(c: Ctx) -> None:
    """Depth, in-flight and dead letters of every back-office queue."""
    gw = c.gateway()
    click.echo(f"{'queue':30} {'visible':>8} {'inflight':>8} {'dead':>6} {'done':>8}  oldest")
    for q in gw.queues.stats():
        click.echo(
            f"{q.queue:30} {q.visible:8} {q.in_flight:8} {q.dead:6} {q.done:8}  "
            f"{q.oldest.isoformat() if q.oldest else '-'}"
        )


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def inspect(file: Path) -> None:
    """Print an EDIFACT interchange as a tree of groups and segments, with element names from
    the directory and the findings inline."""
    from edi_gateway.formats.edifact.inspect import lines

    with file.open("rb") as fh:
        for line in lines(fh):
            click.echo(line)


@main.group()
def directory() -> None:
    """UN/EDIFACT directories the gateway validates against."""


@directory.command("import")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--messages", default=None, help="comma-separated message types (default: all)")
@click.option("--name", default=None, help="directory name (default: the folder name, e.g. D96A)")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="where to write (default: <data_dir>/schemas/edifact)",
)
@click.option(
    "--service-codes",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="service_codes_v*.xml for a service directory (no code lists of its own)",
)
@click.option(
    "--fill-from",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="reference directories to repair composites the source lost",
)
@pass_ctx
def directory_import(
    c: Ctx,
    source: Path,
    messages: str | None,
    name: str | None,
    out: Path | None,
    service_codes: tuple[Path, ...],
    fill_from: tuple[Path, ...],
) -> None:
    """Import a directory in the public XML form (segments.xml, codes.xml, messages/)."""
    from edi_gateway.formats.edifact.directory_import import import_directory

    dest = out or c.config.data_dir / "schemas" / "edifact"
    report = import_directory(
        source,
        dest,
        [m.strip().upper() for m in messages.split(",")] if messages else None,
        name=name,
        service_codes=service_codes,
        fill_from=fill_from,
    )
    click.echo(
        f"{report.directory}: {len(report.messages)} messages, {report.segments} segments, "
        f"{report.composites} composites, {report.elements} elements, "
        f"{len(report.code_lists)} code lists -> {report.path}"
    )
    for w in report.warnings:
        click.echo(f"  warning: {w}")
    if report.missing_messages:
        click.echo(f"  not in the source: {', '.join(report.missing_messages)}")


@main.group()
def schemas() -> None:
    """XML schema sets installed by the operator (UBL 2.1/2.2, CII D16B, EN 16931 release)."""


@schemas.command("install")
@click.argument("release", type=click.Choice(["ubl-2.1", "ubl-2.2", "cii-d16b", "en16931"]))
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@pass_ctx
def schemas_install(c: Ctx, release: str, source: Path) -> None:
    """Copy RELEASE from SOURCE (the OASIS/CEN release, a folder or zip), checking every file
    against the SHA-256 sums the project keeps."""
    from edi_gateway.formats.xml import InstallError, install_schemas

    try:
        result = install_schemas(release, source, c.config.data_dir)
    except InstallError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"installed {result.release}: {result.files} files verified -> {result.target}")


@main.command()
def schema() -> None:
    """Print the JSON Schema of the canonical documents (what back offices receive)."""
    from edi_gateway.model.schema import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


@main.command()
@click.option(
    "--dir", "directory", default="demo-data", show_default=True, type=click.Path(path_type=Path)
)
@click.option("--port", default=8080, show_default=True)
@click.option(
    "--exit-after-traffic", is_flag=True, help="stop once the sample traffic is processed"
)
def demo(directory: Path, port: int, exit_after_traffic: bool) -> None:
    """Set up a sample configuration, start the gateway and push sample traffic through it."""
    from edi_gateway.demo import run_demo

    sys.exit(run_demo(directory, port, exit_after_traffic))


def _print(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def _attach_groups() -> None:
    from edi_gateway.channels.as2.cli import as2_group
    from edi_gateway.dashboard_cli import users
    from edi_gateway.tendering.cli import audit, tenders

    for group in (users, tenders, audit, as2_group):
        main.add_command(group)


_attach_groups()

if __name__ == "__main__":
    main()
