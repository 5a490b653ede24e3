"""reach: assisted people registered again (counted once); coordinators' area tags

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 22:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REACH_COLUMNS = [
    "area_code",
    "consent_at",
    "channel",
    "status",
    "gender",
    "activity_epoch",
    "reached_days",
    "engaged_days",
    "reached_days_before",
    "engaged_days_before",
]


def upgrade() -> None:
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("registered_again", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    # The report reads only this index: it must hold the new column too.
    op.drop_index("ix_residents_reach", table_name="residents")
    op.create_index(
        "ix_residents_reach",
        "residents",
        [*REACH_COLUMNS[:4], "registered_again", *REACH_COLUMNS[4:]],
    )
    op.create_table(
        "area_tags",
        sa.Column("area_code", sa.String(length=8), nullable=False),
        sa.Column("tag", sa.String(length=32), nullable=False),
        sa.Column("tagged_by", sa.String(length=64), nullable=False),
        sa.Column("tagged_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["area_code"], ["areas.code"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("area_code", "tag"),
    )
    op.create_index("ix_area_tags_tag", "area_tags", ["tag"])


def downgrade() -> None:
    op.drop_index("ix_area_tags_tag", table_name="area_tags")
    op.drop_table("area_tags")
    op.drop_index("ix_residents_reach", table_name="residents")
    op.create_index("ix_residents_reach", "residents", REACH_COLUMNS)
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.drop_column("registered_again")
