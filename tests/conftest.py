"""Fixtures that build everything the tests need: configurations, databases (SQLite files and
a real PostgreSQL server started here), gateways and HTTP servers on loopback ports."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edi_gateway.app import Gateway
from edi_gateway.config import Config, load
from edi_gateway.samples import write_sample_config
from tests.support import wait_for

IN_CI = os.environ.get("CI") == "true"


# -- PostgreSQL ------------------------------------------------------------------------------


def _pg_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return versions[-1].parent if versions else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str | None]:
    """A PostgreSQL server on a loopback port for the whole session (None when unavailable:
    the PostgreSQL variants are then skipped, except in CI where that is an error)."""
    url = os.environ.get("EDI_GATEWAY_TEST_PG_URL")
    if url:
        yield url
        return
    bindir = _pg_bin()
    if bindir is None:
        if IN_CI:
            pytest.fail("PostgreSQL is not installed; .ci/run must install the postgresql package")
        yield None
        return
    data = Path(tempfile.mkdtemp(prefix="edigw-pg-"))
    port = free_port()
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(data, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_postgres, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                    "--no-sync", "-E", "UTF8"], check=True, capture_output=True)
    opts = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-w", "-l",
                    str(data / "log"), "start"], check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


def _fresh_pg_database(server: str) -> str:
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store/pipeline test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gateway.db'}"
    server = request.getfixturevalue("postgres_server")
    if server is None:
        pytest.skip("PostgreSQL is not installed here")
    return _fresh_pg_database(server)


# -- configuration and gateways ------------------------------------------------------------


@pytest.fixture
def config_dir(tmp_path: Path) -> tuple[Path, dict[str, dict[str, str]]]:
    directory = tmp_path / "config"
    creds = write_sample_config(directory, port=0)
    return directory, creds


@pytest.fixture
def creds(config_dir: tuple[Path, dict[str, dict[str, str]]]) -> dict[str, dict[str, str]]:
    return config_dir[1]


@pytest.fixture
def config(config_dir: tuple[Path, dict[str, Any]], database_url: str) -> Config:
    return load(config_dir[0] / "gateway.toml", database_url)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.now = start or dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
        self._lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def gateway(config: Config) -> Iterator[Gateway]:
    """A gateway whose loops are not running: tests drive the worker themselves."""
    gw = Gateway(config)
    yield gw
    gw.stop()
    gw.engine.dispose()


class Server:
    def __init__(self, gateway: Gateway) -> None:
        import uvicorn

        self.gateway = gateway
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(gateway.http_app(), log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        wait_for(lambda: self.server.started, timeout=20)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        with contextlib.suppress(OSError):
            self.sock.close()


@pytest.fixture
def server(gateway: Gateway) -> Iterator[Server]:
    """The gateway running for real (worker, outbox, folder channel) behind uvicorn."""
    with Server(gateway) as srv:
        yield srv
