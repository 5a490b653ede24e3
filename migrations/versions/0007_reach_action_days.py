"""reach: lessons and acknowledgements per local day and area (a rollup); unlisted-area index

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Filled from the event log by the next report's refresh (bot/reach/activity.py): its
    # watermark `action_event_id` is not set yet, so it starts from the first event.
    op.create_table(
        "reach_action_days",
        sa.Column("area_code", sa.String(length=8), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("lessons_completed", sa.Integer(), nullable=False),
        sa.Column("alerts_acknowledged", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("area_code", "day"),
        sqlite_with_rowid=False,
    )
    # Only residents whose area is not listed: the missing report's list of what they typed.
    unlisted = sa.text("area_code IS NULL")
    op.create_index(
        "ix_residents_unlisted",
        "residents",
        ["consent_at", "area_unlisted_text"],
        sqlite_where=unlisted,
        postgresql_where=unlisted,
    )


def downgrade() -> None:
    op.drop_index("ix_residents_unlisted", table_name="residents")
    op.drop_table("reach_action_days")
    # The rollup's own bookkeeping: an older version rebuilds nothing from these.
    op.execute(sa.text("DELETE FROM reach_state WHERE key IN ('action_event_id', 'aligned_epoch')"))
