"""The ledger of handled Telegram updates, kept in the database with what each one changed.

An update's row is written in the same transaction as its handling, together with the
replies it owes (as Bot API calls, in order) and how many of them have gone out. So an
update is handled exactly once however often it is delivered: a second delivery finds the
row and only sends what the first one did not get to send.

Telegram numbers updates in sequence but may reuse numbers after a quiet week, and a
restarted local emulator counts from 1 again: a row counts as the same update only when the
update's content matches too (a digest), else the number is taken over by the new update.

Replies are personal data: a row keeps them only until they have all gone out (in webhook
mode the last one rides in the answer, so it stays until Telegram can no longer deliver the
update again), and a person who asks to be forgotten takes their rows with them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Integer, String, Table, Text, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from bot.core.base import Base, UTCDateTime, utcnow

# Telegram keeps an update it could not deliver for at most a day.
KEEP = timedelta(days=1)


class HandledUpdate(Base):
    """One handled update: its replies (JSON list of Bot API calls) and how many went out."""

    __tablename__ = "telegram_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    digest: Mapped[str] = mapped_column(String(32))
    # The Telegram user whose update it was, so that forgetting them removes the row.
    person: Mapped[int | None] = mapped_column(BigInteger, index=True)
    handled_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    replies: Mapped[str] = mapped_column(Text)
    sent: Mapped[int] = mapped_column(Integer, default=0)


# Core statements on the table for the per-update work: skipping the ORM's unit of work and
# identity map saves a tenth of a millisecond on every update.
LEDGER: Table = HandledUpdate.__table__  # type: ignore[assignment]


class ReplyUnfinished(Exception):
    """A reply's call failed in a way worth trying again (Telegram down, slow or busy); the
    update is left unacknowledged so that Telegram delivers it again."""

    def __init__(self, update_id: int) -> None:
        super().__init__(f"the reply to update {update_id} is unfinished")
        self.update_id = update_id


@dataclass(frozen=True)
class Earlier:
    """What an earlier delivery of the same update left: its replies and how many went out."""

    replies: str
    sent: int


def digest(update_json: str) -> str:
    """A short fingerprint of an update's content (its JSON)."""
    return hashlib.blake2b(update_json.encode(), digest_size=12).hexdigest()


async def recall(session: AsyncSession, update_id: int, fingerprint: str) -> Earlier | None:
    """The earlier handling of this very update, or None.

    A row under the same number with other content belongs to an older update whose number
    was reused: it is removed here, so this update's own row can take its place.
    """
    table = LEDGER
    row = (
        await session.execute(
            select(table.c.digest, table.c.replies, table.c.sent).where(
                table.c.update_id == update_id
            )
        )
    ).first()
    if row is None:
        return None
    if row.digest != fingerprint:
        await session.execute(delete(table).where(table.c.update_id == update_id))
        return None
    return Earlier(row.replies, row.sent)


async def record(
    session: AsyncSession, update_id: int, fingerprint: str, person: int | None, replies: str
) -> None:
    """Write the update as handled, with the replies it owes, in the caller's transaction."""
    await session.execute(
        insert(LEDGER).values(
            update_id=update_id,
            digest=fingerprint,
            person=person,
            handled_at=utcnow(),
            replies=replies,
            sent=0,
        )
    )


async def forget_person(session: AsyncSession, person: int) -> None:
    """Delete the rows of a person's updates (they asked for everything to be deleted)."""
    await session.execute(delete(HandledUpdate).where(HandledUpdate.person == person))


async def mark_sent(
    sessions: async_sessionmaker[AsyncSession], update_id: int, count: int, *, all_sent: bool
) -> None:
    """Note that the first `count` replies of the update have gone out; with `all_sent`, the
    replies are not needed any more and are dropped."""
    values: dict[str, Any] = {"sent": count}
    if all_sent:
        values["replies"] = "[]"
    async with sessions.begin() as session:
        await session.execute(
            update(HandledUpdate)
            .where(HandledUpdate.update_id == update_id, HandledUpdate.sent < count)
            .values(**values)
        )


async def forget_old(session: AsyncSession, now: datetime | None = None) -> int:
    """Delete rows older than KEEP; return how many."""
    cutoff = (now or utcnow()) - KEEP
    result: Any = await session.execute(
        delete(HandledUpdate).where(HandledUpdate.handled_at < cutoff)
    )
    return int(result.rowcount or 0)
