"""Electing the one process that runs the scheduler, with a PostgreSQL advisory lock.

`pg_try_advisory_lock` taken at session level belongs to the connection that took it: it is
held while that connection lives and released by PostgreSQL when it ends, also when the
process dies without a word. So the leader keeps one dedicated connection open (no pool, so
nothing else ever runs on it), and the others try again from time to time.
https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

log = logging.getLogger("sabai.leader")

# Any fixed 64-bit number; advisory locks are per database, so deployments never clash.
SCHEDULER_LOCK = 0x5AB41_5C4ED
APPLICATION_NAME = "sabai-scheduler"
# A leader whose machine vanished without closing its connection is noticed by the server
# after about idle + interval * count seconds (20 s), which frees the lock for another process.
SERVER_SETTINGS = {
    "application_name": APPLICATION_NAME,
    "tcp_keepalives_idle": "10",
    "tcp_keepalives_interval": "5",
    "tcp_keepalives_count": "2",
}


class AdvisoryLock:
    """One session-level advisory lock on a connection of its own."""

    def __init__(self, database_url: str, key: int = SCHEDULER_LOCK, timeout: float = 10.0) -> None:
        self.database_url = database_url
        self.key = key
        self.timeout = timeout
        self._engine: AsyncEngine | None = None
        self._held_on: AsyncConnection | None = None
        self.held = False

    async def acquire(self) -> bool:
        """Try to take the lock without waiting; False if another session holds it or on error."""
        try:
            async with asyncio.timeout(self.timeout):
                conn = await self._connection()
                got = await conn.scalar(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}
                )
        except (OSError, TimeoutError, SQLAlchemyError) as exc:
            log.warning("scheduler lock not reachable: %s", type(exc).__name__)
            await self._drop()
            return False
        self.held = bool(got)
        return self.held

    async def still_held(self) -> bool:
        """Check the lock's connection is alive (its lock lives exactly as long)."""
        if not self.held or self._held_on is None:
            return False
        try:
            async with asyncio.timeout(self.timeout):
                await self._held_on.scalar(text("SELECT 1"))
        except (OSError, TimeoutError, SQLAlchemyError) as exc:
            log.warning("scheduler lock connection lost: %s", type(exc).__name__)
            await self._drop()
            return False
        return True

    async def release(self) -> None:
        """Give the lock up and close its connection (closing alone would release it too)."""
        if self._held_on is not None and self.held:
            with contextlib.suppress(OSError, TimeoutError, SQLAlchemyError):
                async with asyncio.timeout(self.timeout):
                    await self._held_on.scalar(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": self.key}
                    )
        await self._drop()
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def _connection(self) -> AsyncConnection:
        if self._engine is None:
            self._engine = create_async_engine(
                self.database_url,
                poolclass=NullPool,
                # No transaction stays open on this long-lived connection.
                isolation_level="AUTOCOMMIT",
                connect_args={"server_settings": SERVER_SETTINGS},
            )
        if self._held_on is None:
            self._held_on = await self._engine.connect()
        return self._held_on

    async def _drop(self) -> None:
        self.held = False
        conn, self._held_on = self._held_on, None
        if conn is None:
            return
        try:
            async with asyncio.timeout(self.timeout):
                await conn.close()
        except (OSError, TimeoutError, SQLAlchemyError):
            # A dead connection may not close cleanly; it is thrown away rather than reused.
            with contextlib.suppress(OSError, TimeoutError, SQLAlchemyError):
                await conn.invalidate()
