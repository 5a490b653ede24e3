"""The scheduler rebuilt from the database: catch-up after downtime, changes, one leader."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.base import utcnow
from bot.delivery.outbox import OUTBOX
from bot.lessons.courses import CANCELLED
from bot.lessons.models import Course
from bot.staff.roles import Role, grant_role
from bot.wiring.scheduler import Jobs, Scheduling, digest_trigger, retention_trigger
from tests import botkit
from tests.botkit import Harness, running_bot
from tests.onboard import signed_up
from tests.test_course_delivery import course_row
from tests.test_groups_and_push import make_group, make_trainer

Sessions = async_sessionmaker[AsyncSession]


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    """Wait until `check()` holds; fail after `seconds`."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def course_with_members(h: Harness, base: int) -> Course:
    trainer, area = await make_trainer(h, base)
    code = await make_group(trainer, area)
    for uid in (base + 1, base + 2):
        member = await signed_up(h, uid)
        await member.send(f"/join {code}")
    await trainer.send(f"/course group {code} every 2 at 10:00 pin-otp scam-calls phone-lock")
    await trainer.tap("Send")
    return await course_row(h)


async def outbox_rows(h: Harness) -> int:
    async with h.app.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(OUTBOX)) or 0)


async def test_a_delivery_due_while_down_goes_out_once_after_restarts(db_url: str) -> None:
    settings = botkit.test_settings(db_url)
    async with running_bot(db_url) as h:
        course = await course_with_members(h, 8500)
        # The bot was down when the first lesson fell due, two days ago.
        async with h.app.sessions.begin() as session:
            await session.execute(
                update(Course)
                .where(Course.id == course.id)
                .values(next_at=utcnow() - timedelta(days=2))
            )

        async def advanced() -> bool:
            return (await course_row(h)).next_index == 1

        # Two schedulers by mistake (a second process on SQLite) still deliver once.
        first, second = Jobs(settings, h.app.sessions), Jobs(settings, h.app.sessions)
        await asyncio.gather(first.start(), second.start())
        try:
            await until(advanced)
            await asyncio.sleep(0.3)
            assert await outbox_rows(h) == 2
        finally:
            first.stop()
            second.stop()

        resumed = await course_row(h)
        assert resumed.next_at is not None and resumed.next_at > utcnow()
        restarted = Jobs(settings, h.app.sessions)
        await restarted.start()
        try:
            await asyncio.sleep(0.3)
            # The next lesson waits for its day; nothing is sent again.
            assert await outbox_rows(h) == 2
            job = restarted.scheduler.get_job(f"course:{course.id}")
            assert job is not None and list(job.args) == [course.id, 1]
            assert job.next_run_time == resumed.next_at
        finally:
            restarted.stop()


async def test_edited_and_cancelled_courses_move_or_lose_their_jobs(db_url: str) -> None:
    settings = botkit.test_settings(db_url)
    async with running_bot(db_url) as h:
        course = await course_with_members(h, 8600)
        assert course.next_at is not None
        jobs = Jobs(settings, h.app.sessions)
        await jobs.start(paused=True)
        try:
            job = jobs.scheduler.get_job(f"course:{course.id}")
            assert job is not None and job.next_run_time == course.next_at

            later = course.next_at + timedelta(days=1)
            async with h.app.sessions.begin() as session:
                await session.execute(
                    update(Course).where(Course.id == course.id).values(next_at=later)
                )
            assert await jobs.reconcile() == 1
            job = jobs.scheduler.get_job(f"course:{course.id}")
            assert job is not None and job.next_run_time == later

            async with h.app.sessions.begin() as session:
                await session.execute(
                    update(Course).where(Course.id == course.id).values(status=CANCELLED)
                )
            assert await jobs.reconcile() == 1
            assert jobs.scheduler.get_job(f"course:{course.id}") is None
        finally:
            jobs.stop()


async def test_a_course_confirmed_in_chat_gets_its_job_while_the_scheduler_runs(
    db_url: str,
) -> None:
    settings = botkit.test_settings(db_url)
    async with running_bot(db_url) as h:
        scheduling = Scheduling(settings, h.app.sessions, every=0.1)
        await scheduling.start()
        try:
            course = await course_with_members(h, 8800)

            async def has_job() -> bool:
                jobs = scheduling.jobs
                job = jobs.scheduler.get_job(f"course:{course.id}") if jobs else None
                return job is not None and job.next_run_time == course.next_at

            await until(has_job)
        finally:
            await scheduling.stop()


async def test_on_sqlite_this_process_leads_at_once(db_url: str, sessions: Sessions) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL elects its leader")
    scheduling = Scheduling(botkit.test_settings(db_url), sessions)
    await scheduling.start()
    try:
        assert scheduling.is_leader and scheduling.jobs is not None
        assert scheduling.jobs.scheduler.get_job("reach:digest") is not None
    finally:
        await scheduling.stop()
    assert not scheduling.is_leader


async def kill_lock_holder(sessions: Sessions) -> None:
    """End the session holding an advisory lock in this database, as a dead leader's would."""
    async with sessions() as session:
        killed = await session.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_locks "
                "WHERE locktype = 'advisory' AND granted AND database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        )
    assert killed == 1


async def test_on_postgres_one_scheduler_leads_and_another_takes_over(
    db_url: str, sessions: Sessions
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has a single process")
    settings = botkit.test_settings(db_url)
    first = Scheduling(settings, sessions, every=0.1)
    second = Scheduling(settings, sessions, every=0.1)
    await first.start()
    await second.start()
    try:
        assert first.is_leader and not second.is_leader
        await asyncio.sleep(0.5)
        # Retrying does not take the lead from a live leader.
        assert first.is_leader and not second.is_leader and second.jobs is None

        await first.stop()
        assert not first.is_leader

        async def second_leads() -> bool:
            return second.is_leader

        await until(second_leads)
        await first.start()
        assert not first.is_leader

        # The leader's connection dies (its process or machine is gone): the other takes over
        # and the old leader, if it is still running, stops its jobs.
        await kill_lock_holder(sessions)

        async def swapped() -> bool:
            return first.is_leader and not second.is_leader

        await until(swapped)
    finally:
        await first.stop()
        await second.stop()


async def test_a_digest_due_while_down_goes_out_at_start_once(
    db_url: str, sessions: Sessions
) -> None:
    tuesday = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # Tuesday 12:00 in Dhaka
    async with sessions() as session:
        await grant_role(session, 8701, Role.COORDINATOR, "6058", "cli:test")
        await session.commit()
    sent: list[int] = []

    async def send(telegram_id: int, text: str) -> None:
        sent.append(telegram_id)

    settings = botkit.test_settings(db_url)

    async def start_and_stop() -> None:
        jobs = Jobs(settings, sessions, send_text=send, clock=lambda: tuesday)
        finished: asyncio.Queue[JobExecutionEvent] = asyncio.Queue()

        def on_finish(event: JobExecutionEvent) -> None:
            if event.job_id == "reach:digest":
                finished.put_nowait(event)

        jobs.scheduler.add_listener(on_finish, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        await jobs.start()
        try:
            run = await asyncio.wait_for(finished.get(), 20)
            assert run.exception is None
        finally:
            jobs.stop()

    await start_and_stop()
    await start_and_stop()
    # Monday's digest, missed, went out at the first start and not again at the second.
    assert sent == [8701]


def test_digest_and_retention_keep_their_local_hours() -> None:
    dhaka = ZoneInfo("Asia/Dhaka")
    monday_early = datetime(2026, 11, 30, 8, 30, tzinfo=dhaka)
    monday_nine = datetime(2026, 11, 30, 9, 0, tzinfo=dhaka)
    assert digest_trigger(dhaka).get_next_fire_time(None, monday_early) == monday_nine
    assert retention_trigger(dhaka).get_next_fire_time(None, monday_early) == datetime(
        2026, 12, 1, 3, 30, tzinfo=dhaka
    )
