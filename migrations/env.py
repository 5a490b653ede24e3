"""Alembic environment: runs migrations over the project's async engine."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from alembic import context
from alembic.runtime.migration import MigrationContext, MigrationInfo
from sqlalchemy.engine import Connection

from bot.core.db import create_engine
from bot.core.schema import metadata

target_metadata = metadata()
log = logging.getLogger("sabai.db")


def _applied(ctx: MigrationContext, step: MigrationInfo, heads: Any, run_args: Any) -> None:
    """Report each step that changes the schema (Alembic's own lines are quiet by default)."""
    log.info(
        "database migrated",
        extra={
            "from": ",".join(step.source_revision_ids) or "empty",
            "to": ",".join(step.destination_revision_ids) or "empty",
        },
    )


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        on_version_apply=_applied,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
