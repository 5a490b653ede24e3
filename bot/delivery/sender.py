"""The sender: drains the outbox through a Transport while keeping to Telegram's limits.

One sender runs per process (several processes may share a PostgreSQL outbox and a Redis rate
limiter). It keeps at most `batch_size` rows claimed at a time (the only rows that can be sent
twice after a crash: sent, but not yet recorded as sent), hands them to `concurrency` workers
that each wait for a global slot, check the chat's own limit, send, and report the outcome;
outcomes are written back in batches so the database cost per message stays small.

The sender never imports aiogram: bot/channels/telegram/transport.py adapts a real Bot to
`Transport`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.base import utcnow
from bot.delivery import claims, outbox
from bot.delivery.claims import ClaimedRow, Completion, CompletionCounts, Outcome
from bot.delivery.outbox import Payload
from bot.delivery.rate_limit import MemoryRateLimiter, RateLimiter

log = logging.getLogger("sabai.sender")


# -- the transport boundary ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One message as the transport sends it."""

    chat_id: int
    text: str
    reply_markup: dict[str, Any] | None = None
    # The outbox row, for transports whose delivery reports name it (SMS).
    row_id: int | None = None


class SendStatus(enum.Enum):
    SENT = "sent"
    RETRY_AFTER = "retry_after"  # 429: everybody waits, the row is retried, no attempt counted
    UNREACHABLE = "unreachable"  # 403, chat not found, user deactivated: never retried
    TRANSIENT = "transient"  # 5xx, timeout, connection error: retried with backoff
    REJECTED = "rejected"  # any other 400: the message itself is wrong, retrying cannot help
    HALT = "halt"  # the bot itself is refused (401, 409): stop sending, keep the rows


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the Bot API said about one message."""

    status: SendStatus
    message_id: int | None = None
    retry_after: float = 0.0
    reason: str | None = None

    @classmethod
    def sent(cls, message_id: int) -> SendResult:
        return cls(SendStatus.SENT, message_id=message_id)

    @classmethod
    def flood_wait(cls, seconds: float, reason: str | None = None) -> SendResult:
        return cls(SendStatus.RETRY_AFTER, retry_after=seconds, reason=reason)

    @classmethod
    def unreachable(cls, reason: str) -> SendResult:
        return cls(SendStatus.UNREACHABLE, reason=reason)

    @classmethod
    def transient(cls, reason: str) -> SendResult:
        return cls(SendStatus.TRANSIENT, reason=reason)

    @classmethod
    def rejected(cls, reason: str) -> SendResult:
        return cls(SendStatus.REJECTED, reason=reason)

    @classmethod
    def halt(cls, reason: str) -> SendResult:
        return cls(SendStatus.HALT, reason=reason)


class Transport(Protocol):
    """Sends one message; never raises for a Bot API answer, only reports it."""

    async def send(self, message: OutgoingMessage) -> SendResult: ...


# -- configuration and counters -----------------------------------------------------------------


def default_sender_name() -> str:
    """A name unique to this process: host and pid."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


@dataclass(frozen=True)
class SenderConfig:
    """How a sender works; the defaults suit 25 messages/s with ~50 ms round trips."""

    # Must be unique among live senders; reusing a dead sender's name lets it take its rows
    # back at once instead of waiting for their lease to run out.
    name: str = field(default_factory=default_sender_name)
    batch_size: int = 50  # rows held at most; also the bound on duplicates after a crash
    concurrency: int = 8  # sends in flight
    lease: timedelta = timedelta(seconds=60)
    max_attempts: int = 5
    backoff_base: float = 2.0  # seconds before the first retry, doubled after each failure
    backoff_max: float = 300.0
    flush_size: int = 25  # completions written per transaction at most…
    flush_interval: float = 0.2  # …or this often
    idle_poll: float = 0.5  # how often an idle sender looks for due rows
    maintenance_interval: float = 5.0  # releasing dead senders' rows, expiring, renewing leases
    stop_timeout: float = 15.0  # how long a stopping sender lets in-flight sends finish
    channel: str = "telegram"  # the outbox rows this sender claims

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.concurrency < 1 or self.flush_size < 1:
            raise ValueError("batch_size, concurrency and flush_size must be at least 1")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.lease.total_seconds() < 2 * self.maintenance_interval:
            # Leases are renewed during maintenance; a shorter lease would lapse while held.
            raise ValueError("lease must be at least twice maintenance_interval")


@dataclass
class SenderStats:
    """What a sender has done since it was made."""

    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0  # transient failures put back with backoff
    expired: int = 0
    unreachable: int = 0
    residents_marked: int = 0
    dropped_for_unreachable: int = 0
    flood_waits: int = 0  # 429 answers
    deferred: int = 0  # rows put back because their chat was busy
    released: int = 0  # rows handed back unsent (stop, restart)

    def add_counts(self, counts: CompletionCounts) -> None:
        self.sent += counts.sent
        self.failed += counts.failed
        self.retried += counts.retried
        self.expired += counts.expired
        self.unreachable += counts.unreachable
        self.residents_marked += counts.residents_marked
        self.dropped_for_unreachable += counts.dropped_for_unreachable


class SenderHalted(RuntimeError):
    """The Bot API refused the bot itself (bad token, another instance): sending stopped."""


# -- the sender ---------------------------------------------------------------------------------

_Item = tuple[int, int, ClaimedRow]  # (priority, id, row): the local queue keeps outbox order


class Sender:
    """Drains the outbox: claim, send under the limits, record outcomes, repeat."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        transport: Transport,
        limiter: RateLimiter | None = None,
        config: SenderConfig | None = None,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.transport = transport
        self.limiter = limiter or MemoryRateLimiter()
        self.config = config or SenderConfig()
        self.stats = SenderStats()
        self._rng = rng or random.Random()
        self._clock = clock
        self._queue: asyncio.PriorityQueue[_Item] = asyncio.PriorityQueue()
        self._done: list[Completion] = []
        self._held = 0  # claimed by us and not yet recorded
        self._payloads: dict[int, Payload] = {}
        self._flush_wanted = asyncio.Event()
        self._room = asyncio.Event()  # set when held rows were recorded and more may be claimed
        self._flush_lock = asyncio.Lock()
        self._halted: str | None = None
        self._last_maintenance = -1e9

    @property
    def name(self) -> str:
        return self.config.name

    # -- public loop ----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Send until `stop` is set; then finish in-flight sends and hand back unsent rows."""
        await self._release_own("start")
        workers = [asyncio.create_task(self._worker()) for _ in range(self.config.concurrency)]
        flusher = asyncio.create_task(self._flusher())
        try:
            while not stop.is_set() and self._halted is None:
                try:
                    await self._maintain()
                    claimed = await self._refill()
                except SQLAlchemyError:
                    # A database hiccup (failover, lock timeout) must not end the sender.
                    log.exception("claiming failed; trying again shortly")
                    await _wait_any(stop, self.config.idle_poll)
                    continue
                if claimed == 0 and self._held == 0:
                    await _wait_any(stop, self.config.idle_poll)
                else:
                    self._room.clear()
                    await _wait_any_of(stop, self._room, self.config.idle_poll)
        finally:
            await self._shutdown(workers, flusher)
        if self._halted is not None:
            raise SenderHalted(self._halted)

    async def drain(self, *, horizon: float = 60.0) -> SenderStats:
        """Send until no row is claimed or due within `horizon` seconds; return the counters.

        For tests, benchmarks and one-shot runs: retries due soon are waited for, rows
        scheduled further ahead are left for the long-running sender.
        """
        stop = asyncio.Event()

        async def watch() -> None:
            while True:
                await asyncio.sleep(self.config.idle_poll / 2)
                if self._held == 0 and not await self._anything_left(horizon):
                    break
            stop.set()

        watcher = asyncio.create_task(watch())
        try:
            await self.run(stop)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        return self.stats

    async def drain_once(self) -> int:
        """Claim one batch, send all of it (retrying 429s in place), record it; return its size."""
        await self._maintain(force=True)
        claimed = await self._refill(force=True)
        if claimed == 0:
            return 0
        workers = [asyncio.create_task(self._worker()) for _ in range(self.config.concurrency)]
        try:
            await self._queue.join()
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        await self._flush()
        if self._halted is not None:
            await self._release_own("halt")
            raise SenderHalted(self._halted)
        return claimed

    # -- claiming -------------------------------------------------------------------------------

    async def _refill(self, *, force: bool = False) -> int:
        """Claim rows up to batch_size held, once half of them are done (fewer, larger claims)."""
        room = self.config.batch_size - self._held
        if room <= 0 or (not force and self._held > self.config.batch_size // 2):
            return 0
        now = self._clock()
        async with self.sessions.begin() as session:
            rows = await claims.claim(
                session, self.name, room, self.config.lease, now, self.config.channel
            )
            missing = {row.payload_id for row in rows} - self._payloads.keys()
            if missing:
                if len(self._payloads) > 256:
                    self._payloads.clear()
                self._payloads.update(await claims.load_payloads(session, missing))
        self._held += len(rows)
        self.stats.claimed += len(rows)
        for row in rows:
            self._queue.put_nowait((row.priority, row.id, row))
        return len(rows)

    async def _anything_left(self, horizon: float) -> bool:
        """Whether any row is claimed (by anyone) or pending and due within `horizon` seconds."""
        table = outbox.OUTBOX
        soon = self._clock() + timedelta(seconds=horizon)
        query = (
            select(table.c.id)
            .where(
                table.c.channel == self.config.channel,
                or_(
                    table.c.status == outbox.Status.CLAIMED.value,
                    (table.c.status == outbox.Status.PENDING.value) & (table.c.not_before <= soon),
                ),
            )
            .limit(1)
        )
        async with self.sessions() as session:
            return (await session.scalar(query)) is not None

    async def _maintain(self, *, force: bool = False) -> None:
        now_mono = time.monotonic()
        if not force and now_mono - self._last_maintenance < self.config.maintenance_interval:
            return
        self._last_maintenance = now_mono
        now = self._clock()
        async with self.sessions.begin() as session:
            # Our own leases first: releasing before renewing could free rows we still hold.
            if self._held:
                await claims.renew_leases(session, self.name, self.config.lease, now)
            released = await claims.release_expired_leases(session, now)
            expired = await claims.expire_due(session, now)
        if released:
            log.warning("rows of a dead sender taken back", extra={"rows": released})
        self.stats.expired += expired

    async def _release_own(self, why: str) -> None:
        async with self.sessions.begin() as session:
            released = await claims.release_claims(session, self.name)
        if released:
            log.info("claimed rows handed back", extra={"rows": released, "why": why})
        self.stats.released += released

    # -- sending --------------------------------------------------------------------------------

    async def _worker(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                completion = await self._deliver(item[2])
                if completion is None:
                    self._queue.put_nowait(item)  # a 429: same row again once the pause ends
                else:
                    self._record(completion)
            finally:
                self._queue.task_done()

    async def _deliver(self, row: ClaimedRow) -> Completion | None:
        """Send one row; return its completion, or None to try the same row again."""
        if self._halted is not None:
            return Completion(row, Outcome.RETRY, not_before=self._clock())
        if row.expires_at is not None and row.expires_at <= self._clock():
            return Completion(row, Outcome.EXPIRED, reason=outbox.EXPIRED)
        await self.limiter.acquire()
        # Checked after the global wait, so the chat's turn is taken when the message goes out;
        # a busy chat costs one global slot and the row returns later, without blocking others.
        busy_for = await self.limiter.chat_wait(row.chat_id)
        if busy_for > 0:
            self.stats.deferred += 1
            not_before = self._clock() + timedelta(seconds=busy_for)
            return Completion(row, Outcome.RETRY, not_before=not_before, reason="chat busy")
        payload = self._payloads.get(row.payload_id)
        if payload is None:
            async with self.sessions() as session:
                payload = (await claims.load_payloads(session, [row.payload_id]))[row.payload_id]
            self._payloads[row.payload_id] = payload
        message = OutgoingMessage(row.chat_id, payload.text, payload.reply_markup, row.id)
        try:
            result = await self.transport.send(message)
        except Exception as exc:
            # A transport bug must cost one attempt of one row, not a worker.
            log.exception("transport raised instead of reporting")
            result = SendResult.transient(f"{type(exc).__name__}: {exc}")
        return await self._judge(row, result)

    async def _judge(self, row: ClaimedRow, result: SendResult) -> Completion | None:
        status = result.status
        if status is SendStatus.SENT:
            return Completion(row, Outcome.SENT, message_id=result.message_id)
        if status is SendStatus.RETRY_AFTER:
            self.stats.flood_waits += 1
            log.warning("flood wait: all sending paused", extra={"seconds": result.retry_after})
            await self.limiter.pause(result.retry_after)
            return None
        if status is SendStatus.UNREACHABLE:
            return Completion(row, Outcome.UNREACHABLE, reason=result.reason)
        if status is SendStatus.REJECTED:
            return Completion(row, Outcome.FAILED, reason=result.reason, attempts=row.attempts + 1)
        if status is SendStatus.HALT:
            if self._halted is None:
                log.error(
                    "the Bot API refused the bot; sending stops", extra={"why": result.reason}
                )
            self._halted = result.reason or "halted"
            return Completion(row, Outcome.RETRY, not_before=self._clock())
        attempts = row.attempts + 1
        if attempts >= self.config.max_attempts:
            reason = f"gave up after {attempts} attempts: {result.reason}"
            return Completion(row, Outcome.FAILED, reason=reason, attempts=attempts)
        not_before = self._clock() + timedelta(seconds=self._backoff(attempts))
        return Completion(
            row, Outcome.RETRY, reason=result.reason, not_before=not_before, attempts=attempts
        )

    def _backoff(self, attempts: int) -> float:
        """Exponential backoff with jitter, so rows failed together do not retry together."""
        ceiling = min(self.config.backoff_max, self.config.backoff_base * 2 ** (attempts - 1))
        return self._rng.uniform(ceiling / 2, ceiling)

    # -- recording ------------------------------------------------------------------------------

    def _record(self, completion: Completion) -> None:
        self._done.append(completion)
        if len(self._done) >= self.config.flush_size:
            self._flush_wanted.set()

    async def _flusher(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flush_wanted.wait(), self.config.flush_interval)
            self._flush_wanted.clear()
            try:
                await self._flush()
            except SQLAlchemyError:
                log.exception("recording outcomes failed; trying again shortly")

    async def _flush(self) -> None:
        async with self._flush_lock:
            if not self._done:
                return
            done, self._done = self._done, []
            try:
                async with self.sessions.begin() as session:
                    counts = await claims.record_completions(
                        session, self.name, done, self._clock()
                    )
            except BaseException:
                # Keep the outcomes: a sent row forgotten here would be sent again.
                self._done = done + self._done
                raise
            self._held -= len(done)
            self.stats.add_counts(counts)
            self._room.set()

    # -- stopping -------------------------------------------------------------------------------

    async def _shutdown(
        self, workers: list[asyncio.Task[None]], flusher: asyncio.Task[None]
    ) -> None:
        # Rows not yet started go back to the outbox untouched; in-flight sends may finish.
        while not self._queue.empty():
            self._queue.get_nowait()
            self._queue.task_done()
        try:
            await asyncio.wait_for(self._queue.join(), self.config.stop_timeout)
        except TimeoutError:
            log.warning("in-flight sends did not finish in time; their rows are handed back")
        for task in [*workers, flusher]:
            task.cancel()
        await asyncio.gather(*workers, flusher, return_exceptions=True)
        await self._flush()
        await self._release_own("stop")
        self._held = 0


async def _wait_any(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _wait_any_of(stop: asyncio.Event, other: asyncio.Event, seconds: float) -> None:
    waiters: list[asyncio.Task[Any]] = [
        asyncio.create_task(stop.wait()),
        asyncio.create_task(other.wait()),
    ]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
