"""outbox: one row per recipient of a bulk message, and the texts they share

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "outbox_payloads",
        sa.Column("id", _ID, nullable=False),
        sa.Column("job_kind", sa.String(length=32), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("reply_markup", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", _ID, nullable=False),
        sa.Column("job_kind", sa.String(length=32), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("payload_id", _ID, nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("pseudonym", sa.String(length=32), nullable=True),
        sa.Column("area_code", sa.String(length=8), nullable=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["payload_id"], ["outbox_payloads.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["resident_id"], ["residents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("chat_id", "job_kind", "job_id", name="uq_outbox_chat_job"),
    )
    op.create_index("ix_outbox_claim", "outbox", ["status", "priority", "id"])
    op.create_index("ix_outbox_job", "outbox", ["job_kind", "job_id", "status"])
    op.create_index("ix_outbox_resident_id", "outbox", ["resident_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_resident_id", table_name="outbox")
    op.drop_index("ix_outbox_job", table_name="outbox")
    op.drop_index("ix_outbox_claim", table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("outbox_payloads")
