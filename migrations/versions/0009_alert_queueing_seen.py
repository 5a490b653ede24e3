"""alerts: when the process queueing an alert was last seen doing so

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 22:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Empty for existing alerts: their creation time stands in, so one left "queueing" by an
    # older version is taken over by the first check.
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("queueing_seen_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("queueing_seen_at")
