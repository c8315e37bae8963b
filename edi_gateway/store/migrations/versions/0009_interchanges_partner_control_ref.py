"""the duplicate-interchange look-up finds a partner's control reference by index

Without it SQLite answered "an earlier interchange of this partner with this control
reference" by walking all of the partner's interchanges in time order: a look-up per
interchange that grew with the partner's history.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_interchanges_partner_control_ref", "interchanges", ["partner_id", "control_reference"]
    )


def downgrade() -> None:
    op.drop_index("ix_interchanges_partner_control_ref", table_name="interchanges")
