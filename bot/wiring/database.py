"""The database as every entry point needs it: migrated, with the areas loaded.

Kept apart from the app's wiring so that commands which never talk to Telegram open the
database without importing aiogram.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.areas.importer import ensure_areas
from bot.core.config import Settings
from bot.core.db import create_engine, session_factory, upgrade

log = logging.getLogger("sabai.app")


async def prepare_database(
    settings: Settings,
) -> tuple[AsyncEngine, async_sessionmaker[AsyncSession]]:
    """Migrate the database and load the areas on first start."""
    await upgrade(settings.database_url)
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    report = await ensure_areas(sessions)
    if report is not None:
        log.info("areas imported", extra={"areas": report.areas, "populations": report.populations})
    return engine, sessions
