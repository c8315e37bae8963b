"""The AS2 channel as one part of a running gateway: the listener on its own port, the
evidence writer, the delivery of asynchronous MDNs, and the `as2` ack sender.

    as2 = As2Channel.from_config(gateway)          # None when gateway.toml has no [as2]
    gateway.senders["as2"] = as2.sender            # the ack outbox's return route
    as2.start() ... as2.stop()                     # with the gateway's own start/stop
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
import structlog
import uvicorn

from edi_gateway.acks.as2_sender import As2Sender
from edi_gateway.channels.as2.evidence import EvidenceWriter
from edi_gateway.channels.as2.expiry import ExpiryWatch
from edi_gateway.channels.as2.listener import As2App, As2Listener
from edi_gateway.channels.as2.mdn_outbox import MdnDelivery
from edi_gateway.channels.as2.partners import (
    LiveDirectory,
    as2_settings,
    build_directory,
    load_station,
)
from edi_gateway.channels.as2.policy import LocalStation, utc_now
from edi_gateway.channels.as2.settings import As2Settings

if TYPE_CHECKING:
    from edi_gateway.app import Gateway

log = structlog.get_logger("edi_gateway.as2")


class As2Channel:
    def __init__(
        self,
        gateway: Gateway,
        station: LocalStation,
        settings: As2Settings,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
        client: httpx.Client | None = None,
    ) -> None:
        self.gateway = gateway
        self.settings = settings
        self.directory = LiveDirectory(
            gateway.config,
            lambda: build_directory(
                gateway.config,
                station,
                mdn_url=settings.public_url,
                max_size=settings.max_message_bytes,
                clock=clock,
                warn_days=settings.expiry_warning_days,
            ),
        )
        self.client = client or httpx.Client(timeout=settings.send_timeout_seconds)
        self.evidence = EvidenceWriter(gateway.sessions, gateway.clock)
        self.delivery = MdnDelivery(
            gateway.sessions,
            gateway.clock,
            self.client,
            max_attempts=settings.mdn_max_attempts,
            backoff_seconds=settings.mdn_backoff_seconds,
        )
        self.sender = As2Sender(
            self.directory, gateway.sessions, self.evidence, clock, client=self.client
        )
        self.listener = As2Listener(
            gateway,
            self.directory,
            self.evidence,
            max_bytes=settings.max_message_bytes,
            on_async_mdn=self.delivery.wake.set,
            sender=self.sender,
            evidence_first=settings.evidence_before_answer,
        )
        self.expiry = ExpiryWatch(
            self.directory, clock, dt.timedelta(days=settings.expiry_warning_days)
        )
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.port: int | None = None

    @classmethod
    def from_config(cls, gateway: Gateway) -> As2Channel | None:
        settings = as2_settings(gateway.config)
        if settings is None or not settings.enabled:
            return None
        return cls(gateway, load_station(settings, gateway.config.data_dir), settings)

    def app(self) -> As2App:
        """The listener as an ASGI app (the caller runs it and the loops)."""
        return self.listener.app()

    @property
    def url(self) -> str:
        scheme = "https" if self.settings.tls_certificate else "http"
        return f"{scheme}://{self.settings.host}:{self.port}"

    def start(self) -> None:
        """Serve on `settings.host:port` (port 0: an ephemeral one, see `self.port`) in a
        thread, and start delivering asynchronous MDNs."""
        self.delivery.start()
        self.expiry.start()
        sock = socket.socket(socket.AF_INET6 if ":" in self.settings.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.settings.host, self.settings.port))
        self._socket, self.port = sock, sock.getsockname()[1]
        data_dir = self.gateway.config.data_dir
        tls = self.settings.tls_certificate, self.settings.tls_key
        config = uvicorn.Config(
            self.app(),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=20,
            ssl_certfile=str(data_dir / tls[0]) if tls[0] else None,
            ssl_keyfile=str(data_dir / tls[1]) if tls[1] else None,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="as2-listener", daemon=True
        )
        self._thread.start()
        log.info(
            "as2.listening",
            host=self.settings.host,
            port=self.port,
            as2_id=self.directory.station.as2_id,
            partners=len(self.directory.profiles),
        )

    @property
    def started(self) -> bool:
        return bool(self._server and self._server.started)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()
            self._socket = None
        self.delivery.stop()
        self.expiry.stop()
        self.evidence.close()
