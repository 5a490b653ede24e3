"""SQLite without a thread: statements run on the event loop, lock waits do not block it."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.db import create_engine


@asynccontextmanager
async def _notes(tmp_path: Path, busy_seconds: float | None = None) -> AsyncIterator[AsyncEngine]:
    """An engine on a fresh file with a `notes` table; disposed on the way out."""
    query = f"?timeout={busy_seconds}" if busy_seconds is not None else ""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}{query}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
        yield engine
    finally:
        await engine.dispose()


async def test_statements_run_without_a_thread_per_connection(tmp_path: Path) -> None:
    async with _notes(tmp_path) as engine:
        threads = threading.active_count()
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO notes (body) VALUES ('hello')"))
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT body FROM notes"))).scalar_one() == "hello"
        assert threading.active_count() == threads


async def test_a_writer_waits_for_the_lock_while_the_loop_keeps_running(tmp_path: Path) -> None:
    async with _notes(tmp_path) as engine:
        ticks = 0
        second_done = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not second_done.is_set():
                ticks += 1
                await asyncio.sleep(0.005)

        async def second_writer() -> float:
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO notes (body) VALUES ('second')"))
            second_done.set()
            return time.monotonic()

        async with engine.connect() as first:
            await first.execute(text("INSERT INTO notes (body) VALUES ('first')"))
            # The first connection now holds the write lock.
            tick_task = asyncio.create_task(ticker())
            second = asyncio.create_task(second_writer())
            await asyncio.sleep(0.2)
            assert not second.done(), "the second writer should wait for the lock"
            ticks_while_waiting = ticks
            committed_at = time.monotonic()
            await first.commit()
        finished_at = await second
        await tick_task
        assert ticks_while_waiting >= 10, "the event loop was blocked while waiting for the lock"
        assert finished_at >= committed_at
        async with engine.connect() as conn:
            bodies = (await conn.execute(text("SELECT body FROM notes ORDER BY id"))).scalars()
            assert list(bodies) == ["first", "second"]


async def test_a_lock_never_released_fails_after_the_busy_timeout(tmp_path: Path) -> None:
    async with _notes(tmp_path, busy_seconds=0.3) as engine, engine.connect() as first:
        await first.execute(text("INSERT INTO notes (body) VALUES ('held')"))
        started = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"):
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO notes (body) VALUES ('late')"))
        waited = time.monotonic() - started
        assert 0.25 <= waited < 2.0
        await first.rollback()


async def test_rows_stream_in_batches(tmp_path: Path) -> None:
    async with _notes(tmp_path) as engine:
        async with engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO notes (body) VALUES (:body)"),
                [{"body": f"n{n}"} for n in range(250)],
            )
        async with engine.connect() as conn:
            result = await conn.stream(
                text("SELECT body FROM notes ORDER BY id").execution_options(yield_per=100)
            )
            seen = [row.body async for row in result]
        assert seen == [f"n{n}" for n in range(250)]


async def test_a_waiting_batch_insert_writes_each_row_once(tmp_path: Path) -> None:
    async with _notes(tmp_path) as engine:
        async with engine.connect() as first:
            await first.execute(text("INSERT INTO notes (body) VALUES ('first')"))

            async def batch() -> None:
                async with engine.begin() as conn:
                    await conn.execute(
                        text("INSERT INTO notes (body) VALUES (:body)"),
                        [{"body": "a"}, {"body": "b"}, {"body": "c"}],
                    )

            waiting = asyncio.create_task(batch())
            await asyncio.sleep(0.1)
            assert not waiting.done()
            await first.commit()
        await waiting
        async with engine.connect() as conn:
            bodies = (await conn.execute(text("SELECT body FROM notes ORDER BY id"))).scalars()
            assert list(bodies) == ["first", "a", "b", "c"]


async def test_a_write_after_a_read_in_the_same_transaction_fails_at_once(
    tmp_path: Path,
) -> None:
    # As SQLite itself does: waiting there could deadlock two writers, so it is not retried.
    async with (
        _notes(tmp_path, busy_seconds=5) as engine,
        engine.connect() as holder,
        engine.connect() as reader,
    ):
        await holder.execute(text("INSERT INTO notes (body) VALUES ('held')"))
        await reader.exec_driver_sql("BEGIN")
        await reader.execute(text("SELECT count(*) FROM notes"))
        started = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"):
            await reader.execute(text("INSERT INTO notes (body) VALUES ('late')"))
        assert time.monotonic() - started < 1.0
        await reader.rollback()
        await holder.rollback()


async def test_an_in_memory_database_works(tmp_path: Path) -> None:
    engine = create_engine("sqlite+aiosqlite://")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (n INTEGER)"))
            await conn.execute(text("INSERT INTO t VALUES (42)"))
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT n FROM t"))).scalar_one() == 42
    finally:
        await engine.dispose()


async def test_a_long_run_of_statements_lets_the_loop_take_turns(tmp_path: Path) -> None:
    async with _notes(tmp_path) as engine:
        gaps: list[float] = []
        done = asyncio.Event()

        async def ticker() -> None:
            last = time.monotonic()
            while not done.is_set():
                await asyncio.sleep(0.001)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        tick_task = asyncio.create_task(ticker())
        await asyncio.sleep(0.01)
        started = time.monotonic()
        async with engine.connect() as conn:
            for n in range(15_000):
                await conn.execute(text("INSERT INTO notes (body) VALUES (:b)"), {"b": f"n{n}"})
            await conn.commit()
        spent = time.monotonic() - started
        done.set()
        await tick_task
        assert spent > 0.2, "too quick to tell; make the run longer"
        # Without turns the ticker would wait for the whole run.
        assert max(gaps) < spent / 2
