"""The outbox and its sender: claiming, limits, faults, events, crash recovery.

Fault tests go through a real aiogram Bot to the local emulator and its fault injection, so the
exceptions mapped are the ones aiogram really raises. Timing is judged from the emulator's own
request log, with loose bounds, never from sleeps in the test.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.areas.models import Area
from bot.channels.telegram.client import emulator_token, make_bot
from bot.channels.telegram.transport import AiogramTransport
from bot.core.base import utcnow
from bot.core.db import create_engine, session_factory
from bot.delivery import claims, outbox
from bot.delivery.outbox import (
    NORMAL,
    OUTBOX,
    PAYLOADS,
    URGENT,
    Job,
    Payload,
    Recipient,
    Status,
    active_recipients,
    enqueue_for_recipients,
    job_progress,
)
from bot.delivery.rate_limit import MemoryRateLimiter, RateLimits, RedisRateLimiter
from bot.delivery.sender import OutgoingMessage, Sender, SenderConfig, SendResult
from bot.devtools.emulator import Emulator, EmulatorServer
from bot.residents.events import EventKind
from bot.residents.models import Event, Resident

Sessions = async_sessionmaker[AsyncSession]
FIRST_USER = 500_000
ALERT = Job("alert", 1)
TEXT = {"bn": Payload("<b>সতর্কতা</b>: বন্যা"), "en": Payload("<b>Alert</b>: flood")}
WORKER = Path(__file__).resolve().parent / "outbox_worker.py"


# -- fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture
async def db(sessions: Sessions) -> Sessions:
    """The conftest database with the outbox emptied too (groups' rows have no resident)."""
    async with sessions.begin() as session:
        await session.execute(delete(OUTBOX))
        await session.execute(delete(PAYLOADS))
    return sessions


@dataclass
class Api:
    emulator: Emulator
    base_url: str
    bot: Bot
    transport: AiogramTransport

    def sends(self) -> list[Any]:
        return [r for r in self.emulator.requests if r.method == "sendMessage"]

    def received(self) -> Counter[int]:
        """How many messages each chat got (a failed request delivers nothing)."""
        return Counter(int(r.params["chat_id"]) for r in self.sends() if r.ok)


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async with EmulatorServer(Emulator(seed=7)) as server:
        bot = make_bot(emulator_token(), server.base_url)
        try:
            yield Api(server.emulator, server.base_url, bot, AiogramTransport(bot, timeout=1))
        finally:
            await bot.session.close()


async def add_residents(
    sessions: Sessions, count: int, *, api: Api | None = None, first: int = FIRST_USER
) -> list[int]:
    """Create consenting residents (alternating bn/en, over three areas); return their chat ids."""
    async with sessions.begin() as session:
        areas = list(await session.scalars(select(Area.code).order_by(Area.code).limit(3)))
        ids = list(range(first, first + count))
        await session.execute(
            insert(Resident),
            [
                {
                    "telegram_id": chat_id,
                    "pseudonym": f"p{chat_id}",
                    "language": "bn" if chat_id % 2 else "en",
                    "area_code": areas[chat_id % 3],
                    "consent_at": utcnow(),
                    "status": "active",
                }
                for chat_id in ids
            ],
        )
    if api is not None:
        for chat_id in ids:
            api.emulator.add_user(chat_id)
    return ids


async def enqueue(sessions: Sessions, job: Job = ALERT, **kwargs: Any) -> int:
    return await enqueue_for_recipients(
        sessions, job, active_recipients(sessions), TEXT, default_language="bn", **kwargs
    )


def fast(**overrides: Any) -> SenderConfig:
    """A sender config with short waits so tests finish quickly."""
    values: dict[str, Any] = {
        "name": "test-sender",
        "batch_size": 50,
        "concurrency": 8,
        "backoff_base": 0.05,
        "flush_interval": 0.05,
        "idle_poll": 0.05,
        "maintenance_interval": 0.2,
    }
    values.update(overrides)
    return SenderConfig(**values)


def unlimited() -> MemoryRateLimiter:
    return MemoryRateLimiter(RateLimits(per_second=None))


async def statuses(sessions: Sessions) -> Counter[str]:
    async with sessions() as session:
        rows = await session.execute(select(OUTBOX.c.status, func.count()).group_by("status"))
        return Counter({status: count for status, count in rows})


async def events(sessions: Sessions, kind: EventKind) -> list[Event]:
    async with sessions() as session:
        return list(await session.scalars(select(Event).where(Event.kind == kind.value)))


class FakeTransport:
    """Delivers everything at once, recording what was sent (for tests of the outbox itself)."""

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []

    async def send(self, message: OutgoingMessage) -> SendResult:
        self.sent.append(message)
        return SendResult.sent(len(self.sent))


def sqlite_only(db_url: str) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("backend-independent (the limiter and transport are under test): SQLite run")


# -- enqueue, claim, progress ------------------------------------------------------------------


async def test_enqueue_streams_recipients_in_their_language_once(db: Sessions) -> None:
    await add_residents(db, 2_500)
    async with db.begin() as session:
        # Neither an unconsented nor an unreachable resident is a recipient.
        session.add(Resident(telegram_id=1, language="bn"))
        session.add(
            Resident(telegram_id=2, language="bn", consent_at=utcnow(), status="unreachable")
        )

    assert await enqueue(db) == 2_500
    assert await enqueue(db) == 0  # an interrupted enqueue run again adds only what is missing

    async with db() as session:
        rows = await session.execute(
            select(OUTBOX.c.chat_id, PAYLOADS.c.language).join(
                PAYLOADS, PAYLOADS.c.id == OUTBOX.c.payload_id
            )
        )
        languages = {chat_id: language for chat_id, language in rows}
    assert len(languages) == 2_500
    assert all(lang == ("bn" if chat_id % 2 else "en") for chat_id, lang in languages.items())


async def test_enqueue_falls_back_to_the_default_language(db: Sessions) -> None:
    recipients = [Recipient(chat_id=-100123, language=None), Recipient(chat_id=7, language="syl")]
    added = await enqueue_for_recipients(
        db, Job("lesson_push", 3), recipients, {"bn": Payload("পাঠ")}, default_language="bn"
    )
    assert added == 2
    fake = FakeTransport()
    await Sender(db, fake, unlimited(), fast()).drain()
    assert sorted(m.text for m in fake.sent) == ["পাঠ", "পাঠ"]


async def test_urgent_rows_are_claimed_before_older_normal_ones(db: Sessions) -> None:
    await add_residents(db, 20)
    await enqueue(db, Job("lesson_push", 1), priority=NORMAL)
    await enqueue(db, Job("alert", 2), priority=URGENT)
    async with db.begin() as session:
        first = await claims.claim(session, "a", 25, timedelta(seconds=30))
    assert [row.job_kind for row in first] == ["alert"] * 20 + ["lesson_push"] * 5


async def test_two_claims_never_share_a_row(db: Sessions) -> None:
    await add_residents(db, 30)
    await enqueue(db)
    async with db.begin() as session:
        a = await claims.claim(session, "a", 20, timedelta(seconds=30))
    async with db.begin() as session:
        b = await claims.claim(session, "b", 20, timedelta(seconds=30))
    assert len(a) == 20 and len(b) == 10
    assert not {row.id for row in a} & {row.id for row in b}


async def test_a_dead_senders_rows_are_taken_back_after_its_lease(db: Sessions) -> None:
    await add_residents(db, 10)
    await enqueue(db)
    async with db.begin() as session:
        held = await claims.claim(session, "dead", 10, timedelta(milliseconds=1))
    assert len(held) == 10
    fake = FakeTransport()
    stats = await Sender(db, fake, unlimited(), fast(name="alive")).drain()
    assert stats.sent == 10 and len(fake.sent) == 10


async def test_expired_rows_are_dropped_and_never_sent(db: Sessions) -> None:
    await add_residents(db, 5)
    await enqueue(db, expires_at=utcnow() - timedelta(seconds=1))
    fake = FakeTransport()
    await Sender(db, fake, unlimited(), fast()).drain()
    assert fake.sent == []
    async with db() as session:
        progress = await job_progress(session, ALERT)
    assert progress.counts[Status.DROPPED] == 5
    assert progress.dropped_by_reason == {"expired": 5}
    assert progress.done


async def test_cancel_drops_rows_not_yet_sent(db: Sessions) -> None:
    await add_residents(db, 8)
    await enqueue(db)
    async with db.begin() as session:
        assert await outbox.cancel_job(session, ALERT) == 8
    fake = FakeTransport()
    await Sender(db, fake, unlimited(), fast()).drain()
    assert fake.sent == []


async def test_progress_counts_by_status_with_an_eta(db: Sessions) -> None:
    await add_residents(db, 40)
    await enqueue(db, not_before=utcnow())
    await Sender(db, FakeTransport(), unlimited(), fast(batch_size=10)).drain_once()
    async with db() as session:
        progress = await job_progress(session, ALERT)
    assert progress.counts[Status.SENT] == 10
    assert progress.remaining == 30 and progress.total == 40
    assert progress.rate_per_second > 0 and progress.eta_seconds is not None


async def test_rows_scheduled_later_wait_for_their_time(db: Sessions) -> None:
    await add_residents(db, 3)
    await enqueue(db, not_before=utcnow() + timedelta(hours=8))  # e.g. after quiet hours
    fake = FakeTransport()
    assert await Sender(db, fake, unlimited(), fast()).drain_once() == 0
    assert (await statuses(db))[Status.PENDING] == 3


# -- limits ---------------------------------------------------------------------------------------


async def test_memory_limiter_spaces_chats_and_groups_and_forgets_old_chats() -> None:
    limiter = MemoryRateLimiter(RateLimits(per_second=None))
    assert await limiter.chat_wait(42) == 0
    assert 0.9 < await limiter.chat_wait(42) <= 1.0
    assert await limiter.chat_wait(-100500) == 0
    assert 2.9 < await limiter.chat_wait(-100500) <= 3.0  # 20 per minute in a group
    limiter._forget_expired(float("inf"))
    assert limiter.tracked_chats == 0


async def test_memory_limiter_reserves_evenly_spaced_slots() -> None:
    limiter = MemoryRateLimiter(RateLimits(per_second=10))
    delays = [await limiter.reserve() for _ in range(5)]
    assert delays == sorted(delays) and 0.35 < delays[-1] < 0.45
    await limiter.pause(2)
    assert await limiter.reserve() > 1.9


@pytest.fixture
async def redis_limiters() -> AsyncIterator[tuple[RedisRateLimiter, RedisRateLimiter]]:
    """Two limiters sharing one Redis budget, as two sender processes would."""
    prefix = f"sabai:test:{os.getpid()}"
    first = RedisRateLimiter.from_url("redis://127.0.0.1:6379/0", RateLimits(10), prefix=prefix)
    second = RedisRateLimiter.from_url("redis://127.0.0.1:6379/0", RateLimits(10), prefix=prefix)
    try:
        await first.redis.ping()
    except OSError:
        await first.close()
        await second.close()
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    await first.reset()
    try:
        yield first, second
    finally:
        await first.reset()
        await first.close()
        await second.close()


async def test_redis_limiter_shares_slots_pauses_and_chats(
    redis_limiters: tuple[RedisRateLimiter, RedisRateLimiter],
) -> None:
    a, b = redis_limiters
    delays = [await limiter.reserve() for limiter in (a, b, a, b)]
    assert delays == sorted(delays) and 0.25 < delays[-1] < 0.35  # one budget, 10/s
    assert await a.chat_wait(42) == 0
    assert 0.9 < await b.chat_wait(42) <= 1.0
    await a.pause(3)
    assert 2.5 < await b.paused_for() <= 3.0
    assert await b.reserve() > 2.5


# -- through aiogram and the emulator ---------------------------------------------------------


def max_in_window(times: list[datetime], seconds: float) -> int:
    """The most requests seen in any window of `seconds`."""
    best, start = 0, 0
    for end, at in enumerate(times):
        while (at - times[start]).total_seconds() >= seconds:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_global_rate_cap_is_kept(db: Sessions, db_url: str, api: Api) -> None:
    sqlite_only(db_url)
    await add_residents(db, 60, api=api)
    await enqueue(db)
    await Sender(db, api.transport, MemoryRateLimiter(RateLimits(per_second=20)), fast()).drain()
    times = sorted(r.at for r in api.sends())
    assert len(times) == 60
    span = (times[-1] - times[0]).total_seconds()
    assert span >= 59 / 20 * 0.9  # not faster than the cap…
    # …nor in bursts. The log has completion times, which a loaded machine bunches up, so the
    # window is loose: evenly spaced starts give 40 in two seconds.
    assert max_in_window(times, 2.0) <= 50


async def test_429_storm_pauses_everything_and_loses_nothing(
    db: Sessions, db_url: str, api: Api
) -> None:
    sqlite_only(db_url)
    chats = await add_residents(db, 120, api=api)
    await enqueue(db)
    api.emulator.inject("retry_after", method="sendMessage", count=3, retry_after=1)
    sender = Sender(db, api.transport, MemoryRateLimiter(RateLimits(per_second=200)), fast())
    stats = await sender.drain()

    assert api.received() == Counter({chat: 1 for chat in chats})
    assert stats.flood_waits >= 1 and stats.failed == 0
    # After the first 429 nothing new starts for the retry_after second (only sends already in
    # flight, at most `concurrency`, can land inside it).
    sends = api.sends()
    first_429 = next(r.at for r in sends if r.error_code == 429)
    inside = [r for r in sends if first_429 < r.at < first_429 + timedelta(seconds=0.9)]
    assert len(inside) <= sender.config.concurrency
    async with db() as session:
        attempts = await session.scalar(select(func.max(OUTBOX.c.attempts)))
    assert attempts == 0  # a flood wait is not a failed attempt


async def test_ten_percent_server_errors_are_retried_until_delivered(
    db: Sessions, db_url: str, api: Api
) -> None:
    sqlite_only(db_url)
    chats = await add_residents(db, 200, api=api)
    await enqueue(db)
    api.emulator.inject("server_error", method="sendMessage", probability=0.1)
    stats = await Sender(db, api.transport, unlimited(), fast(max_attempts=6)).drain()
    assert api.received() == Counter({chat: 1 for chat in chats})
    assert stats.retried > 5 and stats.failed == 0 and stats.sent == 200


async def test_a_row_failing_every_time_ends_failed_with_the_reason(db: Sessions, api: Api) -> None:
    chats = await add_residents(db, 3, api=api)
    await enqueue(db)
    api.emulator.inject("server_error", method="sendMessage", chat_id=chats[0], count=100)
    stats = await Sender(db, api.transport, unlimited(), fast(max_attempts=3)).drain()
    assert stats.failed == 1 and stats.sent == 2
    async with db() as session:
        error = await session.scalar(
            select(OUTBOX.c.last_error).where(OUTBOX.c.chat_id == chats[0])
        )
    assert error is not None and "3 attempts" in error and "Internal Server Error" in error
    failed = await events(db, EventKind.ALERT_FAILED)
    assert [e.subject for e in failed] == [f"p{chats[0]}"]
    assert failed[0].data is not None and "Internal Server Error" in str(failed[0].data["reason"])


async def test_timeouts_are_retried_and_only_they_can_duplicate(
    db: Sessions, db_url: str, api: Api
) -> None:
    sqlite_only(db_url)
    chats = await add_residents(db, 40, api=api)
    await enqueue(db)
    # The emulator carries a timed-out request out anyway, as Telegram may: the retry is then
    # a duplicate the bot cannot know about.
    api.emulator.inject("timeout", method="sendMessage", count=3, delay=2.5)
    stats = await Sender(db, api.transport, unlimited(), fast()).drain()
    await api.emulator.wait_idle(timeout=5)
    received = Counter({chat: len(api.emulator.messages(chat)) for chat in chats})
    assert all(received[chat] >= 1 for chat in chats)
    assert sum(received.values()) - len(chats) <= 3
    assert stats.retried >= 3 and stats.sent == 40


async def test_blocked_and_vanished_chats_make_residents_unreachable(
    db: Sessions, api: Api
) -> None:
    chats = await add_residents(db, 30, api=api)
    blocked, vanished = chats[:4], chats[-1]
    for chat in blocked:
        api.emulator.bot_blocked_by(chat)
    api.emulator.state.chats.pop(vanished)  # "Bad Request: chat not found"
    await enqueue(db, Job("alert", 1), priority=URGENT)
    await enqueue(db, Job("lesson_push", 2))  # their second message must never be tried

    stats = await Sender(db, api.transport, unlimited(), fast(batch_size=10)).drain()

    assert stats.residents_marked == 5
    assert stats.sent == 2 * 25
    async with db() as session:
        unreachable = set(
            await session.scalars(
                select(Resident.telegram_id).where(Resident.status == "unreachable")
            )
        )
        lesson = await job_progress(session, Job("lesson_push", 2))
    assert unreachable == {*blocked, vanished}
    assert lesson.dropped_by_reason == {"unreachable": 5}  # counted, not attempted
    attempted = Counter(int(r.params["chat_id"]) for r in api.sends())
    assert all(attempted[chat] == 1 for chat in [*blocked, vanished])

    blocks = await events(db, EventKind.BLOCKED_BOT)
    assert sorted(e.subject or "" for e in blocks) == sorted(f"p{c}" for c in [*blocked, vanished])
    assert all(e.area_code for e in blocks)


async def test_delivery_events_carry_pseudonym_area_and_job(db: Sessions, api: Api) -> None:
    chats = await add_residents(db, 6, api=api)
    await enqueue(db, Job("alert", 9))
    await Sender(db, api.transport, unlimited(), fast()).drain()
    delivered = await events(db, EventKind.MESSAGE_DELIVERED)
    alerts = await events(db, EventKind.ALERT_DELIVERED)
    assert len(delivered) == len(alerts) == 6
    assert {e.subject for e in delivered} == {f"p{c}" for c in chats}
    assert all(e.area_code and e.data == {"job": "alert:9"} for e in delivered)
    bangla, english = (chats[1], chats[0]) if chats[1] % 2 else (chats[0], chats[1])
    assert [m.html for m in api.emulator.messages(bangla)] == ["<b>সতর্কতা</b>: বন্যা"]
    assert [m.html for m in api.emulator.messages(english)] == ["<b>Alert</b>: flood"]


async def test_a_busy_chat_is_deferred_without_holding_up_others(
    db: Sessions, db_url: str, api: Api
) -> None:
    sqlite_only(db_url)
    chats = await add_residents(db, 3, api=api)
    await enqueue(db, Job("alert", 1))
    await enqueue(db, Job("lesson_push", 2))
    stats = await Sender(db, api.transport, unlimited(), fast()).drain()
    assert stats.deferred >= 3 and stats.sent == 6
    for chat in chats:
        times = sorted(r.at for r in api.sends() if r.params["chat_id"] == chat)
        assert len(times) == 2 and (times[1] - times[0]).total_seconds() >= 0.95


# -- several senders, and a crash -------------------------------------------------------------


async def test_two_senders_share_a_postgresql_outbox_and_one_redis_budget(
    db: Sessions,
    db_url: str,
    api: Api,
    redis_limiters: tuple[RedisRateLimiter, RedisRateLimiter],
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("several sender processes need PostgreSQL (SQLite has one writer)")
    chats = await add_residents(db, 300, api=api)
    await enqueue(db)
    rate = 150.0
    engines = [create_engine(db_url) for _ in range(2)]  # separate pools, like two processes
    senders = [
        Sender(
            session_factory(engine),
            AiogramTransport(api.bot, timeout=5),
            RedisRateLimiter(limiter.redis, RateLimits(rate), prefix=limiter.prefix),
            fast(name=f"sender-{n}", batch_size=20),
        )
        for n, (engine, limiter) in enumerate(zip(engines, redis_limiters, strict=True))
    ]
    try:
        both = await asyncio.gather(*(sender.drain() for sender in senders))
    finally:
        for engine in engines:
            await engine.dispose()

    assert api.received() == Counter({chat: 1 for chat in chats})  # none twice, none lost
    assert all(stats.sent > 30 for stats in both)  # both really worked
    times = sorted(r.at for r in api.sends())
    # Two senders each with its own budget would take half as long.
    assert (times[-1] - times[0]).total_seconds() >= 299 / rate * 0.9


async def _start_worker(
    db_url: str, api: Api, name: str, *extra: str
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(WORKER),
        db_url,
        api.base_url,
        "--name",
        name,
        *extra,
        stdin=asyncio.subprocess.DEVNULL,
    )


async def _wait_for(condition: Any, seconds: float) -> None:
    for _ in range(int(seconds * 10)):
        if await condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"still waiting after {seconds} s")


async def test_a_killed_sender_process_resumes_with_only_in_flight_duplicates(
    db: Sessions, db_url: str, api: Api
) -> None:
    sqlite_only(db_url)
    total, batch = 10_000, 250
    chats = await add_residents(db, total, api=api)
    job = Job("bulk", 1)  # one event per message (an alert records two): a shorter test
    assert await enqueue(db, job) == total
    common = ("--batch-size", str(batch), "--lease", "2")

    first = await _start_worker(db_url, api, "doomed", *common)
    try:

        async def halfway() -> bool:
            return len(api.sends()) >= total // 3

        await _wait_for(halfway, 60)
    finally:
        first.send_signal(signal.SIGKILL)  # the process, mid-flight, no clean-up at all
        await first.wait()
    sent_before = len(api.sends())
    assert sent_before < total

    # A new process with another name: the dead one's claims come back when their lease ends.
    second = await _start_worker(db_url, api, "successor", *common)
    try:

        async def finished() -> bool:
            async with db() as session:
                return (await job_progress(session, job)).done

        await _wait_for(finished, 60)
    finally:
        second.send_signal(signal.SIGTERM)
        assert await second.wait() == 0

    received = api.received()
    assert all(received[chat] >= 1 for chat in chats), "a reachable resident got nothing"
    duplicates = sum(count - 1 for count in received.values())
    # The figure for the closing note: run with --log-cli-level=INFO to see it.
    logging.getLogger("sabai.tests").info(
        "kill test: %d sent before SIGKILL, %d duplicates of %d", sent_before, duplicates, total
    )
    # Only rows claimed and in flight at the kill can go twice.
    assert duplicates <= batch, f"{duplicates} duplicates, killed after {sent_before} sends"
    assert (await statuses(db)) == Counter({Status.SENT: total})
    async with db() as session:
        delivered = await session.scalar(
            select(func.count()).where(Event.kind == EventKind.MESSAGE_DELIVERED.value)
        )
    assert delivered == total
