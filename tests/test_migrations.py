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
from sqlalchemy import Column, Float, LargeBinary, MetaData, Table, Unicode, inspect
from sqlalchemy import create_engine as sa_create_engine
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
    assert differences == []


def test_the_old_job_store_table_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    upgrade_sync(f"sqlite+aiosqlite:///{path}", "0014")
    # As APScheduler's SQLAlchemy job store created it in databases that used one.
    jobs = Table(
        "apscheduler_jobs",
        MetaData(),
        Column("id", Unicode(191), primary_key=True),
        Column("next_run_time", Float(25), index=True),
        Column("job_state", LargeBinary, nullable=False),
    )
    engine = sa_create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            jobs.create(conn)
            conn.execute(jobs.insert().values(id="course-1", next_run_time=0.0, job_state=b""))
        upgrade_sync(f"sqlite+aiosqlite:///{path}")
        with engine.connect() as conn:
            assert not inspect(conn).has_table("apscheduler_jobs")
    finally:
        engine.dispose()


@pytest.mark.parametrize("revision", ["0001", "0003", "0005", "0007", "0008", "0014"])
def test_every_step_downgrades_cleanly(tmp_path: Path, revision: str) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'steps.db'}"
    upgrade_sync(url)
    command.downgrade(_config(url), revision)
    upgrade_sync(url)
