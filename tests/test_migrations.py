"""The Alembic history is one line, round-trips, and builds exactly the tables the code declares."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from bot.core.db import create_engine, upgrade_sync
from bot.core.resources import migrations_folder
from bot.core.schema import metadata


def _config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_folder()))
    config.set_main_option("sqlalchemy.url", url)
    return config


def test_history_is_a_single_line() -> None:
    script = ScriptDirectory.from_config(_config("sqlite+aiosqlite://"))
    assert len(script.get_heads()) == 1
    revisions = list(script.walk_revisions())
    # A merge revision names a tuple of parents; a single line has none.
    assert all(not isinstance(r.down_revision, tuple | list) for r in revisions)
    assert len(script.get_bases()) == 1


def test_schema_matches_the_models_after_a_round_trip(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'migrate.db'}"
    upgrade_sync(url)
    command.downgrade(_config(url), "base")
    upgrade_sync(url)

    def diff(conn: Connection) -> list[object]:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        return list(compare_metadata(context, metadata()))

    async def compare() -> list[object]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(diff)
        finally:
            await engine.dispose()

    differences = asyncio.run(compare())
    # Index and table differences would mean a model and its migration disagree.
    assert [d for d in differences if not _harmless(d)] == []


def _harmless(difference: object) -> bool:
    # The job store's table is created by APScheduler itself, not by a migration.
    text = repr(difference)
    return "apscheduler_jobs" in text


@pytest.mark.parametrize("revision", ["0001", "0003", "0005", "0007", "0008", "0014"])
def test_every_step_downgrades_cleanly(tmp_path: Path, revision: str) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'steps.db'}"
    upgrade_sync(url)
    command.downgrade(_config(url), revision)
    upgrade_sync(url)
