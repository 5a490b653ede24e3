"""reach: the by-channel counts read from ix_residents_reach

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 10:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REACH_COLUMNS = [
    "area_code",
    "consent_at",
    "channel",
    "status",
    "registered_again",
    "gender",
    "activity_epoch",
    "reached_days",
    "engaged_days",
    "reached_days_before",
    "engaged_days_before",
]


def upgrade() -> None:
    # The report counts residents on Telegram and with a phone in its one pass over this
    # index: without these two columns in it, SQLite reads every resident's row instead.
    op.drop_index("ix_residents_reach", table_name="residents")
    op.create_index("ix_residents_reach", "residents", [*REACH_COLUMNS, "telegram_id", "phone"])


def downgrade() -> None:
    op.drop_index("ix_residents_reach", table_name="residents")
    op.create_index("ix_residents_reach", "residents", REACH_COLUMNS)
