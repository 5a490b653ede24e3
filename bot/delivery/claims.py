"""Senders' side of the outbox: claim rows under a lease, then record how each send ended.

Claiming is one statement on both databases, so two senders never hold the same row: on
PostgreSQL `SELECT … FOR UPDATE SKIP LOCKED` picks rows that no other transaction is claiming;
SQLite has one writer at a time, so `UPDATE … WHERE id IN (SELECT … LIMIT n)` is atomic already.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Integer,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.base import UTCDateTime, utcnow
from bot.delivery.outbox import (
    EXPIRED,
    OUTBOX,
    PAYLOADS,
    UNREACHABLE,
    Job,
    Payload,
    Status,
    dialect_name,
    rowcount,
)
from bot.residents.events import EventKind, record_for
from bot.residents.models import Resident

DELIVERED_EVENTS = {"alert": EventKind.ALERT_DELIVERED, "lesson_push": EventKind.PUSH_DELIVERED}
FAILED_EVENTS = {"alert": EventKind.ALERT_FAILED}


# -- claim --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimedRow:
    """What a sender needs of a claimed row."""

    id: int
    job_kind: str
    job_id: int
    payload_id: int
    resident_id: int | None
    pseudonym: str | None
    area_code: str | None
    chat_id: int
    priority: int
    attempts: int
    expires_at: datetime | None

    @property
    def job(self) -> Job:
        return Job(self.job_kind, self.job_id)


_CLAIMED_COLUMNS = (
    OUTBOX.c.id,
    OUTBOX.c.job_kind,
    OUTBOX.c.job_id,
    OUTBOX.c.payload_id,
    OUTBOX.c.resident_id,
    OUTBOX.c.pseudonym,
    OUTBOX.c.area_code,
    OUTBOX.c.chat_id,
    OUTBOX.c.priority,
    OUTBOX.c.attempts,
    OUTBOX.c.expires_at,
)


async def claim(
    session: AsyncSession,
    sender: str,
    limit: int,
    lease: timedelta,
    now: datetime | None = None,
    channel: str = "telegram",
) -> list[ClaimedRow]:
    """Claim up to `limit` due rows of `channel` for `sender` under a lease, urgent first."""
    now = now or utcnow()
    due = (
        select(OUTBOX.c.id)
        .where(
            OUTBOX.c.status == Status.PENDING.value,
            OUTBOX.c.channel == channel,
            OUTBOX.c.not_before <= now,
            # Expired rows are dropped by expire_due, never claimed.
            (OUTBOX.c.expires_at.is_(None)) | (OUTBOX.c.expires_at > now),
        )
        .order_by(OUTBOX.c.priority, OUTBOX.c.id)
        .limit(limit)
    )
    stmt = update(OUTBOX).values(
        status=Status.CLAIMED.value, claimed_by=sender, claimed_until=now + lease
    )
    if dialect_name(session) == "postgresql":
        # SKIP LOCKED: rows another sender is claiming right now are passed over, not waited for.
        picked = due.with_for_update(skip_locked=True).cte("picked")
        stmt = stmt.where(OUTBOX.c.id == picked.c.id)
    else:
        stmt = stmt.where(OUTBOX.c.id.in_(due.scalar_subquery()))
    result = await session.execute(stmt.returning(*_CLAIMED_COLUMNS))
    rows = [ClaimedRow(*row) for row in result]
    # RETURNING gives no order; the sender sends in this order.
    rows.sort(key=lambda row: (row.priority, row.id))
    return rows


async def renew_leases(
    session: AsyncSession, sender: str, lease: timedelta, now: datetime | None = None
) -> int:
    """Extend the lease of every row `sender` still holds (a long 429 pause must not free them)."""
    now = now or utcnow()
    result = await session.execute(
        update(OUTBOX)
        .where(OUTBOX.c.status == Status.CLAIMED.value, OUTBOX.c.claimed_by == sender)
        .values(claimed_until=now + lease)
    )
    return rowcount(result)


async def release_claims(session: AsyncSession, sender: str) -> int:
    """Put back every row `sender` holds, e.g. at start after a crash or on a clean stop."""
    result = await session.execute(
        update(OUTBOX)
        .where(OUTBOX.c.status == Status.CLAIMED.value, OUTBOX.c.claimed_by == sender)
        .values(status=Status.PENDING.value, claimed_by=None, claimed_until=None)
    )
    return rowcount(result)


async def release_expired_leases(session: AsyncSession, now: datetime | None = None) -> int:
    """Put back rows whose sender's lease ran out (it died or hung); return how many."""
    now = now or utcnow()
    result = await session.execute(
        update(OUTBOX)
        .where(OUTBOX.c.status == Status.CLAIMED.value, OUTBOX.c.claimed_until < now)
        .values(status=Status.PENDING.value, claimed_by=None, claimed_until=None)
    )
    return rowcount(result)


async def expire_due(session: AsyncSession, now: datetime | None = None) -> int:
    """Drop pending rows whose expiry has passed (an alert that is over is never sent late)."""
    now = now or utcnow()
    result = await session.execute(
        update(OUTBOX)
        .where(
            OUTBOX.c.status == Status.PENDING.value,
            OUTBOX.c.expires_at.is_not(None),
            OUTBOX.c.expires_at <= now,
        )
        .values(status=Status.DROPPED.value, last_error=EXPIRED)
    )
    return rowcount(result)


async def load_payloads(session: AsyncSession, ids: Iterable[int]) -> dict[int, Payload]:
    """Return the payloads with these ids."""
    result = await session.execute(
        select(PAYLOADS.c.id, PAYLOADS.c.text, PAYLOADS.c.reply_markup).where(
            PAYLOADS.c.id.in_(list(ids))
        )
    )
    return {row.id: Payload(row.text, row.reply_markup) for row in result}


# -- complete -----------------------------------------------------------------------------------


class Outcome(enum.Enum):
    SENT = "sent"
    FAILED = "failed"  # permanent, or transient too many times
    RETRY = "retry"  # back to pending at not_before
    UNREACHABLE = "unreachable"  # blocked the bot, chat gone
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Completion:
    """What became of one claimed row, as the sender decided."""

    row: ClaimedRow
    outcome: Outcome
    message_id: int | None = None
    reason: str | None = None
    not_before: datetime | None = None
    attempts: int | None = None  # the new attempt count, when it changed


@dataclass
class CompletionCounts:
    """What one call to record_completions did."""

    sent: int = 0
    failed: int = 0
    retried: int = 0
    expired: int = 0
    unreachable: int = 0  # chats newly found unreachable
    residents_marked: int = 0
    dropped_for_unreachable: int = 0

    def add(self, other: CompletionCounts) -> None:
        for name in vars(other):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _reason(text: str | None) -> str | None:
    return None if text is None else text[:255]


async def record_completions(
    session: AsyncSession,
    sender: str,
    completions: Sequence[Completion],
    now: datetime | None = None,
) -> CompletionCounts:
    """Write the outcome of sent rows and their events in one go (one transaction per batch)."""
    now = now or utcnow()
    counts = CompletionCounts()
    by_outcome: dict[Outcome, list[Completion]] = {outcome: [] for outcome in Outcome}
    for completion in completions:
        by_outcome[completion.outcome].append(completion)

    sent = by_outcome[Outcome.SENT]
    if sent:
        # A row we sent is sent, even if our lease ran out meanwhile: no condition on claimed_by.
        await session.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id == bindparam("rid"))
            .values(
                status=Status.SENT.value,
                sent_at=now,
                message_id=bindparam("mid"),
                claimed_by=None,
                claimed_until=None,
            ),
            [{"rid": c.row.id, "mid": c.message_id} for c in sent],
        )
        for c in sent:
            data: dict[str, object] = {"job": str(c.row.job)}
            record_for(session, EventKind.MESSAGE_DELIVERED, c.row.pseudonym, c.row.area_code, data)
            extra = DELIVERED_EVENTS.get(c.row.job_kind)
            if extra is not None:
                record_for(session, extra, c.row.pseudonym, c.row.area_code, data)
        counts.sent = len(sent)

    unreachable = by_outcome[Outcome.UNREACHABLE]
    failed = by_outcome[Outcome.FAILED] + unreachable
    if failed:
        await _finish_held(
            session,
            sender,
            [
                {"rid": c.row.id, "st": Status.FAILED.value, "err": _reason(c.reason), "nb": None}
                for c in failed
            ],
            attempts={c.row.id: c.attempts for c in failed if c.attempts is not None},
        )
        for c in failed:
            data = {"job": str(c.row.job), "reason": c.reason or "unknown"}
            record_for(session, EventKind.DELIVERY_FAILED, c.row.pseudonym, c.row.area_code, data)
            extra = FAILED_EVENTS.get(c.row.job_kind)
            if extra is not None:
                record_for(session, extra, c.row.pseudonym, c.row.area_code, data)
        counts.failed = len(by_outcome[Outcome.FAILED])
    if unreachable:
        await _mark_unreachable(session, unreachable, now, counts)

    retry = by_outcome[Outcome.RETRY]
    if retry:
        await _finish_held(
            session,
            sender,
            [
                {
                    "rid": c.row.id,
                    "st": Status.PENDING.value,
                    "err": _reason(c.reason),
                    "nb": c.not_before or now,
                }
                for c in retry
            ],
            attempts={c.row.id: c.attempts for c in retry if c.attempts is not None},
        )
        counts.retried = len(retry)

    expired = by_outcome[Outcome.EXPIRED]
    if expired:
        await _finish_held(
            session,
            sender,
            [
                {"rid": c.row.id, "st": Status.DROPPED.value, "err": EXPIRED, "nb": None}
                for c in expired
            ],
            attempts={},
        )
        counts.expired = len(expired)
    return counts


async def _finish_held(
    session: AsyncSession, sender: str, params: list[dict[str, Any]], attempts: dict[int, int]
) -> None:
    """Move rows this sender still holds to a new status; rows it lost are left to their holder."""
    for item in params:
        item["me"] = sender
        item["att"] = attempts.get(item["rid"])
    await session.execute(
        update(OUTBOX)
        .where(
            OUTBOX.c.id == bindparam("rid"),
            OUTBOX.c.status == Status.CLAIMED.value,
            OUTBOX.c.claimed_by == bindparam("me"),
        )
        .values(
            status=bindparam("st"),
            last_error=bindparam("err"),
            # Keep the old values when none is given (bindparam None means "unchanged").
            not_before=func.coalesce(bindparam("nb", type_=UTCDateTime()), OUTBOX.c.not_before),
            attempts=func.coalesce(bindparam("att", type_=Integer()), OUTBOX.c.attempts),
            claimed_by=None,
            claimed_until=None,
        ),
        params,
    )


async def _mark_unreachable(
    session: AsyncSession,
    completions: Sequence[Completion],
    now: datetime,
    counts: CompletionCounts,
) -> None:
    """Mark residents who blocked the bot unreachable and drop their other pending rows."""
    resident_ids = sorted({c.row.resident_id for c in completions if c.row.resident_id})
    if resident_ids:
        # Only residents still active are changed, so each block is recorded once even when
        # several rows of theirs (or several senders) hit the 403.
        result = await session.execute(
            update(Resident)
            .where(Resident.id.in_(resident_ids), Resident.status != UNREACHABLE)
            .values(status=UNREACHABLE, updated_at=now)
            .returning(Resident.pseudonym, Resident.area_code)
            .execution_options(synchronize_session=False)
        )
        marked = result.all()
        reasons = {c.row.pseudonym: c.reason for c in completions}
        for pseudonym, area_code in marked:
            data: dict[str, object] = {"reason": reasons.get(pseudonym) or "unreachable"}
            record_for(session, EventKind.BLOCKED_BOT, pseudonym, area_code, data)
        counts.residents_marked = len(marked)
    chat_ids = sorted({c.row.chat_id for c in completions})
    result = await session.execute(
        update(OUTBOX)
        .where(OUTBOX.c.chat_id.in_(chat_ids), OUTBOX.c.status == Status.PENDING.value)
        .values(status=Status.DROPPED.value, last_error=UNREACHABLE)
    )
    counts.unreachable = len(chat_ids)
    counts.dropped_for_unreachable = rowcount(result)
