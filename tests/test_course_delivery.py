"""A trainer schedules a 3-lesson course; a fake clock drives its deliveries and a restart."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.base import utcnow
from bot.delivery.outbox import OUTBOX
from bot.lessons.catalog import Library
from bot.lessons.courses import ACTIVE, FINISHED, deliver_step
from bot.lessons.models import Course, LessonProgress
from bot.residents.models import Resident
from bot.wiring.scheduler import Jobs
from tests import botkit
from tests.botkit import Harness, running_bot
from tests.onboard import signed_up
from tests.test_groups_and_push import make_group, make_trainer

DHAKA = ZoneInfo("Asia/Dhaka")
Sessions = async_sessionmaker[AsyncSession]


async def course_row(h: Harness) -> Course:
    async with h.app.sessions() as session:
        course: Course | None = await session.scalar(select(Course))
    assert course is not None
    return course


async def queued(h: Harness) -> list[tuple[int, object]]:
    """(chat, not_before) of every lesson row in the outbox, by push id then chat."""
    async with h.app.sessions() as session:
        rows = await session.execute(
            select(OUTBOX.c.job_id, OUTBOX.c.chat_id, OUTBOX.c.not_before).order_by(
                OUTBOX.c.job_id, OUTBOX.c.chat_id
            )
        )
        return [(chat, not_before) for _, chat, not_before in rows]


async def test_a_course_delivers_on_its_days_and_hours_once_each(
    db_url: str, sessions: Sessions
) -> None:
    async with running_bot(db_url) as h:
        trainer, area = await make_trainer(h, 8300)
        code = await make_group(trainer, area)
        members = [await signed_up(h, uid) for uid in (8301, 8302)]
        for member in members:
            await member.send(f"/join {code}")
        # 8302 already finished the second lesson of the course: it is skipped for them.
        async with h.app.sessions.begin() as session:
            resident = await session.scalar(select(Resident).where(Resident.telegram_id == 8302))
            assert resident is not None
            session.add(
                LessonProgress(
                    resident_id=resident.id,
                    lesson_id="scam-calls",
                    step=0,
                    status="done",
                    completed_at=utcnow(),
                )
            )

        [preview] = await trainer.send(
            f"/course group {code} every 2 at 10:00 pin-otp scam-calls phone-lock"
        )
        assert "Course of 3 lessons" in preview.text and "one every 2 days at 10:00" in preview.text
        # Two residents: a count that small is shown to staff as "<5".
        assert "would reach <5 residents" in preview.text
        [made] = await trainer.tap("Send")
        assert made.text.startswith("Course scheduled.")

        course = await course_row(h)
        assert course.status == ACTIVE and course.next_index == 0 and course.next_at is not None
        first = course.next_at.astimezone(DHAKA)
        assert (first.hour, first.minute) == (10, 0)
        assert first - utcnow().astimezone(DHAKA) <= timedelta(days=1)

        library, catalog = Library.load(), h.app.ctx.catalog
        # Too early: nothing happens.
        early = await deliver_step(
            h.app.sessions,
            library,
            catalog,
            course.id,
            0,
            now=course.next_at - timedelta(minutes=1),
        )
        assert not early.delivered and await queued(h) == []

        one = await deliver_step(h.app.sessions, library, catalog, course.id, 0, now=course.next_at)
        assert one.delivered and one.queued == 2
        assert one.next_at is not None
        second = one.next_at.astimezone(DHAKA)
        assert second.date() - first.date() == timedelta(days=2) and second.hour == 10
        # The same job again (a restart between sending and recording): no repeat.
        again = await deliver_step(
            h.app.sessions, library, catalog, course.id, 0, now=course.next_at
        )
        assert not again.delivered and len(await queued(h)) == 2

        two = await deliver_step(h.app.sessions, library, catalog, course.id, 1, now=one.next_at)
        assert two.delivered and two.queued == 1  # 8302 finished scam-calls already
        assert [chat for chat, _ in await queued(h)][2:] == [8301]

        # The bot was down; it comes back at 23:00 local: the lesson goes at 08:00, not at night.
        assert two.next_at is not None
        late = two.next_at.astimezone(DHAKA).replace(hour=23)
        three = await deliver_step(h.app.sessions, library, catalog, course.id, 2, now=late)
        assert three.delivered and three.next_at is None
        for _, not_before in (await queued(h))[3:]:
            morning = not_before.astimezone(DHAKA)  # type: ignore[attr-defined]
            assert (morning.date() - late.date(), morning.hour) == (timedelta(days=1), 8)
        assert (await course_row(h)).status == FINISHED


async def test_course_jobs_survive_a_scheduler_restart_without_repeats(
    db_url: str, sessions: Sessions
) -> None:
    settings = botkit.test_settings(db_url)
    async with running_bot(db_url) as h:
        trainer, area = await make_trainer(h, 8400)
        code = await make_group(trainer, area)
        await trainer.send(f"/course group {code} every 1 at 10:00 pin-otp scam-calls phone-lock")
        await trainer.tap("Send")
        course = await course_row(h)
        assert course.next_at is not None

        jobs = Jobs(settings, h.app.sessions)
        await jobs.start(paused=True)
        try:
            # Jobs live in memory only: nothing of them is written to the database.
            assert jobs.scheduler.get_job(f"course:{course.id}") is not None
            jobs.scheduler.remove_all_jobs()
            # Confirmed from chat, where there is no scheduler: reconciling adds its job.
            assert await jobs.reconcile() == 1
            assert await jobs.reconcile() == 0
        finally:
            jobs.stop()

        restarted = Jobs(settings, h.app.sessions)
        await restarted.start(paused=True)
        try:
            scheduler = restarted.scheduler
            course_jobs = [job for job in scheduler.get_jobs() if job.id.startswith("course:")]
            assert [(job.id, list(job.args)) for job in course_jobs] == [
                (f"course:{course.id}", [course.id, 0])
            ]
            assert course_jobs[0].next_run_time == course.next_at
            # Rescheduling the same position replaces the job rather than adding a second.
            restarted.schedule_course(course.id, 0, course.next_at)
            assert len([j for j in scheduler.get_jobs() if j.id.startswith("course:")]) == 1
        finally:
            scheduler.remove_all_jobs()
            restarted.stop()
