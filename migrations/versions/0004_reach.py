"""reach: assisted residents, self-description, activity rollup, attendance, feedback

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("gender", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("age_band", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("phone_access", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("registered_by", sa.String(length=32), nullable=True))
        # The activity rollup (bot/reach/activity.py); filled from the event log on first use.
        batch_op.add_column(sa.Column("activity_epoch", sa.Integer(), nullable=True))
        for name in ("reached_days", "engaged_days", "reached_days_before", "engaged_days_before"):
            batch_op.add_column(
                sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")
            )

    op.create_table(
        "attendance",
        sa.Column("id", _ID, nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("attended_on", sa.Date(), nullable=False),
        sa.Column("trainer", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["resident_id"], ["residents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("resident_id", "attended_on", name="uq_attendance_resident_day"),
    )
    op.create_index("ix_attendance_resident_id", "attendance", ["resident_id"])

    op.create_table(
        "feedback",
        sa.Column("id", _ID, nullable=False),
        sa.Column("area_code", sa.String(length=8), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["area_code"], ["areas.code"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_feedback_area_at", "feedback", ["area_code", "at"])

    op.create_table(
        "attendance_imports",
        sa.Column("id", _ID, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("trainer", sa.String(length=32), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )

    op.create_table(
        "reach_state",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    # Lessons and acknowledgements are counted per area from the event log: with area_code
    # in the index, that count never reads the table rows.
    op.create_index("ix_events_kind_at_area", "events", ["kind", "at", "area_code"])
    # One pass over the residents of an area reads only this index (area range first).
    op.create_index(
        "ix_residents_reach",
        "residents",
        [
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
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_residents_reach", table_name="residents")
    op.drop_index("ix_events_kind_at_area", table_name="events")
    op.drop_table("reach_state")
    op.drop_table("attendance_imports")
    op.drop_index("ix_feedback_area_at", table_name="feedback")
    op.drop_table("feedback")
    op.drop_index("ix_attendance_resident_id", table_name="attendance")
    op.drop_table("attendance")
    with op.batch_alter_table("residents", schema=None) as batch_op:
        for name in (
            "engaged_days_before",
            "reached_days_before",
            "engaged_days",
            "reached_days",
            "activity_epoch",
        ):
            batch_op.drop_column(name)
        batch_op.drop_column("registered_by")
        batch_op.drop_column("phone_access")
        batch_op.drop_column("age_band")
        batch_op.drop_column("gender")
