"""`sabai run`: the bot in long polling; offline, with the emulator and a terminal chat.
`sabai send`: only the outbox sender, for a process beside the ones that poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.channels.telegram.client import EMULATOR_BOT_ID, emulator_token
from bot.channels.telegram.polling import poll
from bot.core.config import Settings
from bot.core.logging_setup import configure_logging
from bot.core.startup import StartupError
from bot.wiring import heap
from bot.wiring.app import App, build_app
from bot.wiring.background import background
from bot.wiring.scheduler import Scheduling

if TYPE_CHECKING:
    from aiogram import Bot

log = logging.getLogger("sabai.run")


async def run(
    settings: Settings,
    chat: bool = True,
    sender: bool = True,
    force_sender: bool = False,
    metrics_port: int | None = None,
) -> int:
    """Run until interrupted (or, with the terminal chat, until the person leaves it)."""
    settings = dataclasses.replace(settings, run_sender=settings.run_sender and sender)
    chatting = chat and settings.uses_emulator
    if chatting:
        # The terminal belongs to the conversation; logs go to a file under the current
        # directory, like the default SQLite database.
        log_path = Path.cwd() / "var" / "sabai.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("a", encoding="utf-8") as stream:
            configure_logging(settings.log_level, [settings.bot_token or ""], stream)
            return await _run(settings, chatting, force_sender, metrics_port)
    configure_logging(settings.log_level, [settings.bot_token or ""])
    return await _run(settings, chatting, force_sender, metrics_port)


async def _run(
    settings: Settings, chatting: bool, force_sender: bool, metrics_port: int | None
) -> int:
    from bot.devtools.emulator import EmulatorServer
    from handlers.commands import register_commands as register

    async with contextlib.AsyncExitStack() as stack:
        if settings.uses_emulator:
            server = EmulatorServer()
            await server.start(settings.emulator_host, settings.emulator_port)
            stack.push_async_callback(server.stop)
            api_url, token = server.base_url, emulator_token()
            log.info("no SABAI_BOT_TOKEN: using the local emulator", extra={"api": api_url})
        else:
            assert settings.bot_token is not None
            api_url, token = settings.telegram_api, settings.bot_token
            log.info("connecting to the Bot API", extra={"api": api_url})
        app = await stack.enter_async_context(build_app(settings, token, api_url))
        if not settings.uses_emulator and not await reach_telegram(app.bot, api_url):
            return 1
        scheduling = await stack.enter_async_context(
            background(app, settings, force_sender=force_sender)
        )
        if settings.sms_enabled:
            from bot.wiring.sms import sms_channel

            await stack.enter_async_context(
                sms_channel(app, settings, run_sender=settings.run_sender)
            )
        if metrics_port is not None:
            await _serve_ops(stack, app, settings, metrics_port, scheduling)
        await register(app.bot, app.ctx.catalog)
        heap.settle()  # everything loaded at start-up lives as long as the process
        polling = asyncio.create_task(
            poll(
                app.dispatcher,
                app.bot,
                polling_timeout=settings.polling_timeout,
                handle_signals=not chatting,
                concurrency=settings.max_concurrent_updates,
            )
        )
        if not chatting:
            await polling
            return 0
        from bot.devtools.terminal_chat import run_chat

        if not sys.stdin.isatty():
            log.info("standard input is not a terminal: the chat reads lines as they come")
        try:
            await run_chat(api_url, user_id=None, bot_id=EMULATOR_BOT_ID)
        finally:
            await app.dispatcher.stop_polling()
            with contextlib.suppress(asyncio.CancelledError):
                await polling
    return 0


async def _serve_ops(
    stack: contextlib.AsyncExitStack,
    app: App,
    settings: Settings,
    port: int,
    scheduling: Scheduling | None,
) -> None:
    """Serve /healthz, /readyz and /metrics on telegram.listen's host at `port`."""
    from aiohttp import web

    from bot.core.config import split_listen
    from bot.wiring.webhook_run import ops_app

    runner = web.AppRunner(ops_app(app, settings, scheduling), access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    host, _ = split_listen(settings.listen)
    await web.TCPSite(runner, host, port).start()
    log.info("serving health and metrics", extra={"port": port})


async def reach_telegram(
    bot: Bot, api_url: str, first_wait: float = 1.0, longest_wait: float = 60.0
) -> bool:
    """Call getMe until Telegram answers, waiting longer after each failure.

    A network that is down at boot comes back; the operator reads why it waits. Returns
    False when SIGINT or SIGTERM came first. Raises StartupError when Telegram refuses the
    token, which no waiting mends.
    """
    from aiogram.exceptions import (
        TelegramNetworkError,
        TelegramServerError,
        TelegramUnauthorizedError,
    )

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    wait = first_wait
    try:
        while True:
            try:
                await bot.get_me()
                return True
            except TelegramUnauthorizedError as exc:
                raise StartupError(
                    "Telegram refused the bot token (401 Unauthorized): "
                    "check SABAI_BOT_TOKEN, as @BotFather gave it"
                ) from exc
            except (TelegramNetworkError, TelegramServerError) as exc:
                reason = " ".join(str(exc).split())[:160]
                _say(
                    f"cannot reach the Telegram Bot API at {api_url} ({reason}); check the "
                    f"network or SABAI_TELEGRAM_API; retrying in {wait:g} s"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
            if stop.is_set():
                _say("stopped before Telegram could be reached; the bot did not start")
                return False
            wait = min(wait * 2, longest_wait)
    finally:
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(number)


def _say(line: str) -> None:
    """A line for the operator on standard error, beside the structured log."""
    log.warning(line)
    sys.stderr.write(f"sabai: {line}\n")
    sys.stderr.flush()


async def send(settings: Settings, force: bool = False, stop: asyncio.Event | None = None) -> int:
    """Run only the outbox sender (no polling, no scheduler) until interrupted or `stop` is set.

    Offline it sends to the emulator a `sabai run` or `sabai emulator` serves.
    """
    if settings.uses_emulator:
        token = emulator_token()
        api_url = (
            settings.telegram_api or f"http://{settings.emulator_host}:{settings.emulator_port}"
        )
    else:
        assert settings.bot_token is not None
        token, api_url = settings.bot_token, settings.telegram_api
    settings = dataclasses.replace(settings, run_sender=True, run_scheduler=False)
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(number, stop.set)
    async with (
        build_app(settings, token, api_url) as app,
        background(app, settings, force_sender=force),
    ):
        log.info("sending only: no polling, no scheduler", extra={"api": api_url})
        await stop.wait()
    return 0
