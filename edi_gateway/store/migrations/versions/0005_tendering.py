"""sealed e-tendering (calls, submissions, withdrawals) and the audit chain on events

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tender_calls",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("procedure_id", sa.String(length=64), nullable=False),
        sa.Column("institution_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=512), nullable=True),
        sa.Column("lots", sa.JSON(), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opening_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("officers", sa.JSON(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opening_record", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("procedure_id"),
    )
    op.create_table(
        "tender_submissions",
        sa.Column("interchange_id", sa.String(length=26), nullable=False),
        sa.Column("call_id", sa.String(length=26), nullable=False),
        sa.Column("tenderer", sa.String(length=64), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("ack_id", sa.String(length=26), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("price", sa.String(length=64), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.ForeignKeyConstraint(["interchange_id"], ["interchanges.id"]),
        sa.ForeignKeyConstraint(["call_id"], ["tender_calls.id"]),
        sa.PrimaryKeyConstraint("interchange_id"),
    )
    op.create_index("ix_tender_submissions_call_id", "tender_submissions", ["call_id"])
    op.create_table(
        "tender_withdrawals",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(length=26), nullable=False),
        sa.Column("tenderer", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["tender_calls.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_tender_withdrawals_call_id", "tender_withdrawals", ["call_id"])
    # the audit chain (edi_gateway.audit): filled in by the notary, never by the writers
    op.add_column("events", sa.Column("chain_seq", sa.BigInteger(), nullable=True))
    op.add_column("events", sa.Column("chain_hash", sa.String(length=64), nullable=True))
    op.create_index("ix_events_chain_seq", "events", ["chain_seq"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_events_chain_seq", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("chain_hash")
        batch.drop_column("chain_seq")
    op.drop_index("ix_tender_withdrawals_call_id", table_name="tender_withdrawals")
    op.drop_table("tender_withdrawals")
    op.drop_index("ix_tender_submissions_call_id", table_name="tender_submissions")
    op.drop_table("tender_submissions")
    op.drop_table("tender_calls")
