"""Every module that defines tables, imported together so Alembic sees the whole schema."""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

from bot.models import Base

# Modules that add tables to Base.metadata. Add a new one here when it defines tables.
TABLE_MODULES: tuple[str, ...] = (
    "bot.models",
    "bot.outbox",
    "bot.reach_models",
    "bot.lesson_models",
    "bot.staff_models",
    "bot.alert_models",
)


def metadata() -> MetaData:
    """Import every table module and return the complete metadata."""
    for name in TABLE_MODULES:
        importlib.import_module(name)
    return Base.metadata
