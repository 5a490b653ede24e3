"""`sabai run --webhook --workers N`: start N worker processes and keep them running.

Each worker is `sabai run --webhook --worker I` and listens on telegram.listen's port + I; the
reverse proxy spreads Telegram's requests over them (deploy/nginx-sabai.conf). A worker that
dies is started again; SIGTERM or SIGINT is passed on to every worker, which finish the
updates in hand and exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

log = logging.getLogger("sabai.workers")

# A worker that keeps dying is restarted at most this often.
RESTART_DELAY = 1.0
# How long a worker gets to exit after SIGTERM before it is killed.
STOP_TIMEOUT = 10.0


def worker_command(index: int, config: Path | None, shared_port: bool = False) -> list[str]:
    """The command line that starts worker `index`."""
    command = [sys.executable, "-m", "bot.cli.main"]
    if config is not None:
        command += ["--config", str(config)]
    command += ["run", "--webhook", "--worker", str(index)]
    return [*command, "--shared-port"] if shared_port else command


async def supervise(
    count: int,
    config: Path | None,
    stop: asyncio.Event | None = None,
    shared_port: bool = False,
) -> int:
    """Run `count` workers until SIGTERM/SIGINT (or `stop`), restarting any that dies."""
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(number, stop.set)
    keepers = [asyncio.create_task(_keep(i, config, stop, shared_port)) for i in range(count)]
    await asyncio.gather(*keepers)
    return 0


async def _keep(index: int, config: Path | None, stop: asyncio.Event, shared_port: bool) -> None:
    while not stop.is_set():
        process = await asyncio.create_subprocess_exec(*worker_command(index, config, shared_port))
        waiter = asyncio.ensure_future(process.wait())
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            stopper.cancel()
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(waiter, STOP_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await waiter
            return
        stopper.cancel()
        log.warning(
            "worker exited; starting it again",
            extra={"worker": index, "status": process.returncode},
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), RESTART_DELAY)
