"""Delivery reports from Kannel: a number goes unreachable only after repeated failures."""

from __future__ import annotations

import enum
import logging

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.outbox import OUTBOX, UNREACHABLE, Status, rowcount
from bot.residents.events import EventKind, record
from bot.residents.models import Resident

log = logging.getLogger("sabai.sms")

DELIVERED, FAILED, BUFFERED, SMSC_ACCEPTED, SMSC_REJECTED = 1, 2, 4, 8, 16
KNOWN_STATUSES = {DELIVERED, FAILED, BUFFERED, SMSC_ACCEPTED, SMSC_REJECTED}
FINAL = (DELIVERED, FAILED, SMSC_REJECTED)
# One failure may be the gateway's or the phone being off for days; three in a row is the number.
FAILURES_BEFORE_UNREACHABLE = 3


class Outcome(enum.StrEnum):
    RECORDED = "recorded"
    UNKNOWN = "unknown"
    REPLAY = "replay"
    BAD_STATUS = "bad status"


async def record_report(
    sessions: async_sessionmaker[AsyncSession], row_id: int, status: int
) -> Outcome:
    """Apply Kannel's report `status` for the outbox row `row_id`."""
    if status not in KNOWN_STATUSES:
        log.warning("delivery report with an unknown status", extra={"status": status})
        return Outcome.BAD_STATUS
    async with sessions.begin() as session:
        # One conditional UPDATE, so two reports racing (Kannel sends "accepted by SMSC" and
        # "delivered" within milliseconds) can neither both count nor undo a final state.
        settled = OUTBOX.c.dlr_status.in_(FINAL)
        changed = or_(OUTBOX.c.dlr_status.is_(None), OUTBOX.c.dlr_status != status)
        result = await session.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id == row_id, OUTBOX.c.channel == "sms")
            .where(or_(OUTBOX.c.dlr_status.is_(None), ~settled), changed)
            .values(dlr_status=status)
            .returning(OUTBOX.c.resident_id)
        )
        row = result.first()
        if row is None:
            known = await session.scalar(
                select(OUTBOX.c.id).where(OUTBOX.c.id == row_id, OUTBOX.c.channel == "sms")
            )
            if known is None:
                log.warning("delivery report for an unknown message", extra={"row": row_id})
                return Outcome.UNKNOWN
            # Kannel repeats reports after a restart; a final state is never counted twice.
            log.info("delivery report replayed", extra={"row": row_id, "status": status})
            return Outcome.REPLAY
        if row.resident_id is not None and status in FINAL:
            resident = await session.get(Resident, row.resident_id)
            if resident is not None:
                _judge(session, resident, status)
    return Outcome.RECORDED


def _judge(session: AsyncSession, resident: Resident, status: int) -> None:
    if status == DELIVERED:
        resident.sms_failures = 0
        return
    resident.sms_failures = (resident.sms_failures or 0) + 1
    if resident.sms_failures >= FAILURES_BEFORE_UNREACHABLE and resident.status == "active":
        resident.status = UNREACHABLE
        record(session, EventKind.BLOCKED_BOT, resident, {"reason": "sms failed"})
        log.info("SMS number marked unreachable after repeated failures")


async def drop_pending_for(session: AsyncSession, chat_id: int, reason: str) -> int:
    """Drop a number's queued SMS (STOP, unreachable)."""
    result = await session.execute(
        update(OUTBOX)
        .where(
            OUTBOX.c.chat_id == chat_id,
            OUTBOX.c.channel == "sms",
            OUTBOX.c.status == Status.PENDING.value,
        )
        .values(status=Status.DROPPED.value, last_error=reason)
    )
    return rowcount(result)
