"""Tables of residents and the append-only event log reach is computed from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from bot.core.base import Base, UTCDateTime, new_pseudonym, utcnow


class Resident(Base):
    """A person known to the bot, on Telegram or registered by a trainer (assisted)."""

    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Stands for the resident in the event log, so that deleting this row
    # leaves events that no longer point at anybody.
    pseudonym: Mapped[str] = mapped_column(String(32), unique=True, default=new_pseudonym)
    channel: Mapped[str] = mapped_column(String(16), default="telegram")
    telegram_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    first_name: Mapped[str | None] = mapped_column(String(128))
    username: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(8))
    area_code: Mapped[str | None] = mapped_column(String(8), ForeignKey("areas.code"), index=True)
    # What the resident typed when their area was not listed, kept for coordinators.
    area_unlisted_text: Mapped[str | None] = mapped_column(String(200))
    # A free-text answer the conversation waits for (e.g. "area_unlisted"); kept
    # here rather than in memory so it survives restarts and several processes.
    awaiting: Mapped[str | None] = mapped_column(String(255))
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="active")
    # Told by the resident (or by a trainer, with the person's agreement) only if they wish:
    # None means "not told". Used only for counts per area (the gender gap), never shown alone.
    gender: Mapped[str | None] = mapped_column(String(16))
    age_band: Mapped[str | None] = mapped_column(String(8))
    # "none" or "shared" for assisted residents; None on Telegram (they use their own phone).
    phone_access: Mapped[str | None] = mapped_column(String(8))
    # The staff pseudonym of the trainer who registered an assisted resident.
    registered_by: Mapped[str | None] = mapped_column(String(32))
    # An assisted person registered again at another workshop (matched, or the trainer said
    # so): still registered, but counted once among those who can be reached.
    registered_again: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Which local days of the current 62-day epoch (and the one before) the resident was
    # reached / did something: a rollup of the event log kept by bot/reach/activity.py so
    # reach reports need not read the events. Derived data; rebuilt from events when reset.
    activity_epoch: Mapped[int | None] = mapped_column(Integer)
    reached_days: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    engaged_days: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    reached_days_before: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    engaged_days_before: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Event(Base):
    """One interaction that matters for reach, appended and never edited."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_kind_at", "kind", "at"),
        Index("ix_events_area_at", "area_code", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str | None] = mapped_column(String(32), index=True)
    area_code: Mapped[str | None] = mapped_column(String(8))
    data: Mapped[dict[str, object] | None] = mapped_column(JSON)
