"""What every dashboard handler needs, built once per app: the gateway's parts it uses, a
read-only session factory, the cookie signer, the sign-in throttle and the templates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from edi_gateway.acks.outbox import Outbox
from edi_gateway.config import Config
from edi_gateway.queues import Queues
from edi_gateway.spool import Spool
from edi_gateway.store.operators import Role
from edi_gateway.web.dashboard.security import Signer, Throttle

WEB = Path(__file__).resolve().parents[1]
TEMPLATES = WEB / "templates"
STATIC = WEB / "static"


class GatewayParts(Protocol):
    """The parts of `edi_gateway.app.Gateway` the dashboard uses (typed here so the web layer
    does not import the composition root)."""

    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    spool: Spool
    queues: Queues
    outbox: Outbox
    clock: Callable[[], dt.datetime]


@dataclass(frozen=True)
class SignedIn:
    id: int
    username: str
    display_name: str
    role: Role

    @property
    def actor(self) -> str:
        """How this operator appears in event rows and the audit trail."""
        return f"operator:{self.username}"


@dataclass
class Dashboard:
    gateway: GatewayParts
    read: sessionmaker[Session]  # never waits for the SQLite writer
    read_queues: Queues  # queue figures through `read` sessions
    signer: Signer
    throttle: Throttle
    templates: Environment
    session_seconds: float
    secure_cookies: bool | None  # None: Secure when the request came over TLS
    refresh_seconds: int

    def wake_worker(self) -> None:
        worker: Any = getattr(self.gateway, "worker", None)
        if worker is not None:
            worker.wake.set()


def template_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "svg"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = lambda v: v.strftime("%Y-%m-%d %H:%M:%S") if v else "–"
    env.filters["short"] = lambda v: v.strftime("%m-%d %H:%M:%S") if v else "–"
    env.filters["size"] = _size
    return env


def _size(n: int | None) -> str:
    if n is None:
        return "–"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"
