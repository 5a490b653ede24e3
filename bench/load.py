"""Reply latency at a fixed offered rate: what residents feel when an alert's taps arrive together.

The real bot (`sabai run --no-chat`, long polling) runs in a process of its own against an
emulator in this process; the generator here injects updates on a fixed schedule (open loop:
it never waits for replies, so queueing shows up as latency) in a mix of sign-ups, menu taps,
lesson steps and "got it" taps on a flood alert the bot's sender delivered beforehand.
Latency = from injecting an update to the bot's first reply call for it (sendMessage,
editMessageText or answerCallbackQuery), taken as the request reaches the emulator.

    .venv/bin/python bench/load.py                                     # SQLite, 25..200/s
    .venv/bin/python bench/load.py --rates 50 --seconds 10             # a quick look
    .venv/bin/python bench/load.py \
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/sabai_bench
    .venv/bin/python bench/load.py --rates 100 --profile var/bench/load.pyspy  # needs py-spy
    .venv/bin/python bench/load.py --workers 1,2,4 \
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/sabai_bench  # webhook workers

See bench/README.md for what each column means.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load_mix import KINDS, Load, StepStats, kind_sequence, parse_mix
from bench.load_setup import (
    BENCH_DIR,
    PROJECT,
    SIGNUP_FIRST_ID,
    alert_delivered,
    default_url,
    queue_alert,
    register_residents,
    reset_database,
    work_done,
)
from bench.load_workers import (
    WorkerGroup,
    forget_handled_updates,
    free_port,
    webhook_config,
)
from bot.devtools.emulator import Emulator, EmulatorServer
from bot.devtools.emulator.spec import UploadedFile
from bot.devtools.emulator.state import JsonDict

TARGET_P99 = 0.100


class TimedEmulator(Emulator):
    """The emulator, telling the load generator about each Bot API call as it arrives."""

    def __init__(self) -> None:
        super().__init__(seed=1)
        self.load: Load | None = None
        self.sent_to: set[int] = set()
        self.polled = asyncio.Event()

    async def call_api(
        self,
        method: str,
        raw: Mapping[str, Any],
        files: Mapping[str, UploadedFile] | None = None,
        *,
        token: str | None = None,
        copy_result: bool = True,
    ) -> tuple[int, JsonDict]:
        if self.load is not None:
            self.load.on_call(method, raw)
        elif method == "sendMessage":
            self.sent_to.add(int(raw.get("chat_id", 0)))
        elif method in ("getUpdates", "setWebhook"):
            self.polled.set()
        return await super().call_api(method, raw, files, token=token, copy_result=copy_result)


# -- the bot process ---------------------------------------------------------------------------


@dataclass
class BotProcess:
    """`sabai run --no-chat` against the emulator; one today, several later (webhook mode)."""

    process: subprocess.Popen[bytes]
    log_path: Path

    @classmethod
    def start(cls, url: str, api_url: str, config: Path) -> BotProcess:
        from bot.channels.telegram.client import emulator_token

        log_path = BENCH_DIR / f"load-bot-{url.split('+', 1)[0]}.log"
        env = {
            **os.environ,
            "SABAI_CONFIG": str(config),
            # A token makes `sabai run` poll SABAI_TELEGRAM_API instead of starting its own
            # emulator; the emulator accepts any well-shaped one.
            "SABAI_BOT_TOKEN": emulator_token(),
            "SABAI_TELEGRAM_API": api_url,
            "SABAI_DATABASE_URL": url,
        }
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "run", "--no-chat"],
                env=env,
                cwd=PROJECT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return cls(process, log_path)

    def cpu_seconds(self) -> float:
        """User + system CPU the process has used so far (Linux /proc)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def waited_seconds(self) -> float:
        return run_queue_seconds(self.process.pid)

    def errors_logged(self) -> int:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return sum(1 for line in text.splitlines() if '"level": "ERROR"' in line)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# load.py's one polling process, or a --workers group.
BotLike = BotProcess | WorkerGroup


def run_queue_seconds(pid: int | str) -> float:
    """Time the process's threads were ready to run but waited for a CPU (Linux schedstat).

    On a machine shared with other work this is what separates "the bot is slow" from
    "the bot did not get a CPU".
    """
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            total += int((task / "schedstat").read_text().split()[1])
    return total / 1e9


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic-GC pauses in this process while a step runs; it would delay the timestamps.

    The emulator here holds every chat, update and request of the run, so a full collection
    takes long enough to show up as reply latency and as injection lag.
    """
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def bot_config(path: Path) -> Path:
    """The bot's config: shipped defaults, logs at WARNING, the sender uncapped for the alert."""
    path.write_text(
        '[logging]\nlevel = "WARNING"\n\n[sending]\nrate_per_second = 1000\n', encoding="utf-8"
    )
    return path


# -- measuring ---------------------------------------------------------------------------------


async def offer(load: Load, kinds: Any, rate: float, seconds: float, stats: StepStats) -> None:
    """Inject rate × seconds updates, each at its scheduled moment whatever the bot is doing."""
    total = max(1, round(rate * seconds))
    start = time.perf_counter() + 0.005
    for n in range(total):
        due = start + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        stats.lags.append(time.perf_counter() - due)
        load.inject(next(kinds), stats)


async def settle(emulator: Emulator, stats: StepStats, timeout: float) -> None:  # noqa: ASYNC109
    """Wait for the step's last replies (up to `timeout`), then until the bot is quiet."""
    await emulator.wait_until(lambda: True if stats.outstanding == 0 else None, timeout)
    with contextlib.suppress(TimeoutError):
        await emulator.wait_idle(quiet=1.0, timeout=timeout)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of sorted values (NaN when empty)."""
    if not values:
        return math.nan
    return values[min(len(values) - 1, max(0, math.ceil(p / 100 * len(values)) - 1))]


@dataclass(frozen=True)
class Usage:
    """Wall time, and CPU and run-queue time of the bot and of this process."""

    wall: float
    bot_cpu: float
    bot_wait: float
    gen_cpu: float
    gen_wait: float

    @classmethod
    def now(cls, bot: BotLike) -> Usage:
        return cls(
            time.perf_counter(),
            bot.cpu_seconds(),
            bot.waited_seconds(),
            time.process_time(),
            run_queue_seconds("self"),
        )

    def minus(self, before: Usage) -> Usage:
        return Usage(
            self.wall - before.wall,
            self.bot_cpu - before.bot_cpu,
            self.bot_wait - before.bot_wait,
            self.gen_cpu - before.gen_cpu,
            self.gen_wait - before.gen_wait,
        )

    def share(self, seconds: float) -> str:
        return f"{100 * seconds / self.wall:.0f}" if self.wall > 0 else "-"


@dataclass
class Row:
    stats: StepStats
    usage: Usage  # while the updates were offered
    bot_cpu_total: float  # until the last reply: all the work the step's updates caused

    @property
    def unanswered(self) -> int:
        return self.stats.outstanding

    def p99(self) -> float:
        return percentile(self.stats.all_latencies(), 99)


def ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value * 1000:.0f}"


# (heading, unit, width) of each column of the table
COLUMNS = (
    ("rate", "/s", 6),
    ("achieved", "/s", 8),
    ("lag p99", "ms", 7),
    ("updates", "", 7),
    ("no reply", "", 8),
    ("p50", "ms", 6),
    ("p95", "ms", 6),
    ("p99", "ms", 6),
    ("max", "ms", 6),
    ("bot CPU/wait", "%", 12),
    ("bot CPU", "ms/upd", 7),
    ("gen CPU/wait", "%", 12),
    *((kind, "p99 ms", 7) for kind in KINDS),
)


def cells(row: Row) -> list[str]:
    stats, use, every = row.stats, row.usage, row.stats.all_latencies()
    return [
        f"{stats.rate:g}",
        f"{stats.achieved:.1f}",
        ms(percentile(sorted(stats.lags), 99)),
        str(stats.injected),
        str(row.unanswered),
        *(ms(percentile(every, p)) for p in (50, 95, 99)),
        ms(every[-1] if every else math.nan),
        f"{use.share(use.bot_cpu)}/{use.share(use.bot_wait)}",
        f"{1000 * row.bot_cpu_total / max(1, stats.injected):.2f}",
        f"{use.share(use.gen_cpu)}/{use.share(use.gen_wait)}",
        *(ms(percentile(sorted(stats.latencies[kind]), 99)) for kind in KINDS),
    ]


def table(rows: list[Row]) -> str:
    def line(values: list[str]) -> str:
        return " ".join(f"{v:>{w}}" for v, (_, _, w) in zip(values, COLUMNS, strict=True))

    return "\n".join(
        [line([c[0] for c in COLUMNS]), line([c[1] for c in COLUMNS])]
        + [line(cells(row)) for row in rows]
    )


def verdict(rows: list[Row]) -> str:
    passing = [
        r.stats.rate
        for r in rows
        if r.unanswered == 0 and r.stats.exhausted == 0 and r.p99() < TARGET_P99
    ]
    best = f"{max(passing):g}/s" if passing else "none of the rates measured"
    return f"highest rate with p99 < {TARGET_P99 * 1000:.0f} ms and every update answered: {best}"


def residents_needed(args: argparse.Namespace, mix: Mapping[str, int]) -> tuple[int, int]:
    """(alerted, pool) so no pool runs dry: every update could need a fresh resident."""
    updates = sum(args.rates) * args.seconds + args.rates[0] * args.warmup
    share = {kind: weight / sum(mix.values()) for kind, weight in mix.items()}
    alerted = math.ceil(updates * share.get("gotit", 0) * 1.05) + 20
    pool = math.ceil(updates * (share.get("menu", 0) + share.get("lesson", 0)) * 1.05) + 20
    return max(alerted, args.residents), pool


async def measure(args: argparse.Namespace) -> int:
    if not args.workers:
        return await measure_once(args, None)
    status, summary = 0, []
    for workers in args.workers:
        print(f"== {workers} webhook worker(s)")
        status |= await measure_once(args, workers)
        summary.append((workers, LAST_ROWS[-1]))
        print()
    print("workers  " + "  ".join(f"p99@{r.stats.rate:g}/s" for r in summary[0][1]) + "  best")
    for workers, rows in summary:
        p99s = "  ".join(f"{ms(r.p99()):>{len(f'p99@{r.stats.rate:g}/s')}}" for r in rows)
        best = verdict(rows).rsplit(": ", 1)[1]
        print(f"{workers:>7}  {p99s}  {best}")
    return status


# The rows of each measure_once, for the --workers summary.
LAST_ROWS: list[list[Row]] = []


async def measure_once(args: argparse.Namespace, workers: int | None) -> int:
    url = args.database_url or default_url()
    mix = parse_mix(args.mix)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    alerted_count, pool_count = residents_needed(args, mix)
    database = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"{database}: {alerted_count} alerted residents, {pool_count} for lessons and menus")
    await reset_database(url)
    alerted, pool = await register_residents(url, alerted_count, pool_count)
    alert_id = queue_alert(url)

    emulator = TimedEmulator()
    for user_id in alerted + pool:
        emulator.add_user(user_id, first_name="Load", language_code="bn")
    async with EmulatorServer(emulator) as server:
        bot: BotLike
        if workers is None:
            bot = BotProcess.start(url, server.base_url, bot_config(BENCH_DIR / "load-bot.toml"))
        else:
            await forget_handled_updates(url)
            config = webhook_config(BENCH_DIR / "load-workers.toml", free_port())
            bot = WorkerGroup.start(url, server.base_url, config, workers)
        try:
            return await _drive(args, emulator, bot, url, alert_id, alerted, pool, mix)
        finally:
            bot.stop()


async def alert_buttons(
    emulator: TimedEmulator, bot: BotLike, url: str, alert_id: int, alerted: list[int]
) -> dict[int, tuple[int, str]]:
    """Wait until the bot has delivered and recorded the alert; return each chat's "got it"."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(emulator.polled.wait(), 60)
    started = time.perf_counter()
    while len(emulator.sent_to.intersection(alerted)) < len(alerted) or not await alert_delivered(
        url, alert_id
    ):
        if bot.process.poll() is not None:
            raise SystemExit(f"the bot process ended early; see {bot.log_path}")
        if time.perf_counter() - started > 600:
            raise SystemExit(f"the alert was not delivered within 10 minutes; see {bot.log_path}")
        await asyncio.sleep(0.5)
    print(f"alert delivered to {len(alerted)} residents in {time.perf_counter() - started:.0f} s")
    buttons = {}
    for user_id in alerted:
        message = emulator.last_message(user_id)
        buttons[user_id] = (message.message_id, message.buttons[0][0][1])
    return buttons


async def _drive(
    args: argparse.Namespace,
    emulator: TimedEmulator,
    bot: BotLike,
    url: str,
    alert_id: int,
    alerted: list[int],
    pool: list[int],
    mix: Mapping[str, int],
) -> int:
    load = Load(
        emulator,
        alert_buttons=await alert_buttons(emulator, bot, url, alert_id, alerted),
        pool=pool,
        first_signup_id=SIGNUP_FIRST_ID,
        think=args.think,
        seed=1,
    )
    emulator.load = load
    kinds = kind_sequence(mix, seed=1)
    warm = StepStats(args.rates[0])
    await offer(load, kinds, args.rates[0], args.warmup, warm)
    await settle(emulator, warm, args.reply_timeout)

    rows = []
    for rate in args.rates:
        stats = StepStats(rate)
        profiler = start_profiler(args, bot, rate)
        with collector_paused():
            before = Usage.now(bot)
            await offer(load, kinds, rate, args.seconds, stats)
            usage = Usage.now(bot).minus(before)
            await settle(emulator, stats, args.reply_timeout)
            whole = Usage.now(bot).minus(before)
        if profiler is not None:
            profiler.wait()
        rows.append(Row(stats, usage, whole.bot_cpu))
        load_1m = os.getloadavg()[0]
        print(f"  {rate:g}/s done ({stats.injected} updates; load average {load_1m:.1f})")
    LAST_ROWS.append(rows)
    print()
    print(table(rows))
    print()
    print(verdict(rows))
    exhausted = sum(r.stats.exhausted for r in rows)
    if exhausted:
        print(f"{exhausted} updates were not offered: a pool of residents ran dry")
    print(await work_done(url, alert_id))
    errors = bot.errors_logged()
    print(f"ERROR records in the bot's log ({bot.log_path}): {errors}")
    return 1 if errors or exhausted or any(r.unanswered for r in rows) else 0


def start_profiler(
    args: argparse.Namespace, bot: BotLike, rate: float
) -> subprocess.Popen[bytes] | None:
    """py-spy on the bot process for one step, when --profile asks and this is its rate."""
    if args.profile is None or rate != args.profile_rate:
        return None
    py_spy = Path(sys.executable).parent / "py-spy"
    if not py_spy.exists():
        raise SystemExit("--profile needs py-spy in the venv: .venv/bin/pip install py-spy")
    # --idle keeps samples of a loop blocked in a call that sleeps (a lock, a busy wait).
    command = [str(py_spy), "record", "--pid", str(bot.process.pid), "--format", "raw", "--idle"]
    command += ["--duration", str(math.ceil(args.seconds)), "--output", str(args.profile)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rates", default="25,50,100,200", help="updates/s, comma-separated")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each rate step")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds at the first rate")
    parser.add_argument("--database-url", default=None, help="default: var/bench/load.db")
    parser.add_argument("--mix", default="signup=20,menu=20,lesson=20,gotit=40")
    parser.add_argument("--think", type=float, default=1.0, help="s a resident reads a reply")
    parser.add_argument("--residents", type=int, default=0, help="alerted residents (at least)")
    parser.add_argument("--reply-timeout", type=float, default=15.0)
    parser.add_argument("--profile", type=Path, default=None, help="py-spy raw output file")
    parser.add_argument("--profile-rate", type=float, default=100.0)
    parser.add_argument(
        "--workers",
        default="",
        help="comma-separated worker counts: run the bot as that many webhook workers each",
    )
    args = parser.parse_args(argv)
    args.workers = [int(w) for w in str(args.workers).split(",") if w.strip()]
    if any(w < 1 for w in args.workers):
        parser.error("--workers counts must be 1 or more")
    args.rates = [float(r) for r in str(args.rates).split(",") if r.strip()]
    if not args.rates or min(args.rates) <= 0 or args.seconds <= 0:
        parser.error("--rates and --seconds must be positive")
    if args.profile is not None and args.profile_rate not in args.rates:
        parser.error(f"--profile-rate {args.profile_rate:g} is not one of --rates")
    try:
        parse_mix(args.mix)
    except ValueError as error:
        parser.error(str(error))
    return args


def main(argv: list[str] | None = None) -> int:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    return asyncio.run(measure(parse(argv)))


if __name__ == "__main__":
    sys.exit(main())
