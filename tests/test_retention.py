"""Retention: old events fold into monthly aggregates that keep the reach figures, then go."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.reach.retention import (
    ENGAGED,
    REACH_GROUPS,
    REACHED,
    MonthFigure,
    Tally,
    aggregated_figures,
    fold_events,
    month_start,
    purge_old_events,
    purge_windows,
)
from bot.residents.events import EventKind
from bot.residents.models import Event
from bot.staff.audit import Act, audit_entries

DHAKA = ZoneInfo("Asia/Dhaka")
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
AREAS = ["60586565", "60586599", "60908999", "30261234", None]
KINDS = [k.value for k in EventKind]
MIXED_KINDS = [
    EventKind.MESSAGE_DELIVERED,
    EventKind.ALERT_DELIVERED,
    EventKind.BUTTON_TAPPED,
    EventKind.QUIZ_ANSWERED,
    EventKind.REGISTERED,
    EventKind.DELIVERY_FAILED,
]


Figures = dict[tuple[str, str, str], tuple[int, int]]  # (month, area, kind) → (events, people)


def _reach(events: list[tuple[datetime, str | None, str, str | None]], tz: ZoneInfo) -> Figures:
    """Reach figures computed straight from raw events, the way a report would."""
    figures: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    for at, area, kind, subject in events:
        month = at.astimezone(tz).strftime("%Y-%m")
        for group, kinds in REACH_GROUPS.items():
            if kind in kinds:
                counts[(month, area or "", group)] += 1
                if subject:
                    figures[(month, area or "", group)].add(subject)
        counts[(month, area or "", kind)] += 1
        if subject:
            figures[(month, area or "", kind)].add(subject)
    return {key: (counts[key], len(figures[key])) for key in counts}


def test_purge_windows_are_whole_months_older_than_the_period() -> None:
    oldest = datetime(2025, 1, 31, 20, 0, tzinfo=UTC)  # already 1 February in Dhaka
    windows = purge_windows(oldest, NOW, keep_days=400, tz=DHAKA)
    # 400 days before 29 Nov 2026 is 25 Oct 2025, so October 2025 is not whole yet.
    assert [w.month for w in windows] == [f"2025-{m:02d}" for m in range(2, 10)]
    assert windows[0].start == datetime(2025, 1, 31, 18, 0, tzinfo=UTC)
    assert all(w.end <= NOW - timedelta(days=400) for w in windows)
    assert purge_windows(None, NOW, 400) == []
    assert month_start(datetime(2025, 12, 31, 23, 0, tzinfo=UTC), DHAKA).month == 12


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(AREAS),
            st.sampled_from(KINDS),
            st.one_of(st.none(), st.sampled_from([f"p{i}" for i in range(8)])),
        ),
        max_size=60,
    )
)
def test_folding_keeps_counts_and_distinct_residents(
    rows: list[tuple[str | None, str, str | None]],
) -> None:
    tallies = fold_events(rows)
    at = datetime(2024, 3, 10, tzinfo=UTC)
    expected = _reach([(at, a, k, s) for a, k, s in rows], DHAKA)
    got = {("2024-03", a, k): (t.events, len(t.subjects)) for (a, k), t in tallies.items()}
    assert got == expected
    # Folding in batches gives the same tallies as folding all at once.
    again: dict[tuple[str, str], Tally] = {}
    for start in range(0, len(rows), 7):
        fold_events(rows[start : start + 7], into=again)
    assert {k: (t.events, t.subjects) for k, t in again.items()} == {
        k: (t.events, t.subjects) for k, t in tallies.items()
    }


async def test_purging_keeps_the_reach_figures_of_the_purged_period(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    rng = random.Random(6)
    people = [f"{i:032x}" for i in range(40)]
    home = {p: rng.choice(AREAS) for p in people}
    events: list[tuple[datetime, str | None, str, str | None]] = []
    start = NOW - timedelta(days=800)
    for _ in range(3000):
        at = start + timedelta(minutes=rng.randrange(800 * 24 * 60))
        person = rng.choice([*people, None])
        area = home[person] if person else rng.choice(AREAS)
        kind = rng.choice(MIXED_KINDS).value
        events.append((at, area, kind, person))
    # An event on the last evening of January UTC is in February in Dhaka.
    events.append((datetime(2025, 1, 31, 20, 0, tzinfo=UTC), AREAS[0], "message_delivered", "x"))
    async with sessions() as session:
        session.add_all(Event(at=a, area_code=ar, kind=k, subject=s) for a, ar, k, s in events)
        await session.commit()

    report = await purge_old_events(sessions, NOW, keep_days=400, tz=DHAKA)

    cutoff = month_start(NOW - timedelta(days=400), DHAKA)
    purged = [e for e in events if e[0] < cutoff]
    kept = [e for e in events if e[0] >= cutoff]
    assert report.events_deleted == len(purged) > 1000
    expected = _reach(purged, DHAKA)
    async with sessions() as session:
        remaining = await session.scalar(select(func.count()).select_from(Event))
        assert remaining == len(kept)
        oldest = await session.scalar(select(func.min(Event.at)))
        assert oldest is not None and oldest >= cutoff
        for group in (REACHED, ENGAGED, "message_delivered"):
            for prefix in ("", "6058", "60586565", "30"):
                figures = await aggregated_figures(session, group, prefix)
                want: dict[str, tuple[int, int]] = defaultdict(lambda: (0, 0))
                for (month, area, kind), (count, distinct) in expected.items():
                    if kind == group and area.startswith(prefix):
                        c, d = want[month]
                        want[month] = (c + count, d + distinct)
                assert {f.month: (f.events, f.subjects) for f in figures} == dict(want), (
                    group,
                    prefix,
                )
        feb = await aggregated_figures(session, REACHED, "60586565", ["2025-02"])
        assert feb and feb[0].subjects >= 1
        entries = await audit_entries(session, act=Act.RETENTION_PURGE)
        assert [e.details["month"] for e in entries] == report.months

    # Running again changes nothing: each month is folded once.
    again = await purge_old_events(sessions, NOW, keep_days=400, tz=DHAKA)
    assert again.events_deleted == 0
    async with sessions() as session:
        assert await aggregated_figures(session, REACHED) == figures_all(expected)


def figures_all(expected: Figures) -> list[MonthFigure]:
    months: dict[str, tuple[int, int]] = defaultdict(lambda: (0, 0))
    for (month, _, kind), (count, distinct) in expected.items():
        if kind == REACHED:
            c, d = months[month]
            months[month] = (c + count, d + distinct)
    return [MonthFigure(m, c, d) for m, (c, d) in sorted(months.items())]
