"""`bench/load.py --workers 1,2,4`: the bot as N webhook worker processes.

`sabai run --webhook --workers N --shared-port` against the emulator in load.py's process: the
workers all listen on one port (SO_REUSEPORT) and the emulator posts updates to it as Telegram
does (up to max_connections at once, one person's updates in order), so the kernel spreads its
connections over the workers. They share the database and one Redis (person locks, handled
updates, the send-rate budget). CPU and run-queue figures add up the supervisor and its workers.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.load_setup import BENCH_DIR, PROJECT

REDIS_URL = os.environ.get("SABAI_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
# Not a secret: it guards the benchmark's loopback webhook only.
BENCH_WEBHOOK_SECRET = "sabai-bench-webhook"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def webhook_config(path: Path, port: int) -> Path:
    """load.py's bot config plus the webhook on a loopback port."""
    path.write_text(
        '[logging]\nlevel = "WARNING"\n\n[sending]\nrate_per_second = 1000\n\n'
        f'[telegram]\nwebhook_url = "http://127.0.0.1:{port}/telegram"\n'
        f'listen = "127.0.0.1:{port}"\nmax_connections = 40\n',
        encoding="utf-8",
    )
    return path


async def forget_handled_updates(url: str) -> None:
    """The emulator numbers updates from 1 each run: forget the last run's handled ids."""
    from redis.asyncio import Redis

    from bot.channels.telegram.client import EMULATOR_BOT_ID
    from bot.ops.ledger import forget_all, namespace

    redis = Redis.from_url(REDIS_URL)
    try:
        await forget_all(redis, namespace(url, EMULATOR_BOT_ID))
    finally:
        await redis.aclose()


@dataclass
class WorkerGroup:
    """`sabai run --webhook --workers N --shared-port`, as load.py's BotProcess."""

    process: subprocess.Popen[bytes]
    log_path: Path

    @classmethod
    def start(cls, url: str, api_url: str, config: Path, workers: int) -> WorkerGroup:
        from bot.channels.telegram.client import emulator_token

        log_path = BENCH_DIR / f"load-workers{workers}-{url.split('+', 1)[0]}.log"
        env = {
            **os.environ,
            "SABAI_CONFIG": str(config),
            "SABAI_BOT_TOKEN": emulator_token(),
            "SABAI_TELEGRAM_API": api_url,
            "SABAI_DATABASE_URL": url,
            "SABAI_REDIS_URL": REDIS_URL,
            "SABAI_WEBHOOK_SECRET": BENCH_WEBHOOK_SECRET,
        }
        command = [sys.executable, "-m", "bot.cli", "run", "--webhook", "--shared-port"]
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [*command, "--workers", str(workers)],
                env=env,
                cwd=PROJECT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return cls(process, log_path)

    def pids(self) -> list[int]:
        """The supervisor and its workers."""
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            children = []
        return [pid, *(int(c) for c in children)]

    def cpu_seconds(self) -> float:
        total = 0.0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def waited_seconds(self) -> float:
        from bench.load import run_queue_seconds

        total = 0.0
        for pid in self.pids():
            try:
                total += run_queue_seconds(pid)
            except OSError:
                continue
        return total

    def errors_logged(self) -> int:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return sum(1 for line in text.splitlines() if '"level": "ERROR"' in line)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
