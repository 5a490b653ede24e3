"""Residents: who they are to the bot, their choices, their data and its deletion."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.base import new_pseudonym, utcnow
from bot.residents.events import EventKind, record
from bot.residents.models import Event, Resident


@dataclass(frozen=True)
class TelegramUser:
    """What a channel tells us about the person writing; nothing of it is stored before consent."""

    telegram_id: int
    first_name: str | None = None
    username: str | None = None
    language_code: str | None = None


class ResidentService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def begin(self, user: TelegramUser, language: str, known: Resident | None) -> Resident:
        """Create (or re-use) the resident row when they choose a language.

        `known` is the caller's lookup of this person in the same session (None: no row);
        looking again would cost a query on every first language choice.
        """
        resident = known
        if resident is None:
            # The pseudonym is drawn here, not by the column default at flush, so the events
            # below can name it without a flush of their own: the row, the events and the
            # screen's answer go out in one flush at commit.
            resident = Resident(
                telegram_id=user.telegram_id, language=language, pseudonym=new_pseudonym()
            )
            self.session.add(resident)
            record(self.session, EventKind.REGISTERED, resident, {"channel": "telegram"})
        else:
            resident.language = language
        record(self.session, EventKind.LANGUAGE_SET, resident, {"language": language})
        return resident

    def set_area(self, resident: Resident, area_code: str | None, typed: str | None = None) -> None:
        """Set the resident's area; None with their words means "not listed"."""
        resident.area_code = area_code
        resident.area_unlisted_text = typed[:200] if (area_code is None and typed) else None
        resident.awaiting = None
        record(self.session, EventKind.AREA_SET, resident, {"listed": area_code is not None})

    def note_unlisted(self, resident: Resident, typed: str) -> None:
        """Keep a placed resident's words for an unlisted place; their area stays as it is."""
        resident.area_unlisted_text = typed[:200]
        resident.awaiting = None

    def consent(self, resident: Resident, user: TelegramUser, now: datetime | None = None) -> None:
        """Record consent; only now is the resident's first name kept, to greet them."""
        resident.consent_at = now or utcnow()
        resident.first_name = (user.first_name or "")[:128] or None
        resident.username = (user.username or "")[:64] or None
        resident.awaiting = None
        record(self.session, EventKind.CONSENTED, resident)

    def mark_blocked(self, resident: Resident, blocked: bool) -> None:
        # The row may come from a session already committed and closed (the reply failed
        # after it): attach it again so the change is written.
        self.session.add(resident)
        resident.status = "unreachable" if blocked else "active"
        record(
            self.session, EventKind.BLOCKED_BOT if blocked else EventKind.UNBLOCKED_BOT, resident
        )

    def reachable_again(self, resident: Resident) -> bool:
        """A resident marked unreachable wrote or tapped: they can be reached again."""
        if resident.status != "unreachable":
            return False
        self.mark_blocked(resident, False)
        return True

    async def _keep_delivery_counts(self, resident: Resident) -> None:
        """Detach what was delivered from the person, so alerts keep their counts.

        Messages already sent, failed or dropped stay as anonymous rows (no resident, no
        pseudonym, and a chat id no chat has: minus the row's own id, unique per job);
        queued ones go with the resident. Their "got it" taps become a bare number.
        """
        from bot.alerts.models import Alert, AlertAck
        from bot.delivery.outbox import OUTBOX, Status

        await self.session.execute(
            update(OUTBOX)
            .where(
                OUTBOX.c.resident_id == resident.id,
                OUTBOX.c.status.not_in([Status.PENDING.value, Status.CLAIMED.value]),
            )
            .values(
                resident_id=None,
                pseudonym=None,
                chat_id=-OUTBOX.c.id,
                message_id=None,
                last_error=None,
            )
        )
        tapped = select(AlertAck.alert_id).where(AlertAck.resident_id == resident.id)
        await self.session.execute(
            update(Alert)
            .where(Alert.id.in_(tapped))
            .values(forgotten_acks=Alert.forgotten_acks + 1)
        )

    async def event_count(self, resident: Resident) -> int:
        count = await self.session.scalar(
            select(func.count()).select_from(Event).where(Event.subject == resident.pseudonym)
        )
        return int(count or 0)

    async def forget(self, resident: Resident) -> None:
        """Delete everything that identifies the resident.

        Their events stay for the area's reach figures, but under a fresh random
        subject that nothing links to anyone, and their free-text words are dropped.
        """
        anonymous = new_pseudonym()
        await self.session.execute(
            update(Event)
            .where(Event.subject == resident.pseudonym)
            .values(subject=anonymous, data=None)
        )
        await self._keep_delivery_counts(resident)
        area = resident.area_code
        await self.session.delete(resident)
        await self.session.flush()
        self.session.add(Event(kind=EventKind.FORGOTTEN.value, subject=None, area_code=area))
