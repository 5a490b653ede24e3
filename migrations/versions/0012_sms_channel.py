"""sms: residents' phone numbers, SMS failure count, outbox channel and delivery reports, alerts' SMS texts

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 23:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("residents") as batch:
        batch.add_column(sa.Column("phone", sa.String(20), nullable=True))
        batch.add_column(
            sa.Column("sms_failures", sa.SmallInteger(), nullable=False, server_default="0")
        )
        batch.create_index("ix_residents_phone", ["phone"], unique=False)
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(
            sa.Column("channel", sa.String(8), nullable=False, server_default="telegram")
        )
        batch.add_column(sa.Column("dlr_status", sa.SmallInteger(), nullable=True))
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("sms_texts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("sms_texts")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("dlr_status")
        batch.drop_column("channel")
    with op.batch_alter_table("residents") as batch:
        batch.drop_index("ix_residents_phone")
        batch.drop_column("sms_failures")
        batch.drop_column("phone")
