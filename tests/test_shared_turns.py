"""Two bot processes behind one webhook share a Redis: an update delivered to both is handled
once, and a person whose lock a dead process left behind is answered after the lease."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import pytest
from redis.asyncio import Redis

from bot.channels.telegram.client import EMULATOR_BOT_ID, emulator_token
from bot.devtools.emulator import Emulator, EmulatorServer
from bot.ops.ledger import LEASE, forget_all, namespace
from bot.wiring.app import App, build_app
from tests import botkit

REDIS_URL = os.environ.get("SABAI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@asynccontextmanager
async def two_processes(db_url: str, emulator: Emulator) -> AsyncIterator[tuple[App, App]]:
    """Two apps (as two worker processes would build them) on one database and one Redis."""
    settings = botkit.test_settings(db_url, redis_url=REDIS_URL, run_scheduler=False)
    redis = Redis.from_url(REDIS_URL)
    try:
        await redis.ping()
        await forget_all(redis, namespace(db_url, EMULATOR_BOT_ID))
    except OSError:
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    finally:
        await redis.aclose()
    async with AsyncExitStack() as stack:
        server = await stack.enter_async_context(EmulatorServer(emulator))
        first, second = [
            await stack.enter_async_context(
                build_app(settings, emulator_token(), server.base_url, shared_turns=True)
            )
            for _ in range(2)
        ]
        yield first, second


async def test_an_update_delivered_to_two_processes_is_answered_once(db_url: str) -> None:
    emulator = Emulator(queue_updates=False, bot_id=EMULATOR_BOT_ID)
    emulator.add_user(8401, first_name="Karim")
    async with two_processes(db_url, emulator) as (first, second):
        update = emulator.send_text(8401, "/start")
        await asyncio.gather(
            first.dispatcher.feed_raw_update(first.bot, update),
            second.dispatcher.feed_raw_update(second.bot, update),
        )
        await asyncio.sleep(0.3)
        welcomes = [m for m in emulator.messages(8401) if "Sabai" in m.text]
        assert len(welcomes) == 1
        # A later update of the same person is handled as usual, by either process.
        await second.dispatcher.feed_raw_update(second.bot, emulator.send_text(8401, "/help"))
        assert len(emulator.messages(8401)) > len(welcomes)


async def test_a_lock_left_by_a_dead_process_frees_the_person_after_the_lease(
    db_url: str,
) -> None:
    emulator = Emulator(queue_updates=False, bot_id=EMULATOR_BOT_ID)
    emulator.add_user(8402, first_name="Lipi")
    async with two_processes(db_url, emulator) as (first, _):
        redis = Redis.from_url(REDIS_URL)
        # What a worker killed in the middle of this person's update leaves in Redis.
        prefix = namespace(db_url, EMULATOR_BOT_ID)
        await redis.set(f"{prefix}:lock:p8402", b"dead", px=int(LEASE * 1000))
        await redis.aclose()
        started = time.monotonic()
        await first.dispatcher.feed_raw_update(first.bot, emulator.send_text(8402, "/start"))
        waited = time.monotonic() - started
        assert [m for m in emulator.messages(8402) if "Sabai" in m.text]
        assert 0.5 * LEASE < waited < LEASE + 3
