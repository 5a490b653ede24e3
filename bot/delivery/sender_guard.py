"""One rate budget for all senders: refuse a second sender whose budget would not be shared.

Each sender keeps to `sending.rate_per_second` with its own limiter unless the limiter lives in
Redis (`sending.redis_url`); two senders with their own budgets send twice the cap. So a sender
holds a lock while it runs: shared when its budget is in Redis (any number of such senders may
run together), exclusive when it is not (it must be the only one). The lock dies with the
process, so a killed sender never blocks the next.

PostgreSQL: a session advisory lock on a connection kept for the sender's lifetime (committed,
so no transaction stays open). SQLite: `flock` on a file beside the database, which every process
on that database sees.
"""

from __future__ import annotations

import fcntl
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.core.config import ConfigError

log = logging.getLogger("sabai.sender")

# Any fixed number: the advisory lock that stands for "a sender runs on this database".
LOCK_KEY = 0x5ABA1_5E4D


class SenderConflict(ConfigError):
    """Another sender runs on this database and the two would not share one rate budget."""


@dataclass
class SenderSlot:
    """The lock a running sender holds; `release` when the sender stops."""

    connection: AsyncConnection | None = None
    shared: bool = True
    lock_fd: int | None = None

    async def release(self) -> None:
        """Let the next sender start."""
        if self.connection is not None:
            unlock = "pg_advisory_unlock_shared" if self.shared else "pg_advisory_unlock"
            try:
                await self.connection.execute(text(f"SELECT {unlock}(:key)"), {"key": LOCK_KEY})
                await self.connection.commit()
            except SQLAlchemyError:
                # Ending the database session ends its lock; the pool must not hand it on.
                await self.connection.invalidate()
            await self.connection.close()
            self.connection = None
        if self.lock_fd is not None:
            os.close(self.lock_fd)  # closing drops the flock
            self.lock_fd = None


def _refusal(shared: bool) -> str:
    if shared:
        return (
            "another sender runs on this database without a shared rate budget; stop it, or "
            "give it the same sending.redis_url (SABAI_REDIS_URL) as this one"
        )
    return (
        "another sender already runs on this database; two senders without a shared budget "
        "send twice sending.rate_per_second: set sending.redis_url (SABAI_REDIS_URL) for both, "
        "run this process with --no-sender, or insist with --force"
    )


def _warn_forced() -> None:
    log.critical(
        "SENDING OVER THE RATE CAP: another sender runs on this database and sending.redis_url "
        "is not set, so each keeps its own budget and together they exceed "
        "sending.rate_per_second; Telegram may throttle or block the bot"
    )


async def take_sender_slot(
    engine: AsyncEngine, *, shared_budget: bool, force: bool = False
) -> SenderSlot:
    """Hold this process's sender lock, or raise SenderConflict naming what to change.

    With `force`, a conflict is logged as a critical warning and the sender runs anyway.
    """
    if engine.dialect.name == "postgresql":
        slot = await _postgres_slot(engine, shared_budget)
    else:
        slot = _sqlite_slot(engine, shared_budget)
    if slot is not None:
        return slot
    if not force:
        raise SenderConflict(_refusal(shared_budget))
    _warn_forced()
    return SenderSlot()


async def _postgres_slot(engine: AsyncEngine, shared: bool) -> SenderSlot | None:
    lock = "pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock"
    connection = await engine.connect()
    try:
        taken = await connection.scalar(text(f"SELECT {lock}(:key)"), {"key": LOCK_KEY})
        # The lock belongs to the database session and outlives this transaction.
        await connection.commit()
    except BaseException:
        await connection.close()
        raise
    if taken:
        return SenderSlot(connection=connection, shared=shared)
    await connection.close()
    return None


def lock_path(database_url: str) -> Path | None:
    """The lock file of a SQLite database (None for an in-memory one)."""
    database = make_url(database_url).database
    if not database or database == ":memory:":
        return None
    return Path(database + ".senders.lock")


def _sqlite_slot(engine: AsyncEngine, shared: bool) -> SenderSlot | None:
    path = lock_path(engine.url.render_as_string(hide_password=False))
    if path is None:
        return SenderSlot()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return SenderSlot(shared=shared, lock_fd=fd)
