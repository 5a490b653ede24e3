"""The floor of one update's database work: a resident-sized transaction, timed alone.

Every update Sabai handles reads the resident and, when something changed, writes an event
and the resident row in one transaction that commits before the reply goes out (so nothing
a resident was told is lost if the process dies). This times that transaction alone, one
after another, with nothing else running: the ORM way Sabai does it, and the same statements
through SQLAlchemy Core, to show what the ORM adds.

It answers one question about `bench/updates.py`: how much CPU per update is left for Sabai's
own work once its replies are paid for, and does one transaction fit in it?

    .venv/bin/python bench/transaction.py
    .venv/bin/python bench/transaction.py --database-url postgresql+asyncpg://postgres@127.0.0.1/sabai_bench
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Table, insert, select, update

from bot.core.base import utcnow
from bot.core.db import create_engine, session_factory, upgrade
from bot.residents.models import Event, Resident

RESIDENTS = 2_000
EVENTS = cast(Table, Event.__table__)
RESIDENTS_TABLE = cast(Table, Resident.__table__)


async def run(url: str, rounds: int) -> None:
    await upgrade(url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    first = 9_000_000_000 + int(time.time()) % 100_000 * RESIDENTS
    async with sessions() as session:
        session.add_all(Resident(telegram_id=first + n, language="en") for n in range(RESIDENTS))
        await session.commit()

    async def select_orm(tid: int) -> None:
        async with sessions() as session:
            await session.scalar(select(Resident).where(Resident.telegram_id == tid))

    async def cycle_orm(tid: int) -> None:
        async with sessions() as session:
            resident = await session.scalar(select(Resident).where(Resident.telegram_id == tid))
            assert resident is not None
            resident.awaiting = f"br:{tid % 7}:0"
            session.add(
                Event(
                    kind="button_tapped",
                    subject=resident.pseudonym,
                    area_code=resident.area_code,
                    data={"menu": "lessons"},
                    at=utcnow(),
                )
            )
            await session.commit()

    async def select_core(tid: int) -> None:
        async with engine.connect() as conn:
            await conn.execute(select(RESIDENTS_TABLE).where(RESIDENTS_TABLE.c.telegram_id == tid))

    async def cycle_core(tid: int) -> None:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    select(RESIDENTS_TABLE).where(RESIDENTS_TABLE.c.telegram_id == tid)
                )
            ).one()
            await conn.execute(
                insert(EVENTS),
                [
                    {
                        "kind": "button_tapped",
                        "subject": row.pseudonym,
                        "area_code": row.area_code,
                        "data": {"menu": "lessons"},
                        "at": utcnow(),
                    }
                ],
            )
            await conn.execute(
                update(RESIDENTS_TABLE)
                .where(RESIDENTS_TABLE.c.id == row.id)
                .values(awaiting=f"br:{tid % 5}:0", updated_at=utcnow())
            )
            await conn.commit()

    cases: list[tuple[str, Callable[[int], Awaitable[None]]]] = [
        ("select the resident (ORM)", select_orm),
        ("select + event + update, commit (ORM)", cycle_orm),
        ("select the resident (Core)", select_core),
        ("the same statements (Core)", cycle_core),
    ]
    print(f"database: {url.split('@')[-1]}; {rounds} rounds each, one at a time")
    print(f"{'':<40}{'wall ms':>9}{'CPU ms':>9}")
    for name, case in cases:
        for measured in (False, True):  # the first pass warms caches and the pool
            wall, cpu = time.perf_counter(), time.process_time()
            for n in range(rounds):
                await case(first + n % RESIDENTS)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if measured:
                print(f"{name:<40}{wall / rounds * 1000:>9.3f}{cpu / rounds * 1000:>9.3f}")
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rounds", type=int, default=2_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sabai-tx-") as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'tx.db'}"
        asyncio.run(run(url, args.rounds))


if __name__ == "__main__":
    main()
