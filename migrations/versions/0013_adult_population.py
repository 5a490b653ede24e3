"""area population: people aged 15 and over, where the census table has age bands

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-10 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Filled by the area import, which runs again at start when the figures are missing.
    with op.batch_alter_table("area_population") as batch:
        batch.add_column(sa.Column("adults_15plus", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("area_population") as batch:
        batch.drop_column("adults_15plus")
