"""The append-only event log that reach reports are computed from."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.base import utcnow
from bot.residents.models import Event, Resident


class EventKind(StrEnum):
    REGISTERED = "registered"
    CONSENTED = "consented"
    AREA_SET = "area_set"
    LANGUAGE_SET = "language_set"
    BUTTON_TAPPED = "button_tapped"
    BLOCKED_BOT = "blocked_bot"
    UNBLOCKED_BOT = "unblocked_bot"
    FORGOTTEN = "forgotten"
    OPTED_OUT = "opted_out"
    MESSAGE_DELIVERED = "message_delivered"
    DELIVERY_FAILED = "delivery_failed"
    LESSON_STARTED = "lesson_started"
    STEP_REACHED = "step_reached"
    QUIZ_ANSWERED = "quiz_answered"
    LESSON_COMPLETED = "lesson_completed"
    PUSH_DELIVERED = "push_delivered"
    ALERT_DELIVERED = "alert_delivered"
    ALERT_FAILED = "alert_failed"
    ALERT_ACKNOWLEDGED = "alert_acknowledged"
    ATTENDANCE_RECORDED = "attendance_recorded"
    FEEDBACK_GIVEN = "feedback_given"


def record(
    session: AsyncSession,
    kind: EventKind,
    resident: Resident | None,
    data: dict[str, object] | None = None,
    at: datetime | None = None,
) -> None:
    """Append an event for a resident (by pseudonym, never by Telegram id) in their area."""
    record_for(
        session,
        kind,
        subject=resident.pseudonym if resident else None,
        area_code=resident.area_code if resident else None,
        data=data,
        at=at,
    )


def record_for(
    session: AsyncSession,
    kind: EventKind,
    subject: str | None,
    area_code: str | None,
    data: dict[str, object] | None = None,
    at: datetime | None = None,
) -> None:
    """Append an event when only the resident's pseudonym and area are at hand (bulk senders)."""
    session.add(
        Event(kind=kind.value, subject=subject, area_code=area_code, data=data, at=at or utcnow())
    )
