"""The embedded SQLite engine: stock aiosqlite with WAL, foreign keys and a busy timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.db import create_engine


@asynccontextmanager
async def _notes(tmp_path: Path, busy_seconds: float | None = None) -> AsyncIterator[AsyncEngine]:
    """An engine on a fresh file with a `notes` table; disposed on the way out."""
    query = f"?timeout={busy_seconds}" if busy_seconds is not None else ""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'notes.db'}{query}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
        yield engine
    finally:
        await engine.dispose()


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


async def test_a_lock_never_released_fails_after_the_urls_busy_timeout(tmp_path: Path) -> None:
    async with _notes(tmp_path, busy_seconds=0.3) as engine, engine.connect() as first:
        await first.execute(text("INSERT INTO notes (body) VALUES ('held')"))
        started = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"):
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO notes (body) VALUES ('late')"))
        waited = time.monotonic() - started
        assert 0.25 <= waited < 2.0
        await first.rollback()


async def test_readers_see_the_last_commit_while_a_write_is_open(tmp_path: Path) -> None:
    async with _notes(tmp_path) as engine:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO notes (body) VALUES ('kept')"))
        async with engine.connect() as writer, engine.connect() as reader:
            await writer.execute(text("INSERT INTO notes (body) VALUES ('pending')"))
            started = time.monotonic()
            bodies = (await reader.execute(text("SELECT body FROM notes"))).scalars()
            assert list(bodies) == ["kept"]
            assert time.monotonic() - started < 1.0, "a reader waited for the writer"
            await writer.rollback()
            mode = (await reader.execute(text("PRAGMA journal_mode"))).scalar_one()
            assert mode == "wal"


async def test_foreign_keys_are_enforced(tmp_path: Path) -> None:
    async with _notes(tmp_path) as engine:
        async with engine.begin() as conn:
            await conn.execute(
                text("CREATE TABLE tags (note_id INTEGER NOT NULL REFERENCES notes(id))")
            )
        with pytest.raises(IntegrityError, match="FOREIGN KEY"):
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO tags (note_id) VALUES (404)"))


async def test_an_in_memory_database_works() -> None:
    engine = create_engine("sqlite+aiosqlite://")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (n INTEGER)"))
            await conn.execute(text("INSERT INTO t VALUES (42)"))
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT n FROM t"))).scalar_one() == 42
    finally:
        await engine.dispose()
