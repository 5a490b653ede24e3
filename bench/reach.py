"""Reach report speed: Sylhet Division with 100,000 residents and 2,000,000 events.

Builds (once, then reuses the file) a database with residents spread over Sylhet Division's
unions in proportion to their upazila's population (some registered for a whole upazila, some
with an unlisted area, 15 % assisted, a few forgotten), and events over the last 180 days
(deliveries, taps, lessons, quizzes, alerts, attendance). Then times, several times each:

* `SELECT count(*) FROM events` (the yardstick: one pass over the event table's smallest index),
* the division's reach report (`reach_report`, 30 days, with the previous 30 for change),
* the division's upazila missing-communities list (`missing_report`).

Targets: each report ≤ 1 s median on SQLite and ≤ 3 × the median `count(*)` of the same run.

    .venv/bin/python bench/reach.py                                  # SQLite under var/bench/
    .venv/bin/python bench/reach.py --residents 20000 --events 400000  # quicker
    .venv/bin/python bench/reach.py --database-url postgresql+asyncpg://postgres@127.0.0.1/sabai_bench
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.areas.importer import import_areas
from bot.areas.models import Area, AreaPopulation
from bot.core.db import create_engine, session_factory, upgrade
from bot.reach.models import Attendance
from bot.residents.events import EventKind
from bot.residents.models import Event, Resident

DIVISION = "60"  # Sylhet
BENCH_DIR = Path(__file__).resolve().parent.parent / "var" / "bench"
NOW = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
TZ = ZoneInfo("Asia/Dhaka")
SPAN_DAYS = 180
BATCH = 20_000
TARGET_SECONDS = 1.0
TARGET_RATIO = 3.0
# Share of events of each kind: mostly deliveries, then the residents' own actions.
KIND_WEIGHTS: tuple[tuple[EventKind, int], ...] = (
    (EventKind.MESSAGE_DELIVERED, 34),
    (EventKind.PUSH_DELIVERED, 14),
    (EventKind.ALERT_DELIVERED, 14),
    (EventKind.BUTTON_TAPPED, 14),
    (EventKind.LESSON_STARTED, 6),
    (EventKind.STEP_REACHED, 6),
    (EventKind.QUIZ_ANSWERED, 4),
    (EventKind.LESSON_COMPLETED, 4),
    (EventKind.ALERT_ACKNOWLEDGED, 3),
    (EventKind.DELIVERY_FAILED, 1),
)


async def _populated(sessions: async_sessionmaker[AsyncSession]) -> bool:
    async with sessions() as session:
        count = await session.scalar(select(func.count()).select_from(Resident))
        return bool(count)


async def build(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], residents: int, events: int
) -> None:
    """Fill an empty database with the synthetic division."""
    rng = random.Random(5)
    async with sessions() as session:
        # Every union has an upazila above it.
        unions = [
            (code, parent)
            for code, parent in await session.execute(
                select(Area.code, Area.parent_code).where(
                    Area.level == "union", Area.code.like(DIVISION + "%")
                )
            )
            if parent is not None
        ]
        population = dict(
            (
                await session.execute(
                    select(AreaPopulation.code, AreaPopulation.total).where(
                        AreaPopulation.year == 2022
                    )
                )
            ).all()
        )
    per_upazila: dict[str, int] = {}
    for _code, parent in unions:
        per_upazila[parent] = per_upazila.get(parent, 0) + 1
    # Uneven on purpose, so some upazilas lag far behind the others.
    uptake = {up: rng.choice((0.2, 0.6, 1.0, 1.0, 1.6, 2.5)) for up in per_upazila}
    weights = [
        population.get(parent, 0) / per_upazila[parent] * uptake[parent] for _, parent in unions
    ]
    union_codes = [code for code, _ in unions]
    upazila_codes = sorted(per_upazila)

    rows: list[dict[str, Any]] = []
    assisted: list[int] = []
    for rid in range(1, residents + 1):
        draw = rng.random()
        unlisted = None
        if draw < 0.05:
            area: str | None = rng.choice(upazila_codes)
        elif draw < 0.07:
            area = None
            unlisted = rng.choice(("Baro Haor", "Char Para", "Tilagarh Basti", "Hakaluki"))
        else:
            area = rng.choices(union_codes, weights)[0]
        channel = "assisted" if rng.random() < 0.15 else "telegram"
        if channel == "assisted":
            assisted.append(rid)
        created = NOW - timedelta(days=rng.uniform(1, SPAN_DAYS + 200))
        rows.append(
            {
                "id": rid,
                "pseudonym": f"{rid:032x}",
                "channel": channel,
                "telegram_id": 10_000_000 + rid if channel == "telegram" else None,
                "language": rng.choice(("bn", "bn", "bn", "syl", "en")),
                "area_code": area,
                "area_unlisted_text": unlisted,
                "consent_at": created,
                "status": "unreachable" if rng.random() < 0.03 else "active",
                "gender": rng.choice((None, None, "female", "male")),
                "phone_access": rng.choice(("none", "shared")) if channel == "assisted" else None,
                "created_at": created,
                "updated_at": created,
            }
        )
    area_of = {row["pseudonym"]: row["area_code"] for row in rows}
    async with engine.begin() as conn:
        for start in range(0, len(rows), BATCH):
            await conn.execute(insert(Resident), rows[start : start + BATCH])

    kinds = [kind.value for kind, _ in KIND_WEIGHTS]
    kind_weights = [weight for _, weight in KIND_WEIGHTS]
    subjects = list(area_of)
    telegram_subjects = [
        s for s, row in zip(subjects, rows, strict=True) if row["channel"] == "telegram"
    ]
    # Active residents get most of the events, as in life.
    subject_weights = [rng.paretovariate(1.5) for _ in telegram_subjects]
    span = SPAN_DAYS * 86400
    written = 0
    while written < events:
        n = min(BATCH, events - written)
        picked = rng.choices(telegram_subjects, subject_weights, k=n)
        picked_kinds = rng.choices(kinds, kind_weights, k=n)
        batch = []
        for subject, kind in zip(picked, picked_kinds, strict=True):
            # 1 % of events belong to people since forgotten: a subject nobody has.
            if rng.random() < 0.01:
                subject = f"f{rng.getrandbits(124):031x}"
            batch.append(
                {
                    "at": NOW - timedelta(seconds=rng.uniform(0, span)),
                    "kind": kind,
                    "subject": subject,
                    "area_code": area_of.get(subject),
                    "data": None,
                }
            )
        async with engine.begin() as conn:
            await conn.execute(insert(Event), batch)
        written += n
        print(f"\r  events {written:,}/{events:,}", end="", flush=True)
    print()
    # Assisted residents: workshop attendance, two or three times in the span.
    attendance = []
    attended_events = []
    for rid in assisted:
        for day in rng.sample(range(SPAN_DAYS), rng.choice((1, 2, 3))):
            on = (NOW - timedelta(days=day)).date()
            attendance.append(
                {"resident_id": rid, "attended_on": on, "trainer": "t" * 32, "created_at": NOW}
            )
            attended_events.append(
                {
                    "at": datetime(on.year, on.month, on.day, tzinfo=UTC) - timedelta(hours=6),
                    "kind": EventKind.ATTENDANCE_RECORDED.value,
                    "subject": f"{rid:032x}",
                    "area_code": area_of.get(f"{rid:032x}"),
                    "data": None,
                }
            )
    async with engine.begin() as conn:
        for start in range(0, len(attendance), BATCH):
            await conn.execute(insert(Attendance), attendance[start : start + BATCH])
            await conn.execute(insert(Event), attended_events[start : start + BATCH])
    async with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            await conn.execute(text("ANALYZE"))
        else:
            await conn.execute(text("ANALYZE"))
        await conn.commit()


async def timed(label: str, repeat: int, work: Callable[[], Awaitable[object]]) -> float:
    """Run `work` once to warm up, then `repeat` times; print and return the median seconds."""
    await work()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await work()
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    print(
        f"  {label:<34} median {median * 1000:8.1f} ms  "
        f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}, n={repeat})"
    )
    return median


async def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true", help="drop the cached SQLite file first")
    args = parser.parse_args()

    url = args.database_url
    if url is None:
        folder = BENCH_DIR
        path = folder / f"reach-{args.residents}-{args.events}.db"
        if args.rebuild and path.exists():
            path.unlink()
        url = f"sqlite+aiosqlite:///{path}"
    await upgrade(url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        if not await _populated(sessions):
            await import_areas(sessions)
            print(f"building {args.residents:,} residents and {args.events:,} events …")
            started = time.perf_counter()
            await build(engine, sessions, args.residents, args.events)
            print(f"  built in {time.perf_counter() - started:.0f} s")
        return await measure(sessions, args.repeat)
    finally:
        await engine.dispose()


async def measure(sessions: async_sessionmaker[AsyncSession], repeat: int) -> int:
    from bot.areas.tree import load_index
    from bot.reach.activity import refresh
    from bot.reach.figures import Period
    from bot.reach.missing import missing_report
    from bot.reach.report import reach_report

    period = Period.ending(NOW, days=30, tz=TZ)
    async with sessions() as session:
        # Built once, as the bot does at start: it places the words typed for unlisted areas.
        index = await load_index(session)
    async with sessions() as session:
        started = time.perf_counter()
        read = await refresh(session, TZ)
        await session.commit()
        if read:
            print(
                f"activity rollup caught up with {read:,} events in "
                f"{time.perf_counter() - started:.1f} s (once; later only new events are read)"
            )

    async def count_events() -> object:
        async with sessions() as session:
            return await session.scalar(select(func.count()).select_from(Event))

    async def reach() -> object:
        async with sessions() as session:
            return await reach_report(session, DIVISION, period)

    async def missing() -> object:
        async with sessions() as session:
            return await missing_report(session, [DIVISION], period, level="upazila", index=index)

    print("timings:")
    base = await timed("SELECT count(*) FROM events", repeat, count_events)
    results = {
        "reach report (division, 30 d)": await timed(
            "reach report (division, 30 d)", repeat, reach
        ),
        "missing list (upazilas)": await timed("missing list (upazilas)", repeat, missing),
    }
    ok = True
    for label, seconds in results.items():
        ratio = seconds / base if base else float("inf")
        passed = seconds <= TARGET_SECONDS and ratio <= TARGET_RATIO
        ok = ok and passed
        print(f"  {label:<34} {ratio:4.2f} × count(*)  {'ok' if passed else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
