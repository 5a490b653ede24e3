"""`sabai run --webhook`: one worker process serving Telegram's webhook, /healthz, /readyz
and /metrics on `telegram.listen` (worker i on its port + i)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

from aiohttp import web

from bot.channels.telegram.client import emulator_token
from bot.core.config import ConfigError, Settings, split_listen
from bot.core.logging_setup import configure_logging
from bot.wiring import heap
from bot.wiring.app import App, build_app
from bot.wiring.background import background
from bot.wiring.scheduler import Scheduling

log = logging.getLogger("sabai.run")

# Seconds a stopping worker gives the updates in hand before it cancels them (unanswered,
# so Telegram delivers them again); the rest of the 10 s goes to the sender and the locks.
GRACE_SECONDS = 5.0
ORPHAN_CHECK_SECONDS = 1.0


def check_webhook_settings(settings: Settings, workers: int) -> None:
    """Raise ConfigError naming the setting that webhook mode lacks."""
    if not settings.webhook_url:
        raise ConfigError("--webhook needs telegram.webhook_url (the public HTTPS URL)")
    if not settings.webhook_secret:
        raise ConfigError("--webhook needs SABAI_WEBHOOK_SECRET (1-256 of A-Z a-z 0-9 _ -)")
    if workers > 1 and not settings.redis_url:
        raise ConfigError(
            "--workers above 1 needs sending.redis_url / SABAI_REDIS_URL: the workers share "
            "each person's lock and the send rate through it"
        )


def bot_endpoint(settings: Settings) -> tuple[str, str]:
    """(token, Bot API URL): Telegram's, or a running emulator's when no token is set."""
    if settings.uses_emulator:
        url = settings.telegram_api or f"http://{settings.emulator_host}:{settings.emulator_port}"
        return emulator_token(), url
    assert settings.bot_token is not None
    return settings.bot_token, settings.telegram_api


def ops_app(app: App, settings: Settings, scheduling: Scheduling | None) -> web.Application:
    """An aiohttp app with only /healthz, /readyz and /metrics (polling mode's --metrics-port)."""
    from bot.ops.health import Readiness
    from bot.ops.http import Ops, add_ops_routes

    served = web.Application()
    ops = Ops(Readiness(app.engine, settings.redis_url), app.metrics, app.sessions)
    if scheduling is not None:
        ops.is_leader = lambda: scheduling.is_leader
    add_ops_routes(served, ops)
    return served


async def serve_webhook(
    settings: Settings,
    *,
    worker: int = 0,
    workers: int = 1,
    stop: asyncio.Event | None = None,
    force_sender: bool = False,
    shared_port: bool = False,
    settle: bool = False,
) -> int:
    """Serve the webhook until SIGTERM/SIGINT (or `stop`); return the exit status.

    `settle`: settle the collector once started (a worker process; not a test's process).

    `shared_port`: every worker listens on telegram.listen itself (SO_REUSEPORT) and the
    kernel spreads connections over them, instead of worker i on port + i behind a proxy.
    """
    check_webhook_settings(settings, workers)
    secret = settings.webhook_secret
    assert secret is not None
    host, port = split_listen(settings.listen)
    if not shared_port:
        port += worker
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(number, stop.set)
    orphan_watch = asyncio.create_task(_stop_when_orphaned(stop))
    try:
        return await _serve(
            settings, secret, (host, port, shared_port), (worker, settle), stop, force_sender
        )
    finally:
        orphan_watch.cancel()


async def _stop_when_orphaned(stop: asyncio.Event) -> None:
    """Stop when the process that started this one is gone (`--workers` was killed)."""
    parent = os.getppid()
    while not stop.is_set():
        await asyncio.sleep(ORPHAN_CHECK_SECONDS)
        if os.getppid() != parent:
            log.warning("the process that started this worker is gone: stopping")
            stop.set()


async def _serve(
    settings: Settings,
    secret: str,
    address: tuple[str, int, bool],
    role: tuple[int, bool],
    stop: asyncio.Event,
    force_sender: bool,
) -> int:
    from bot.channels.telegram.webhook import register_webhook, webhook_app, webhook_path
    from bot.ops.health import Readiness
    from bot.ops.http import Ops, add_ops_routes
    from handlers.commands import register_commands

    token, api_url = bot_endpoint(settings)
    worker, settle = role
    async with build_app(
        settings, token, api_url, shared_turns=bool(settings.redis_url), webhook=True
    ) as app:
        served = webhook_app(
            app.dispatcher,
            app.bot,
            path=webhook_path(settings.webhook_url),
            secret=secret,
        )
        ops = Ops(Readiness(app.engine, settings.redis_url), app.metrics, app.sessions)
        add_ops_routes(served, ops)
        runner = web.AppRunner(served, shutdown_timeout=GRACE_SECONDS, access_log=None)
        await runner.setup()
        cleaned = False
        try:
            async with background(app, settings, force_sender=force_sender) as scheduling:
                if scheduling is not None:
                    ops.is_leader = lambda: scheduling.is_leader
                host, port, shared = address
                await web.TCPSite(runner, host, port, reuse_port=shared).start()
                if worker == 0:
                    await register_commands(app.bot, app.ctx.catalog)
                await register_webhook(
                    app.bot,
                    app.dispatcher,
                    url=settings.webhook_url,
                    secret=secret,
                    max_connections=settings.webhook_max_connections,
                )
                if settle:
                    heap.settle()  # everything loaded at start-up lives as long as the process
                log.info("serving the webhook", extra={"worker": worker, "port": port})
                await stop.wait()
                log.info("stopping: finishing the updates in hand", extra={"worker": worker})
                # Stop taking updates and finish (or, after the grace, drop) those in hand
                # while the database and the sender are still there.
                await runner.cleanup()
                cleaned = True
        finally:
            if not cleaned:
                await runner.cleanup()
    return 0


async def run_webhook(
    settings: Settings,
    *,
    worker: int = 0,
    workers: int = 1,
    force_sender: bool = False,
    shared_port: bool = False,
) -> int:
    """Entry point of `sabai run --webhook` for one worker process."""
    configure_logging(settings.log_level, [settings.bot_token or "", settings.webhook_secret or ""])
    return await serve_webhook(
        settings,
        worker=worker,
        workers=workers,
        force_sender=force_sender,
        shared_port=shared_port,
        settle=True,
    )
