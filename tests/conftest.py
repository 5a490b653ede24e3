"""Shared fixtures: a migrated database per backend (SQLite, PostgreSQL) with the areas loaded."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.areas.importer import import_areas
from bot.core.db import create_engine, session_factory, upgrade_sync
from bot.core.schema import metadata

POSTGRES_URL = os.environ.get(
    "SABAI_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/sabai_test"
)
# Reference data loaded once per run; every other table is wiped between tests.
KEPT_TABLES = {"areas", "area_population"}


def _postgres_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def _prepare(url: str) -> None:
    upgrade_sync(url)

    async def load() -> None:
        engine = create_engine(url)
        try:
            await import_areas(session_factory(engine))
        finally:
            await engine.dispose()

    asyncio.run(load())


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def prepared_db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A migrated database with the areas imported, once per backend per test run."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'sabai.db'}"
    else:
        if not _postgres_reachable():
            if os.environ.get("CI") == "true" or os.environ.get("SABAI_REQUIRE_POSTGRES") == "1":
                pytest.fail("PostgreSQL is required (SABAI_REQUIRE_POSTGRES=1) but not reachable")
            pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432; its tests are skipped")
        url = POSTGRES_URL
        asyncio.run(_reset_postgres(url))
    _prepare(url)
    return url


async def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


async def _wipe(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            # Children before parents, so foreign keys never object.
            for table in reversed(metadata().sorted_tables):
                if table.name not in KEPT_TABLES:
                    await conn.execute(table.delete())
    finally:
        await engine.dispose()


@pytest.fixture
def db_url(prepared_db_url: str) -> str:
    """The prepared database, with everything but the reference data wiped for this test."""
    asyncio.run(_wipe(prepared_db_url))
    return prepared_db_url


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A session factory on a clean database (areas kept, people wiped)."""
    engine = create_engine(db_url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def project_dir() -> Path:
    return Path(__file__).resolve().parent.parent
