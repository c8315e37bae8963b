"""a call registered from a UBL CallForTenders keeps its shares until they are delivered

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tender_calls") as batch:
        batch.add_column(sa.Column("pending_shares", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tender_calls") as batch:
        batch.drop_column("pending_shares")
