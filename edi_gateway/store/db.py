"""Engine and session set-up for SQLite (embedded default) and PostgreSQL, and migrations."""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # checkpoints run in the background (see Checkpointer); this is only the fallback
    cur.execute("PRAGMA wal_autocheckpoint=20000")
    cur.execute("PRAGMA synchronous=FULL")  # a committed intake survives power loss
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    return create_engine(
        url,
        pool_size=20,
        max_overflow=20,
        pool_pre_ping=True,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
    )


def _json_dumps(value: Any) -> str:
    """JSON columns hold canonical documents: orjson encodes them several times faster."""
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


class WriterLock:
    """One SQLite writer at a time, across the threads of this process (a thread lock) and
    across processes (an flock on a file beside the database). Waiting here is a plain
    blocking wait; left to SQLite, a second writer naps in its busy handler (up to 100 ms a
    nap), which turned intake/worker contention into latency."""

    def __init__(self, path: str | None) -> None:
        self._thread_lock = threading.Lock()
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600) if path else None

    def acquire(self) -> None:
        self._thread_lock.acquire()
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except BaseException:
                self._thread_lock.release()
                raise

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()


def _sqlite_engine(url: str) -> Engine:
    """Writers queue on a `WriterLock` and start with BEGIN IMMEDIATE (no read-then-upgrade
    failures); read-only sessions (see `read_sessions`) take no lock and read their WAL
    snapshot in parallel."""
    path = url.split("///", 1)[-1]
    on_disk = bool(path) and path != ":memory:"
    if on_disk:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=20,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
    )
    writer = WriterLock(path + ".writer-lock" if on_disk else None)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        _sqlite_pragmas(dbapi_conn, _record)

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # on the driver's connection: through SQLAlchemy these statements cost as much as
        # the inserts of a small transaction
        record = conn.connection
        raw = record.driver_connection
        assert raw is not None
        options = conn.get_execution_options()
        if options.get("readonly"):
            raw.execute("BEGIN")
            return
        writer.acquire()
        conn.info["holds_writer"] = True
        try:
            mode = "FULL" if options.get("durable", True) else "NORMAL"
            if record.info.get("synchronous") != mode:  # a setting of the connection: kept
                raw.execute(f"PRAGMA synchronous={mode}")
                record.info["synchronous"] = mode
            raw.execute("BEGIN IMMEDIATE")
        except BaseException:
            _release(conn)
            raise

    def _release(conn: Connection) -> None:
        if conn.info.pop("holds_writer", False):
            writer.release()

    event.listen(engine, "commit", _release)
    event.listen(engine, "rollback", _release)
    return engine


def sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions for work that writes (or must see the latest committed state to decide)."""
    return sessionmaker(engine, expire_on_commit=False)


def bookkeeping_sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions for writes that may be lost in a power cut without harm because they are
    redone (a claim, a delivery mark): on SQLite their commit skips the fsync."""
    return sessionmaker(engine.execution_options(durable=False), expire_on_commit=False)


def read_sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions that only read: on SQLite they never wait for a writer."""
    return sessionmaker(engine.execution_options(readonly=True), expire_on_commit=False)


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` with Alembic (idempotent)."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


class Checkpointer:
    """Copies SQLite's WAL back into the database once a second from a thread of its own.
    Left to SQLite, the commit that crosses the WAL threshold does it, and the intake batch
    that happens to be that commit waits for it (the p95 latency spikes)."""

    def __init__(self, engine: Engine, interval: float = 1.0) -> None:
        self.engine = engine
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.engine.dialect.name != "sqlite":
            return
        self._thread = threading.Thread(target=self._run, name="wal-checkpointer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            raw = self.engine.raw_connection()
            try:
                raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")  # type: ignore[union-attr]
            except Exception:  # busy now: next time
                pass
            finally:
                raw.close()
