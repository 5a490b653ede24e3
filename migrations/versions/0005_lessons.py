"""lessons: progress per resident, workshop groups and members, courses, lesson pushes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "lesson_progress",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("lesson_id", sa.String(length=32), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("quiz_choice", sa.Integer(), nullable=True),
        sa.Column("quiz_right", sa.Boolean(), nullable=True),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("completed_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(["resident_id"], ["residents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("resident_id", "lesson_id", name="uq_lesson_progress"),
    )
    op.create_index("ix_lesson_progress_lesson_id", "lesson_progress", ["lesson_id"])

    op.create_table(
        "workshop_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("area_code", sa.String(length=8), nullable=False),
        sa.Column("join_code", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["area_code"], ["areas.code"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("join_code"),
    )
    op.create_index("ix_workshop_groups_area_code", "workshop_groups", ["area_code"])

    op.create_table(
        "group_members",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("joined_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["workshop_groups.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["resident_id"], ["residents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("group_id", "resident_id"),
    )
    op.create_index("ix_group_members_resident_id", "group_members", ["resident_id"])

    op.create_table(
        "courses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lesson_ids", sa.JSON(), nullable=False),
        sa.Column("area_code", sa.String(length=8), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("every_days", sa.Integer(), nullable=False),
        sa.Column("at_local", sa.String(length=5), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("quiet_start", sa.String(length=5), nullable=False),
        sa.Column("quiet_end", sa.String(length=5), nullable=False),
        sa.Column("next_index", sa.Integer(), nullable=False),
        sa.Column("next_at", _TS, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["area_code"], ["areas.code"]),
        sa.ForeignKeyConstraint(["group_id"], ["workshop_groups.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )

    op.create_table(
        "lesson_pushes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lesson_id", sa.String(length=32), nullable=False),
        sa.Column("area_code", sa.String(length=8), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("send_at", _TS, nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=True),
        sa.Column("course_index", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["area_code"], ["areas.code"]),
        sa.ForeignKeyConstraint(["group_id"], ["workshop_groups.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("course_id", "course_index", name="uq_lesson_push_course_step"),
    )
    op.create_index("ix_lesson_pushes_created_by", "lesson_pushes", ["created_by"])


def downgrade() -> None:
    op.drop_index("ix_lesson_pushes_created_by", table_name="lesson_pushes")
    op.drop_table("lesson_pushes")
    op.drop_table("courses")
    op.drop_index("ix_group_members_resident_id", table_name="group_members")
    op.drop_table("group_members")
    op.drop_index("ix_workshop_groups_area_code", table_name="workshop_groups")
    op.drop_table("workshop_groups")
    op.drop_index("ix_lesson_progress_lesson_id", table_name="lesson_progress")
    op.drop_table("lesson_progress")
