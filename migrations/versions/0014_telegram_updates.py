"""telegram_updates: handled updates with the replies they owe, so each is handled once

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "telegram_updates",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("digest", sa.String(32), nullable=False),
        sa.Column("person", sa.BigInteger(), nullable=True),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replies", sa.Text(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("update_id"),
    )
    op.create_index("ix_telegram_updates_handled_at", "telegram_updates", ["handled_at"])
    op.create_index("ix_telegram_updates_person", "telegram_updates", ["person"])


def downgrade() -> None:
    op.drop_index("ix_telegram_updates_person", table_name="telegram_updates")
    op.drop_index("ix_telegram_updates_handled_at", table_name="telegram_updates")
    op.drop_table("telegram_updates")
