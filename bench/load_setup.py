"""The database of `bench/load.py`: residents, a delivered flood alert, and a check of the work.

The database is reset first (a SQLite file deleted, a PostgreSQL database dropped and
re-created), migrated and given the areas, as `sabai run` would on first start.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
BENCH_DIR = PROJECT / "var" / "bench"
ALERT_DISTRICT = "6058"  # Moulvibazar: the flood alert's area, where sign-ups settle too
POOL_DISTRICT = "6091"  # Sylhet: residents who take lessons and tap the menu
ALERTED_FIRST_ID, POOL_FIRST_ID, SIGNUP_FIRST_ID = 10_000_000, 20_000_000, 30_000_000


def default_url() -> str:
    return f"sqlite+aiosqlite:///{BENCH_DIR / 'load.db'}"


def remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)


async def reset_database(url: str) -> None:
    """Start from nothing: delete the SQLite file, or drop and re-create the PostgreSQL database."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        remove_sqlite(Path(parsed.database or ""))
        return
    name = parsed.database or ""
    if "bench" not in name:
        raise SystemExit(
            f"load.py drops and re-creates the database it is given; {name!r} does not look like "
            "a scratch database (its name must contain 'bench', e.g. sabai_bench)"
        )
    admin = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()


async def register_residents(url: str, alerted: int, pool: int) -> tuple[list[int], list[int]]:
    """Migrate, load the areas and add consenting residents; return (alerted ids, pool ids)."""
    from sqlalchemy import insert, select

    from bot.areas.models import Area
    from bot.core.base import utcnow
    from bot.core.config import Settings
    from bot.residents.models import Resident
    from bot.wiring.database import prepare_database

    settings = Settings(bot_token=None, telegram_api="", database_url=url)
    engine, sessions = await prepare_database(settings)
    try:
        async with sessions() as session:
            upazilas = {
                district: list(
                    await session.scalars(
                        select(Area.code)
                        .where(Area.level == "upazila", Area.code.startswith(district))
                        .order_by(Area.code)
                    )
                )
                for district in (ALERT_DISTRICT, POOL_DISTRICT)
            }
        now = utcnow()
        groups = (
            (ALERTED_FIRST_ID, alerted, upazilas[ALERT_DISTRICT]),
            (POOL_FIRST_ID, pool, upazilas[POOL_DISTRICT]),
        )
        for first, count, codes in groups:
            for start in range(0, count, 5000):
                rows = [
                    {
                        "telegram_id": first + n,
                        "first_name": "Load",
                        "language": "bn" if n % 4 else "en",
                        "area_code": codes[n % len(codes)],
                        "consent_at": now,
                    }
                    for n in range(start, min(count, start + 5000))
                ]
                async with sessions.begin() as session:
                    await session.execute(insert(Resident), rows)
    finally:
        await engine.dispose()
    return (
        [ALERTED_FIRST_ID + n for n in range(alerted)],
        [POOL_FIRST_ID + n for n in range(pool)],
    )


def queue_alert(url: str) -> int:
    """Queue an urgent flood alert for the district with `sabai alerts send`; return its id."""
    command = [
        sys.executable,
        "-m",
        "bot.cli",
        "alerts",
        "send",
        "--areas",
        ALERT_DISTRICT,
        "--topic",
        "flood",
        "--urgency",
        "urgent",
        "--text",
        "bn=মনু নদীর পানি বিপৎসীমার উপরে। নিচু এলাকার মানুষ আশ্রয়কেন্দ্রে যান।",
        "--text",
        "en=The Manu river is above the danger level. Low-lying areas: go to a shelter.",
    ]
    env = {**os.environ, "SABAI_DATABASE_URL": url, "SABAI_LOG_LEVEL": "WARNING"}
    done = subprocess.run(command, env=env, cwd=PROJECT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"sabai alerts send failed: {done.stderr.strip() or done.stdout}")
    return int(done.stdout.split()[1])


async def alert_delivered(url: str, alert_id: int) -> bool:
    """True once the bot's sender has recorded every message of the alert."""
    from bot.core.db import create_engine, session_factory
    from bot.delivery.outbox import Job, job_progress

    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            progress = await job_progress(session, Job("alert", alert_id))
    finally:
        await engine.dispose()
    return progress.done


async def work_done(url: str, alert_id: int) -> str:
    """What the bot recorded: finished sign-ups, counted "got it" taps, lesson events."""
    from sqlalchemy import func, select

    from bot.alerts.models import AlertAck
    from bot.core.db import create_engine, session_factory
    from bot.residents.events import EventKind
    from bot.residents.models import Event, Resident

    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            signed_up = await session.scalar(
                select(func.count())
                .select_from(Resident)
                .where(Resident.telegram_id >= SIGNUP_FIRST_ID, Resident.consent_at.is_not(None))
            )
            acks = await session.scalar(
                select(func.count()).select_from(AlertAck).where(AlertAck.alert_id == alert_id)
            )
            kinds = dict(
                (await session.execute(select(Event.kind, func.count()).group_by(Event.kind))).all()
            )
    finally:
        await engine.dispose()
    return (
        f'recorded: {signed_up} sign-ups, {acks} "got it", '
        f"{kinds.get(EventKind.LESSON_STARTED, 0)} lessons started, "
        f"{kinds.get(EventKind.STEP_REACHED, 0)} steps, "
        f"{kinds.get(EventKind.QUIZ_ANSWERED, 0)} quiz answers"
    )
