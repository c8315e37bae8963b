"""The dashboard's own listener: a uvicorn server on a thread beside the gateway's main HTTP
listener. Off the main thread uvicorn leaves signal handling alone, so the main listener keeps
owning SIGINT/SIGTERM and stops this one through `stop()`."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Self

import structlog

from edi_gateway.web.dashboard.app import create_dashboard
from edi_gateway.web.dashboard.context import GatewayParts

log = structlog.get_logger("edi_gateway.dashboard")


class DashboardUnavailable(OSError):
    """The dashboard listener could not start (address in use, permission denied, ...)."""


class DashboardListener:
    def __init__(
        self, gateway: GatewayParts, host: str = "127.0.0.1", port: int = 8081, **options: Any
    ) -> None:
        import uvicorn

        self.app = create_dashboard(gateway, **options)
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host, port))
        except OSError as exc:
            self.sock.close()
            raise DashboardUnavailable(
                exc.errno, f"the dashboard cannot listen on {host}:{port}: {exc.strerror}"
            ) from exc
        self.host, self.port = host, self.sock.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off")
        )
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, name="dashboard", daemon=True
        )

    def start(self, timeout: float = 20) -> None:
        """Serve, and return once the listener accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            self._thread.join(0.02)
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise DashboardUnavailable(f"the dashboard on {self.url} did not start")
        log.info("dashboard.started", url=self.url)

    def stop(self, timeout: float = 20) -> None:
        self.server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self.sock.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
