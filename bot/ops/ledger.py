"""One person's updates one at a time across processes.

Several bot processes behind a webhook share a Redis. Before handling an update, a process
takes that person's lock (a Redis key with a lease it keeps renewing while it works). Whether
the update was handled already is the database's to say (bot/channels/telegram/handled.py),
in the same transaction as the handling itself.

A process killed while holding a lock holds it no longer than the lease (LEASE seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis

# A lock whose holder stopped renewing it frees itself after this many seconds.
LEASE = 5.0
# How long an update waits for its person's lock before it is answered 500 (Telegram retries).
WAIT_LIMIT = 60.0

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""


def namespace(database_url: str, bot_id: int) -> str:
    """The key prefix of one deployment's ledger: its database and bot, so that two
    deployments (or two test databases) sharing a Redis never see each other's keys."""
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:12]
    return f"sabai:{digest}:{bot_id}"


async def forget_all(redis: Redis, prefix: str) -> int:
    """Delete every key under `prefix`; return how many there were."""
    keys = [key async for key in redis.scan_iter(match=f"{prefix}:*", count=1000)]
    if keys:
        await redis.delete(*keys)
    return len(keys)


class LockTimeout(Exception):
    """The person's lock stayed taken for WAIT_LIMIT seconds."""


class UpdateLedger:
    """Per-person locks in one Redis, shared by all processes."""

    def __init__(self, redis: Redis, prefix: str, lease: float = LEASE) -> None:
        self.redis = redis
        self.prefix = prefix
        self.lease = lease
        self._release = redis.register_script(_RELEASE)
        self._renew = redis.register_script(_RENEW)

    @asynccontextmanager
    async def turn(self, person: str) -> AsyncIterator[None]:
        """Hold `person`'s lock for the duration of the block."""
        lock = f"{self.prefix}:lock:{person}"
        token = secrets.token_hex(8)
        await self._acquire(lock, token)
        renewer = asyncio.create_task(self._keep(lock, token))
        try:
            yield
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            # Shielded: a handler cancelled at shutdown must still free the person.
            await asyncio.shield(self._release(keys=[lock], args=[token]))

    async def _acquire(self, lock: str, token: str) -> None:
        ms = int(self.lease * 1000)
        delay = 0.002
        deadline = asyncio.get_running_loop().time() + WAIT_LIMIT
        while not await self.redis.set(lock, token, nx=True, px=ms):
            if asyncio.get_running_loop().time() > deadline:
                raise LockTimeout(lock)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    async def _keep(self, lock: str, token: str) -> None:
        ms = int(self.lease * 1000)
        while True:
            await asyncio.sleep(self.lease / 3)
            await self._renew(keys=[lock], args=[token, ms])
