"""reach: the by-channel counts read from ix_residents_reach; the old job store's table dropped

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
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
    # Left in older databases by APScheduler's SQLAlchemy job store: jobs now live in memory,
    # rebuilt from the courses, and nothing reads this table.
    if sa.inspect(op.get_bind()).has_table("apscheduler_jobs"):
        op.drop_table("apscheduler_jobs")


def downgrade() -> None:
    # The job store's table is not brought back: nothing reads it.
    op.drop_index("ix_residents_reach", table_name="residents")
    op.create_index("ix_residents_reach", "residents", REACH_COLUMNS)
