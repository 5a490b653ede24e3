"""Tables for reach work: attendance, feedback, imported files, the rollup's state."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.core.base import Base, UTCDateTime, utcnow
from bot.residents.models import Event, Resident

_ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER keys only


class Attendance(Base):
    """A resident was at a trainer's workshop on a day; counts as reached and engaged then."""

    __tablename__ = "attendance"
    __table_args__ = (
        # One row per person per day: a second import of the same day changes nothing.
        UniqueConstraint("resident_id", "attended_on", name="uq_attendance_resident_day"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    # Cascade: when a resident is forgotten, their attendance goes with them.
    resident_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    attended_on: Mapped[date] = mapped_column(Date)
    # The trainer's staff pseudonym, not their Telegram id.
    trainer: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Feedback(Base):
    """What a resident says Sabai should teach or warn about in their area.

    Deliberately not linked to the resident for staff: coordinators read it without names,
    and `at` is cut to the day so it cannot be matched to the resident's own events by time.
    Only `words_key`, a random value shared with the resident's row alone, lets /forget find
    it (bot/residents/words.py); staff queries never select it.
    """

    __tablename__ = "feedback"
    __table_args__ = (
        Index("ix_feedback_area_at", "area_code", "at"),
        Index("ix_feedback_words_key", "words_key"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    area_code: Mapped[str | None] = mapped_column(String(8), ForeignKey("areas.code"))
    language: Mapped[str | None] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    words_key: Mapped[str | None] = mapped_column(String(32))


class AttendanceImport(Base):
    """One workshop file imported by `sabai residents import`, kept so it is not imported twice."""

    __tablename__ = "attendance_imports"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    # SHA-256 of the file's bytes: the same file again is recognised and refused.
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    trainer: Mapped[str] = mapped_column(String(32))
    rows: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReachState(Base):
    """Small named values of the rollup: its watermark, timezone and newest epoch."""

    __tablename__ = "reach_state"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(64))


class ReachActionDay(Base):
    """Lessons completed and alerts acknowledged per local day and area: a rollup of events.

    Kept by bot/reach/activity.py from the event log (days in the rollup's timezone), so a
    report sums a few rows per area and day instead of reading every such event. Derived
    data: emptied and rebuilt when the timezone changes.
    """

    __tablename__ = "reach_action_days"
    # Area first, and on SQLite the rows stored in the key's order: a report reads an area
    # range in order and sums as it goes, no lookups, no sort. Only the days of two epochs
    # are kept (older ones are pruned), so an area has at most 124 rows.
    __table_args__ = ({"sqlite_with_rowid": False},)

    area_code: Mapped[str] = mapped_column(String(8), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)  # date.toordinal(), local
    lessons_completed: Mapped[int] = mapped_column(Integer, default=0)
    alerts_acknowledged: Mapped[int] = mapped_column(Integer, default=0)


# Indexes the reach queries need on tables defined elsewhere (see migration 0004).
Index("ix_events_kind_at_area", Event.kind, Event.at, Event.area_code)
# Everything a reach report reads about residents, so it reads this index and not the rows.
Index(
    "ix_residents_reach",
    Resident.area_code,
    Resident.consent_at,
    Resident.channel,
    Resident.status,
    Resident.registered_again,
    Resident.gender,
    Resident.activity_epoch,
    Resident.reached_days,
    Resident.engaged_days,
    Resident.reached_days_before,
    Resident.engaged_days_before,
    # Only tested for being set (the by-channel counts), but a pass that reads them from the
    # rows instead is several times slower on SQLite (migration 0015).
    Resident.telegram_id,
    Resident.phone,
)
# Residents whose area is not listed, with what they typed (migration 0007): the missing
# report groups them without reading their rows. Partial, so it holds only those few.
Index(
    "ix_residents_unlisted",
    Resident.consent_at,
    Resident.area_unlisted_text,
    sqlite_where=Resident.area_code.is_(None),
    postgresql_where=Resident.area_code.is_(None),
)
