"""The append-only event log that reach reports are computed from."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Event, Resident, utcnow


class EventKind(StrEnum):
    REGISTERED = "registered"
    CONSENTED = "consented"
    AREA_SET = "area_set"
    LANGUAGE_SET = "language_set"
    BUTTON_TAPPED = "button_tapped"
    MESSAGE_RECEIVED = "message_received"
    BLOCKED_BOT = "blocked_bot"
    UNBLOCKED_BOT = "unblocked_bot"
    FORGOTTEN = "forgotten"


def record(
    session: AsyncSession,
    kind: EventKind,
    resident: Resident | None,
    data: dict[str, object] | None = None,
    at: datetime | None = None,
) -> None:
    """Append an event for a resident (by pseudonym, never by Telegram id) in their area."""
    session.add(
        Event(
            kind=kind.value,
            subject=resident.pseudonym if resident else None,
            area_code=resident.area_code if resident else None,
            data=data,
            at=at or utcnow(),
        )
    )
