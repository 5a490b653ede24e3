"""Onboarding throughput: Sabai next to a bare aiogram echo bot, through the local emulator.

Each of N residents (default 1,000) sends K onboarding updates (default 5: /start, a language
by button or by typing, an area name, yes, /menu), one after another as a person chats: the
next one goes out when the bot has finished with the previous. Residents chat concurrently.
The bot runs in real long polling (aiogram's default task-per-update mode) against an
EmulatorServer on 127.0.0.1; the residents drive the same emulator in-process.

Latency of one update = from the moment it is queued in the emulator until the dispatcher has
finished handling it, i.e. until every reply it sent is stored in the emulator (each send
waits for the emulator's answer). Throughput = all updates / wall time of the whole run.

    .venv/bin/python bench/updates.py                      # SQLite in a temp dir
    .venv/bin/python bench/updates.py --database-url postgresql+asyncpg://postgres@127.0.0.1/sabai_bench
    .venv/bin/python bench/updates.py --residents 200 --profile /tmp/sabai.prof
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import logging
import random
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiogram import Bot, Dispatcher
from aiogram.types import Message, Update
from sqlalchemy import func, select

from bot.app import EMULATOR_BOT_ID, build_app, emulator_token, make_bot
from bot.config import Settings
from bot.emulator import Emulator, EmulatorServer
from bot.models import Resident

TARGET_RATIO = 0.5
UPDATE_TIMEOUT = 60.0  # seconds one update may take before the resident gives up
WARMUP_RESIDENTS = 10  # chat once before measuring: imports, caches, connection pools
POLLING_TIMEOUT = 10

# Each step: ("text", what the resident types) or ("button", the label they tap).
Step = tuple[str, str]
SCRIPTS: tuple[tuple[Step, ...], ...] = (
    (("text", "/start"), ("button", "English"), ("text", "Kulaura"), ("text", "yes")),
    (("text", "/start"), ("text", "English"), ("text", "Sreemangal"), ("text", "yes")),
    (("text", "/start"), ("button", "বাংলা"), ("text", "কুলাউড়া"), ("text", "হ্যাঁ")),
    (("text", "/start"), ("text", "1"), ("text", "মৌলভীবাজার"), ("text", "হ্যাঁ")),
    (("text", "/start"), ("button", "English"), ("text", "Comilla"), ("button", "Yes")),
)
AFTER_SIGNUP: Step = ("text", "/menu")


def script_for(resident: int, updates: int) -> list[Step]:
    """The updates one resident sends: an onboarding script, then /menu as often as needed."""
    steps = list(SCRIPTS[resident % len(SCRIPTS)])
    while len(steps) < updates:
        steps.append(AFTER_SIGNUP)
    return steps[:updates]


def bare_script(steps: list[Step]) -> list[Step]:
    """The same conversation for the echo bot, which shows no buttons: taps become typing."""
    return [("text", value) for _, value in steps]


@dataclass
class Timing:
    """Per-update completion, reported by the dispatcher, awaited by the residents."""

    waiting: dict[int, asyncio.Future[tuple[float, bool]]] = field(default_factory=dict)

    def expect(self, update_id: int) -> asyncio.Future[tuple[float, bool]]:
        future: asyncio.Future[tuple[float, bool]] = asyncio.get_running_loop().create_future()
        self.waiting[update_id] = future
        return future

    def done(self, update_id: int, ok: bool) -> None:
        future = self.waiting.pop(update_id, None)
        if future is not None and not future.done():
            future.set_result((time.perf_counter(), ok))

    def attach(self, dispatcher: Dispatcher) -> None:
        """Report every update the dispatcher finishes, middlewares and all."""
        feed = dispatcher.feed_update

        async def timed_feed(bot: Bot, update: Update, **kwargs: Any) -> Any:
            ok = False
            try:
                result = await feed(bot, update, **kwargs)
                ok = True
                return result
            finally:
                self.done(update.update_id, ok)

        dispatcher.feed_update = timed_feed  # type: ignore[method-assign]


class ErrorCount(logging.Handler):
    """Count ERROR records: Sabai's error handler answers residents politely and logs instead."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


@dataclass
class Result:
    name: str
    updates: int
    seconds: float
    latencies: list[float]
    failures: int  # updates the bot failed on (an exception), or never finished
    errors_logged: int = 0

    @property
    def rate(self) -> float:
        return self.updates / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
        return ordered[index] * 1000


async def chat(
    emulator: Emulator, timing: Timing, user_id: int, steps: list[Step], latencies: list[float]
) -> int:
    """One resident's conversation; return how many of its updates failed.

    A resident goes on after a failed update, as a person would type again; when a button it
    wants is not there (the bot did not answer), it stops and the rest count as failed.
    """
    failed = 0
    emulator.add_user(user_id, first_name=f"Resident{user_id % 10_000}", language_code="bn")
    for step, (kind, value) in enumerate(steps):
        started = time.perf_counter()
        if kind == "button":
            message = emulator.last_message(user_id)
            data = next(
                (d for row in message.buttons for label, d in row if label.startswith(value)),
                None,
            )
            if data is None:
                return failed + len(steps) - step
            update = emulator.press_button(user_id, message.message_id, data)
        else:
            update = emulator.send_text(user_id, value)
        finished = timing.expect(int(update["update_id"]))
        try:
            done_at, ok = await asyncio.wait_for(finished, UPDATE_TIMEOUT)
        except TimeoutError:
            return failed + len(steps) - step
        latencies.append(done_at - started)
        failed += not ok
    return failed


async def drive(
    emulator: Emulator,
    timing: Timing,
    first_id: int,
    scripts: list[list[Step]],
) -> tuple[float, list[float], int]:
    """Run every resident concurrently; return wall seconds, latencies and failures."""
    latencies: list[float] = []
    started = time.perf_counter()
    failures = await asyncio.gather(
        *(chat(emulator, timing, first_id + n, steps, latencies) for n, steps in enumerate(scripts))
    )
    return time.perf_counter() - started, latencies, sum(failures)


@asynccontextmanager
async def polling(
    bot: Bot, dispatcher: Dispatcher, concurrency: int | None = None
) -> AsyncIterator[None]:
    task = asyncio.create_task(
        dispatcher.start_polling(
            bot,
            handle_signals=False,
            polling_timeout=POLLING_TIMEOUT,
            tasks_concurrency_limit=concurrency,
        )
    )
    try:
        yield
    finally:
        await dispatcher.stop_polling()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def measure(
    name: str,
    emulator: Emulator,
    timing: Timing,
    scripts: list[list[Step]],
    first_id: int,
    profile: cProfile.Profile | None = None,
) -> Result:
    """Warm up, then run the measured residents."""
    warm = [scripts[n % len(scripts)] for n in range(WARMUP_RESIDENTS)]
    await drive(emulator, timing, first_id - WARMUP_RESIDENTS - 1, warm)
    errors = ErrorCount()
    logging.getLogger().addHandler(errors)
    if profile is not None:
        profile.enable()
    try:
        seconds, latencies, failures = await drive(emulator, timing, first_id, scripts)
    finally:
        if profile is not None:
            profile.disable()
        logging.getLogger().removeHandler(errors)
    return Result(name, len(latencies), seconds, latencies, failures, errors.count)


async def run_sabai(
    database_url: str,
    scripts: list[list[Step]],
    first_id: int,
    profile: cProfile.Profile | None,
) -> tuple[Result, int]:
    """Measure Sabai; return the result and how many residents reached consent."""
    emulator = Emulator(bot_id=EMULATOR_BOT_ID)
    timing = Timing()
    settings = Settings(bot_token=None, telegram_api="", database_url=database_url)
    async with (
        EmulatorServer(emulator) as server,
        build_app(settings, emulator_token(), server.base_url) as app,
    ):
        timing.attach(app.dispatcher)
        # As `sabai run` does: the configured cap on updates handled at once.
        async with polling(app.bot, app.dispatcher, settings.max_concurrent_updates):
            result = await measure("Sabai", emulator, timing, scripts, first_id, profile)
        async with app.sessions() as session:
            consented = await session.scalar(
                select(func.count())
                .select_from(Resident)
                .where(
                    Resident.telegram_id >= first_id,
                    Resident.telegram_id < first_id + len(scripts),
                    Resident.consent_at.is_not(None),
                )
            )
    return result, int(consented or 0)


def echo_dispatcher() -> Dispatcher:
    """A bare aiogram bot: one handler that replies with the text."""
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "?")

    return dispatcher


async def run_bare(scripts: list[list[Step]], first_id: int) -> Result:
    emulator = Emulator(bot_id=EMULATOR_BOT_ID)
    timing = Timing()
    dispatcher = echo_dispatcher()
    timing.attach(dispatcher)
    async with EmulatorServer(emulator) as server:
        bot = make_bot(emulator_token(), server.base_url)
        try:
            async with polling(bot, dispatcher):
                return await measure("bare aiogram", emulator, timing, scripts, first_id)
        finally:
            await bot.session.close()


def table(results: list[Result]) -> str:
    lines = [f"{'bot':<14}{'updates':>9}{'seconds':>10}{'updates/s':>11}{'p50 ms':>9}{'p99 ms':>9}"]
    for r in results:
        lines.append(
            f"{r.name:<14}{r.updates:>9}{r.seconds:>10.2f}{r.rate:>11.1f}"
            f"{r.percentile(50):>9.1f}{r.percentile(99):>9.1f}"
            + (f"   ({r.failures} updates failed)" if r.failures else "")
            + (f"   ({r.errors_logged} errors logged)" if r.errors_logged else "")
        )
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> int:
    # Fresh ids every run, so a reused database (PostgreSQL) holds no one who already signed up.
    first_id = 1_000_000_000 + random.randrange(10**6) * 10**4
    scripts = [script_for(n, args.updates_per_resident) for n in range(args.residents)]
    total = sum(len(s) for s in scripts)
    print(f"{args.residents} residents × {args.updates_per_resident} updates = {total} updates")
    with tempfile.TemporaryDirectory(prefix="sabai-bench-") as tmp:
        database_url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'sabai.db'}"
        print(f"Sabai database: {database_url.split('@')[-1]}")
        profile = cProfile.Profile() if args.profile else None
        results: list[Result] = []
        sabai: Result | None = None
        if args.only in (None, "sabai"):
            sabai, consented = await run_sabai(database_url, scripts, first_id, profile)
            results.append(sabai)
            print(f"Sabai: {consented}/{args.residents} residents signed up (consent given)")
            if profile is not None:
                profile.dump_stats(args.profile)
                print(f"profile of the measured Sabai run written to {args.profile}")
        bare: Result | None = None
        if args.only in (None, "bare"):
            bare = await run_bare([bare_script(s) for s in scripts], first_id)
            results.append(bare)
    print()
    print(table(results))
    if sabai is not None and bare is not None and bare.rate:
        ratio = sabai.rate / bare.rate
        verdict = "meets" if ratio >= TARGET_RATIO else "misses"
        print(f"\nratio Sabai/bare (updates/s): {ratio:.2f}, {verdict} the target ≥ {TARGET_RATIO}")
    return 0 if all(r.failures == 0 and r.errors_logged == 0 for r in results) else 1


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, default=1000)
    parser.add_argument("--updates-per-resident", type=int, default=5)
    parser.add_argument(
        "--database-url",
        default=None,
        help="Sabai's database (default: a fresh SQLite file in a temp dir); a PostgreSQL "
        "database is migrated and keeps the bench residents",
    )
    parser.add_argument("--only", choices=("sabai", "bare"), default=None)
    parser.add_argument("--profile", default=None, help="write a cProfile of Sabai's run here")
    return parser.parse_args(argv)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(asyncio.run(main(parse())))
