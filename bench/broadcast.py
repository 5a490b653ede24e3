"""Bulk delivery: the outbox sender's rate against a cap, its own drain rate, and its memory.

Three phases (choose with --phases, default all):

* rate  – a real aiogram Bot sends through the local emulator (in this process, on 127.0.0.1)
          with the global cap on (default 25/s) for --duration seconds (default 120). The
          achieved rate is counted from the emulator's request log. Target: ≥ 97 % of the cap.
* drain – the cap lifted, --drain-recipients rows (default 100,000) on SQLite, sent through a
          transport that answers at once: the engine's own cost per message (claim, limits,
          record as sent, two events per message). Target ≥ 1,000 msg/s. The same with the real
          aiogram Bot and the emulator (--emulator-recipients, default 10,000; both share this
          process's CPU, so it is a floor for aiogram alone).
* sms   – an SMS broadcast to --sms-recipients numbers (default 10,000) through a stand-in
          smsbox in its own process, by the SMS sender (KannelTransport) in a child process
          capped at --sms-rate (default 10/s, sms.rate_per_second's default). The child is
          killed with SIGKILL once --sms-kill-at of the numbers got the SMS, then started again:
          reported are the rate against the cap (target ≥ 97 %), numbers never reached (target
          0) and numbers reached twice (target ≤ the sender's batch of rows in flight).
* rss   – enqueue (streamed) and drain N recipients in a fresh process and report its peak RSS,
          for each N in --rss-recipients (default 100,000 and 300,000; add 1000000 for the
          target, ~10 min). Target ≤ 250 MB at 1,000,000 and flat growth.

    .venv/bin/python bench/broadcast.py                          # everything, ~6 minutes
    .venv/bin/python bench/broadcast.py --phases rate --duration 30 --cap 25
    .venv/bin/python bench/broadcast.py --phases rss --rss-recipients 1000000
    .venv/bin/python bench/broadcast.py --phases rate --redis redis://127.0.0.1:6379/0
    .venv/bin/python bench/broadcast.py --phases sms --sms-rate 100   # ~2 minutes
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.channels.telegram.transport import AiogramTransport
from bot.core.db import create_engine, session_factory, upgrade
from bot.delivery.outbox import Job, Payload, Recipient, enqueue_for_recipients
from bot.delivery.rate_limit import MemoryRateLimiter, RateLimiter, RateLimits, RedisRateLimiter
from bot.delivery.sender import OutgoingMessage, Sender, SenderConfig, SendResult

TEXT = {
    "bn": Payload("<b>সতর্কতা</b>: আগামীকাল ভারী বৃষ্টির সম্ভাবনা। নিরাপদ আশ্রয়ের তথ্য দেখুন।"),
    "en": Payload("<b>Alert</b>: heavy rain likely tomorrow. See the nearest safe shelter."),
}
FIRST_CHAT = 1_000_000


class InstantTransport:
    """Answers every message at once: what is left is the engine's own cost."""

    def __init__(self) -> None:
        self.count = 0

    async def send(self, message: OutgoingMessage) -> SendResult:
        self.count += 1
        return SendResult.sent(self.count)


def recipients(count: int) -> Iterator[Recipient]:
    """Recipients generated one by one, as a streamed query yields them."""
    for n in range(count):
        chat = FIRST_CHAT + n
        yield Recipient(chat, None, f"p{chat}", "6058", "bn" if n % 2 else "en")


async def fresh_database(directory: Path, name: str) -> str:
    url = f"sqlite+aiosqlite:///{directory / name}"
    await upgrade(url)
    return url


async def enqueue(url: str, count: int) -> float:
    engine = create_engine(url)
    try:
        started = time.perf_counter()
        await enqueue_for_recipients(
            session_factory(engine), Job("alert", 1), recipients(count), TEXT, default_language="bn"
        )
        return time.perf_counter() - started
    finally:
        await engine.dispose()


# -- rate -----------------------------------------------------------------------------------------


async def rate_phase(args: argparse.Namespace, directory: Path) -> None:
    from bot.channels.telegram.client import emulator_token, make_bot
    from bot.devtools.emulator import Emulator, EmulatorServer

    count = int(args.cap * args.duration * 1.1) + 100  # never runs dry within the window
    url = await fresh_database(directory, "rate.db")
    await enqueue(url, count)
    limits = RateLimits(per_second=args.cap)
    limiter: RateLimiter
    if args.redis:
        redis_limiter = RedisRateLimiter.from_url(args.redis, limits, prefix="sabai:bench")
        await redis_limiter.reset()
        limiter = redis_limiter
    else:
        limiter = MemoryRateLimiter(limits)
    engine = create_engine(url)
    async with EmulatorServer(Emulator(seed=1)) as server:
        for n in range(count):
            server.emulator.add_user(FIRST_CHAT + n)
        bot = make_bot(emulator_token(), server.base_url)
        sender = Sender(session_factory(engine), AiogramTransport(bot), limiter, SenderConfig())
        stop = asyncio.Event()
        task = asyncio.create_task(sender.run(stop))
        await asyncio.sleep(args.duration + 2)
        stop.set()
        await task
        await bot.session.close()
        sends = [r for r in server.emulator.requests if r.method == "sendMessage" and r.ok]
    await engine.dispose()
    await limiter.close()
    start = sends[0].at
    inside = [r for r in sends if (r.at - start).total_seconds() < args.duration]
    per_second: dict[int, int] = {}
    for r in inside:
        second = int((r.at - start).total_seconds())
        per_second[second] = per_second.get(second, 0) + 1
    achieved = len(inside) / args.duration
    print(
        f"rate:  cap {args.cap:g}/s ({'Redis' if args.redis else 'in-memory'} limiter), "
        f"aiogram → emulator over {args.duration:g} s: {len(inside)} sent, "
        f"{achieved:.2f} msg/s = {100 * achieved / args.cap:.1f} % of the cap "
        f"(target ≥ 97 %); busiest second {max(per_second.values())}, "
        f"quietest {min(per_second.get(s, 0) for s in range(int(args.duration)))}"
    )


# -- drain ----------------------------------------------------------------------------------------


def drain_config() -> SenderConfig:
    return SenderConfig(
        name="bench", batch_size=1000, concurrency=32, flush_size=500, flush_interval=0.05
    )


async def drain_instant(url: str) -> tuple[int, float]:
    engine = create_engine(url)
    try:
        sender = Sender(
            session_factory(engine),
            InstantTransport(),
            MemoryRateLimiter(RateLimits(per_second=None)),
            drain_config(),
        )
        started = time.perf_counter()
        stats = await sender.drain(horizon=0)
        return stats.sent, time.perf_counter() - started
    finally:
        await engine.dispose()


async def drain_phase(args: argparse.Namespace, directory: Path) -> None:
    # Imported here so the RSS child process holds only what a sender process needs.
    from bot.channels.telegram.client import emulator_token, make_bot
    from bot.devtools.emulator import Emulator, EmulatorServer

    url = await fresh_database(directory, "drain.db")
    took = await enqueue(url, args.drain_recipients)
    sent, seconds = await drain_instant(url)
    print(
        f"drain: cap lifted, SQLite, instant transport: {sent} messages in {seconds:.1f} s = "
        f"{sent / seconds:,.0f} msg/s (target ≥ 1,000); enqueue took {took:.1f} s"
    )

    url = await fresh_database(directory, "drain_emulator.db")
    await enqueue(url, args.emulator_recipients)
    engine = create_engine(url)
    async with EmulatorServer(Emulator(seed=1)) as server:
        for n in range(args.emulator_recipients):
            server.emulator.add_user(FIRST_CHAT + n)
        bot = make_bot(emulator_token(), server.base_url)
        sender = Sender(
            session_factory(engine),
            AiogramTransport(bot),
            MemoryRateLimiter(RateLimits(per_second=None)),
            drain_config(),
        )
        started = time.perf_counter()
        stats = await sender.drain(horizon=0)
        seconds = time.perf_counter() - started
        await bot.session.close()
    await engine.dispose()
    print(
        f"drain: cap lifted, SQLite, aiogram → emulator in the same process: {stats.sent} "
        f"messages in {seconds:.1f} s = {stats.sent / seconds:,.0f} msg/s"
    )


# -- rss ------------------------------------------------------------------------------------------


async def rss_child(url: str, count: int) -> None:
    """Run in a fresh process: enqueue and drain `count` recipients, print JSON figures.

    The process has aiogram imported, as a real sender process does (about 140 MB of it).
    """
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    took = await enqueue(url, count)
    after_enqueue = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sent, seconds = await drain_instant(url)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {"sent": sent, "seconds": seconds, "enqueue": took, "peak_kb": peak_kb}
    print(json.dumps({**result, "after_enqueue_kb": after_enqueue, "baseline_kb": baseline}))


def rss_phase(args: argparse.Namespace, directory: Path) -> None:
    for count in args.rss_recipients:
        url = asyncio.run(fresh_database(directory, f"rss_{count}.db"))
        output = subprocess.run(
            [sys.executable, __file__, "--rss-child", url, str(count)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        figures = json.loads(output.strip().splitlines()[-1])
        print(
            f"rss:   {count:>9,} recipients enqueued (streamed) and drained in a fresh process: "
            f"peak RSS {figures['peak_kb'] / 1024:.0f} MB (at start, aiogram and all imported: "
            f"{figures['baseline_kb'] / 1024:.0f} MB; after enqueue "
            f"{figures['after_enqueue_kb'] / 1024:.0f} MB), {figures['sent']:,} sent at "
            f"{figures['sent'] / figures['seconds']:,.0f} msg/s, enqueue {figures['enqueue']:.0f} s"
        )


# -- sms ------------------------------------------------------------------------------------------

FIRST_NUMBER = 8801700000000
SMS_TEXT = {"sms:bn": Payload("Sabai জরুরি পানি: পানি ফুটিয়ে খান।")}


async def sms_child(url: str, rate: float, sendsms_url: str) -> None:
    """The SMS sender alone, draining until killed (or nothing is left)."""
    import aiohttp

    from bot.channels.sms.kannel import KannelClient, KannelConfig, KannelTransport

    engine = create_engine(url)
    config = KannelConfig(sendsms_url, "sabai", "bench", "http://127.0.0.1:9", "bench-secret")
    async with aiohttp.ClientSession() as http:
        transport = KannelTransport(KannelClient(config, http))
        limiter = MemoryRateLimiter(RateLimits(per_second=rate, chat_interval=0.0))
        # The same name after a restart takes the dead run's claimed rows back at once.
        sender = Sender(
            session_factory(engine),
            transport,
            limiter,
            SenderConfig(name="bench-sms", channel="sms"),
        )
        await sender.drain(horizon=5)
    await engine.dispose()


def _received(log: Path) -> list[tuple[float, str]]:
    if not log.exists():
        return []
    rows = []
    for line in log.read_text(encoding="utf-8").splitlines():
        at, _, to = line.partition(" ")
        rows.append((float(at), to))
    return rows


def sms_phase(args: argparse.Namespace, directory: Path) -> None:
    import os
    import signal
    import socket

    url = asyncio.run(fresh_database(directory, "sms.db"))
    count = args.sms_recipients

    async def fill() -> None:
        engine = create_engine(url)
        try:
            people = (
                Recipient(FIRST_NUMBER + n, None, f"s{n}", "6058", "sms:bn", channel="sms")
                for n in range(count)
            )
            await enqueue_for_recipients(
                session_factory(engine),
                Job("alert", 1),
                people,
                SMS_TEXT,
                default_language="sms:bn",
            )
        finally:
            await engine.dispose()

    asyncio.run(fill())
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = directory / "sms-received.log"
    here = Path(__file__).resolve()
    standin = subprocess.Popen(
        [sys.executable, str(here.parent / "sms_standin.py"), str(port), str(log)]
    )
    try:
        time.sleep(1.5)
        child = [sys.executable, str(here), "--sms-child", url, str(args.sms_rate)]
        child.append(f"http://127.0.0.1:{port}/cgi-bin/sendsms")
        first = subprocess.Popen(child)
        kill_at = int(count * args.sms_kill_at)
        while len(_received(log)) < kill_at and first.poll() is None:
            time.sleep(0.05)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        before_kill = _received(log)
        second = subprocess.run(child, check=False)
        received = _received(log)
    finally:
        standin.terminate()
        standin.wait()
    # The rate while the first run was in its stride (its first and last second left out).
    times = [at for at, _ in before_kill]
    steady = [t for t in times if times[0] + 1 <= t <= times[-1] - 1]
    rate = (len(steady) - 1) / (steady[-1] - steady[0]) if len(steady) > 2 else 0.0
    numbers = [to for _, to in received]
    unique = set(numbers)
    print(
        f"sms:   {count} numbers, cap {args.sms_rate:g}/s through a stand-in smsbox: "
        f"{rate:.2f} SMS/s = {100 * rate / args.sms_rate:.1f} % of the cap (target ≥ 97 %); "
        f"SIGKILL after {len(before_kill)} sent, restarted (exit {second.returncode}); "
        f"never reached {count - len(unique)} (target 0), reached twice "
        f"{len(numbers) - len(unique)} (target ≤ {SenderConfig().batch_size}, the rows in flight)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--phases", default="rate,drain,rss", help="comma-separated subset")
    parser.add_argument("--duration", type=float, default=120.0, help="rate phase, seconds")
    parser.add_argument("--cap", type=float, default=25.0, help="global cap, messages/s")
    parser.add_argument("--redis", help="share the cap through Redis at this URL")
    parser.add_argument("--drain-recipients", type=int, default=100_000)
    parser.add_argument("--emulator-recipients", type=int, default=10_000)
    parser.add_argument(
        "--rss-recipients", type=int, nargs="+", default=[100_000, 300_000], metavar="N"
    )
    parser.add_argument("--rss-child", nargs=2, metavar=("URL", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--sms-recipients", type=int, default=10_000)
    parser.add_argument("--sms-rate", type=float, default=10.0, help="SMS cap, messages/s")
    parser.add_argument("--sms-kill-at", type=float, default=0.4, help="share sent at SIGKILL")
    parser.add_argument("--sms-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sms_child:
        url, rate, sendsms = args.sms_child
        asyncio.run(sms_child(url, float(rate), sendsms))
        return
    if args.rss_child:
        asyncio.run(rss_child(args.rss_child[0], int(args.rss_child[1])))
        return
    phases = set(args.phases.split(","))
    with tempfile.TemporaryDirectory(prefix="sabai-broadcast-") as tmp:
        directory = Path(tmp)
        if "rate" in phases:
            asyncio.run(rate_phase(args, directory))
        if "drain" in phases:
            asyncio.run(drain_phase(args, directory))
        if "rss" in phases:
            rss_phase(args, directory)
        if "sms" in phases:
            sms_phase(args, directory)


if __name__ == "__main__":
    main()
