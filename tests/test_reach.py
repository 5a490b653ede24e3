"""Reach definitions on hand-built data with known answers, on SQLite and PostgreSQL.

The same figures must come out of the activity rollup (fast path) and straight from the event
log (slow path), so most tests run both ways.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.base import new_pseudonym
from bot.reach.activity import (
    EPOCH_DAYS,
    _Row,
    day_number,
    day_start,
    epoch_of,
    fast_days,
    first_kept_day,
    masks,
    refresh,
)
from bot.reach.csv_export import reach_csv
from bot.reach.figures import Figures, Period
from bot.reach.models import ReachActionDay, ReachState
from bot.reach.render import reach_document
from bot.reach.report import figures_by_group, reach_report
from bot.reach.suppression import Suppressor
from bot.residents.assisted import AssistedPerson, register_person
from bot.residents.events import EventKind, record_for
from bot.residents.models import Event, Resident
from bot.residents.service import ResidentService

NOW = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)  # noon in Dhaka
TZ = ZoneInfo("Asia/Dhaka")
LONG_AGO = NOW - timedelta(days=100)
U1, U2 = "60586510", "60586511"  # unions of Kulaura
KULAURA, BARLEKHA, MAULVIBAZAR = "605865", "605814", "6058"
SYLHET_UNION = "60910811"


def period(fast: bool) -> Period:
    p = Period.ending(NOW, 30, TZ)
    # Without a timezone the period cannot use the rollup: figures come from the events.
    return p if fast else Period(p.start, p.end)


def person(
    session: AsyncSession,
    area: str | None,
    *,
    channel: str = "telegram",
    consent: datetime | None = LONG_AGO,
    status: str = "active",
    gender: str | None = None,
    unlisted: str | None = None,
) -> Resident:
    resident = Resident(
        pseudonym=new_pseudonym(),
        channel=channel,
        area_code=area,
        area_unlisted_text=unlisted,
        consent_at=consent,
        status=status,
        gender=gender,
        language="bn",
        created_at=consent or LONG_AGO,
    )
    session.add(resident)
    return resident


def event(session: AsyncSession, resident: Resident, kind: EventKind, at: datetime) -> None:
    record_for(session, kind, resident.pseudonym, resident.area_code, at=at)


@dataclass
class Planted:
    period: Period


async def plant(session: AsyncSession) -> Planted:
    """The scenario the expected figures below are worked out from."""
    p = Period.ending(NOW, 30, TZ)
    r1 = person(session, U1)
    event(session, r1, EventKind.MESSAGE_DELIVERED, p.start)  # first instant: counts
    event(session, r1, EventKind.BUTTON_TAPPED, p.start - timedelta(microseconds=1))  # before
    r2 = person(session, U1)
    event(session, r2, EventKind.ALERT_DELIVERED, p.end)  # first instant after: does not
    event(session, r2, EventKind.DELIVERY_FAILED, p.start + timedelta(days=1))  # not reached
    r4 = person(session, KULAURA, status="unreachable", gender="female")
    event(session, r4, EventKind.LESSON_COMPLETED, p.start + timedelta(days=3))
    r5 = person(session, U2)  # to be forgotten
    event(session, r5, EventKind.MESSAGE_DELIVERED, p.start + timedelta(days=2))
    event(session, r5, EventKind.LESSON_COMPLETED, p.start + timedelta(days=2))
    r6 = person(session, BARLEKHA, consent=p.start + timedelta(days=5), gender="male")
    event(session, r6, EventKind.CONSENTED, p.start + timedelta(days=5))
    r7 = person(session, SYLHET_UNION)
    event(session, r7, EventKind.PUSH_DELIVERED, NOW - timedelta(days=45))  # previous period
    r8 = person(session, U1, consent=None)  # never finished signing up
    event(session, r8, EventKind.LANGUAGE_SET, NOW - timedelta(days=1))
    await session.flush()
    # An assisted resident who attended a workshop in the period.
    await register_person(
        session,
        AssistedPerson(U2, "syl", "shared", attended_on=date(2026, 11, 20)),
        "st-trainer",
        TZ,
        now=LONG_AGO,
    )
    await session.flush()
    await ResidentService(session).forget(r5)
    await session.commit()
    return Planted(p)


FAST_AND_SLOW = pytest.mark.parametrize("fast", [True, False], ids=["rollup", "events"])


@FAST_AND_SLOW
async def test_definitions_for_an_upazila_and_its_unions(
    sessions: async_sessionmaker[AsyncSession], fast: bool
) -> None:
    async with sessions() as session:
        await plant(session)
        report = await reach_report(session, KULAURA, period(fast))
    total = report.total.current
    # r1, r2, r4 and the assisted person; r5 was forgotten, r8 never consented.
    assert (total.registered, total.own_phone, total.assisted) == (4, 3, 1)
    assert total.reached == 2  # r1 (at the first instant), the assisted person (attendance)
    assert total.engaged == 2  # r4 (lesson), the assisted person (attendance)
    assert total.unreachable == 1
    # Actions stay counted where they happened after their author is forgotten.
    assert total.lessons_completed == 2
    before = report.total.previous
    assert (before.registered, before.reached, before.engaged) == (4, 0, 1)  # r1's tap
    by_code = {child.area.code: child.current for child in report.children}
    assert (by_code[U1].registered, by_code[U1].reached, by_code[U1].engaged) == (2, 1, 0)
    assert (by_code[U2].registered, by_code[U2].reached, by_code[U2].engaged) == (1, 1, 1)
    # r4 chose "all of Kulaura": counted in Kulaura's total, placed in no union.
    assert report.unplaced.registered == 1 and report.unplaced.engaged == 1
    assert report.total.area.population == 452153 and report.total.area.population_year == 2022


@FAST_AND_SLOW
async def test_figures_roll_up_the_hierarchy(
    sessions: async_sessionmaker[AsyncSession], fast: bool
) -> None:
    async with sessions() as session:
        await plant(session)
        district = await reach_report(session, MAULVIBAZAR, period(fast))
        division = await reach_report(session, "60", period(fast))
        country = await reach_report(session, None, period(fast))
    children = {c.area.code: c.current for c in district.children}
    assert children[KULAURA].registered == 4
    assert children[BARLEKHA].registered == 1 and children[BARLEKHA].engaged == 1
    assert district.total.previous.registered == 4
    assert district.total.current.registered == 5
    assert sum((c.current for c in district.children), Figures()) == district.total.current
    assert division.total.current.registered == 6
    assert {c.area.code: c.current.registered for c in division.children}["6091"] == 1
    # r7 was reached in the previous period only.
    sylhet = {c.area.code: c for c in division.children}["6091"]
    assert (sylhet.current.reached, sylhet.previous.reached) == (0, 1)
    assert country.total.current.registered == 6
    assert district.total.area.population == 2217984


async def test_unknown_area_code(sessions: async_sessionmaker[AsyncSession]) -> None:
    from bot.reach.figures import UnknownArea

    async with sessions() as session:
        with pytest.raises(UnknownArea):
            await reach_report(session, "99", period(True))


def test_periods_are_whole_local_days() -> None:
    p = Period.ending(NOW, 30, TZ)
    assert p.start == datetime(2026, 10, 31, 18, 0, tzinfo=UTC)  # 1 Nov 00:00 in Dhaka
    assert p.end == datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
    assert p.previous() == Period(datetime(2026, 10, 1, 18, tzinfo=UTC), p.start)
    with pytest.raises(ValueError):
        Period(NOW.replace(tzinfo=None), NOW + timedelta(days=1))


def test_rollup_row_moves_to_newer_epochs() -> None:
    base = 11934 * EPOCH_DAYS
    row = _Row(11934)
    row.add(base + 1, True, False)
    row.add(base - 1, False, True)  # the epoch before
    assert (row.reached, row.engaged_before) == (2, 1 << (EPOCH_DAYS - 1))
    row.add(base + EPOCH_DAYS, True, True)  # next epoch: shift
    assert row.epoch == 11935 and row.reached_before == 2 and row.engaged_before == 0
    assert row.reached == 1 and row.engaged == 1
    row.add(base - 5, True, True)  # too old now: dropped
    assert row.reached_before == 2
    m = masks(base - 2, base + 2, 11934)
    assert m.now == 0b11 and m.before == 0b11 << (EPOCH_DAYS - 2)


KINDS = [
    EventKind.MESSAGE_DELIVERED,
    EventKind.BUTTON_TAPPED,
    EventKind.DELIVERY_FAILED,
    EventKind.LESSON_COMPLETED,
    EventKind.ALERT_ACKNOWLEDGED,
    EventKind.ATTENDANCE_RECORDED,
]
EVENTS = st.lists(
    st.tuples(
        st.integers(0, 4),  # resident (4 has no area: its actions are nobody's)
        st.sampled_from(KINDS),
        st.integers(-70 * 24, 3 * 24),  # hours from NOW
    ),
    max_size=25,
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(EVENTS, EVENTS, st.integers(1, 31), st.integers(0, 40))
async def test_rollup_agrees_with_the_event_log(
    sessions: async_sessionmaker[AsyncSession],
    events: list[tuple[int, EventKind, int]],
    later: list[tuple[int, EventKind, int]],
    days: int,
    days_back: int,
) -> None:
    """Any events, any period of up to 31 days: both ways give the same figures.

    The rollups are read once, then more events come (some into a newer epoch, some on days
    already counted): brought up to date, they must still agree, counting nothing twice.
    """
    async with sessions() as session:
        await session.execute(delete(Resident))
        from bot.reach.models import ReachActionDay, ReachState
        from bot.residents.models import Event

        await session.execute(delete(Event))
        await session.execute(delete(ReachState))
        await session.execute(delete(ReachActionDay))
        people = [person(session, area) for area in (U1, U1, U2, BARLEKHA, None)]
        for who, kind, hours in events:
            event(session, people[who], kind, NOW + timedelta(hours=hours))
        await session.commit()
        first = Period.ending(NOW - timedelta(days=days_back), days, TZ)
        await figures_by_group(session, MAULVIBAZAR, 6, first)
        await session.commit()
        for who, kind, hours in later:
            event(session, people[who], kind, NOW + timedelta(hours=hours))
        await session.commit()
        for fast in (Period.ending(NOW, days, TZ), first):
            slow = Period(fast.start, fast.end)
            assert await figures_by_group(session, MAULVIBAZAR, 6, fast) == (
                await figures_by_group(session, MAULVIBAZAR, 6, slow)
            )
        await session.commit()


async def test_rollup_left_by_an_older_version_catches_up(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Residents left in the epoch before, no action days: the next report still agrees."""
    today = NOW.astimezone(TZ).date()
    epoch = epoch_of(day_number(today))
    last_day_before = EPOCH_DAYS * epoch - 1  # the last day of the epoch before
    then = datetime.combine(date.fromordinal(last_day_before), time(12), TZ)
    async with sessions() as session:
        earlier, lately = person(session, U1), person(session, U2)
        event(session, earlier, EventKind.MESSAGE_DELIVERED, then)
        event(session, earlier, EventKind.LESSON_COMPLETED, then)
        event(session, lately, EventKind.ALERT_ACKNOWLEDGED, NOW)
        await session.flush()
        # What the code before migration 0007 would have left: each resident in the epoch
        # of their own last activity, bits in the current slot; a watermark at the top.
        bit = 1 << (last_day_before % EPOCH_DAYS)
        await session.execute(
            update(Resident)
            .where(Resident.id == earlier.id)
            .values(activity_epoch=epoch - 1, reached_days=bit, engaged_days=bit)
        )
        await session.execute(
            update(Resident)
            .where(Resident.id == lately.id)
            .values(activity_epoch=epoch, engaged_days=1 << (day_number(today) % EPOCH_DAYS))
        )
        top = await session.scalar(select(func.max(Event.id)))
        for key, value in (("tz", TZ.key), ("event_id", str(top)), ("max_epoch", str(epoch))):
            session.add(ReachState(key=key, value=value))
        await session.commit()
        # The longest fast period: it and the one before reach back to `then`.
        fast = Period.days_to(today, 31, TZ)
        assert fast.previous().start <= then
        figures = await figures_by_group(session, MAULVIBAZAR, 6, fast)
        assert figures == await figures_by_group(
            session, MAULVIBAZAR, 6, Period(fast.start, fast.end)
        )
        kulaura_now, kulaura_before = figures[KULAURA]
        assert kulaura_now.alerts_acknowledged == 1 and kulaura_before.lessons_completed == 1
        assert (kulaura_before.reached, kulaura_before.engaged, kulaura_now.engaged) == (1, 1, 1)
        # Everyone active now shares the epoch; only days a fast report can ask for are kept.
        epochs = set((await session.scalars(select(Resident.activity_epoch))).all())
        assert epochs == {epoch}
        days = (await session.scalars(select(ReachActionDay.day))).all()
        assert min(days) >= EPOCH_DAYS * (epoch - 1)
        await session.commit()


async def test_an_empty_action_watermark_reads_only_the_days_kept(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Action rollup cleared (or just added by migration 0007): older days are not read.

    Lessons and acknowledgements long ago, just before the first day kept and at its first
    instant: the recount reads and stores only the days a fast report can ask for, and the
    figures still agree with the event log, at the edge of the kept days too.
    """
    today = NOW.astimezone(TZ).date()
    epoch = epoch_of(day_number(today))
    first = first_kept_day(epoch)
    kept_from = day_start(first, TZ)  # local midnight starting the epoch before
    async with sessions() as session:
        a, b, c = person(session, U1), person(session, U2), person(session, BARLEKHA)
        for who, kind, at in (
            (a, EventKind.LESSON_COMPLETED, NOW - timedelta(days=300)),
            (b, EventKind.ALERT_ACKNOWLEDGED, kept_from - timedelta(days=40)),
            (c, EventKind.LESSON_COMPLETED, kept_from - timedelta(microseconds=1)),
            (a, EventKind.LESSON_COMPLETED, kept_from),
            (b, EventKind.ALERT_ACKNOWLEDGED, kept_from + timedelta(days=40)),
            (c, EventKind.LESSON_COMPLETED, NOW),
            (a, EventKind.MESSAGE_DELIVERED, NOW),
        ):
            event(session, who, kind, at)
        await session.commit()
        await refresh(session, TZ)
        # Clear the action rollup and its watermark only: the epoch stays aligned, so
        # nothing would prune rows for older days afterwards.
        await session.execute(delete(ReachActionDay))
        await session.execute(delete(ReachState).where(ReachState.key == "action_event_id"))
        await session.commit()
        assert await refresh(session, TZ) == 3  # the three actions on kept days, no more
        rows = (
            await session.execute(
                select(
                    ReachActionDay.day,
                    ReachActionDay.lessons_completed,
                    ReachActionDay.alerts_acknowledged,
                ).order_by(ReachActionDay.day)
            )
        ).all()
        assert [tuple(row) for row in rows] == [
            (first, 1, 0),
            (first + 40, 0, 1),
            (day_number(today), 1, 0),
        ]
        await session.commit()
        # The longest fast period now, and the one whose previous starts at `kept_from`.
        edge = Period.days_to(date.fromordinal(first + 61), 31, TZ)
        assert edge.previous().start == kept_from
        for fast in (Period.days_to(today, 31, TZ), edge):
            assert fast_days(epoch, TZ, fast.start, fast.end) is not None
            figures = await figures_by_group(session, MAULVIBAZAR, 6, fast)
            assert figures == await figures_by_group(
                session, MAULVIBAZAR, 6, Period(fast.start, fast.end)
            )
        figures = await figures_by_group(session, MAULVIBAZAR, 6, edge)
        assert figures[KULAURA][1].lessons_completed == 1  # at `kept_from`, counted
        assert figures[KULAURA][0].alerts_acknowledged == 1
        assert figures[BARLEKHA][1].lessons_completed == 0  # an instant before: not
        await session.commit()


async def test_reach_outputs_suppress_small_counts(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        await plant(session)
        report = await reach_report(session, KULAURA, period(True))
    s = Suppressor(5)
    document = reach_document(report, s)
    assert document["schema"] == "sabai.reach/3"
    area = document["area"]
    # Every count is below 5 here: shown nowhere, flagged everywhere, rates withheld.
    assert area["registered"] is None and area["suppressed"]["registered"] is True
    assert area["coverage"] is None and area["change"]["reached"] is None
    assert area["population"] == 452153  # census figures are not counts of residents
    u1 = next(c for c in document["children"] if c["area_code"] == U1)
    assert u1["registered"] is None and u1["reached"] is None
    zero = next(c for c in document["children"] if c["area_code"] == "60586513")
    assert zero["registered"] == 0 and zero["suppressed"]["registered"] is False
    text = json.dumps(document)
    for small in ('"registered": 4', '"reached": 2', '"registered": 2'):
        assert small not in text
    csv_text = reach_csv(report, s)
    header, first = csv_text.splitlines()[:2]
    row = dict(zip(header.split(","), first.split(","), strict=True))
    assert row["registered"] == "<5" and row["reached"] == "<5" and row["coverage"] == ""
    # Unsuppressed, the same report shows the numbers (what an admin's export gets).
    open_doc = reach_document(report, Suppressor.off())
    assert open_doc["area"]["registered"] == 4 and open_doc["suppression"]["applied"] is False


async def test_reach_text_in_bangla_uses_bengali_digits(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    from bot.core.i18n import Catalog
    from bot.reach.render import TextRenderer

    async with sessions() as session:
        await plant(session)
        report = await reach_report(session, MAULVIBAZAR, period(True))
    text = TextRenderer(Catalog.load(), "bn", Suppressor(3), markup=True).reach(report)
    assert "মৌলভীবাজার" in text
    assert "&lt;৩" in text  # suppressed counts, escaped for Telegram HTML
    assert "২২,১৭,৯৮৪" in text  # population in lakh grouping and Bengali digits
    assert not any(ch.isascii() and ch.isdigit() for ch in text.replace("10,000", ""))
    assert len(text) < 1500
