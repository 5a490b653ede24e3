"""Noticing an alert whose queueing stopped half-way, so that a running bot finishes it.

The process that writes an alert's outbox rows touches `alerts.queueing_seen_at` as it goes
(`with_heartbeat`). A process that died (kill -9, a lost connection) stops touching it; once it
is older than STALLED_AFTER, `claim_stalled` lets exactly one checker take the alert over by
moving the mark forward in a compare-and-set update. Taking one over twice would still be
harmless: the outbox's unique (chat, job) key makes re-queueing add only the missing rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.alerts.models import Alert
from bot.core.base import utcnow
from bot.delivery.outbox import Recipient

QUEUEING = "queueing"
# A live queueing process touches its mark at least this often (one page of recipients is
# well under a second); a mark this much older means nobody is queueing the alert any more.
HEARTBEAT_EVERY = timedelta(seconds=5)
STALLED_AFTER = timedelta(seconds=30)


async def touch(sessions: async_sessionmaker[AsyncSession], alert_id: int) -> None:
    """Mark that this process is queueing the alert right now."""
    async with sessions.begin() as session:
        await session.execute(
            update(Alert)
            .where(Alert.id == alert_id, Alert.status == QUEUEING)
            .values(queueing_seen_at=utcnow())
        )


async def with_heartbeat(
    sessions: async_sessionmaker[AsyncSession],
    alert_id: int,
    recipients: AsyncIterator[Recipient],
    every: timedelta = HEARTBEAT_EVERY,
) -> AsyncIterator[Recipient]:
    """Pass the recipients through, touching the alert's mark every `every` on the way."""
    last = utcnow()
    async for recipient in recipients:
        if utcnow() - last >= every:
            await touch(sessions, alert_id)
            last = utcnow()
        yield recipient


def _last_seen() -> ColumnElement[datetime]:
    return func.coalesce(Alert.queueing_seen_at, Alert.created_at)


async def claim_stalled(
    sessions: async_sessionmaker[AsyncSession],
    now: datetime | None = None,
    stalled_after: timedelta = STALLED_AFTER,
) -> list[int]:
    """Take over the alerts nobody has been queueing for `stalled_after`; return their ids."""
    now = now or utcnow()
    before = now - stalled_after
    async with sessions() as session:
        candidates = list(
            await session.scalars(
                select(Alert.id)
                .where(Alert.status == QUEUEING, _last_seen() < before)
                .order_by(Alert.id)
            )
        )
    claimed = []
    for alert_id in candidates:
        async with sessions.begin() as session:
            # Only one checker sees its update match: the others find the mark moved on.
            result = await session.execute(
                update(Alert)
                .where(
                    Alert.id == alert_id,
                    Alert.status == QUEUEING,
                    _last_seen() < before,
                )
                .values(queueing_seen_at=now)
            )
        if getattr(result, "rowcount", 0):
            claimed.append(alert_id)
    return claimed
