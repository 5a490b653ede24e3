"""One person's updates one at a time across processes, and each update handled once.

Several bot processes behind a webhook share a Redis. Before handling an update, a process
takes that person's lock (a Redis key with a lease it keeps renewing while it works), then
looks the update up in the ledger of handled updates: an update Telegram delivered again
(because the first delivery timed out or the process handling it died before answering) is
skipped if it was handled. Only when handling finished is the update written to the ledger,
so an update whose process died half-way is handled again by the next delivery.

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
# How long an update id is remembered; Telegram gives up redelivering long before.
REMEMBER_SECONDS = 24 * 3600
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
    """Delete every lock and handled-update key under `prefix`; return how many there were."""
    keys = [key async for key in redis.scan_iter(match=f"{prefix}:*", count=1000)]
    if keys:
        await redis.delete(*keys)
    return len(keys)


class LockTimeout(Exception):
    """The person's lock stayed taken for WAIT_LIMIT seconds."""


class UpdateLedger:
    """Per-person locks and handled update ids in one Redis, shared by all processes."""

    def __init__(self, redis: Redis, prefix: str, lease: float = LEASE) -> None:
        self.redis = redis
        self.prefix = prefix
        self.lease = lease
        self._release = redis.register_script(_RELEASE)
        self._renew = redis.register_script(_RENEW)

    @asynccontextmanager
    async def turn(self, person: str, update_id: int) -> AsyncIterator[bool]:
        """Hold `person`'s lock; yield False if `update_id` was handled already.

        The update is recorded as handled when the block exits without an error.
        """
        lock = f"{self.prefix}:lock:{person}"
        token = secrets.token_hex(8)
        await self._acquire(lock, token)
        renewer = asyncio.create_task(self._keep(lock, token))
        try:
            done = f"{self.prefix}:done:{update_id}"
            if await self.redis.exists(done):
                yield False
                return
            yield True
            await self.redis.set(done, b"1", ex=REMEMBER_SECONDS)
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
