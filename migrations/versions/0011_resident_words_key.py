"""residents and feedback: the random key that lets /forget delete a resident's own words

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 23:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Empty for what exists already: a resident gets a key with their next feedback, and
    # feedback given before this revision cannot be told apart from anyone else's.
    with op.batch_alter_table("residents") as batch:
        batch.add_column(sa.Column("words_key", sa.String(length=32), nullable=True))
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("words_key", sa.String(length=32), nullable=True))
    op.create_index("ix_feedback_words_key", "feedback", ["words_key"])


def downgrade() -> None:
    op.drop_index("ix_feedback_words_key", table_name="feedback")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("words_key")
    with op.batch_alter_table("residents") as batch:
        batch.drop_column("words_key")
