"""Onboarding throughput: Sabai next to a bare aiogram echo bot, through the local emulator.

Each of N residents (default 1,000) sends K onboarding updates (default 5: /start, a language
by button or by typing, an area name, yes, /menu), one after another as a person chats: the
next one goes out when the bot has finished with the previous. Residents chat concurrently.
The bot runs in real long polling (aiogram's default task-per-update mode) against an
EmulatorServer on 127.0.0.1; the residents drive the same emulator in-process. Each bot is
measured in a fresh Python process of its own, one after the other, so none runs with another's
imports, caches or heap (the "GC objects" column shows what the collector watched).

Latency of one update = from the moment it is queued in the emulator until the dispatcher has
finished handling it, i.e. until every reply it sent is stored in the emulator (each send
waits for the emulator's answer). Throughput = all updates / wall time of the whole run.
CPU ms/update = the process's CPU time (all threads: bot, SQLite connections, emulator,
residents) over the run / updates; it is less sensitive than throughput to other load.

A third bot, "replies only", makes exactly the Bot API calls Sabai made for each step of each
conversation script (recorded while Sabai's warm-up residents ran every script, not during the
measured run) and does nothing else: no routing beyond one handler, no database. Its speed
is the most any bot answering as Sabai does could reach here.

    .venv/bin/python bench/updates.py                      # SQLite in a temp dir
    .venv/bin/python bench/updates.py --database-url postgresql+asyncpg://postgres@127.0.0.1/sabai_bench
    .venv/bin/python bench/updates.py --residents 200 --profile /tmp/sabai.prof
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import cProfile
import dataclasses
import functools
import gc
import json
import logging
import pickle
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiogram import Bot, Dispatcher
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteMyCommands,
    EditMessageReplyMarkup,
    EditMessageText,
    SetMyCommands,
    TelegramMethod,
)
from aiogram.methods.base import Response, TelegramType
from aiogram.types import BotCommandScopeChat, CallbackQuery, Message, Update

# Only what every bot needs: the bare and replies-only processes never import Sabai itself
# (its modules would be objects their garbage collector walks).
from bot.channels.telegram.client import EMULATOR_BOT_ID, emulator_token, make_bot
from bot.devtools.emulator import Emulator, EmulatorServer

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


HANDLING: contextvars.ContextVar[int | None] = contextvars.ContextVar("handling", default=None)


@dataclass
class Timing:
    """Per-update completion, reported by the dispatcher, awaited by the residents."""

    waiting: dict[int, asyncio.Future[tuple[float, bool]]] = field(default_factory=dict)
    # update id -> (user id, step): which step of whose conversation an update was
    steps: dict[int, tuple[int, int]] = field(default_factory=dict)

    def expect(self, update_id: int, user_id: int, step: int) -> asyncio.Future[tuple[float, bool]]:
        future: asyncio.Future[tuple[float, bool]] = asyncio.get_running_loop().create_future()
        self.waiting[update_id] = future
        self.steps[update_id] = (user_id, step)
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
            HANDLING.set(update.update_id)
            try:
                result = await feed(bot, update, **kwargs)
                ok = True
                return result
            finally:
                self.done(update.update_id, ok)

        dispatcher.feed_update = timed_feed  # type: ignore[method-assign]


Script = tuple[Step, ...]
Replies = dict[tuple[Script, int], list[TelegramMethod[Any]]]


def conversations(scripts: list[list[Step]], first_id: int) -> dict[int, Script]:
    """Who says what: the warm-up residents (ids just below `first_id`), then the measured."""
    warm = {
        first_id - WARMUP_RESIDENTS - 1 + n: tuple(scripts[n % len(scripts)])
        for n in range(WARMUP_RESIDENTS)
    }
    return warm | {first_id + n: tuple(steps) for n, steps in enumerate(scripts)}


class CallRecorder(BaseRequestMiddleware):
    """Keep every Bot API call made while handling an update, by update id.

    Registered for the warm-up residents only: they run every script there is, and keeping
    the calls of the measured run would fill the heap and slow the very run it measures.
    """

    def __init__(self) -> None:
        self.calls: dict[int, list[TelegramMethod[Any]]] = {}
        self.replies: Replies = {}

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        update_id = HANDLING.get()
        if update_id is not None:
            self.calls.setdefault(update_id, []).append(method)
        return await make_request(bot, method)

    def by_step(self, timing: Timing, script_of: dict[int, Script]) -> Replies:
        """The calls made for each step of each script."""
        replies: Replies = {}
        for update_id, calls in self.calls.items():
            if update_id in timing.steps:
                user_id, step = timing.steps[update_id]
                replies[(script_of[user_id], step)] = calls
        return replies


def replay_dispatcher(replies: Replies, script_of: dict[int, Script]) -> Dispatcher:
    """A bot that does no work of its own: for each step of each conversation it makes the
    very Bot API calls Sabai made for it (same texts, keyboards, command lists), pointed at
    the current message and callback query. Its speed is the ceiling for any bot that
    answers as Sabai does, whatever it computes."""
    dispatcher = Dispatcher()
    steps: dict[int, int] = {}

    async def replay(bot: Bot, user_id: int, query: CallbackQuery | None) -> None:
        step = steps.get(user_id, 0)
        steps[user_id] = step + 1
        for method in replies.get((script_of[user_id], step), []):
            # Recorded in another resident's chat: point it at this one.
            changes: dict[str, Any] = (
                {"chat_id": user_id} if "chat_id" in type(method).model_fields else {}
            )
            if isinstance(method, AnswerCallbackQuery) and query is not None:
                changes["callback_query_id"] = query.id
            edit = isinstance(method, (EditMessageText, EditMessageReplyMarkup))
            if edit and query is not None and isinstance(query.message, Message):
                changes["message_id"] = query.message.message_id
            if isinstance(method, (SetMyCommands, DeleteMyCommands)):
                changes["scope"] = BotCommandScopeChat(chat_id=user_id)
            await bot(method.model_copy(update=changes))

    @dispatcher.message()
    async def on_message(message: Message, bot: Bot) -> None:
        if message.from_user is not None:
            await replay(bot, message.from_user.id, None)

    @dispatcher.callback_query()
    async def on_tap(query: CallbackQuery, bot: Bot) -> None:
        await replay(bot, query.from_user.id, query)

    return dispatcher


class CollectorClock:
    """CPU time spent in the cycle collector (a gc callback)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.seconds += time.process_time() - self._started


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
    cpu_seconds: float = 0.0  # CPU of the whole process (emulator and residents included)
    # Objects the cycle collector watches when the measured run starts (frozen ones apart):
    # each bot runs after the last one's objects were collected, so none pays for another's.
    heap_objects: int = 0
    gc_seconds: float = 0.0  # of cpu_seconds, spent in the cycle collector

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
        finished = timing.expect(int(update["update_id"]), user_id, step)
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
    after_warmup: Callable[[], object] | None = None,
) -> Result:
    """Warm up, then run the measured residents."""
    warm = [scripts[n % len(scripts)] for n in range(WARMUP_RESIDENTS)]
    await drive(emulator, timing, first_id - WARMUP_RESIDENTS - 1, warm)
    if after_warmup is not None:
        after_warmup()
    gc.collect()
    heap_objects = len(gc.get_objects())
    collector = CollectorClock()
    gc.callbacks.append(collector)
    errors = ErrorCount()
    logging.getLogger().addHandler(errors)
    if profile is not None:
        profile.enable()
    cpu_started = time.process_time()
    try:
        seconds, latencies, failures = await drive(emulator, timing, first_id, scripts)
    finally:
        cpu = time.process_time() - cpu_started
        if profile is not None:
            profile.disable()
        logging.getLogger().removeHandler(errors)
        gc.callbacks.remove(collector)
    return Result(
        name,
        len(latencies),
        seconds,
        latencies,
        failures,
        errors.count,
        cpu,
        heap_objects,
        collector.seconds,
    )


async def run_sabai(
    database_url: str,
    scripts: list[list[Step]],
    first_id: int,
    profile: cProfile.Profile | None,
    recorder: CallRecorder | None = None,
    settle: bool = True,
) -> tuple[Result, int]:
    """Measure Sabai; return the result and how many residents reached consent."""
    from sqlalchemy import func, select

    from bot.core.config import Settings
    from bot.residents.models import Resident
    from bot.wiring import heap
    from bot.wiring.app import build_app

    emulator = Emulator(bot_id=EMULATOR_BOT_ID)
    timing = Timing()
    settings = Settings(bot_token=None, telegram_api="", database_url=database_url)
    async with (
        EmulatorServer(emulator) as server,
        build_app(settings, emulator_token(), server.base_url) as app,
    ):
        timing.attach(app.dispatcher)
        if settle:
            heap.settle()  # as `sabai run` does once the app is up
        stop_recording = None
        if recorder is not None:
            app.bot.session.middleware(recorder)
            stop_recording = functools.partial(app.bot.session.middleware.unregister, recorder)
        # As `sabai run` does: the configured cap on updates handled at once.
        async with polling(app.bot, app.dispatcher, settings.max_concurrent_updates):
            result = await measure(
                "Sabai", emulator, timing, scripts, first_id, profile, stop_recording
            )
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
    if recorder is not None:
        recorder.replies = recorder.by_step(timing, conversations(scripts, first_id))
    return result, int(consented or 0)


def echo_dispatcher() -> Dispatcher:
    """A bare aiogram bot: one handler that replies with the text."""
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "?")

    return dispatcher


async def run_bare(scripts: list[list[Step]], first_id: int, settle: bool = False) -> Result:
    """The echo bot; with `settle`, under Sabai's collector settings, applied (as `sabai run`
    applies them) once the emulator and the bot are up."""
    emulator = Emulator(bot_id=EMULATOR_BOT_ID)
    timing = Timing()
    dispatcher = echo_dispatcher()
    timing.attach(dispatcher)
    async with EmulatorServer(emulator) as server:
        bot = make_bot(emulator_token(), server.base_url)
        if settle:
            from bot.wiring import heap

            heap.settle()
        try:
            async with polling(bot, dispatcher):
                name = "bare, Sabai GC" if settle else "bare aiogram"
                return await measure(name, emulator, timing, scripts, first_id)
        finally:
            await bot.session.close()


async def run_replay(
    replies: Replies, scripts: list[list[Step]], first_id: int, concurrency: int
) -> Result:
    emulator = Emulator(bot_id=EMULATOR_BOT_ID)
    timing = Timing()
    dispatcher = replay_dispatcher(replies, conversations(scripts, first_id))
    timing.attach(dispatcher)
    async with EmulatorServer(emulator) as server:
        bot = make_bot(emulator_token(), server.base_url)
        try:
            async with polling(bot, dispatcher, concurrency):
                return await measure("replies only", emulator, timing, scripts, first_id)
        finally:
            await bot.session.close()


def table(results: list[Result]) -> str:
    lines = [
        f"{'bot':<14}{'updates':>9}{'seconds':>10}{'updates/s':>11}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'CPU ms/update':>15}{'of it GC':>10}{'GC objects':>12}"
    ]
    for r in results:
        lines.append(
            f"{r.name:<14}{r.updates:>9}{r.seconds:>10.2f}{r.rate:>11.1f}"
            f"{r.percentile(50):>9.1f}{r.percentile(99):>9.1f}"
            f"{r.cpu_seconds * 1000 / max(1, r.updates):>15.2f}"
            f"{r.gc_seconds * 1000 / max(1, r.updates):>10.2f}{r.heap_objects:>12,}"
            + (f"   ({r.failures} updates failed)" if r.failures else "")
            + (f"   ({r.errors_logged} errors logged)" if r.errors_logged else "")
        )
    return "\n".join(lines)


BOTS = ("sabai", "replay", "bare", "bare-tuned")


async def measure_one(args: argparse.Namespace) -> int:
    """Measure one bot in this process and leave its result (and Sabai's calls) in --state."""
    state = Path(args.state)
    scripts = [script_for(n, args.updates_per_resident) for n in range(args.residents)]
    first_id = args.first_id
    if args.worker == "sabai":
        profile = cProfile.Profile() if args.profile else None
        recorder = CallRecorder() if args.record else None
        database_url = args.database_url or f"sqlite+aiosqlite:///{state / 'sabai.db'}"
        print(f"Sabai database: {database_url.split('@')[-1]}", flush=True)
        result, consented = await run_sabai(
            database_url, scripts, first_id, profile, recorder, settle=not args.gc_defaults
        )
        print(
            f"Sabai: {consented}/{args.residents} residents signed up (consent given)", flush=True
        )
        if profile is not None:
            profile.dump_stats(args.profile)
            print(f"profile of the measured Sabai run written to {args.profile}", flush=True)
        if recorder is not None:
            # As plain fields: a recorded call still points at the bot that made it.
            plain = {
                key: [(type(m), m.model_dump()) for m in calls]
                for key, calls in recorder.replies.items()
            }
            (state / "replies.pickle").write_bytes(pickle.dumps(plain))
    elif args.worker == "replay":
        plain = pickle.loads((state / "replies.pickle").read_bytes())
        replies: Replies = {
            key: [kind.model_validate(fields) for kind, fields in calls]
            for key, calls in plain.items()
        }
        result = await run_replay(replies, scripts, first_id, args.concurrency)
    elif args.worker == "bare":
        result = await run_bare([bare_script(s) for s in scripts], first_id)
    else:
        # The same echo bot with the collector settings `sabai run` applies (bot/wiring/heap.py):
        # shows how much of the comparison is Python's collector rather than the bots.
        result = await run_bare([bare_script(s) for s in scripts], first_id, settle=True)
    (state / f"{args.worker}.json").write_text(json.dumps(dataclasses.asdict(result)))
    return 0


def run_in_own_process(
    name: str, args: argparse.Namespace, state: Path, first_id: int
) -> Result | None:
    """Each bot gets a fresh interpreter: no bot runs with another's imports, caches or heap."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        name,
        "--state",
        str(state),
        "--first-id",
        str(first_id),
        "--residents",
        str(args.residents),
        "--updates-per-resident",
        str(args.updates_per_resident),
    ]
    if name == "sabai":
        if args.database_url:
            command += ["--database-url", args.database_url]
        if args.profile:
            command += ["--profile", args.profile]
        if args.gc_defaults:
            command.append("--gc-defaults")
        if args.only is None and not args.no_replay:
            command.append("--record")
    if name == "replay":
        from bot.core.config import Settings  # here, in the parent: the replay process stays lean

        # As run_sabai's settings have it.
        command += ["--concurrency", str(Settings.max_concurrent_updates)]
    finished = subprocess.run(command, check=False)
    if finished.returncode != 0:
        print(f"the {name} run failed (exit {finished.returncode})", file=sys.stderr)
        return None
    return Result(**json.loads((state / f"{name}.json").read_text()))


def main(args: argparse.Namespace) -> int:
    total = args.residents * args.updates_per_resident
    print(f"{args.residents} residents × {args.updates_per_resident} updates = {total} updates")
    names = [
        name
        for name in BOTS
        if args.only in (None, name.split("-")[0])
        and not (name == "replay" and (args.no_replay or args.only))
    ]
    rounds: list[dict[str, Result]] = []
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="sabai-bench-") as tmp:
        for number in range(1, args.rounds + 1):
            # Fresh ids every round, so a reused database (PostgreSQL) holds no one who
            # already signed up; a fresh state directory, so each Sabai run starts empty.
            first_id = 1_000_000_000 + random.randrange(10**6) * 10**4
            state = Path(tmp) / f"round-{number}"
            state.mkdir()
            found: dict[str, Result] = {}
            for name in names:
                result = run_in_own_process(name, args, state, first_id)
                if result is None:
                    failed.append(f"{name} (round {number})")
                else:
                    found[name] = result
            rounds.append(found)
            if args.rounds > 1:
                print(f"\nround {number} of {args.rounds}")
                print(table(list(found.values())))
                print(ratios(found, brief=True))
    if args.rounds == 1:
        print()
        print(table(list(rounds[0].values())))
        print(ratios(rounds[0], brief=False))
    else:
        middle = {
            name: median_run([r[name] for r in rounds if name in r])
            for name in names
            if any(name in r for r in rounds)
        }
        print(f"\nthe median run of each bot over {args.rounds} rounds (by updates/s)")
        print(table(list(middle.values())))
        per_round = [ratio for r in rounds if (ratio := headline_ratio(r)) is not None]
        if per_round:
            ratio = statistics.median(per_round)
            verdict = "meets" if ratio >= TARGET_RATIO else "misses"
            listed = ", ".join(f"{x:.2f}" for x in per_round)
            print(
                f"\nratio Sabai/bare (updates/s), median of the rounds: {ratio:.2f} ({listed}), "
                f"{verdict} the target ≥ {TARGET_RATIO}"
            )
        ceilings = [value for r in rounds if (value := ceiling_ratio(r)) is not None]
        if ceilings:
            listed = ", ".join(f"{x:.2f}" for x in ceilings)
            print(
                f"ratio replies-only/bare, median of the rounds: "
                f"{statistics.median(ceilings):.2f} ({listed}): the most any bot sending "
                "Sabai's replies could reach"
            )
    if failed:
        print(f"\nno figures for: {', '.join(failed)} (the run failed; its output is above)")
    results = [result for found in rounds for result in found.values()]
    clean = all(r.failures == 0 and r.errors_logged == 0 for r in results)
    return 0 if clean and not failed else 1


def headline_ratio(found: dict[str, Result]) -> float | None:
    sabai, bare = found.get("sabai"), found.get("bare")
    if sabai is None or bare is None or not bare.rate:
        return None
    return sabai.rate / bare.rate


def ceiling_ratio(found: dict[str, Result]) -> float | None:
    replay, bare = found.get("replay"), found.get("bare")
    if replay is None or bare is None or not bare.rate:
        return None
    return replay.rate / bare.rate


def median_run(runs: list[Result]) -> Result:
    """The run with the median rate (of an even number, the slower of the middle two)."""
    ordered = sorted(runs, key=lambda r: r.rate)
    return ordered[(len(ordered) - 1) // 2]


def ratios(found: dict[str, Result], brief: bool) -> str:
    """The ratios between the bots of one round, measured minutes apart at most."""
    lines = []
    sabai, replay, tuned = found.get("sabai"), found.get("replay"), found.get("bare-tuned")
    ratio = headline_ratio(found)
    if ratio is not None:
        verdict = "meets" if ratio >= TARGET_RATIO else "misses"
        lines.append(
            f"ratio Sabai/bare (updates/s): {ratio:.2f}"
            + ("" if brief else f", {verdict} the target ≥ {TARGET_RATIO}")
        )
        ceiling = ceiling_ratio(found)
        if replay is not None and sabai is not None and ceiling is not None:
            lines.append(
                f"ratio replies-only/bare: {ceiling:.2f}"
                + ("" if brief else " (the most any bot sending Sabai's replies could reach)")
                + f"; Sabai/replies-only: {sabai.rate / replay.rate:.2f}"
            )
    if sabai is not None and tuned is not None and tuned.rate:
        lines.append(
            f"ratio Sabai/bare with Sabai's GC settings: {sabai.rate / tuned.rate:.2f}"
            + ("" if brief else " (both bots with the same collector settings)")
        )
    return ("\n" if not brief and lines else "") + "\n".join(lines)


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
    parser.add_argument(
        "--only",
        choices=("sabai", "bare"),
        default=None,
        help="only Sabai, or only the echo bot (with and without Sabai's collector settings)",
    )
    parser.add_argument(
        "--no-replay",
        action="store_true",
        help="skip the replies-only bot (replays Sabai's own Bot API calls, doing no work)",
    )
    parser.add_argument("--profile", default=None, help="write a cProfile of Sabai's run here")
    parser.add_argument(
        "--gc-defaults",
        action="store_true",
        help="run Sabai with Python's collector defaults instead of bot/wiring/heap.py's settings",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure every bot this many times, taking turns, and report the median run "
        "of each and the median of the per-round ratios (the machine's speed drifts)",
    )
    # Used by the run itself to measure one bot per process.
    parser.add_argument("--worker", choices=BOTS, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--state", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--first-id", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--record", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    arguments = parse()
    sys.exit(asyncio.run(measure_one(arguments)) if arguments.worker else main(arguments))
