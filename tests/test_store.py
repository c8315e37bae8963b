"""The store: migrations match the models, on SQLite and PostgreSQL; spool durability rules."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from edi_gateway.spool import Spool
from edi_gateway.store import db
from edi_gateway.store.tables import Base


def _import_all_models() -> None:
    """Every module of `edi_gateway.store` may declare tables on the shared Base."""
    import edi_gateway.store

    for info in pkgutil.iter_modules(edi_gateway.store.__path__):
        importlib.import_module(f"edi_gateway.store.{info.name}")


def test_migrations_create_exactly_the_models(database_url: str) -> None:
    _import_all_models()
    engine = db.make_engine(database_url)
    db.migrate(engine)
    db.migrate(engine)  # idempotent
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_spool_is_content_addressed_and_leaves_no_temp_files(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    a = spool.stage(b"UNA:+.? 'UNB+UNOC:3'")
    b = spool.stage([b"UNA:+.? '", b"UNB+UNOC:3'"])  # same bytes, in pieces
    assert a.sha256 == b.sha256 and a.size == 20
    spool.commit([a, b])
    assert spool.read(a.sha256) == b"UNA:+.? 'UNB+UNOC:3'"
    assert spool.path(a.sha256).parent.name == a.sha256[:2]
    assert list(spool.tmp.iterdir()) == []


def test_spool_refuses_oversize_and_cleans_up(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    with pytest.raises(ValueError):
        spool.stage([b"x" * 600, b"x" * 600], max_bytes=1000)
    assert list(spool.tmp.iterdir()) == []
    with pytest.raises(ValueError):
        spool.path("../etc/passwd")
