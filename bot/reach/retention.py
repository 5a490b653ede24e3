"""Retention: fold old raw events into monthly per-area aggregates, then delete them.

Raw events older than `keep_days` (default 400) are purged a whole month at a time, oldest
first: a month goes once every event in it is older than `keep_days`, so each event is kept
between `keep_days` and `keep_days` plus a month. Each month is folded and deleted in one
transaction, so a crash leaves either the events or their aggregate, never both or neither.

For every purged (month, area, kind) the `event_aggregates` table keeps the number of events
and the number of distinct residents (subjects). Distinct counts do not add up across months
or kinds (one person would be counted twice), so two more rows per month and area keep
the reach figures themselves: kind "*reached" (distinct residents with at least one message
delivered) and "*engaged" (distinct residents with at least one action of their own).

What reports can still say about a purged period:
- per month and area (and so per upazila, district, division by adding areas up): how many
  residents were reached, how many engaged, how many events of each kind, how many distinct
  residents had events of each kind;
- over several months: event totals exactly; distinct residents only as a range (at least
  the largest month, at most the sum of the months).
What they can no longer say: anything per day or week, anything about one resident (their
journey, which lessons they finished), funnels across kinds other than reached/engaged.
An area's figures count residents where they lived when the events happened.

`retention_job(sessions, keep_days=…, tz=…)` is what the scheduler runs (daily is plenty);
`fold_events` and `purge_windows` are the pure parts, testable with a fixed `now`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.base import utcnow
from bot.residents.events import EventKind
from bot.residents.models import Event
from bot.staff.audit import Act, record_audit
from bot.staff.models import EventAggregate

log = logging.getLogger("sabai.retention")

DEFAULT_KEEP_DAYS = 400
RETENTION_ACTOR = "system:retention"
STREAM_BATCH = 5_000
REACHED = "*reached"
ENGAGED = "*engaged"
# Which kinds make a resident "reached" (a message delivered) or "engaged" (an action of their
# own) in a period, as the architecture defines them; reach reports must use the same sets.
REACH_GROUPS: Mapping[str, frozenset[str]] = {
    REACHED: frozenset(
        {
            EventKind.MESSAGE_DELIVERED,
            EventKind.PUSH_DELIVERED,
            EventKind.ALERT_DELIVERED,
            EventKind.ATTENDANCE_RECORDED,
        }
    ),
    ENGAGED: frozenset(
        {
            EventKind.BUTTON_TAPPED,
            EventKind.LESSON_STARTED,
            EventKind.STEP_REACHED,
            EventKind.QUIZ_ANSWERED,
            EventKind.LESSON_COMPLETED,
            EventKind.ALERT_ACKNOWLEDGED,
            EventKind.ATTENDANCE_RECORDED,
            EventKind.FEEDBACK_GIVEN,
        }
    ),
}


@dataclass
class Tally:
    events: int = 0
    subjects: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class MonthWindow:
    month: str  # "YYYY-MM"
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive


@dataclass
class PurgeReport:
    months: list[str] = field(default_factory=list)
    events_deleted: int = 0
    aggregate_rows: int = 0


def fold_events(
    rows: Iterable[tuple[str | None, str, str | None]],
    groups: Mapping[str, frozenset[str]] = REACH_GROUPS,
    into: dict[tuple[str, str], Tally] | None = None,
) -> dict[tuple[str, str], Tally]:
    """Fold one month's (area_code, kind, subject) rows into tallies per (area, kind).

    Events without a subject (forgotten residents' last event, system events) count as events
    but not as residents; events without an area fall under area "". Pass `into` to go on
    folding into earlier tallies (rows arrive in batches).
    """
    tallies: dict[tuple[str, str], Tally] = {} if into is None else into

    def add(key: tuple[str, str], subject: str | None) -> None:
        tally = tallies.get(key)
        if tally is None:
            tally = tallies[key] = Tally()
        tally.events += 1
        if subject:
            tally.subjects.add(subject)

    for area_code, kind, subject in rows:
        area = area_code or ""
        add((area, kind), subject)
        for group, kinds in groups.items():
            if kind in kinds:
                add((area, group), subject)
    return tallies


def month_start(moment: datetime, tz: tzinfo) -> datetime:
    """The first instant of `moment`'s month in `tz`, as an aware UTC datetime."""
    local = moment.astimezone(tz)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def _next_month(start: datetime, tz: tzinfo) -> datetime:
    local = start.astimezone(tz)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return local.replace(year=year, month=month).astimezone(UTC)


def purge_windows(
    oldest: datetime | None, now: datetime, keep_days: int, tz: tzinfo = UTC
) -> list[MonthWindow]:
    """The whole months, oldest first, whose every moment is more than `keep_days` old."""
    if oldest is None:
        return []
    if oldest.tzinfo is None or now.tzinfo is None:
        raise ValueError("purge_windows needs timezone-aware datetimes")
    boundary = month_start(now - timedelta(days=keep_days), tz)
    windows: list[MonthWindow] = []
    start = month_start(oldest, tz)
    while start < boundary:
        end = _next_month(start, tz)
        windows.append(MonthWindow(start.astimezone(tz).strftime("%Y-%m"), start, end))
        start = end
    return windows


async def _purge_month(
    session: AsyncSession, window: MonthWindow, groups: Mapping[str, frozenset[str]]
) -> tuple[int, int]:
    in_window = (Event.at >= window.start, Event.at < window.end)
    rows = await session.stream(
        select(Event.area_code, Event.kind, Event.subject)
        .where(*in_window)
        .execution_options(yield_per=STREAM_BATCH)
    )
    tallies: dict[tuple[str, str], Tally] = {}
    async for batch in rows.partitions():
        fold_events(((a, k, s) for a, k, s in batch), groups, into=tallies)
    for (area, kind), tally in tallies.items():
        existing = await session.get(EventAggregate, (window.month, area, kind))
        if existing is None:
            session.add(
                EventAggregate(
                    month=window.month,
                    area_code=area,
                    kind=kind,
                    events=tally.events,
                    subjects=len(tally.subjects),
                )
            )
        else:
            # Only when events were written late into an already folded month: the event
            # count stays exact, the distinct count becomes an upper bound.
            existing.events += tally.events
            existing.subjects += len(tally.subjects)
    deleted = sum(t.events for (_, kind), t in tallies.items() if kind not in groups)
    await session.execute(
        delete(Event).where(*in_window).execution_options(synchronize_session=False)
    )
    return deleted, len(tallies)


async def purge_old_events(
    sessions: async_sessionmaker[AsyncSession],
    now: datetime,
    keep_days: int = DEFAULT_KEEP_DAYS,
    tz: tzinfo = UTC,
    groups: Mapping[str, frozenset[str]] = REACH_GROUPS,
) -> PurgeReport:
    """Fold and delete every whole month of events older than `keep_days`; one month per commit."""
    if keep_days < 1:
        raise ValueError("keep_days must be at least 1")
    async with sessions() as session:
        oldest = await session.scalar(select(func.min(Event.at)))
    report = PurgeReport()
    for window in purge_windows(oldest, now, keep_days, tz):
        async with sessions() as session:
            deleted, written = await _purge_month(session, window, groups)
            if deleted:
                record_audit(
                    session,
                    RETENTION_ACTOR,
                    Act.RETENTION_PURGE,
                    "",
                    {"month": window.month, "events": deleted, "aggregate_rows": written},
                    at=now,
                )
            await session.commit()
        if deleted:
            report.months.append(window.month)
            report.events_deleted += deleted
            report.aggregate_rows += written
            log.info("events folded", extra={"month": window.month, "events": deleted})
    return report


async def retention_job(
    sessions: async_sessionmaker[AsyncSession],
    keep_days: int = DEFAULT_KEEP_DAYS,
    tz: tzinfo = UTC,
) -> PurgeReport:
    """The scheduled job: purge old events as of now, and sweep stale invitation guards."""
    from bot.staff.invitations import forget_stale_attempts

    now = utcnow()
    report = await purge_old_events(sessions, now, keep_days, tz)
    async with sessions() as session:
        await forget_stale_attempts(session, now)
        await session.commit()
    return report


@dataclass(frozen=True)
class MonthFigure:
    month: str
    events: int
    subjects: int


async def aggregated_figures(
    session: AsyncSession, kind: str, area_prefix: str = "", months: Iterable[str] | None = None
) -> list[MonthFigure]:
    """Per purged month: events of `kind` ("*reached", "*engaged" or an event kind) and distinct
    residents, summed over the areas under `area_prefix` ("" for all, including no area)."""
    query = (
        select(
            EventAggregate.month,
            func.sum(EventAggregate.events),
            func.sum(EventAggregate.subjects),
        )
        .where(EventAggregate.kind == kind)
        .group_by(EventAggregate.month)
        .order_by(EventAggregate.month)
    )
    if area_prefix:
        query = query.where(EventAggregate.area_code.startswith(area_prefix, autoescape=True))
    if months is not None:
        query = query.where(EventAggregate.month.in_(list(months)))
    return [
        MonthFigure(month, int(events or 0), int(subjects or 0))
        for month, events, subjects in await session.execute(query)
    ]
