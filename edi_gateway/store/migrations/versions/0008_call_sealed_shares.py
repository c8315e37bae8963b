"""a call keeps its officers' shares only sealed to the officers' certificates

The shares of a call registered from a UBL CallForTenders used to wait on the call in clear
until their response was delivered; they are now sealed to each officer's certificate and
kept, with the hash of the document that registered the call (to answer that document again
after a crash). Shares still held in clear are dropped: they were never meant to be kept.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tender_calls") as batch:
        batch.drop_column("pending_shares")
        batch.add_column(sa.Column("sealed_shares", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("source_sha256", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tender_calls") as batch:
        batch.drop_column("source_sha256")
        batch.drop_column("sealed_shares")
        batch.add_column(sa.Column("pending_shares", sa.JSON(), nullable=True))
