"""An alert draft as kept between a coordinator's steps, and whether typed text belongs to it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts.models import AlertDraft

# A draft untouched this long is stale: typed text goes back to the person's own conversation.
DRAFT_TTL = timedelta(days=1)


@dataclass
class Draft:
    """The answers so far (times as ISO strings, so the draft is plain JSON)."""

    step: str = "topic"
    topic: str | None = None
    urgency: str | None = None
    areas: list[str] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    sms: dict[str, str] = field(default_factory=dict)
    send_at: str | None = None
    expires_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "urgency": self.urgency,
            "areas": self.areas,
            "texts": self.texts,
            "sms": self.sms,
            "send_at": self.send_at,
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_row(cls, row: AlertDraft) -> Draft:
        data = row.data or {}
        return cls(
            step=row.step,
            topic=data.get("topic"),
            urgency=data.get("urgency"),
            areas=list(data.get("areas") or []),
            texts=dict(data.get("texts") or {}),
            sms=dict(data.get("sms") or {}),
            send_at=data.get("send_at"),
            expires_at=data.get("expires_at"),
        )


async def waiting_for_text(session: AsyncSession, telegram_id: int, now: datetime) -> bool:
    """Whether typed text from this person answers an alert composition of theirs."""
    row = await session.get(AlertDraft, telegram_id)
    return row is not None and draft_waits_for_text(row.step, row.updated_at, now)


def draft_waits_for_text(step: str | None, updated_at: datetime | None, now: datetime) -> bool:
    """A draft touched within its time to live: whatever its step, typed text is the draft's.

    At a button step the draft answers with its own screen again, so a coordinator who types
    never lands in the resident conversation and the draft is never lost.
    """
    return step is not None and updated_at is not None and updated_at >= now - DRAFT_TTL
