"""Courses: an ordered list of lessons delivered to a group or an area, one every N days.

`next_delivery` is pure (a schedule, the last delivery and `now` in; a UTC moment out) and is
tested with a fixed clock. `deliver_step` is what the scheduler job runs: it delivers the
course position it was scheduled for and advances the course, and does nothing when that
position was delivered already, so a job that runs twice (a restart between sending and
recording, two schedulers by mistake) never sends twice. Each delivery is a lesson push
(job "lesson_push:<id>"), so it goes through the outbox like any other bulk message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.base import utcnow
from bot.core.i18n import Catalog, is_plain_number
from bot.lessons.catalog import Library
from bot.lessons.models import Course, LessonPush
from bot.lessons.pushes import (
    QUEUED,
    QuietHours,
    Settled,
    Settlement,
    Target,
    count_reach,
    enqueue_push,
    out_of_quiet,
    target_scope,
)
from bot.staff.audit import Act, record_audit
from bot.staff.roles import Role, Staff

log = logging.getLogger("sabai.courses")

ACTIVE, DRAFT, FINISHED, CANCELLED = "active", "draft", "done", "cancelled"
MAX_EVERY_DAYS = 60
MAX_LESSONS = 20


@dataclass(frozen=True)
class Schedule:
    """When a course's lessons go out: every `every_days` days at `at` local time."""

    every_days: int
    at: time


def parse_hhmm(text: str) -> time:
    """Read "HH:MM" (24-hour clock); raise ValueError otherwise."""
    hours, sep, minutes = text.strip().partition(":")
    if not sep or not (is_plain_number(hours) and is_plain_number(minutes) and len(minutes) == 2):
        raise ValueError(f"not HH:MM: {text!r}")
    return time(int(hours), int(minutes))


def _at_local(day: datetime, at: time, tz: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, at.hour, at.minute, tzinfo=tz)


def next_delivery(
    schedule: Schedule,
    last: datetime | None,
    now: datetime,
    tz: ZoneInfo,
    quiet: QuietHours,
) -> datetime:
    """When the next lesson of a course is due, in UTC.

    The first lesson goes at the next `at` (today if it is still ahead, else tomorrow); each
    later one `every_days` local days after the day of the last delivery, at `at`. A delivery
    that fell due while the bot was down is due now: late rather than skipped. Nothing is
    due in quiet hours; such a moment moves to their end.
    """
    if now.tzinfo is None or (last is not None and last.tzinfo is None):
        raise ValueError("next_delivery needs timezone-aware datetimes")
    local_now = now.astimezone(tz)
    if last is None:
        due = _at_local(local_now, schedule.at, tz)
        if due < local_now:
            due = _at_local(local_now + timedelta(days=1), schedule.at, tz)
    else:
        last_day = last.astimezone(tz)
        due = _at_local(last_day + timedelta(days=schedule.every_days), schedule.at, tz)
        due = max(due, local_now)
    return out_of_quiet(due, tz, quiet)


def schedule_of(course: Course) -> tuple[Schedule, ZoneInfo, QuietHours]:
    quiet = QuietHours(parse_hhmm(course.quiet_start), parse_hhmm(course.quiet_end))
    return (
        Schedule(course.every_days, parse_hhmm(course.at_local)),
        ZoneInfo(course.timezone),
        quiet,
    )


def target_of(course: Course) -> Target:
    return Target(course.area_code, course.group_id)


async def draft_course(
    session: AsyncSession,
    lesson_ids: list[str],
    target: Target,
    schedule: Schedule,
    trainer_id: int,
    tz: ZoneInfo,
    quiet: QuietHours,
    now: datetime | None = None,
) -> tuple[Course, int]:
    """Record a course awaiting the trainer's confirmation; return it and its first reach."""
    now = now or utcnow()
    course = Course(
        lesson_ids=list(lesson_ids),
        area_code=target.area_code,
        group_id=target.group_id,
        every_days=schedule.every_days,
        at_local=f"{schedule.at:%H:%M}",
        timezone=tz.key,
        quiet_start=f"{quiet.start:%H:%M}",
        quiet_end=f"{quiet.end:%H:%M}",
        next_index=0,
        next_at=next_delivery(schedule, None, now, tz, quiet),
        status=DRAFT,
        created_by=trainer_id,
        created_at=now,
    )
    session.add(course)
    await session.flush()
    return course, await count_reach(session, target, lesson_ids[0])


async def draft_course_of(session: AsyncSession, course_id: int, trainer_id: int) -> Course | None:
    course = await session.get(Course, course_id)
    if course is None or course.created_by != trainer_id or course.status != DRAFT:
        return None
    return course


async def cancel_course(session: AsyncSession, course_id: int) -> bool:
    """Drop a draft the trainer declined (kept, marked, for the record); False if it is no
    longer a draft (a Start in another bot process got there first)."""
    result = await session.execute(
        update(Course)
        .where(Course.id == course_id, Course.status == DRAFT)
        .values(status=CANCELLED)
    )
    return bool(getattr(result, "rowcount", 0))


async def activate(
    sessions: async_sessionmaker[AsyncSession], course_id: int, now: datetime | None = None
) -> datetime | None:
    """Confirm a draft course (once); return its first delivery time, None if not a draft."""
    now = now or utcnow()
    async with sessions.begin() as session:
        course = await session.get(Course, course_id, with_for_update=True)
        if course is None or course.status != DRAFT:
            return None
        schedule, tz, quiet = schedule_of(course)
        # Recomputed: the trainer may have confirmed long after the preview.
        course.next_at = next_delivery(schedule, None, now, tz, quiet)
        course.status = ACTIVE
        return course.next_at


async def settle_course(
    session: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    course_id: int,
    trainer_id: int,
    staff: Staff,
    *,
    confirm: bool,
) -> Settlement:
    """Start or drop a trainer's draft course: scope checked again, started once, audited.

    `session` is the update's; the course starts in a transaction of its own from `sessions`.
    """
    course = await draft_course_of(session, course_id, trainer_id)
    if course is None:
        return Settlement(Settled.DUPLICATE)
    scope = await target_scope(session, target_of(course))
    if scope is None or not staff.can(Role.TRAINER, scope):
        return Settlement(Settled.EXPIRED)
    if not confirm:
        if not await cancel_course(session, course.id):
            return Settlement(Settled.DUPLICATE)
        return Settlement(Settled.CANCELLED)
    # As for pushes: end the update's transaction, then start the course exactly once.
    await session.commit()
    first = await activate(sessions, course.id)
    if first is None:
        return Settlement(Settled.DUPLICATE)
    record_audit(
        session,
        staff.pseudonym,
        Act.COURSE_PUSHED,
        scope,
        {"course": course.id, "lessons": list(course.lesson_ids)},
    )
    # Stored before the trainer is answered, so a failed reply cannot lose the entry.
    await session.commit()
    return Settlement(Settled.DONE, when=first)


@dataclass(frozen=True)
class Delivery:
    """What one run of the course job did."""

    course_id: int
    index: int
    delivered: bool  # False: nothing to do (done already, cancelled, not due yet)
    queued: int = 0
    next_index: int | None = None
    next_at: datetime | None = None


async def deliver_step(
    sessions: async_sessionmaker[AsyncSession],
    library: Library,
    catalog: Catalog,
    course_id: int,
    index: int,
    now: datetime | None = None,
) -> Delivery:
    """Deliver course position `index` if it is the one due, then advance the course."""
    now = now or utcnow()
    async with sessions.begin() as session:
        course = await session.get(Course, course_id)
        if course is None or course.status != ACTIVE or course.next_index != index:
            return Delivery(course_id, index, False)
        if course.next_at is not None and course.next_at > now:
            # Run early (a clock jump, a job rescheduled by hand): keep the schedule's word.
            return Delivery(course_id, index, False, next_index=index, next_at=course.next_at)
        schedule, tz, quiet = schedule_of(course)
        lesson_id = course.lesson_ids[index]
        # The push of this position is made once; a re-run after a crash reuses it, and the
        # outbox adds only the rows that are missing.
        push = await session.scalar(
            select(LessonPush).where(
                LessonPush.course_id == course_id, LessonPush.course_index == index
            )
        )
        if push is None:
            try:
                async with session.begin_nested():
                    push = LessonPush(
                        lesson_id=lesson_id,
                        area_code=course.area_code,
                        group_id=course.group_id,
                        send_at=now,
                        recipients=0,
                        status=QUEUED,
                        course_id=course_id,
                        course_index=index,
                        created_by=course.created_by,
                        created_at=now,
                    )
                    session.add(push)
            except IntegrityError:
                return Delivery(course_id, index, False)
    lesson = library.get(lesson_id)
    queued = 0
    if lesson is None:
        log.error("course lesson missing from the library", extra={"lesson": lesson_id})
    else:
        queued = await enqueue_push(sessions, push, lesson, catalog, tz, quiet)
    next_index = index + 1
    async with sessions.begin() as session:
        course = await session.get(Course, course_id)
        assert course is not None
        next_at = (
            next_delivery(schedule, now, now, tz, quiet)
            if next_index < len(course.lesson_ids)
            else None
        )
        # Only the run that still sees `index` advances the course.
        await session.execute(
            update(Course)
            .where(Course.id == course_id, Course.next_index == index)
            .values(
                next_index=next_index,
                next_at=next_at,
                status=ACTIVE if next_at is not None else FINISHED,
            )
        )
    return Delivery(course_id, index, True, queued, next_index, next_at)


async def due_courses(session: AsyncSession) -> list[tuple[int, int, datetime]]:
    """Active courses and their next (position, time), for (re)scheduling their jobs."""
    rows = await session.execute(
        select(Course.id, Course.next_index, Course.next_at).where(
            Course.status == ACTIVE, Course.next_at.is_not(None)
        )
    )
    return [(cid, index, at.astimezone(UTC)) for cid, index, at in rows if at is not None]
