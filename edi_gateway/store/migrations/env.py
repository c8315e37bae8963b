"""Alembic environment: runs on the connection the gateway hands over (see db.migrate)."""

from alembic import context

from edi_gateway.store.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only used by `alembic` run by hand
    from sqlalchemy import create_engine

    connection = create_engine(context.config.get_main_option("sqlalchemy.url") or "").connect()

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
