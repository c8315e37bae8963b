"""AS2 evidence: MDNs sent and received (also the outbox of asynchronous MDNs)

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = {
    "ix_as2_mdns_interchange": ["interchange_id"],
    "ix_as2_mdns_ack": ["ack_id"],
    "ix_as2_mdns_original": ["original_message_id"],
    "ix_as2_mdns_due": ["state", "next_attempt_at"],
}


def upgrade() -> None:
    op.create_table(
        "as2_mdns",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("interchange_id", sa.String(length=26), nullable=True),
        sa.Column("ack_id", sa.String(length=26), nullable=True),
        sa.Column("partner_id", sa.String(length=64), nullable=True),
        sa.Column("as2_from", sa.String(length=128), nullable=True),
        sa.Column("as2_to", sa.String(length=128), nullable=True),
        sa.Column("original_message_id", sa.String(length=998), nullable=True),
        sa.Column("mdn_message_id", sa.String(length=998), nullable=True),
        sa.Column("disposition", sa.String(length=128), nullable=True),
        sa.Column("mic", sa.String(length=256), nullable=True),
        sa.Column("signed", sa.Boolean(), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("as2_mdns", schema=None) as batch_op:
        for name, columns in _INDEXES.items():
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("as2_mdns", schema=None) as batch_op:
        for name in _INDEXES:
            batch_op.drop_index(name)
    op.drop_table("as2_mdns")
