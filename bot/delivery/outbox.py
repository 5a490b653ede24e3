"""The outbox: one row per recipient of a bulk message, claimed, sent and completed by senders.

A bulk message (an alert, a lesson push, a digest) is a *job*, named by a kind and an id
("alert:17"). Enqueueing streams the recipients into rows in batches; senders
(bot/delivery/sender.py) claim rows under a lease, send them and record the outcome here.
A row moves pending → claimed → sent | failed | dropped, or back to pending (retry, busy chat, lease expired).

Claiming is one statement on both databases, so two senders never hold the same row: on
PostgreSQL `SELECT … FOR UPDATE SKIP LOCKED` picks rows that no other transaction is claiming;
SQLite has one writer at a time, so `UPDATE … WHERE id IN (SELECT … LIMIT n)` is atomic already.
The message text lives once per job and language in `outbox_payloads`, not once per row: a
million-recipient alert stays a million small rows.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from bot.core.base import Base, UTCDateTime, utcnow
from bot.residents.events import EventKind, record_for
from bot.residents.models import Resident

URGENT = 0
NORMAL = 1

_ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER keys only


class Status(enum.StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    SENT = "sent"
    FAILED = "failed"
    DROPPED = "dropped"


# Reasons a row was dropped without being sent.
EXPIRED = "expired"
CANCELLED = "cancelled"
UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class Job:
    """What a bulk message belongs to: `Job("alert", 17)` is written "alert:17"."""

    kind: str
    id: int

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"

    @classmethod
    def parse(cls, text: str) -> Job:
        """Read "kind:id" back into a Job."""
        kind, _, number = text.partition(":")
        if not kind or not (number.isascii() and number.isdecimal()):
            raise ValueError(f"a job is written kind:id, got {text!r}")
        return cls(kind, int(number))


# Events recorded per job kind, besides the generic MESSAGE_DELIVERED / DELIVERY_FAILED that
# reach is computed from.
_DELIVERED_EXTRA = {"alert": EventKind.ALERT_DELIVERED, "lesson_push": EventKind.PUSH_DELIVERED}
_FAILED_EXTRA = {"alert": EventKind.ALERT_FAILED}


@dataclass(frozen=True)
class Payload:
    """The message itself: Telegram HTML text and an optional reply_markup as Bot API JSON."""

    text: str
    reply_markup: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Recipient:
    """One chat to send to; resident fields are None for a group chat."""

    chat_id: int
    resident_id: int | None = None
    pseudonym: str | None = None
    area_code: str | None = None
    language: str | None = None


class OutboxPayload(Base):
    """The text of a job in one language, shared by all its rows in that language."""

    __tablename__ = "outbox_payloads"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    job_kind: Mapped[str] = mapped_column(String(32))
    job_id: Mapped[int] = mapped_column(BigInteger)
    language: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    reply_markup: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OutboxMessage(Base):
    """One message to one chat, with its delivery state."""

    __tablename__ = "outbox"
    __table_args__ = (
        # The claim query: status = 'pending' ORDER BY priority, id. Sent rows sit in another
        # part of this index, so a million sent rows do not slow the next claim down.
        Index("ix_outbox_claim", "status", "priority", "id"),
        Index("ix_outbox_job", "job_kind", "job_id", "status"),
        # One message per chat per job: re-running an interrupted enqueue adds only what is
        # missing. Leading with chat_id also serves "drop this chat's pending rows".
        UniqueConstraint("chat_id", "job_kind", "job_id", name="uq_outbox_chat_job"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    job_kind: Mapped[str] = mapped_column(String(32))
    job_id: Mapped[int] = mapped_column(BigInteger)
    payload_id: Mapped[int] = mapped_column(
        _ID, ForeignKey("outbox_payloads.id", ondelete="CASCADE")
    )
    # Deleting a resident (/forget) deletes their queued messages: a row holds their chat id.
    resident_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    # Copied from the resident so that recording delivery events needs no join.
    pseudonym: Mapped[str | None] = mapped_column(String(32))
    area_code: Mapped[str | None] = mapped_column(String(8))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    priority: Mapped[int] = mapped_column(SmallInteger, default=NORMAL)
    status: Mapped[str] = mapped_column(String(16), default=Status.PENDING.value)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(255))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]
PAYLOADS: Table = OutboxPayload.__table__  # type: ignore[assignment]


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


# -- enqueue ------------------------------------------------------------------------------------


def reachable() -> list[ColumnElement[bool]]:
    """Residents a bulk message may go to: on Telegram, consented, not blocking the bot."""
    return [
        Resident.status == "active",
        Resident.telegram_id.is_not(None),
        Resident.consent_at.is_not(None),
    ]


async def count_reachable(session: AsyncSession, *conditions: ColumnElement[bool]) -> int:
    """How many residents `active_recipients` with these conditions would stream now."""
    query = select(func.count()).select_from(Resident).where(*reachable(), *conditions)
    return int(await session.scalar(query) or 0)


async def active_recipients(
    sessions: async_sessionmaker[AsyncSession],
    *conditions: ColumnElement[bool],
    batch_size: int = 1000,
) -> AsyncIterator[Recipient]:
    """Yield consenting, reachable Telegram residents (filtered by `conditions`) in id order.

    Pages by id (keyset) in short transactions rather than holding one cursor open: a
    million-row stream then never pins an old snapshot (SQLite's WAL could not checkpoint) and
    never holds more than one page in memory.
    """
    last_id = 0
    while True:
        query = (
            select(
                Resident.id,
                Resident.telegram_id,
                Resident.pseudonym,
                Resident.area_code,
                Resident.language,
            )
            .where(
                Resident.id > last_id,
                *reachable(),
                *conditions,
            )
            .order_by(Resident.id)
            .limit(batch_size)
        )
        async with sessions() as session:
            page = (await session.execute(query)).all()
        for row in page:
            yield Recipient(
                chat_id=row.telegram_id,
                resident_id=row.id,
                pseudonym=row.pseudonym,
                area_code=row.area_code,
                language=row.language,
            )
        if len(page) < batch_size:
            return
        last_id = page[-1].id


async def enqueue_for_recipients(
    sessions: async_sessionmaker[AsyncSession],
    job: Job,
    recipients: AsyncIterator[Recipient] | Iterable[Recipient],
    payload_by_language: Mapping[str, Payload],
    *,
    default_language: str,
    priority: int = NORMAL,
    not_before: datetime | None = None,
    expires_at: datetime | None = None,
    batch_size: int = 1000,
) -> int:
    """Queue one message per recipient, in their language, in batches; return how many were added.

    Each batch commits on its own, so senders start while recipients are still streaming in, and
    running it again after a crash adds only the rows that are missing.
    """
    if default_language not in payload_by_language:
        raise ValueError(f"no payload for the default language {default_language!r}")
    now = utcnow()
    async with sessions.begin() as session:
        payload_ids = await _payload_ids(session, job, payload_by_language, now)

    added = 0
    batch: list[dict[str, Any]] = []

    async def flush() -> int:
        async with sessions.begin() as session:
            stmt = _insert_ignoring_duplicates(session).returning(OUTBOX.c.id)
            result = await session.execute(stmt, batch)
            return len(result.all())

    async for recipient in _aiter(recipients):
        language = recipient.language if recipient.language in payload_ids else default_language
        batch.append(
            {
                "job_kind": job.kind,
                "job_id": job.id,
                "payload_id": payload_ids[language or default_language],
                "resident_id": recipient.resident_id,
                "pseudonym": recipient.pseudonym,
                "area_code": recipient.area_code,
                "chat_id": recipient.chat_id,
                "priority": priority,
                "status": Status.PENDING.value,
                "not_before": not_before or now,
                "expires_at": expires_at,
                "attempts": 0,
                "created_at": now,
            }
        )
        if len(batch) >= batch_size:
            added += await flush()
            batch = []
    if batch:
        added += await flush()
    return added


async def _aiter(items: AsyncIterator[Recipient] | Iterable[Recipient]) -> AsyncIterator[Recipient]:
    if isinstance(items, AsyncIterator):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


async def _payload_ids(
    session: AsyncSession, job: Job, payloads: Mapping[str, Payload], now: datetime
) -> dict[str, int]:
    """Return the payload row of each language, reusing those of an interrupted earlier run."""
    existing = {
        row.language: row.id
        for row in await session.execute(
            select(PAYLOADS.c.language, PAYLOADS.c.id).where(
                PAYLOADS.c.job_kind == job.kind, PAYLOADS.c.job_id == job.id
            )
        )
    }
    for language, payload in payloads.items():
        if language in existing:
            continue
        result = await session.execute(
            PAYLOADS.insert()
            .values(
                job_kind=job.kind,
                job_id=job.id,
                language=language,
                text=payload.text,
                reply_markup=payload.reply_markup,
                created_at=now,
            )
            .returning(PAYLOADS.c.id)
        )
        existing[language] = result.scalar_one()
    return existing


def _insert_ignoring_duplicates(session: AsyncSession) -> Any:
    if _dialect(session) == "postgresql":
        return postgresql.insert(OUTBOX).on_conflict_do_nothing(
            index_elements=["chat_id", "job_kind", "job_id"]
        )
    return sqlite.insert(OUTBOX).on_conflict_do_nothing(
        index_elements=["chat_id", "job_kind", "job_id"]
    )


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
    session: AsyncSession, sender: str, limit: int, lease: timedelta, now: datetime | None = None
) -> list[ClaimedRow]:
    """Claim up to `limit` due rows for `sender` under a lease, urgent first, then oldest."""
    now = now or utcnow()
    due = (
        select(OUTBOX.c.id)
        .where(
            OUTBOX.c.status == Status.PENDING.value,
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
    if _dialect(session) == "postgresql":
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
    return _rowcount(result)


async def release_claims(session: AsyncSession, sender: str) -> int:
    """Put back every row `sender` holds, e.g. at start after a crash or on a clean stop."""
    result = await session.execute(
        update(OUTBOX)
        .where(OUTBOX.c.status == Status.CLAIMED.value, OUTBOX.c.claimed_by == sender)
        .values(status=Status.PENDING.value, claimed_by=None, claimed_until=None)
    )
    return _rowcount(result)


async def release_expired_leases(session: AsyncSession, now: datetime | None = None) -> int:
    """Put back rows whose sender's lease ran out (it died or hung); return how many."""
    now = now or utcnow()
    result = await session.execute(
        update(OUTBOX)
        .where(OUTBOX.c.status == Status.CLAIMED.value, OUTBOX.c.claimed_until < now)
        .values(status=Status.PENDING.value, claimed_by=None, claimed_until=None)
    )
    return _rowcount(result)


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
    return _rowcount(result)


async def load_payloads(session: AsyncSession, ids: Iterable[int]) -> dict[int, Payload]:
    """Return the payloads with these ids."""
    result = await session.execute(
        select(PAYLOADS.c.id, PAYLOADS.c.text, PAYLOADS.c.reply_markup).where(
            PAYLOADS.c.id.in_(list(ids))
        )
    )
    return {row.id: Payload(row.text, row.reply_markup) for row in result}


def _rowcount(result: Any) -> int:
    return int(result.rowcount or 0)


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
            extra = _DELIVERED_EXTRA.get(c.row.job_kind)
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
            extra = _FAILED_EXTRA.get(c.row.job_kind)
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
    counts.dropped_for_unreachable = _rowcount(result)


# -- progress and cancel -----------------------------------------------------------------------


@dataclass(frozen=True)
class JobProgress:
    """Where a job stands: rows by status, dropped rows by reason, recent rate and ETA."""

    job: Job
    counts: Mapping[str, int]
    dropped_by_reason: Mapping[str, int] = field(default_factory=dict)
    rate_per_second: float = 0.0
    eta_seconds: float | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def remaining(self) -> int:
        return self.counts.get(Status.PENDING, 0) + self.counts.get(Status.CLAIMED, 0)

    @property
    def done(self) -> bool:
        return self.remaining == 0


async def job_progress(
    session: AsyncSession, job: Job, now: datetime | None = None, window: float = 60.0
) -> JobProgress:
    """Count a job's rows by status and estimate when it finishes from the last minute's rate."""
    now = now or utcnow()
    of_job = (OUTBOX.c.job_kind == job.kind, OUTBOX.c.job_id == job.id)
    counts = {status.value: 0 for status in Status}
    for status, count in await session.execute(
        select(OUTBOX.c.status, func.count()).where(*of_job).group_by(OUTBOX.c.status)
    ):
        counts[status] = count
    dropped = {
        reason or "unknown": count
        for reason, count in await session.execute(
            select(OUTBOX.c.last_error, func.count())
            .where(*of_job, OUTBOX.c.status == Status.DROPPED.value)
            .group_by(OUTBOX.c.last_error)
        )
    }
    since = now - timedelta(seconds=window)
    recent, first = (
        await session.execute(
            select(func.count(), func.min(OUTBOX.c.sent_at)).where(
                *of_job, OUTBOX.c.status == Status.SENT.value, OUTBOX.c.sent_at >= since
            )
        )
    ).one()
    rate = 0.0
    if recent and first is not None:
        # A job younger than the window is measured over its own age, not the whole window.
        elapsed = max((now - first).total_seconds(), 1.0)
        rate = recent / min(elapsed, window)
    remaining = counts[Status.PENDING] + counts[Status.CLAIMED]
    eta = remaining / rate if rate > 0 else (0.0 if remaining == 0 else None)
    return JobProgress(job, counts, dropped, rate, eta)


async def cancel_job(session: AsyncSession, job: Job, reason: str = CANCELLED) -> int:
    """Drop the job's rows not yet sent or claimed; return how many (rows in flight still go)."""
    result = await session.execute(
        update(OUTBOX)
        .where(
            OUTBOX.c.job_kind == job.kind,
            OUTBOX.c.job_id == job.id,
            OUTBOX.c.status == Status.PENDING.value,
        )
        .values(status=Status.DROPPED.value, last_error=reason)
    )
    return _rowcount(result)
