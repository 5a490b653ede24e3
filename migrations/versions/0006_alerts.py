"""alerts: service alerts, residents' topic opt-outs, "got it" taps, coordinators' drafts

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=16), nullable=False),
        sa.Column("urgency", sa.String(length=8), nullable=False),
        sa.Column("area_codes", sa.JSON(), nullable=False),
        sa.Column("texts", sa.JSON(), nullable=False),
        sa.Column("send_at", _TS, nullable=False),
        sa.Column("deliver_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("cancelled_at", _TS, nullable=True),
        sa.Column("cancelled_by", sa.String(length=64), nullable=True),
        sa.Column("progress_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("progress_message_id", sa.BigInteger(), nullable=True),
        sa.Column("progress_language", sa.String(length=8), nullable=True),
        sa.Column("progress_shown", sa.String(length=64), nullable=True),
        sa.Column("progress_final", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alerts_status_created", "alerts", ["status", "created_at"])

    op.create_table(
        "resident_topics",
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=16), nullable=False),
        sa.Column("changed_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["resident_id"], ["residents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("resident_id", "topic"),
    )

    op.create_table(
        "alert_acks",
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["resident_id"], ["residents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("alert_id", "resident_id"),
    )

    op.create_table(
        "alert_drafts",
        sa.Column("staff_telegram_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("staff_telegram_id"),
    )


def downgrade() -> None:
    op.drop_table("alert_drafts")
    op.drop_table("alert_acks")
    op.drop_table("resident_topics")
    op.drop_index("ix_alerts_status_created", table_name="alerts")
    op.drop_table("alerts")
