"""Telegram's send limits: a global rate, 1 message/s per chat, 20/min per group, 429 pauses.

Two implementations share one interface: `MemoryRateLimiter` for a single sender process and
`RedisRateLimiter` for several processes sharing one bot (the budget is per bot token, not per
process, so it has to live in one place). Both hand out *reservations*: a sender asks for the next
global slot, sleeps until it, then checks that no 429 pause began meanwhile. Spacing sends evenly
keeps every one-second window under the cap, which is what Telegram measures.

See https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass
from typing import Any

# Telegram's documented limits, with the global one kept under its "about 30 per second".
DEFAULT_RATE = 25.0
CHAT_INTERVAL = 1.0
# 20 messages per minute in a group, spread out rather than sent in a burst.
GROUP_INTERVAL = 3.0


@dataclass(frozen=True)
class RateLimits:
    """The limits a sender keeps to; `per_second=None` lifts the global cap (benchmarks)."""

    per_second: float | None = DEFAULT_RATE
    chat_interval: float = CHAT_INTERVAL
    group_interval: float = GROUP_INTERVAL

    def __post_init__(self) -> None:
        if self.per_second is not None and self.per_second <= 0:
            raise ValueError("per_second must be positive (or None for no global cap)")

    def interval_for(self, chat_id: int) -> float:
        """Return the minimum gap between two messages to this chat."""
        # Groups, supergroups and channels have negative ids in the Bot API.
        return self.group_interval if chat_id < 0 else self.chat_interval


class RateLimiter(ABC):
    """Where senders ask permission to send; shared by every sender of one bot."""

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits

    @abstractmethod
    async def reserve(self) -> float:
        """Reserve the next global send slot and return the seconds to wait before using it."""

    @abstractmethod
    async def paused_for(self) -> float:
        """Return how many seconds all sending is still paused for (0 when it is not)."""

    @abstractmethod
    async def pause(self, seconds: float) -> None:
        """Pause all sending of every sender for `seconds` (Telegram answered 429)."""

    @abstractmethod
    async def chat_wait(self, chat_id: int) -> float:
        """Claim the chat's next turn now and return 0, or return the seconds until its turn."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections the limiter holds."""

    async def acquire(self) -> None:
        """Wait until this sender may send one message under the global rate and any pause."""
        while True:
            delay = await self.reserve()
            if delay > 0:
                await asyncio.sleep(delay)
            paused = await self.paused_for()
            if paused <= 0:
                return
            # A 429 arrived while we waited: the reserved slot is void, wait it out and re-reserve.
            await asyncio.sleep(paused)


class MemoryRateLimiter(RateLimiter):
    """Limits for senders in one process."""

    def __init__(self, limits: RateLimits | None = None) -> None:
        super().__init__(limits or RateLimits())
        self._next_slot = 0.0
        self._paused_until = 0.0
        self._chat_free_at: dict[int, float] = {}
        # (free_at, chat_id) in the order handed out, one queue per interval so each is sorted;
        # lets expired entries be forgotten in O(1), keeping memory flat over a million chats.
        self._expiry: dict[float, deque[tuple[float, int]]] = {}

    async def reserve(self) -> float:
        rate = self.limits.per_second
        now = time.monotonic()
        if rate is None:
            return 0.0
        slot = max(now, self._next_slot, self._paused_until)
        self._next_slot = slot + 1.0 / rate
        return slot - now

    async def paused_for(self) -> float:
        return max(0.0, self._paused_until - time.monotonic())

    async def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    async def chat_wait(self, chat_id: int) -> float:
        now = time.monotonic()
        self._forget_expired(now)
        free_at = self._chat_free_at.get(chat_id, 0.0)
        if free_at > now:
            return free_at - now
        interval = self.limits.interval_for(chat_id)
        self._chat_free_at[chat_id] = now + interval
        self._expiry.setdefault(interval, deque()).append((now + interval, chat_id))
        return 0.0

    def _forget_expired(self, now: float) -> None:
        for queue in self._expiry.values():
            while queue and queue[0][0] <= now:
                free_at, chat_id = queue.popleft()
                if self._chat_free_at.get(chat_id) == free_at:
                    del self._chat_free_at[chat_id]

    async def close(self) -> None:
        """Nothing to release: the state is this object."""

    @property
    def tracked_chats(self) -> int:
        """How many chats are still inside their interval (for tests of memory use)."""
        return len(self._chat_free_at)


# Redis scripts run atomically and read Redis's own clock, so senders on machines whose clocks
# differ still agree on when a slot or a pause begins and ends.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
local slot = math.max(now, tat, paused)
redis.call('SET', KEYS[1], string.format('%.6f', slot + tonumber(ARGV[1])), 'EX', 3600)
return string.format('%.6f', slot - now)
"""
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local paused = tonumber(redis.call('GET', KEYS[1]) or '0')
local wanted = now + tonumber(ARGV[1])
if wanted > paused then
  redis.call('SET', KEYS[1], string.format('%.6f', wanted), 'EX', math.ceil(tonumber(ARGV[1])) + 60)
end
return 1
"""
_PAUSED_FOR = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local paused = tonumber(redis.call('GET', KEYS[1]) or '0')
return string.format('%.6f', math.max(0, paused - now))
"""
# SET NX with an expiry is the whole per-chat limiter: the key exists while the chat is busy.
_CHAT = """
if redis.call('SET', KEYS[1], '1', 'PX', ARGV[1], 'NX') then
  return -1
end
return math.max(redis.call('PTTL', KEYS[1]), 1)
"""


class RedisRateLimiter(RateLimiter):
    """Limits shared by every sender process of one bot through Redis."""

    def __init__(
        self, redis: Any, limits: RateLimits | None = None, *, prefix: str = "sabai:rate"
    ) -> None:
        super().__init__(limits or RateLimits())
        self.redis = redis
        self.prefix = prefix
        self._reserve = redis.register_script(_RESERVE)
        self._pause = redis.register_script(_PAUSE)
        self._paused_for = redis.register_script(_PAUSED_FOR)
        self._chat = redis.register_script(_CHAT)

    @classmethod
    def from_url(
        cls, url: str, limits: RateLimits | None = None, *, prefix: str = "sabai:rate"
    ) -> RedisRateLimiter:
        """Connect to Redis at `url` (redis://host:port/db)."""
        from redis.asyncio import Redis

        return cls(Redis.from_url(url), limits, prefix=prefix)

    async def reserve(self) -> float:
        rate = self.limits.per_second
        if rate is None:
            return 0.0
        keys = [f"{self.prefix}:next_slot", f"{self.prefix}:paused_until"]
        return float(await self._reserve(keys=keys, args=[f"{1.0 / rate:.6f}"]))

    async def paused_for(self) -> float:
        return float(await self._paused_for(keys=[f"{self.prefix}:paused_until"]))

    async def pause(self, seconds: float) -> None:
        await self._pause(keys=[f"{self.prefix}:paused_until"], args=[f"{seconds:.3f}"])

    async def chat_wait(self, chat_id: int) -> float:
        interval_ms = int(self.limits.interval_for(chat_id) * 1000)
        left_ms = int(await self._chat(keys=[f"{self.prefix}:chat:{chat_id}"], args=[interval_ms]))
        # -1: the turn is ours; otherwise the chat is busy for left_ms more (at least 1 ms, since
        # PTTL says -2 when the key expired between the SET and the PTTL).
        return 0.0 if left_ms == -1 else left_ms / 1000.0

    async def reset(self) -> None:
        """Forget the shared state (tests and benchmarks start from a clean budget)."""
        keys = [key async for key in self.redis.scan_iter(match=f"{self.prefix}:*", count=1000)]
        if keys:
            await self.redis.delete(*keys)

    async def close(self) -> None:
        await self.redis.aclose()
