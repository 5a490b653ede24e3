"""The outbox: one row per recipient of a bulk message, claimed, sent and completed by senders.

A bulk message (an alert, a lesson push, a digest) is a *job*, named by a kind and an id
("alert:17"). Enqueueing streams the recipients into rows in batches; senders
(bot/delivery/sender.py) claim rows under a lease, send them and record the outcome through
bot/delivery/claims.py. A row moves pending → claimed → sent | failed | dropped, or back to
pending (retry, busy chat, lease expired).
The message text lives once per job and language in `outbox_payloads`, not once per row: a
million-recipient alert stays a million small rows.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Iterable, Mapping
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
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from bot.core.base import Base, UTCDateTime, utcnow
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
    channel: str = "telegram"


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
    # Which sender sends the row: "telegram" (chat_id a Telegram chat) or "sms" (chat_id the
    # digits of an E.164 number).
    channel: Mapped[str] = mapped_column(String(8), default="telegram", server_default="telegram")
    # The last delivery report the gateway sent for the row, so a replayed one changes nothing.
    dlr_status: Mapped[int | None] = mapped_column(SmallInteger)
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


def rowcount(result: Any) -> int:
    """Rows an UPDATE or DELETE touched (0 where the driver cannot tell)."""
    return int(result.rowcount or 0)


def dialect_name(session: AsyncSession) -> str:
    """ "sqlite" or "postgresql": the few statements that differ pick their form by it."""
    return session.get_bind().dialect.name


# -- enqueue ------------------------------------------------------------------------------------


TELEGRAM, SMS = "telegram", "sms"


def reachable(channel: str = TELEGRAM) -> list[ColumnElement[bool]]:
    """Residents a bulk message on `channel` may go to: consented, active, with an address
    there (a Telegram id, or a phone number given with consent)."""
    address = Resident.telegram_id if channel == TELEGRAM else Resident.phone
    return [
        Resident.status == "active",
        address.is_not(None),
        Resident.consent_at.is_not(None),
    ]


async def count_reachable(
    session: AsyncSession, *conditions: ColumnElement[bool], channel: str = TELEGRAM
) -> int:
    """How many residents `active_recipients` with these conditions would stream now."""
    query = select(func.count()).select_from(Resident).where(*reachable(channel), *conditions)
    return int(await session.scalar(query) or 0)


async def active_recipients(
    sessions: async_sessionmaker[AsyncSession],
    *conditions: ColumnElement[bool],
    batch_size: int = 1000,
    channel: str = TELEGRAM,
    language_prefix: str = "",
) -> AsyncIterator[Recipient]:
    """Yield consenting, reachable residents of `channel` (filtered by `conditions`) in id order.

    Pages by id (keyset) in short transactions rather than holding one cursor open: a
    million-row stream then never pins an old snapshot (SQLite's WAL could not checkpoint) and
    never holds more than one page in memory. `language_prefix` picks the channel's payloads
    ("sms:bn") where a job has one per channel.
    """
    address = Resident.telegram_id if channel == TELEGRAM else Resident.phone
    last_id = 0
    while True:
        query = (
            select(
                Resident.id,
                address.label("address"),
                Resident.pseudonym,
                Resident.area_code,
                Resident.language,
            )
            .where(
                Resident.id > last_id,
                *reachable(channel),
                *conditions,
            )
            .order_by(Resident.id)
            .limit(batch_size)
        )
        async with sessions() as session:
            page = (await session.execute(query)).all()
        for row in page:
            yield Recipient(
                chat_id=row.address if channel == TELEGRAM else int(row.address.lstrip("+")),
                resident_id=row.id,
                pseudonym=row.pseudonym,
                area_code=row.area_code,
                language=language_prefix + row.language if row.language else None,
                channel=channel,
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
                "channel": recipient.channel,
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
    if dialect_name(session) == "postgresql":
        return postgresql.insert(OUTBOX).on_conflict_do_nothing(
            index_elements=["chat_id", "job_kind", "job_id"]
        )
    return sqlite.insert(OUTBOX).on_conflict_do_nothing(
        index_elements=["chat_id", "job_kind", "job_id"]
    )


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
    return rowcount(result)
