"""A sender in its own process, for the test that kills one with SIGKILL and starts another.

Usage: python tests/outbox_worker.py DB_URL API_URL --name N [--batch-size B] [--lease S]
Sends until SIGTERM (a clean stop); SIGKILL is the crash under test.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.channels.telegram.client import emulator_token, make_bot
from bot.channels.telegram.transport import AiogramTransport
from bot.core.db import create_engine, session_factory
from bot.delivery.rate_limit import MemoryRateLimiter, RateLimits
from bot.delivery.sender import Sender, SenderConfig


async def main(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    engine = create_engine(args.db_url)
    bot = make_bot(emulator_token(), args.api_url)
    config = SenderConfig(
        name=args.name,
        batch_size=args.batch_size,
        concurrency=args.concurrency,
        flush_size=max(1, args.batch_size // 2),
        flush_interval=0.05,
        lease=timedelta(seconds=args.lease),
        maintenance_interval=0.5,
        idle_poll=0.1,
    )
    rate = RateLimits(per_second=args.rate or None)
    sender = Sender(session_factory(engine), AiogramTransport(bot), MemoryRateLimiter(rate), config)
    try:
        await sender.run(stop)
    finally:
        await bot.session.close()
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("db_url")
    parser.add_argument("api_url")
    parser.add_argument("--name", required=True)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--lease", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=0.0, help="messages/s; 0 lifts the cap")
    asyncio.run(main(parser.parse_args()))
