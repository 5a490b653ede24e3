"""Engine and session factory, and bringing the schema up to date with Alembic."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.core.resources import migrations_folder
from bot.core.startup import database_unavailable

# How long a statement waits for another connection's write lock before failing, unless
# the URL sets its own (`?timeout=`).
BUSY_TIMEOUT_SECONDS = 30.0


def create_engine(url: str) -> AsyncEngine:
    """Create the async engine for a database URL, preparing SQLite's folder and pragmas.

    SQLite goes through SQLAlchemy's stock `sqlite+aiosqlite` dialect: each connection's
    statements, lock waits included, run on aiosqlite's thread, never on the event loop.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        busy = {} if "timeout" in parsed.query else {"timeout": BUSY_TIMEOUT_SECONDS}
        engine = create_async_engine(url, connect_args=busy)

        # WAL lets the sender and the handlers read while one of them writes;
        # foreign keys are off in SQLite unless asked for on every connection.
        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: object, _record: object) -> None:
            cursor = dbapi_conn.cursor()  # type: ignore[attr-defined]
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_async_engine(url, pool_pre_ping=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Return the session factory used by services, one session per update or job."""
    return async_sessionmaker(engine, expire_on_commit=False)


def _alembic_config(url: str) -> object:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_folder()))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@contextlib.contextmanager
def _alembic_logging(verbose: bool) -> Iterator[None]:
    # Alembic announces its plugins, dialect and DDL mode at INFO on every run; migrations/env.py
    # logs each step it applies, so without `verbose` only a change is reported.
    logger = logging.getLogger("alembic")
    previous = logger.level
    if not verbose:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(previous)


def upgrade_sync(url: str, revision: str = "heads", *, verbose: bool = False) -> None:
    """Apply Alembic migrations up to `revision` (blocking; run it off the event loop)."""
    with _alembic_logging(verbose):
        # Importing Alembic already logs (its plugins), so that happens inside too.
        from alembic import command

        command.upgrade(_alembic_config(url), revision)  # type: ignore[arg-type]


async def upgrade(url: str, revision: str = "heads", *, verbose: bool = False) -> None:
    """Apply Alembic migrations without blocking the event loop.

    Raises StartupError when the database cannot be opened at all (every entry point opens
    it here first), so the operator reads which setting to fix instead of a traceback.
    """
    from sqlalchemy.exc import DBAPIError

    try:
        await asyncio.to_thread(upgrade_sync, url, revision, verbose=verbose)
    except (OSError, DBAPIError) as exc:
        raise database_unavailable(url, exc) from exc
