"""Tables of service alerts: the alerts, residents' topic opt-outs, "got it" taps, drafts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.core.base import Base, UTCDateTime, utcnow


class Alert(Base):
    """One service alert: what, for whom, when, until when; its messages sit in the outbox."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(16))
    urgency: Mapped[str] = mapped_column(String(8))
    # Area codes as chosen; each covers everything below it.
    area_codes: Mapped[list[str]] = mapped_column(JSON)
    # {"bn": "…", "en": "…"} as typed by the coordinator (plain text, escaped when shown).
    texts: Mapped[dict[str, str]] = mapped_column(JSON)
    send_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # When the messages may go out: send_at, or for a normal alert the end of quiet hours.
    deliver_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # "queueing" while its outbox rows are being written, "queued" once they all exist,
    # "cancelled" when a coordinator stopped it.
    status: Mapped[str] = mapped_column(String(16), default="queued")
    # Touched every few seconds by the process writing the outbox rows while "queueing"; a
    # stale mark means that process died and another one finishes the job
    # (bot/alerts/queueing.py).
    queueing_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    # "Got it" taps of residents who since used /forget: their alert_acks rows are gone.
    forgotten_acks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_by: Mapped[str | None] = mapped_column(String(64))
    # The coordinator's confirmation message, edited with progress until the alert is done.
    progress_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_language: Mapped[str | None] = mapped_column(String(8))
    # A digest of the text shown last, so an unchanged figure costs no edit request.
    progress_shown: Mapped[str | None] = mapped_column(String(64))
    progress_final: Mapped[bool] = mapped_column(default=False)


class ResidentTopic(Base):
    """A topic a resident turned off (all topics are on unless a row says otherwise)."""

    __tablename__ = "resident_topics"

    resident_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("residents.id", ondelete="CASCADE"), primary_key=True
    )
    topic: Mapped[str] = mapped_column(String(16), primary_key=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AlertAck(Base):
    """A resident tapped "got it" on an alert (once per resident and alert)."""

    __tablename__ = "alert_acks"

    alert_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True
    )
    # Deleting a resident (/forget) deletes their taps; Alert.forgotten_acks keeps the count.
    resident_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("residents.id", ondelete="CASCADE"), primary_key=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AlertDraft(Base):
    """A coordinator's alert being composed in chat: the step and the answers so far.

    Kept in the database, keyed by the coordinator's Telegram id, so a restart or a second
    bot process continues the same composition.
    """

    __tablename__ = "alert_drafts"

    staff_telegram_id: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, autoincrement=False
    )
    step: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
