"""Every module that defines tables, imported together so Alembic sees the whole schema."""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

from bot.core.base import Base

# Modules that add tables to Base.metadata. Add a new one here when it defines tables.
TABLE_MODULES: tuple[str, ...] = (
    "bot.areas.models",
    "bot.residents.models",
    "bot.delivery.outbox",
    "bot.reach.models",
    "bot.lessons.models",
    "bot.staff.models",
    "bot.alerts.models",
    "bot.channels.telegram.handled",
)


def metadata() -> MetaData:
    """Import every table module and return the complete metadata."""
    for name in TABLE_MODULES:
        importlib.import_module(name)
    return Base.metadata
