"""operators, audit trail, and the indexes the dashboard's message list needs

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Keyset pagination is on (received_at, id), newest first; each filter that narrows a lot gets
# an index that starts with its column so the scan stays on matching rows.
_INTERCHANGE_INDEXES = {
    "ix_interchanges_partner_received": ["partner_id", "received_at", "id"],
    "ix_interchanges_state_received_id": ["state", "received_at", "id"],
    "ix_interchanges_channel_received": ["channel", "received_at", "id"],
    "ix_interchanges_standard_received": ["standard", "received_at", "id"],
    "ix_interchanges_direction_received": ["direction", "received_at", "id"],
    "ix_interchanges_transport_id": ["transport_id"],
}


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=128), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_sign_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=48), nullable=False),
        sa.Column("target", sa.String(length=256), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("remote", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_at", ["at", "id"], unique=False)
        batch_op.create_index("ix_audit_log_actor_at", ["actor", "at"], unique=False)
        batch_op.create_index("ix_audit_log_target", ["target"], unique=False)
    with op.batch_alter_table("interchanges", schema=None) as batch_op:
        for name, columns in _INTERCHANGE_INDEXES.items():
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("interchanges", schema=None) as batch_op:
        for name in _INTERCHANGE_INDEXES:
            batch_op.drop_index(name)
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_target")
        batch_op.drop_index("ix_audit_log_actor_at")
        batch_op.drop_index("ix_audit_log_at")
    op.drop_table("audit_log")
    op.drop_table("operators")
