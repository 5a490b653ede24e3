"""Pushing a lesson to an area or a workshop group, through the outbox.

A push is first a *draft* with its reach counted, shown to the trainer; confirming it turns it
into queued outbox rows (job "lesson_push:<id>"), one per resident, in their language, never
earlier than `send_at` nor in quiet hours. Residents who finished the lesson are skipped. The
outbox's sender then keeps to Telegram's limits and records PUSH_DELIVERED per delivery.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.base import utcnow
from bot.core.i18n import LANGUAGES, Catalog
from bot.core.screens import Screen
from bot.delivery.outbox import (
    Job,
    Payload,
    active_recipients,
    count_reachable,
    enqueue_for_recipients,
    job_progress,
)
from bot.lessons.catalog import Lesson, Library
from bot.lessons.flow import push_screen
from bot.lessons.groups import area_of_group
from bot.lessons.models import GroupMember, LessonProgress, LessonPush
from bot.residents.models import Resident
from bot.staff.audit import Act, record_audit
from bot.staff.roles import Role, Staff

JOB_KIND = "lesson_push"
DRAFT, QUEUED, CANCELLED = "draft", "queued", "cancelled"


@dataclass(frozen=True)
class QuietHours:
    """Local hours when nothing is sent (start inclusive, end exclusive; may wrap midnight)."""

    start: time = time(21, 0)
    end: time = time(8, 0)

    def contains(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"


def out_of_quiet(moment: datetime, tz: ZoneInfo, quiet: QuietHours) -> datetime:
    """The moment itself, or the end of the quiet hours it falls in (aware, in UTC)."""
    local = moment.astimezone(tz)
    if not quiet.contains(local.timetz().replace(tzinfo=None)):
        return moment.astimezone(UTC)
    end = local.replace(hour=quiet.end.hour, minute=quiet.end.minute, second=0, microsecond=0)
    if end <= local:
        end = _add_days(end, 1, tz)
    return end.astimezone(UTC)


def _add_days(local: datetime, days: int, tz: ZoneInfo) -> datetime:
    """Same wall-clock time `days` later (normalised through UTC so DST would be respected)."""
    naive = local.replace(tzinfo=None)
    return (naive + timedelta(days=days)).replace(tzinfo=tz)


@dataclass(frozen=True)
class Target:
    """Who a push or course is for: everybody in an area (and below), or a group's members."""

    area_code: str | None = None
    group_id: int | None = None


async def target_scope(session: AsyncSession, target: Target) -> str | None:
    """The area a target lies in, for scope checks; None if its group is gone."""
    if target.area_code:
        return target.area_code
    return await area_of_group(session, target.group_id) if target.group_id is not None else None


def audience(target: Target, lesson_id: str) -> list[ColumnElement[bool]]:
    """Conditions on residents: in the target, and not finished with the lesson already."""
    conditions: list[ColumnElement[bool]] = []
    if target.group_id is not None:
        conditions.append(
            Resident.id.in_(
                select(GroupMember.resident_id).where(GroupMember.group_id == target.group_id)
            )
        )
    elif target.area_code is not None:
        # A child's code starts with its parent's: the area and everything below it.
        conditions.append(Resident.area_code.startswith(target.area_code, autoescape=True))
    else:
        raise ValueError("a target needs an area or a group")
    finished = exists().where(
        and_(
            LessonProgress.resident_id == Resident.id,
            LessonProgress.lesson_id == lesson_id,
            LessonProgress.completed_at.is_not(None),
        )
    )
    conditions.append(~finished)
    return conditions


async def count_reach(session: AsyncSession, target: Target, lesson_id: str) -> int:
    """How many residents a push would reach now (the same filter the outbox uses)."""
    return await count_reachable(session, *audience(target, lesson_id))


async def draft_push(
    session: AsyncSession,
    lesson_id: str,
    target: Target,
    send_at: datetime,
    trainer_id: int,
) -> LessonPush:
    """Record a push awaiting the trainer's confirmation, with its reach counted."""
    push = LessonPush(
        lesson_id=lesson_id,
        area_code=target.area_code,
        group_id=target.group_id,
        send_at=send_at,
        recipients=await count_reach(session, target, lesson_id),
        status=DRAFT,
        created_by=trainer_id,
        created_at=utcnow(),
    )
    session.add(push)
    await session.flush()
    return push


async def draft_of(session: AsyncSession, push_id: int, trainer_id: int) -> LessonPush | None:
    """A trainer's own draft push, or None (confirmed already, cancelled, someone else's)."""
    push = await session.get(LessonPush, push_id)
    if push is None or push.created_by != trainer_id or push.status != DRAFT:
        return None
    return push


def inline_markup(screen: Screen) -> dict[str, Any] | None:
    """A screen's buttons as Bot API reply_markup JSON, as the outbox stores it."""
    if not screen.rows:
        return None
    return {
        "inline_keyboard": [
            [{"text": o.label, "callback_data": o.action} for o in row] for row in screen.rows
        ]
    }


def payloads(lesson: Lesson, catalog: Catalog) -> dict[str, Payload]:
    """The push message in every language: the lesson's title and a Start button."""
    result = {}
    for language in LANGUAGES:
        t = functools.partial(catalog.text, language)
        screen = push_screen(t, lesson.text_for(language))
        result[language] = Payload(screen.text, inline_markup(screen))
    return result


async def claim_draft(sessions: async_sessionmaker[AsyncSession], push_id: int) -> bool:
    """Turn a draft into a queued push exactly once (a double tap gets False the second time)."""
    async with sessions.begin() as session:
        result = await session.execute(
            update(LessonPush)
            .where(LessonPush.id == push_id, LessonPush.status == DRAFT)
            .values(status=QUEUED)
        )
        return bool(getattr(result, "rowcount", 0))


async def enqueue_push(
    sessions: async_sessionmaker[AsyncSession],
    push: LessonPush,
    lesson: Lesson,
    catalog: Catalog,
    tz: ZoneInfo,
    quiet: QuietHours,
) -> int:
    """Queue one outbox row per resident of the push's target; return how many were added.

    Safe to run again for the same push: the outbox keeps one row per chat and job.
    """
    target = Target(push.area_code, push.group_id)
    job = Job(JOB_KIND, push.id)
    added = await enqueue_for_recipients(
        sessions,
        job,
        active_recipients(sessions, *audience(target, push.lesson_id)),
        payloads(lesson, catalog),
        default_language=catalog.default_language,
        not_before=out_of_quiet(push.send_at, tz, quiet),
    )
    async with sessions.begin() as session:
        # Counted from the outbox, so a re-run after a crash still records the whole reach.
        total = (await job_progress(session, job)).total
        await session.execute(
            update(LessonPush).where(LessonPush.id == push.id).values(recipients=total)
        )
    return added


async def cancel_draft(session: AsyncSession, push_id: int) -> bool:
    """Drop a draft the trainer declined (kept, marked, for the record); False if it is no
    longer a draft. Conditional, like the claim: a Cancel racing a Send in another bot
    process must not mark a push that is going out as cancelled."""
    result = await session.execute(
        update(LessonPush)
        .where(LessonPush.id == push_id, LessonPush.status == DRAFT)
        .values(status=CANCELLED)
    )
    return bool(getattr(result, "rowcount", 0))


class Settled(StrEnum):
    """How a trainer's Send or Cancel tap on a draft push or course ended."""

    DONE = "done"  # queued (a push) or scheduled (a course)
    CANCELLED = "cancelled"
    DUPLICATE = "duplicate"  # confirmed or cancelled already, or not theirs
    EXPIRED = "expired"  # the lesson is gone, or the area is no longer theirs


@dataclass(frozen=True)
class Settlement:
    """What a settled tap did, for the trainer's answer."""

    outcome: Settled
    queued: int = 0
    # A push: when it was asked to go out; a course: its first delivery.
    when: datetime | None = None


async def settle_push(
    session: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    push_id: int,
    trainer_id: int,
    staff: Staff,
    *,
    confirm: bool,
    library: Library,
    catalog: Catalog,
    tz: ZoneInfo,
    quiet: QuietHours,
) -> Settlement:
    """Send or drop a trainer's draft push: scope checked again, queued once, audited.

    `session` is the update's; the queueing runs in transactions of its own from `sessions`.
    """
    push = await draft_of(session, push_id, trainer_id)
    if push is None:
        return Settlement(Settled.DUPLICATE)
    lesson = library.get(push.lesson_id)
    scope = await target_scope(session, Target(push.area_code, push.group_id))
    if lesson is None or scope is None or not staff.can(Role.TRAINER, scope):
        return Settlement(Settled.EXPIRED)
    if not confirm:
        if not await cancel_draft(session, push.id):
            return Settlement(Settled.DUPLICATE)
        return Settlement(Settled.CANCELLED)
    # The update's transaction ends before the claim: SQLite has one writer at a time, and
    # the claim is a transaction of its own so that a double tap queues once.
    await session.commit()
    if not await claim_draft(sessions, push.id):
        return Settlement(Settled.DUPLICATE)
    queued = await enqueue_push(sessions, push, lesson, catalog, tz, quiet)
    record_audit(
        session,
        staff.pseudonym,
        Act.LESSON_PUSHED,
        scope,
        {"lesson": push.lesson_id, "push": push.id, "recipients": queued},
    )
    # Stored before the trainer is answered, so a failed reply cannot lose the entry.
    await session.commit()
    return Settlement(Settled.DONE, queued, push.send_at)
