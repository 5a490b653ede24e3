"""Tables for lessons: each resident's progress, workshop groups, pushes and courses.

Lesson texts themselves live in `content/lessons/` and are referred to by their id, so a
trainer can edit a lesson without a migration.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.core.base import Base, UTCDateTime, utcnow

# Where a resident is in a lesson.
STEP = "step"  # reading step number `step`
QUIZ = "quiz"  # all steps read, the quiz is waiting for an answer
DONE = "done"  # answered the quiz right


class LessonProgress(Base):
    """How far one resident got in one lesson; the row survives restarts, so they resume."""

    __tablename__ = "lesson_progress"
    __table_args__ = (UniqueConstraint("resident_id", "lesson_id", name="uq_lesson_progress"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # /forget deletes the resident and, with them, what they learnt.
    resident_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("residents.id", ondelete="CASCADE")
    )
    lesson_id: Mapped[str] = mapped_column(String(32), index=True)
    step: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(8), default=STEP)
    quiz_choice: Mapped[int | None] = mapped_column(Integer)
    quiz_right: Mapped[bool | None] = mapped_column(Boolean)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Set the first time the quiz is answered right; kept when the lesson is taken again.
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WorkshopGroup(Base):
    """A trainer's workshop group; residents join it with its short code."""

    __tablename__ = "workshop_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128))
    area_code: Mapped[str] = mapped_column(String(8), ForeignKey("areas.code"), index=True)
    join_code: Mapped[str] = mapped_column(String(16), unique=True)
    # The trainer's Telegram id: staff are not residents, and only staff see it.
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class GroupMember(Base):
    """A resident in a workshop group."""

    __tablename__ = "group_members"

    group_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("workshop_groups.id", ondelete="CASCADE"), primary_key=True
    )
    resident_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("residents.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Course(Base):
    """An ordered list of lessons delivered to a group or an area, one every N days."""

    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lesson_ids: Mapped[list[str]] = mapped_column(JSON)
    area_code: Mapped[str | None] = mapped_column(String(8), ForeignKey("areas.code"))
    group_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("workshop_groups.id", ondelete="CASCADE")
    )
    every_days: Mapped[int] = mapped_column(Integer)
    at_local: Mapped[str] = mapped_column(String(5))  # "HH:MM" in `timezone`
    timezone: Mapped[str] = mapped_column(String(64))
    quiet_start: Mapped[str] = mapped_column(String(5))
    quiet_end: Mapped[str] = mapped_column(String(5))
    # The position in lesson_ids to deliver next, and when; the job checks both, so a job
    # that runs twice (restart, two schedulers) delivers once.
    next_index: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LessonPush(Base):
    """A lesson sent to an area or a group, now or later; its outbox job is lesson_push:<id>."""

    __tablename__ = "lesson_pushes"
    __table_args__ = (
        # One push per course position: a delivery job that runs twice finds it and stops.
        UniqueConstraint("course_id", "course_index", name="uq_lesson_push_course_step"),
        Index("ix_lesson_pushes_created_by", "created_by"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lesson_id: Mapped[str] = mapped_column(String(32))
    area_code: Mapped[str | None] = mapped_column(String(8), ForeignKey("areas.code"))
    group_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("workshop_groups.id", ondelete="SET NULL")
    )
    send_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    # draft (shown to the trainer with its reach, not confirmed yet) → queued, or cancelled.
    status: Mapped[str] = mapped_column(String(16), default="queued")
    course_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("courses.id", ondelete="CASCADE")
    )
    course_index: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
