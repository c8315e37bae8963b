"""every interchange control reference of a payload, for the duplicate-interchange check

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "interchange_references",
        sa.Column("interchange_id", sa.String(length=26), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=True),
        sa.Column("control_reference", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["interchange_id"], ["interchanges.id"]),
        sa.PrimaryKeyConstraint("interchange_id", "position"),
    )
    op.create_index(
        "ix_interchange_references_partner_ref",
        "interchange_references",
        ["partner_id", "control_reference"],
    )


def downgrade() -> None:
    op.drop_index("ix_interchange_references_partner_ref", table_name="interchange_references")
    op.drop_table("interchange_references")
