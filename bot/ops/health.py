"""Liveness and readiness: what /healthz and /readyz answer.

Ready means this process could handle an update now: the database answers and its schema is
at the migrations' head, and Redis answers when one is configured. Each check names what is
wrong, without URLs or passwords, so the answer can be shown to whoever probes it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.resources import migrations_folder

# A probe that waits longer than this counts as a failure; proxies probe every few seconds.
CHECK_TIMEOUT = 2.0


def migration_heads() -> frozenset[str]:
    """The revisions the schema must be at: the heads of the migrations shipped with this code."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(migrations_folder()))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


@dataclass
class Readiness:
    """Checks the database (and its schema) and Redis, if one is used."""

    engine: AsyncEngine
    redis_url: str = ""
    heads: frozenset[str] = field(default_factory=migration_heads)

    async def problems(self) -> list[str]:
        """What keeps this process from being ready; empty when it is."""
        found = []
        try:
            found.extend(await asyncio.wait_for(self._database(), CHECK_TIMEOUT))
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            found.append(f"database unreachable ({type(exc).__name__})")
        if self.redis_url:
            try:
                await asyncio.wait_for(self._redis(), CHECK_TIMEOUT)
            except (RedisError, OSError, TimeoutError) as exc:
                found.append(f"redis unreachable ({type(exc).__name__})")
        return found

    async def _database(self) -> list[str]:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            try:
                rows = await conn.execute(text("SELECT version_num FROM alembic_version"))
            except SQLAlchemyError:
                return ["database schema not migrated (run: sabai db upgrade)"]
            current = frozenset(row[0] for row in rows)
        if current != self.heads:
            return ["database schema not at the latest migration (run: sabai db upgrade)"]
        return []

    async def _redis(self) -> None:
        from redis.asyncio import Redis

        client = Redis.from_url(self.redis_url, socket_connect_timeout=CHECK_TIMEOUT)
        try:
            await client.ping()
        finally:
            await client.aclose()
