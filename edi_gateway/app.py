"""The composition root: reads the configuration, builds every part and wires them together."""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import structlog
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from edi_gateway.acks.outbox import AckSender, Outbox
from edi_gateway.acks.senders import FolderSender, NoSender, PullSender, WebhookSender
from edi_gateway.channels.folder import FolderChannel
from edi_gateway.config import Config
from edi_gateway.formats.base import Registry
from edi_gateway.formats.edifact.directory import DEFAULT_SCHEMAS, DirectoryCatalog
from edi_gateway.formats.edifact.format import EdifactFormat, EdifactFormatSettings
from edi_gateway.formats.json.format import JsonFormat
from edi_gateway.formats.xml import XmlFormat, XmlLimits, XmlSettings
from edi_gateway.intake import Clock, Intake, utcnow
from edi_gateway.mapping import translate_message
from edi_gateway.pipeline.worker import Worker
from edi_gateway.queues import Queues
from edi_gateway.spool import Spool
from edi_gateway.store import db
from edi_gateway.store.tables import PartnerRow
from edi_gateway.tendering import calls
from edi_gateway.tendering.wiring import Tendering

log = structlog.get_logger("edi_gateway.app")


def default_registry(config: Config) -> Registry:
    """Every format the gateway understands, in the order they are asked to recognise a payload."""
    xml = XmlFormat(
        XmlSettings(
            data_dir=config.data_dir,
            limits=XmlLimits(max_bytes=config.settings.limits.max_submission_bytes),
        )
    )
    settings = EdifactFormatSettings.from_config(config, translator=translate_message)
    # the shipped directories first, then those the operator imported (directory import)
    catalog = DirectoryCatalog([DEFAULT_SCHEMAS, config.data_dir / "schemas" / "edifact"])
    edifact = EdifactFormat(dataclasses.replace(settings, catalog=catalog))
    return Registry([JsonFormat(), xml, edifact])


class Gateway:
    """All parts of one running gateway. `start()` runs the background loops."""

    def __init__(self, config: Config, clock: Clock = utcnow, migrate: bool = True) -> None:
        self.config = config
        self.clock = clock
        self.engine = db.make_engine(config.database_url)
        if migrate:
            db.migrate(self.engine)
        self.sessions = db.sessions(self.engine)
        self.reads = db.read_sessions(self.engine)
        self.spool = Spool(config.spool_dir)
        self.registry = default_registry(config)
        self.worker = Worker(config, self.sessions, self.spool, self.registry, clock=clock)
        self.tendering = Tendering.build(self)  # the sealer must exist before intake
        self.intake = Intake(
            self.spool,
            self.sessions,
            clock=clock,
            on_commit=self._committed,
            sealer=self.tendering.sealer,
            on_sealed=self.tendering.wake,
        )
        self.queues = Queues(self.sessions, config.settings.queues, clock=clock)
        self.senders: dict[str, AckSender] = {
            "http": PullSender(),
            "none": NoSender(),
            "folder": FolderSender(config.folder_root),
            "webhook": WebhookSender(),
        }
        self.channels = self._channels()
        self.outbox = Outbox(config, self.sessions, self.senders, clock=clock)
        self.checkpointer = db.Checkpointer(self.engine)
        self.folder = FolderChannel(config, self.intake) if config.settings.folder.enabled else None
        self._started = False
        self._recovered = False
        self.sync_partners()

    def sync_partners(self) -> None:
        """Mirror the partner files into the partners table (for joins and the dashboard)."""
        with self.sessions.begin() as s:
            known = {p.id: p for p in s.scalars(select(PartnerRow))}
            for p in self.config.partners.values():
                row = known.get(p.id)
                if row is None:
                    s.add(PartnerRow(id=p.id, name=p.name, role=p.role.value, enabled=p.enabled))
                else:
                    row.name, row.role, row.enabled = p.name, p.role.value, p.enabled

    def _channels(self) -> list[Any]:
        """The AS2, SFTP and mail channel adapters the configuration enables, and their senders."""
        from edi_gateway.acks.mail_sender import MailSender
        from edi_gateway.acks.sftp_sender import SftpSender
        from edi_gateway.channels.as2.channel import As2Channel
        from edi_gateway.channels.imap import ImapPoller
        from edi_gateway.channels.sftp import SftpChannel
        from edi_gateway.channels.smtp import SmtpChannel

        s, config = self.config.settings, self.config
        self.senders["sftp"] = SftpSender((config.data_dir / s.sftp.root).resolve())
        if s.mail_relay is not None:
            self.senders["email"] = MailSender(self.sessions, s.mail_relay)
        channels: list[Any] = []
        if s.sftp.enabled:
            channels.append(SftpChannel(config, self.intake, self.sessions, s.sftp))
        if s.smtp.enabled:
            channels.append(SmtpChannel(config, self.intake, self.sessions, s.smtp))
        if s.imap.enabled:
            channels.append(ImapPoller(config, self.intake, self.sessions, s.imap))
        as2 = As2Channel.from_config(self)  # None without [as2] in gateway.toml
        if as2 is not None:
            self.senders["as2"] = as2.sender
            channels.append(as2)
        return channels

    def _committed(self) -> None:
        """After each intake commit: wake the pipeline (the tender clerk is woken only by
        commits with sealed tenders: a query per commit cost the AS2 listener ~0.5 ms/msg)."""
        self.worker.wake.set()

    def recover(self) -> None:
        """Single-node start-up: clear what a killed run left half-done (never acknowledged)."""
        if self._recovered:
            return
        self._recovered = True
        self.spool.clean_temp()
        if self.config.settings.worker.recover_on_start:
            self.worker.recover()

    def start(self, worker_threads: int | None = None) -> None:
        if self._started:
            return
        self._started = True
        self.recover()
        self.worker.start(worker_threads)
        self.outbox.start()
        self.tendering.start()
        for channel in self.channels:
            channel.start()
        self.checkpointer.start()
        if self.folder is not None:
            self.folder.start()
        log.info(
            "gateway.started",
            database=self.engine.dialect.name,
            spool=str(self.spool.root),
            partners=len(self.config.partners),
            formats=[f.name for f in self.registry],
        )

    def stop(self) -> None:
        """Graceful: stop taking new work, finish what is in hand, then close."""
        if not self._started:
            self.intake.close()
            return
        self._started = False
        if self.folder is not None:
            self.folder.stop()
        for channel in reversed(self.channels):
            channel.stop()
        self.intake.close()
        self.worker.stop()
        self.outbox.stop()
        self.tendering.stop()
        self.checkpointer.stop()
        self.engine.dispose()
        log.info("gateway.stopped")

    def http_app(self) -> Starlette:
        from edi_gateway.web.api import routes

        @contextlib.asynccontextmanager
        async def lifespan(_app: Starlette) -> AsyncIterator[None]:
            self.start()
            try:
                yield
            finally:
                self.stop()

        call_routes = calls.routes(self)
        # /api/v1/calls answers as /api/v1/calls/ does, not with a redirect (which many clients
        # do not follow for a POST)
        bare = [
            Route("/api/v1/calls", r.endpoint, methods=list(r.methods or ()), name=f"{r.name}_bare")
            for r in call_routes
            if r.path == "/"
        ]
        app = Starlette(
            routes=[*routes, *bare, Mount("/api/v1/calls", routes=call_routes)], lifespan=lifespan
        )
        app.state.gateway = self
        return app


def serve(config: Config, host: str | None = None, port: int | None = None) -> None:
    """Run the listeners and all loops until SIGINT/SIGTERM (uvicorn handles both), with
    `worker.processes` pipeline workers beside this process."""
    import uvicorn

    gateway = Gateway(config)
    listener = config.settings.http
    workers = WorkerProcesses(config, config.settings.worker.processes)
    listeners = _side_listeners(gateway)
    try:
        gateway.recover()  # before any worker process may claim
        workers.start()
        for side in listeners:
            side.start()
        uvicorn.run(
            gateway.http_app(),
            host=host or listener.host,
            port=port if port is not None else listener.port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=20,
            lifespan="on",
        )
    finally:
        for side in reversed(listeners):
            side.stop()
        workers.stop()


def _side_listeners(gateway: Gateway) -> list[Any]:
    """Listeners beside the main HTTP API, each on its own port and thread."""
    settings = gateway.config.settings
    listeners: list[Any] = []
    if settings.dashboard.enabled:
        from edi_gateway.web.dashboard import DashboardListener

        listeners.append(
            DashboardListener(
                gateway,
                settings.dashboard.host,
                settings.dashboard.port,
                secure_cookies=settings.dashboard.secure_cookies,
                session_hours=settings.dashboard.session_hours,
            )
        )
    return listeners


class WorkerProcesses:
    """`edi-gateway worker` processes that die with this one (PR_SET_PDEATHSIG on Linux), so a
    killed gateway never leaves a worker behind."""

    def __init__(self, config: Config, count: int) -> None:
        self.config = config
        self.count = count
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        cmd = [
            sys.executable,
            "-m",
            "edi_gateway.cli",
            "-c",
            str(self.config.path),
            "--database-url",
            self.config.database_url,
            "worker",
        ]
        for _ in range(self.count):
            self.procs.append(subprocess.Popen(cmd, preexec_fn=_die_with_parent))

    def stop(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        self.procs.clear()


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
